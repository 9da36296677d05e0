"""Progress counters of a run: a plain dataclass that goes into every checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


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

    def load_state_dict(self, state: dict) -> None:
        names = {f.name for f in fields(self)}
        for key, value in state.items():
            if key in names:
                setattr(self, key, value)
        if "epoch_gloss_correct" not in state:
            # a checkpoint from before the counter: right at an epoch boundary nothing is
            # missing; inside an epoch its first batches went uncounted, so say "unknown"
            self.epoch_gloss_correct = None if self.batch_in_epoch else 0
