"""Batched inference and the accuracy metrics shared by validation and `eval`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from signcli.data.dataset import Batch
from signcli.engine.device import Precision


@dataclass
class Predictions:
    """Logits of every head for a whole split, in loader order."""

    ids: list[str]
    logits: dict[str, torch.Tensor]  # {head: [N, C]} float32 on CPU
    targets: dict[str, torch.Tensor]  # {head: [N]} int64 on CPU (-1 = unknown)
    loss: float | None  # mean loss per sample, when targets are known


@torch.inference_mode()
def predict(
    model: torch.nn.Module,
    batches: Iterable[Batch],
    device: torch.device,
    precision: Precision,
    loss_fn: Callable[[dict, dict], torch.Tensor] | None = None,
    on_batch: Callable[[], None] | None = None,
) -> Predictions:
    """Run `model` over `batches` in eval mode; the model's training flag is restored after."""
    was_training = model.training
    model.eval()
    ids: list[str] = []
    logits: dict[str, list[torch.Tensor]] = {}
    targets: dict[str, list[torch.Tensor]] = {}
    loss_sum, loss_count = 0.0, 0
    try:
        for batch in batches:
            batch = batch.to(device, non_blocking=True)
            with precision.autocast():
                out = model(batch.streams, batch.mask)
            known = {k: v for k, v in batch.targets.items() if bool((v >= 0).all())}
            if loss_fn is not None and known:
                loss_sum += float(loss_fn(out, known)) * len(batch)
                loss_count += len(batch)
            ids.extend(batch.ids)
            for head, value in out.items():
                logits.setdefault(head, []).append(value.float().cpu())
            for head, value in batch.targets.items():
                targets.setdefault(head, []).append(value.cpu())
            if on_batch is not None:
                on_batch()
    finally:
        model.train(was_training)
    return Predictions(
        ids,
        {k: torch.cat(v) for k, v in logits.items()},
        {k: torch.cat(v) for k, v in targets.items()},
        loss_sum / loss_count if loss_count else None,
    )


def topk_accuracy(logits: torch.Tensor, targets: torch.Tensor, k: int) -> float:
    """Share of samples whose target is among the k highest logits (k capped at C)."""
    k = min(k, logits.shape[1])
    top = logits.topk(k, dim=1).indices  # [N, k]
    return float((top == targets[:, None]).any(dim=1).float().mean())


def validation_metrics(predictions: Predictions) -> dict[str, float]:
    """val_loss, val_gloss_top1/top5 and val_cat_top1 (when the head exists): the keys of
    docs/architecture.md, "metrics.jsonl"."""
    metrics: dict[str, float] = {}
    if predictions.loss is not None:
        metrics["val_loss"] = predictions.loss
    gloss = predictions.logits["gloss"]
    metrics["val_gloss_top1"] = topk_accuracy(gloss, predictions.targets["gloss"], 1)
    metrics["val_gloss_top5"] = topk_accuracy(gloss, predictions.targets["gloss"], 5)
    if "cat" in predictions.logits and "cat" in predictions.targets:
        metrics["val_cat_top1"] = topk_accuracy(
            predictions.logits["cat"], predictions.targets["cat"], 1
        )
    return metrics
