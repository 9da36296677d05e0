"""Optimizer, learning-rate schedule and loss, built from `Settings.optim`.

The schedule is a pure function of the optimizer step (plus the plateau scale, its only
state), instead of chaining torch's schedulers: warmup composes with every schedule,
ReduceLROnPlateau composes with none of them, and `resume --epochs N` must let the cosine
follow the new length from the current step, which a pure function gives for free.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from signcli.settings import OptimSettings


def build_optimizer(model: nn.Module, optim: OptimSettings) -> torch.optim.Optimizer:
    """AdamW (default) or SGD; weight decay on weight matrices only, not on norms and biases."""
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (decay if param.ndim >= 2 else no_decay).append(param)
    groups = [
        {"params": decay, "weight_decay": optim.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if optim.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=optim.lr, momentum=optim.momentum)
    return torch.optim.AdamW(groups, lr=optim.lr)


class LRSchedule:
    """lr(step) = lr * warmup(step) * decay(step); plateau cuts a scale kept as state."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        optim: OptimSettings,
        *,
        steps_per_epoch: int,
        total_steps: int,
        mode: str = "max",
    ) -> None:
        self.optimizer = optimizer
        self.optim = optim
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.total_steps = max(1, total_steps)
        self.mode = mode
        self.plateau_scale = 1.0
        self.plateau_best: float | None = None
        self.plateau_bad = 0

    def lr_at(self, step: int) -> float:
        optim = self.optim
        base = optim.lr
        if optim.warmup_steps and step < optim.warmup_steps:
            return base * (step + 1) / optim.warmup_steps
        if optim.scheduler == "cosine":
            span = max(1, self.total_steps - optim.warmup_steps)
            progress = min(1.0, (step - optim.warmup_steps) / span)
            return optim.min_lr + (base - optim.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
        if optim.scheduler == "steplr":
            epoch = step // self.steps_per_epoch
            return base * optim.gamma ** (epoch // optim.step_size)
        if optim.scheduler == "plateau":
            return max(optim.min_lr, base * self.plateau_scale)
        return base

    def apply(self, step: int) -> float:
        """Set the optimizer's lr for the next update at `step` (0-based) and return it."""
        lr = self.lr_at(step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def epoch_end(self, value: float | None) -> None:
        """plateau: cut the lr after `plateau_patience` epochs without improvement."""
        if self.optim.scheduler != "plateau" or value is None or not math.isfinite(value):
            return
        improved = self.plateau_best is None or (
            value < self.plateau_best if self.mode == "min" else value > self.plateau_best
        )
        if improved:
            self.plateau_best, self.plateau_bad = value, 0
            return
        self.plateau_bad += 1
        if self.plateau_bad > self.optim.plateau_patience:
            self.plateau_scale *= self.optim.plateau_factor
            self.plateau_bad = 0

    def state_dict(self) -> dict:
        return {
            "plateau_scale": self.plateau_scale,
            "plateau_best": self.plateau_best,
            "plateau_bad": self.plateau_bad,
        }

    def load_state_dict(self, state: dict) -> None:
        self.plateau_scale = state["plateau_scale"]
        self.plateau_best = state["plateau_best"]
        self.plateau_bad = state["plateau_bad"]


class HeadLoss(nn.Module):
    """Cross-entropy per head with label smoothing; the cat head is weighted in the sum."""

    def __init__(self, optim: OptimSettings) -> None:
        super().__init__()
        self.weights = {"gloss": 1.0, "cat": optim.cat_loss_weight}
        self.label_smoothing = optim.label_smoothing

    def forward(
        self, logits: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        total = torch.zeros((), device=next(iter(logits.values())).device)
        for head, head_logits in logits.items():
            if head in targets:
                loss = nn.functional.cross_entropy(
                    head_logits.float(), targets[head], label_smoothing=self.label_smoothing
                )
                total = total + self.weights.get(head, 1.0) * loss
        return total
