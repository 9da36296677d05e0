"""How the processes of a run train together: the loop asks its strategy, never the world.

`Trainer` (engine/trainer.py) runs one loop for every case and calls its strategy where
one process and torchrun's ranks differ: wrapping the model, the batches a rank reads,
backward and the counters of a micro-batch, the reduction before each optimizer step, the
validation gather, the epoch's shared decisions and which signal stops the run.

    strategy = strategy_for(resolve_device("cpu"))   # OneProcess, or Torchrun under torchrun
    strategy.world.is_main                             # this process writes the run's files

`OneProcess` is the run as it always was: every call is the plain thing or nothing.
`Torchrun` is data-parallel training over a process group (docs/architecture.md, "Many
processes"); the low-level parts (process group, shards, collectives) are
engine/distributed.py.
"""

from __future__ import annotations

import logging
import math
import signal
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

import torch

from signcli.core.errors import ProcessGroupError, TrainingDiverged
from signcli.engine import distributed
from signcli.engine.distributed import World
from signcli.engine.inference import join_batches
from signcli.tasks.base import Predictions

if TYPE_CHECKING:
    from torch.utils.data import DataLoader

    from signcli.engine.trainer import Trainer

log = logging.getLogger("signcli")


def strategy_for(device: torch.device) -> OneProcess:
    """The strategy of this process: Torchrun when torchrun started several (it joins
    their process group here, once), else OneProcess; the device is this rank's."""
    world = distributed.env_world()
    if not world.enabled:
        return OneProcess(world, device)
    return Torchrun(world, distributed.join_group(world, device))


class OneProcess:
    """One process trains alone: every sample, every batch, nothing to agree on."""

    # what the interrupt message adds after `signcli resume WORK_DIR`
    resume_note = ""

    def __init__(self, world: World, device: torch.device) -> None:
        self.world, self.device = world, device

    @property
    def is_main(self) -> bool:
        """Whether this process writes files and prints (rank 0, or the only process)."""
        return self.world.is_main

    def collective_errors(self, work_dir: Any) -> AbstractContextManager[None]:
        """Around code that talks to the other ranks (nothing to catch here)."""
        return nullcontext()

    def check_same_start(self, facts: Callable[[], dict[str, str]], work_dir: Any) -> None:
        """Several processes must start from the same data and settings (nothing to compare)."""

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The module that trains (the model itself)."""
        return model

    def batch_sampler(self, sampler: Any, validation: bool) -> Any:
        """The batches this process reads (all of them)."""
        return sampler

    def backward(
        self, trainer: Trainer, batch: Any, batch_index: int, group_samples: int, steps: bool
    ) -> float:
        """Backward of batch `batch_index` (weighted by its share of the step's
        `group_samples`) into the epoch's counters; returns its loss."""
        state = trainer.state
        loss, correct = trainer.forward_backward(batch, len(batch) / group_samples)
        state.epoch_loss_sum += loss * len(batch)
        state.epoch_samples += len(batch)
        if state.epoch_gloss_correct is not None:
            state.epoch_gloss_correct += correct
        return loss

    def reduce_step(self, trainer: Trainer) -> None:
        """Before each optimizer step: the counters are this process's already."""

    def validation_predictions(
        self, loader: DataLoader, predict: Callable[[Any, Any], Predictions], loss_fn: Any
    ) -> Predictions | None:
        """The predictions over the whole validation split (`predict(loader, loss_fn)`)."""
        return predict(loader, loss_fn)

    def share_epoch(self, trainer: Trainer, metrics: dict[str, float]) -> dict[str, float]:
        """The epoch's metrics every process decides on (these)."""
        return metrics

    def stop_signal(self, received: int | None) -> int | None:
        """The signal that stops the run at this step: the one this process `received`."""
        return received

    def on_signal(self, first: bool) -> bool:
        """A SIGINT/SIGTERM arrived (`first` or a later one): log what happens; whether
        to abort now (a second Ctrl-C) rather than finish the step and save."""
        if first:
            log.warning("stopping after the current step (press Ctrl-C again to abort at once)")
        return not first


class Torchrun(OneProcess):
    """Data-parallel ranks: each trains its shard of every global batch, DDP all-reduces
    the gradients, counters and stop signals are summed before each step, validation
    predictions are gathered on rank 0 and the epoch's metrics broadcast from it."""

    resume_note = " (under torchrun, with any number of processes)"

    def __init__(self, world: World, device: torch.device) -> None:
        super().__init__(world, device)
        self.pending = [0.0, 0, 0]  # this rank's loss sum, samples, hits since the last step
        self.stop: int | None = None  # received by some rank, agreed at the last reduce

    def collective_errors(self, work_dir: Any) -> AbstractContextManager[None]:
        return _CollectiveErrors(self.world, work_dir)

    def check_same_start(self, facts: Callable[[], dict[str, str]], work_dir: Any) -> None:
        with self.collective_errors(work_dir):
            distributed.check_same_start(facts(), self.world)

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """DistributedDataParallel: all-reduces gradients in backward (its construction
        broadcasts rank 0's weights; run it inside `collective_errors`)."""
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(
            model,
            device_ids=[self.device.index] if self.device.type == "cuda" else None,
            **distributed.no_buffer_sync(),  # the buffers (input statistics) never change
        )

    def batch_sampler(self, sampler: Any, validation: bool) -> Any:
        """This rank's shard of each training batch; every world_size-th validation batch."""
        return distributed.ShardedBatchSampler(
            sampler, self.world, "stride" if validation else "split"
        )

    def backward(
        self, trainer: Trainer, batch: Any, batch_index: int, group_samples: int, steps: bool
    ) -> float:
        """Backward of this rank's shard of global batch `batch_index`; its loss, samples
        (0: the shard was empty and trained one sample of the batch with weight 0, only to
        join the all-reduce) and hits wait in `pending` for the step's reduce.

        DDP averages gradients over ranks, so the shard's weight is its share of the step's
        samples times world_size: the gradient is the one-process gradient (up to float
        summation order). Dropout draws come from (seed, rank, step) (`rank_seed`)."""
        world, state = self.world, trainer.state
        if batch_index % trainer.settings.optim.accumulate == 0:  # the step's first batch
            seed = trainer.settings.training.seed
            torch.manual_seed(distributed.rank_seed(seed, world.rank, state.step))
        local = distributed.shard_size(trainer.batch_sizes[batch_index], world)
        weight = local / group_samples * world.world_size
        model = trainer.train_model
        assert isinstance(model, torch.nn.parallel.DistributedDataParallel)
        with nullcontext() if steps else model.no_sync():  # all-reduce on steps only
            loss, correct = trainer.forward_backward(batch, weight, check=False)
        if not local:
            return 0.0
        pending = self.pending
        self.pending = [pending[0] + loss * local, pending[1] + local, pending[2] + correct]
        return loss

    def reduce_step(self, trainer: Trainer) -> None:
        """Sum the step's loss, samples and hits over ranks into the epoch counters
        (train_loss and train_gloss_top1 are over all ranks, and a checkpoint holds the
        run's sums), agree whether a signal stops the run here, and stop every rank if
        the loss diverged on any."""
        state = trainer.state
        loss_sum, samples, hits, sigint, sigterm = self._all_reduce(
            [*self.pending, *_signal_flags(trainer.stop_received)]
        )
        self.pending = [0.0, 0, 0]
        self._agree(sigint, sigterm)
        if not math.isfinite(loss_sum):
            raise TrainingDiverged(*trainer.diverged(loss_sum))
        state.epoch_loss_sum += loss_sum
        state.epoch_samples += int(samples)
        if state.epoch_gloss_correct is not None:
            state.epoch_gloss_correct += int(hits)

    def validation_predictions(
        self, loader: DataLoader, predict: Callable[[Any, Any], Predictions], loss_fn: Any
    ) -> Predictions | None:
        """The whole split's predictions on rank 0 (None on the others): each rank
        predicts its batches and they are gathered there, so any metric of the task's
        `validation_metrics` is over every sample."""
        counter = _CountingLoss(loss_fn)
        predictions = predict(loader, counter) if len(loader) else None
        parts = distributed.gather_to_main((predictions, counter.samples), self.world)
        return None if parts is None else _merge_predictions(parts)

    def share_epoch(self, trainer: Trainer, metrics: dict[str, float]) -> dict[str, float]:
        """Rank 0's metrics (with the gathered validation) for all; and whether a signal
        reached any rank since the last step (each rank must take the same branch, or the
        next collective hangs)."""
        metrics = distributed.broadcast_from_main(metrics, self.world)
        self._agree(*self._all_reduce(_signal_flags(trainer.stop_received)))
        return metrics

    def stop_signal(self, received: int | None) -> int | None:
        """The signal the ranks agreed on at the last reduce (any rank's)."""
        return self.stop

    def on_signal(self, first: bool) -> bool:
        """Never abort: torchrun forwards a terminal's Ctrl-C that already reached this
        process and SIGTERMs the ranks that have not exited yet; the save finishes and
        torchrun kills after its --shutdown-timeout."""
        if first:
            log.warning("stopping every process after the current step")
        return False

    def _all_reduce(self, values: list[float]) -> list[float]:
        return distributed.all_reduce_sum(values, self.device)

    def _agree(self, sigint: float, sigterm: float) -> None:
        if sigint or sigterm:
            self.stop = signal.SIGINT if sigint else signal.SIGTERM


def _signal_flags(received: int | None) -> list[float]:
    """[SIGINT received, SIGTERM received] by this process, as numbers to sum over ranks."""
    return [float(received == signal.SIGINT), float(received == signal.SIGTERM)]


class _CollectiveErrors(AbstractContextManager):
    """A collective that fails (another rank died, or hung past the timeout) becomes a
    ProcessGroupError naming this rank, exit 2, instead of a traceback."""

    def __init__(self, world: World, work_dir: Any) -> None:
        self.world, self.work_dir = world, work_dir

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None or isinstance(exc, ProcessGroupError):
            return
        if distributed.is_collective_failure(exc):
            raise distributed.lost_contact(self.world, exc, self.work_dir) from None


class _CountingLoss:
    """The loss function, counting the samples it is called on (to weight the ranks'
    validation losses when they are merged)."""

    def __init__(self, loss_fn: Any) -> None:
        self.loss_fn = loss_fn
        self.samples = 0

    def __call__(self, logits: dict, targets: dict) -> torch.Tensor:
        self.samples += len(next(iter(targets.values())))
        return self.loss_fn(logits, targets)


def _merge_predictions(parts: list[tuple[Predictions | None, int]]) -> Predictions:
    """One Predictions from the ranks' (predictions, samples in the loss) pairs."""
    found = [(p, n) for p, n in parts if p is not None]
    counted = sum(n for p, n in found if p.loss is not None)
    loss_sum = sum(p.loss * n for p, n in found if p.loss is not None)
    return Predictions(
        [i for p, _ in found for i in p.ids],
        {k: join_batches([p.outputs[k] for p, _ in found]) for k in found[0][0].outputs},
        {k: join_batches([p.targets[k] for p, _ in found]) for k in found[0][0].targets},
        loss_sum / counted if counted else None,
    )
