"""Optimizer and learning-rate schedule, built from `Settings.optim` (the loss is the
task's: tasks/base.py `Task.loss_module`).

The schedule is a pure function of the optimizer step (plus the plateau scale, its only
state), instead of chaining torch's schedulers: warmup composes with every schedule,
ReduceLROnPlateau composes with none of them, and `resume --epochs N` must let the cosine
follow the new length from the current step, which a pure function gives for free.
"""

from __future__ import annotations

import math
import sys

import torch
from torch import nn

from signcli.settings import OptimSettings

__all__ = ["LRSchedule", "build_optimizer", "optimizer_state_problem"]


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
        """ValueError naming the entry for values that the schedule cannot use."""
        scale, best, bad = state["plateau_scale"], state["plateau_best"], state["plateau_bad"]
        if not (_is_number(scale) and 0 < scale <= 1):
            raise ValueError(f"scheduler.plateau_scale: expected a factor in (0, 1], got {scale!r}")
        if not (best is None or _is_number(best)):
            raise ValueError(f"scheduler.plateau_best: expected a number, got {best!r}")
        if not (isinstance(bad, int) and not isinstance(bad, bool) and bad >= 0):
            raise ValueError(f"scheduler.plateau_bad: expected a count >= 0, got {bad!r}")
        self.plateau_scale, self.plateau_best, self.plateau_bad = float(scale), best, bad


def _is_number(value: object) -> bool:
    """A finite float, or an int a float can hold (math.isfinite overflows on 10**400)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return abs(value) <= sys.float_info.max if isinstance(value, int) else math.isfinite(value)


def optimizer_state_problem(optimizer: torch.optim.Optimizer, saved: dict) -> str | None:
    """What in `saved` (an optimizer state dict from a checkpoint, of plain containers) the
    optimizer could not load or its next step could not use, naming the entry; checked
    before loading, which casts every tensor to its parameter's dtype (a zero-stride view
    claiming billions of values would be materialised). The groups must hold as many
    parameters as the optimizer's, and the state of each parameter must be empty or hold
    what the optimizer itself keeps (the keys of a probe's state after one step, with the
    optimizer's own options) with tensors of the parameter's shape."""
    own = optimizer.param_groups
    groups = saved["param_groups"]
    if [len(g["params"]) for g in groups] != [len(g["params"]) for g in own]:
        return (
            f"optimizer.param_groups: {[len(g['params']) for g in groups]} parameters per "
            f"group, the model has {[len(g['params']) for g in own]}"
        )
    params = {
        index: param
        for group, own_group in zip(groups, own, strict=True)
        for index, param in zip(group["params"], own_group["params"], strict=True)
    }
    probe = nn.Parameter(torch.zeros(2))
    probe.grad = torch.zeros(2)
    probing = type(optimizer)([probe], lr=1e-3)
    probing.param_groups[0].update({k: v for k, v in own[0].items() if k != "params"})
    probing.step()
    expected = set(probing.state[probe])
    for index, state in saved["state"].items():
        param = params.get(index)
        if param is None:
            return f"optimizer.state: {index!r} is no parameter of param_groups"[:120]
        if not isinstance(state, dict) or (state and set(state) != expected):
            found = sorted(map(str, state)) if isinstance(state, dict) else type(state).__name__
            return f"optimizer.state.{index}: expected {sorted(expected)}, found {found}"
        for key, value in state.items():
            if key == "step":
                ok = (isinstance(value, torch.Tensor) and value.shape in ((), (1,))) or (
                    _is_number(value)
                )
            else:
                ok = isinstance(value, torch.Tensor) and value.shape == param.shape
            if not ok:
                shown = tuple(value.shape) if isinstance(value, torch.Tensor) else repr(value)[:40]
                wanted = "a single count" if key == "step" else f"shape {tuple(param.shape)}"
                return f"optimizer.state.{index}.{key}: expected {wanted}, found {shown}"
    return None
