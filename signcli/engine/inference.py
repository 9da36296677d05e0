"""Batched inference shared by validation and `eval`: the model over a split, the run's
task deciding what is kept of each batch (tasks/base.py `Task.gather`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import torch

from signcli.data.dataset import Batch
from signcli.engine.device import Precision
from signcli.tasks.base import Predictions

if TYPE_CHECKING:
    from signcli.tasks.base import Task


@torch.inference_mode()
def predict(
    model: torch.nn.Module,
    batches: Iterable[Batch],
    device: torch.device,
    precision: Precision,
    loss_fn: Callable[[dict, dict], torch.Tensor] | None = None,
    on_batch: Callable[[], None] | None = None,
    *,
    task: Task | None = None,
) -> Predictions:
    """Run `model` over `batches` in eval mode (the model's training flag is restored
    after); `task` (default: classify) runs each batch and says what to keep."""
    if task is None:
        from signcli.tasks import build_task

        task = build_task("classify")
    was_training = model.training
    model.eval()
    ids: list[str] = []
    outputs: dict[str, list[Any]] = {}
    targets: dict[str, list[Any]] = {}
    loss_sum, loss_count = 0.0, 0
    try:
        for batch in batches:
            batch = batch.to(device, non_blocking=True)
            with precision.autocast():
                out = task.forward(model, batch)
            known = task.known_targets(batch.targets)
            if loss_fn is not None and known:
                loss_sum += float(loss_fn(out, known)) * len(batch)
                loss_count += len(batch)
            ids.extend(batch.ids)
            for name, value in task.gather(out, batch).items():
                outputs.setdefault(name, []).append(value)
            for name, value in batch.targets.items():
                targets.setdefault(name, []).append(value.cpu())
            if on_batch is not None:
                on_batch()
    finally:
        model.train(was_training)
    return Predictions(
        ids,
        {k: join_batches(v) for k, v in outputs.items()},
        {k: join_batches(v) for k, v in targets.items()},
        loss_sum / loss_count if loss_count else None,
    )


def join_batches(parts: list[Any]) -> Any:
    """Tensors [B, ...] of the batches concatenated (padded with 0 along dim 1 where the
    batches differ: token ids [B, L]); lists (one item per sample) chained."""
    if parts and isinstance(parts[0], torch.Tensor):
        if parts[0].dim() >= 2 and len({p.shape[1] for p in parts}) > 1:
            width = max(p.shape[1] for p in parts)
            parts = [
                torch.nn.functional.pad(p, (0, 0) * (p.dim() - 2) + (0, width - p.shape[1]))
                for p in parts
            ]
        return torch.cat(parts)
    return [item for part in parts for item in part]
