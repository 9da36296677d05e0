"""The hook interface: everything the loop does besides training is a hook.

The loop calls these by name, in the order hooks were given; metrics.jsonl, checkpoints,
the early-stopping message and progress output are hooks too (engine/callbacks.py). The
loop never looks for a hook by its type: what it needs of hooks is an event here. A hook that keeps
state across a resume returns it from `state_dict()`; it is stored in the checkpoint under
the hook's `name`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from signcli.engine.trainer import Trainer


class Hook:
    """Override what you need; every method is a no-op by default."""

    name: str = ""  # key of this hook's state in checkpoints; empty = stateless
    # under torchrun only rank 0 runs hooks (files, progress); decisions every rank needs
    # (early stopping, best.pt) are the trainer's, from metrics all ranks share

    def on_train_start(self, trainer: Trainer) -> None: ...

    def on_epoch_start(self, trainer: Trainer) -> None: ...

    def on_batch_end(self, trainer: Trainer, loss: float, batch_size: int) -> None:
        """After each training batch (loss is that batch's mean loss)."""

    def on_step_end(self, trainer: Trainer) -> None:
        """After each optimizer step (every `accumulate` batches)."""

    def on_validation_start(self, trainer: Trainer, num_batches: int) -> None: ...

    def on_validation_batch_end(self, trainer: Trainer) -> None: ...

    def on_validation_end(self, trainer: Trainer, metrics: dict[str, float]) -> None: ...

    def on_epoch_metrics(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        """Before the epoch's metrics are final: a hook may add keys to `metrics` (numbers;
        not the loop's or the task's own), and they go to metrics.jsonl with the others.
        Not monitorable: `training.monitor` names a metric the task declares."""

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        """After the epoch's metrics are final and the monitor is updated."""

    def on_interrupt(self, trainer: Trainer) -> None:
        """A signal stops the run inside an epoch, after a finished step: save what a resume
        needs (the checkpoint hook writes last.pt). At an epoch end it is saved already."""

    def on_train_end(self, trainer: Trainer, history: list[dict[str, float]]) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...
