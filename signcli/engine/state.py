"""Progress counters of a run: a plain dataclass that goes into every checkpoint."""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass, fields

from signcli.upgrade import upgrade_train_state


@dataclass
class TrainState:
    epoch: int = 0  # epochs finished
    step: int = 0  # optimizer steps so far
    batch_in_epoch: int = 0  # batches of the current (unfinished) epoch already trained
    best_metric: float | None = None  # best value of the monitored metric
    best_epoch: int = 0
    bad_epochs: int = 0  # epochs since the monitor last improved (early stopping)
    # running sums of the unfinished epoch, so a mid-epoch resume reports the same train_loss
    epoch_loss_sum: float = 0.0
    epoch_samples: int = 0
    # training samples of the unfinished epoch whose gloss argmax hit the target (for
    # train_gloss_top1); None = unknown, after a mid-epoch resume from an older checkpoint
    epoch_gloss_correct: int | None = 0

    def state_dict(self) -> dict:
        return asdict(self)

    def position(self, batches_per_epoch: int) -> str:
        """Where the run stands, in the words both the interrupt and the resume messages
        use: "after epoch 2" at an epoch boundary, "in epoch 3 after batch 5/16" inside
        one (epochs are numbered from 1, as the epoch lines number them)."""
        if self.batch_in_epoch == 0:
            return f"after epoch {self.epoch}, step {self.step}"
        return (
            f"in epoch {self.epoch + 1} after batch {self.batch_in_epoch}/{batches_per_epoch}, "
            f"step {self.step}"
        )

    @staticmethod
    def problem(state: dict) -> str | None:
        """What makes `state` (a checkpoint's train state) unusable, naming the counter:
        counts are whole numbers >= 0, sums and the best metric finite numbers; None only
        where the field allows it. None when it is usable (unknown keys are ignored)."""
        for name, value in state.items():
            kind = _KINDS.get(name)
            if kind is None or (value is None and name in _OPTIONAL):
                continue
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if kind == "count" and not (number and isinstance(value, int) and value >= 0):
                return f"{name}: expected a count >= 0, got {value!r}"[:120]
            if kind == "number" and not (number and _finite(value)):
                return f"{name}: expected a finite number, got {value!r}"[:120]
        return None

    def load_state_dict(self, state: dict) -> None:
        names = {f.name for f in fields(self)}
        for key, value in upgrade_train_state(state).items():  # older checkpoints too
            if key in names:
                setattr(self, key, value)


_COUNTS = ("epoch", "step", "batch_in_epoch", "best_epoch", "bad_epochs", "epoch_samples")
_KINDS = {
    **dict.fromkeys(_COUNTS, "count"),
    "epoch_gloss_correct": "count",
    "best_metric": "number",
    "epoch_loss_sum": "number",
}
_OPTIONAL = ("best_metric", "epoch_gloss_correct")


def _finite(value: float) -> bool:
    """A float, or an int a float can hold (math.isfinite overflows on 10**400)."""
    return abs(value) <= sys.float_info.max if isinstance(value, int) else math.isfinite(value)
