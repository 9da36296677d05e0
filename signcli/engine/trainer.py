"""The training loop: a small state machine that trains and calls hooks by name.

It knows nothing about sign language, targets, terminals or files: it moves batches, lets
the run's task (signcli/tasks/) run the model and compute the loss and metrics, steps,
keeps the monitor (best.pt and early stopping decide on it here, and only here), and tells
hooks. metrics.jsonl, checkpoints and progress bars are hooks (engine/callbacks.py).

    trainer = Trainer(settings, hooks=[ProgressHook()])
    history = trainer.fit()          # one metrics dict per epoch

With its default hooks, `fit()` behaves as `signcli train` does: it holds the work
directory's lock while it runs and refuses a folder that holds a run already (and an
existing --log-csv file) unless the trainer was restored with `load_payload` (or has
run `fit()` before: calling it again with more epochs trains on); use
`engine.recipes.start_run(settings, overwrite=True)` to replace a run and `resume_run` to
continue one. Paths in `settings` are made absolute, as the CLI makes them.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from signcli.auto_size import resolve_auto_settings
from signcli.core.errors import (
    CheckpointError,
    TrainingDiverged,
    TrainingInterrupted,
    UsageError,
)
from signcli.data.batch_augment import training_augmenter
from signcli.data.coords_guess import with_guessed_coords
from signcli.data.dataset import EpochBatchSampler
from signcli.data.sources import TrainingData, load_training_data
from signcli.engine import checkpoint as ckpt
from signcli.engine.device import make_precision, resolve_device, seed_everything
from signcli.engine.ema import WeightAverage
from signcli.engine.hooks import Hook
from signcli.engine.inference import predict
from signcli.engine.optim import LRSchedule, build_optimizer
from signcli.engine.state import TrainState
from signcli.engine.strategy import strategy_for
from signcli.engine.threads import (
    CUDA_PREFETCH_FACTOR,
    ThreadGovernor,
    loader_workers,
    step_work,
)
from signcli.engine.worker_errors import Loader
from signcli.models import SignModel
from signcli.models.inputs import input_stats
from signcli.settings import Settings, with_absolute_paths
from signcli.tasks import build_task
from signcli.tasks.base import Predictions
from signcli.tasks.model import build_run_model

log = logging.getLogger("signcli")

INPUT_STATS_MAX_SAMPLES = 2000  # enough for stable per-feature mean/std, cheap to compute
RESUME_HINT = (
    "restore the last.pt this run wrote, or start over with `signcli train ... --overwrite`"
)


class Trainer:
    """Owns the model, optimizer, schedule, data loaders and counters of one run."""

    def __init__(
        self,
        settings: Settings,
        hooks: Sequence[Hook] = (),
        *,
        data: TrainingData | None = None,
        default_hooks: bool = True,
        stored_labels: dict[str, Any] | None = None,
    ) -> None:
        # config.json records absolute paths, so the run resumes from any folder
        settings = with_absolute_paths(settings)
        self.task = build_task(settings.model.task)
        # one process, or torchrun's ranks (joins their process group first): the loop asks
        # the strategy wherever they differ (engine/strategy.py)
        self.strategy = strategy_for(resolve_device(settings.training.device))
        self.device = self.strategy.device  # torchrun on CUDA: this rank's GPU
        self._check_batch_size(settings.training.batch_size)
        if stored_labels is not None:  # resume: what the run resolved (text: its tokenizer)
            self.task.restore(stored_labels, "last.pt")
        self.data = data if data is not None else load_training_data(settings)
        # a skeleton without a landmark set: are its columns joints (data/coords_guess.py)?
        settings, self.coords_guess = with_guessed_coords(settings, self.data.train.dataset)
        # record what the data resolved (class counts, `auto` sizes) so config.json rebuilds
        # this model and resume repeats this run
        settings = resolve_auto_settings(
            settings, len(self.data.train.dataset), self.strategy.world.world_size
        )
        self.task.resolve(settings, self.data)
        # every rank must read the same data with the same settings
        self.strategy.check_same_start(
            lambda: _start_facts(settings, self.data), settings.training.work_dir
        )
        self.settings = settings
        self.work_dir = Path(settings.training.work_dir)
        self.precision = make_precision(settings.training.precision, self.device)
        seed_everything(settings.training.seed, settings.training.deterministic)

        self.model = build_run_model(
            settings, self.data.input_dims, self.task.head_sizes(settings.model)
        )
        self.model.set_input_stats(_input_stats(self.data, self.model))
        self.model.to(self.device)
        # the module that trains (torchrun: DDP, which all-reduces gradients in backward)
        with self.strategy.collective_errors(settings.training.work_dir):  # DDP broadcasts
            self.train_model = self.strategy.wrap(self.model)
        # the training forward (compiled on top of DDP with --compile); checkpoints and
        # validation use the plain module
        self.train_forward = (
            _compiled(self.train_model, settings) if settings.training.compile else self.train_model
        )
        self.loss_fn = self.task.loss_module(settings.optim)
        self.optimizer = build_optimizer(self.model, settings.optim)
        # training.ema: an average of the weights, scored by validation and saved as the model
        self.ema: WeightAverage | None = None
        if isinstance(settings.training.ema, float):
            self.ema = WeightAverage(self.model, settings.training.ema)

        train = settings.training
        self.train_lengths = _lengths(self.data.train.dataset, train.length_buckets)
        self.train_sampler = EpochBatchSampler(
            len(self.data.train.dataset),
            train.batch_size,
            shuffle=True,
            seed=train.seed,
            lengths=self.train_lengths if train.length_buckets else None,
        )
        self.batch_sizes = self.train_sampler.batch_sizes()
        self.threads = ThreadGovernor.for_work(
            train.threads,
            step_work(
                sum(p.numel() for p in self.model.parameters()),
                self.train_sampler.batch_size * _mean_frames(self.data, self.train_lengths),
            ),
            deterministic=train.deterministic,
        )
        # data.augment: on each training batch, on the device (`_on_device`); what cannot
        # be batched stays per sample in the Dataset (stream mixing under torchrun)
        self.augment = training_augmenter(
            self.data.train, settings, self.train_sampler, self.strategy.world
        )
        self._loaders: dict[str, DataLoader] = {}  # made by the first fit() that needs them
        assert train.monitor is not None  # the settings set the task's default
        self.monitor: str = train.monitor
        if self.data.val is None and self.monitor.startswith("val_"):
            log.warning("no validation data: monitoring train_loss instead of %s", self.monitor)
            self.monitor = "train_loss"
        self.schedule = LRSchedule(
            self.optimizer,
            settings.optim,
            steps_per_epoch=self.steps_per_epoch,
            total_steps=self.steps_per_epoch * train.epochs,
            mode=self.monitor_mode,
        )
        self.state = TrainState()
        self.history: list[dict[str, float]] = []
        self.should_stop = False
        self.is_best = False  # set at each epoch end: did the monitor improve?
        # fit() continues the run in work_dir (restored by load_payload, or trained by an
        # earlier fit() of this trainer) rather than starting a new one there
        self.continuing = False
        self.default_hooks = default_hooks  # the work-dir hooks, and so the work-dir lock
        self.hooks: list[Hook] = []
        if default_hooks:
            from signcli.engine.callbacks import work_dir_hooks

            self.hooks.extend(work_dir_hooks(settings))
        self.hooks.extend(hooks)
        if not self.strategy.is_main:  # rank 0 writes and prints; the others only train
            self.hooks = []  # and decide (early stopping and best.pt are the trainer's)
        self.stop_received: int | None = None  # the SIGINT/SIGTERM this process received
        for warning in [*self.data.warnings, *settings.model.unused_options()]:
            log.warning(warning)

    def _check_batch_size(self, batch_size: int | str) -> None:
        """The global batch is shared by the torchrun processes: at least one sample each
        (`auto` is sized to that when it is resolved)."""
        if batch_size != "auto" and int(batch_size) < self.strategy.world.world_size:
            raise UsageError(
                f"--batch-size {batch_size} is the global batch, shared by "
                f"{self.strategy.world.world_size} processes: it must be at least that many",
                hint="raise --batch-size or start fewer processes",
            )

    # ------------------------------------------------------------------ properties

    @property
    def epochs(self) -> int:
        return self.settings.training.epochs

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.batch_sizes) / self.settings.optim.accumulate)

    @property
    def eval_model(self) -> SignModel:
        """The model validation scores and checkpoints hold: the weight average with
        training.ema (once a step has made one), else the trained weights."""
        if self.ema is None or self.ema.updates == 0:
            return self.model
        return self.ema.model  # type: ignore[return-value]

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    @property
    def finished(self) -> bool:
        return self.state.epoch >= self.epochs or self.stopped_early

    @property
    def monitor_mode(self) -> str:
        """ "min" or "max": how the monitored metric improves, as the task declares it."""
        return self.task.spec.mode(self.monitor)

    @property
    def stopped_early(self) -> bool:
        """Early stopping ends the run before `epochs`: the monitor has not improved for
        `training.early_stop` epochs (the counter is in the checkpoint, so this holds after
        a resume too, until a larger patience or 0 is given)."""
        patience = self.settings.training.early_stop
        return patience > 0 and self.state.bad_epochs >= patience and self.state.epoch < self.epochs

    # ------------------------------------------------------------------ the loop

    def fit(self) -> list[dict[str, float]]:
        """Train until `epochs` or early stopping; returns one metrics dict per epoch.

        With the default hooks, holds the work directory's lock throughout (UsageError if
        another process holds it); a new trainer (not restored by `load_payload`, not
        fitted before) refuses a work directory that already holds a run (see the module
        docstring)."""
        with self._work_dir_lock():
            self.model.train()
            self.threads.apply()
            try:
                self._call("on_train_start")
                self.continuing = True  # a later fit() of this trainer trains on
                with self._stop_on_signals(), self._collective_errors():
                    while not self.finished and not self.should_stop:
                        self._train_epoch()
                self._call("on_train_end", self.history)
            finally:
                self.threads.restore()
                self._loaders.clear()  # their worker processes end with them
        return self.history

    def _work_dir_lock(self) -> AbstractContextManager[None]:
        """The work directory's lock when the default hooks write into it (re-entrant: a
        `start_run` that holds it already shares it)."""
        if not self.default_hooks or not self.strategy.is_main:
            return nullcontext()
        from signcli.engine.workdir import work_dir_lock

        return work_dir_lock(self.work_dir)

    def _train_epoch(self) -> None:
        state, accumulate = self.state, self.settings.optim.accumulate
        epoch = state.epoch + 1
        if state.batch_in_epoch == 0:
            state.epoch_loss_sum, state.epoch_samples, state.epoch_gloss_correct = 0.0, 0, 0
        self.train_sampler.set_epoch(epoch, start_batch=state.batch_in_epoch)
        self._call("on_epoch_start")
        started = time.perf_counter()
        samples_before = state.epoch_samples
        self.optimizer.zero_grad(set_to_none=True)
        strategy = self.strategy
        for batch_index, batch in enumerate(self._loader(), start=state.batch_in_epoch):
            batch = self._on_device(batch, epoch, batch_index)
            group = batch_index // accumulate
            group_samples = sum(self.batch_sizes[group * accumulate : (group + 1) * accumulate])
            steps = (batch_index + 1) % accumulate == 0 or batch_index + 1 == len(self.batch_sizes)
            # backward into the epoch's counters (torchrun: this rank's shard, counted at the step)
            loss = strategy.backward(self, batch, batch_index, group_samples, steps)
            state.batch_in_epoch = batch_index + 1
            self._call("on_batch_end", loss, self.batch_sizes[batch_index])
            if steps:
                strategy.reduce_step(self)  # torchrun: the step's counters and signals, summed
                self._optimizer_step()
                self.threads.recheck()
                self._call("on_step_end")
                if self._stop_requested() and state.batch_in_epoch < len(self.batch_sizes):
                    self._interrupt()
        train_s = time.perf_counter() - started

        metrics: dict[str, float] = {
            "epoch": epoch,
            "step": state.step,
            "lr": self.lr,
            "train_loss": state.epoch_loss_sum / max(1, state.epoch_samples),
        }
        metrics.update(self.task.train_metrics(state.epoch_gloss_correct, state.epoch_samples))
        metrics.update(self.validate())
        metrics["epoch_s"] = time.perf_counter() - started
        metrics["samples_per_s"] = (state.epoch_samples - samples_before) / max(train_s, 1e-9)
        if self.train_lengths is not None:  # as stored: augmentation changes lengths a little
            metrics["train_pad_share"] = _padding_share(
                self.train_lengths, self.train_sampler.order(), self.train_sampler.batch_size
            )
        self._call("on_epoch_metrics", metrics)  # hooks may add keys before they are logged
        # torchrun: rank 0's metrics (with the gathered validation) for all, and the signals
        metrics = self.strategy.share_epoch(self, metrics)
        self._end_epoch(epoch, metrics)

    def forward_backward(self, batch: Any, weight: float, check: bool = True) -> tuple[float, int]:
        """Backward of one batch, its loss scaled by `weight` (the strategy's: its share of
        the step); returns its loss and the task's count (`Task.train_hits`, classify: how
        many gloss argmaxes hit). `check`: stop on a loss that is not finite (torchrun
        checks the step's sum over ranks instead, so that every rank stops)."""
        batch = batch.to(self.device, non_blocking=True)
        if self.settings.training.compile:  # few shapes, each compiled once (`_compiled`)
            batch = batch.pad_time(COMPILE_TIME_MULTIPLE)
        with self.precision.autocast():
            outputs = self.task.forward(self.train_forward, batch)
            loss = self.loss_fn(outputs, batch.targets)
        hits = self.task.train_hits(outputs, batch.targets)
        # one device-to-host copy for both numbers: the finiteness check syncs anyway
        if hits is None:
            value, correct = float(loss.detach().float()), 0.0
        else:
            value, correct = torch.stack([loss.detach().float(), hits.float()]).tolist()
        if check and not math.isfinite(value):
            raise self.diverged(value)
        scaled = loss * weight
        if self.precision.scaler is not None:
            self.precision.scaler.scale(scaled).backward()
        else:
            scaled.backward()
        return value, int(correct)

    def diverged(self, loss: float) -> TrainingDiverged:
        """The error that stops a run whose loss is not finite, at the current step."""
        return TrainingDiverged(
            f"training diverged: loss is {loss} at epoch {self.state.epoch + 1}, "
            f"step {self.state.step + 1}; "
            f"the last good checkpoint {self.work_dir / 'last.pt'} is kept",
            hint="lower --lr, keep --grad-clip on, or check the data with `signcli validate-npz`",
        )

    def _optimizer_step(self) -> None:
        self.schedule.apply(self.state.step)
        scaler, clip = self.precision.scaler, self.settings.optim.grad_clip
        if scaler is not None:
            scaler.unscale_(self.optimizer)
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        if scaler is not None:
            scaler.step(self.optimizer)
            scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.update(self.model)
        self.state.step += 1

    def validate(self) -> dict[str, float]:
        """val_loss and the task's metrics on the validation split ({} without one)."""
        if self.data.val is None:
            return {}
        loader = self._loader(validation=True)
        self._call("on_validation_start", len(loader))
        # torchrun: each rank predicts every world_size-th batch, gathered on rank 0 (None
        # on the others, whose metrics come from rank 0 at the epoch's end)
        predictions = self.strategy.validation_predictions(loader, self._predict, self.loss_fn)
        metrics = {} if predictions is None else self._validation_metrics(predictions)
        self._call("on_validation_end", metrics)
        return metrics

    def _predict(self, loader: DataLoader, loss_fn: Any) -> Predictions:
        """The model validation scores (`eval_model`) over `loader`'s batches."""
        return predict(
            self.eval_model,
            loader,
            self.device,
            self.precision,
            loss_fn,
            on_batch=lambda: self._call("on_validation_batch_end"),
            task=self.task,
        )

    def _validation_metrics(self, predictions: Predictions) -> dict[str, float]:
        """val_loss (when targets are known) and the task's metrics."""
        metrics = {} if predictions.loss is None else {"val_loss": predictions.loss}
        metrics.update(self.task.validation_metrics(predictions))
        return metrics

    def _end_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        """The monitor decides here, once: best.pt (`is_best`), the early-stopping count
        (`stopped_early`), the plateau schedule; then the hooks log and save."""
        state = self.state
        value = metrics.get(self.monitor)
        self.is_best = (
            value is not None
            and math.isfinite(value)
            and (
                state.best_metric is None
                or (
                    value < state.best_metric
                    if self.monitor_mode == "min"
                    else value > state.best_metric
                )
            )
        )
        if self.is_best:
            state.best_metric, state.best_epoch, state.bad_epochs = float(value), epoch, 0
        else:
            state.bad_epochs += 1
        self.schedule.epoch_end(value)
        state.epoch, state.batch_in_epoch = epoch, 0
        state.epoch_loss_sum, state.epoch_samples, state.epoch_gloss_correct = 0.0, 0, 0
        self.history.append(metrics)
        self._call("on_epoch_end", metrics)
        if self._stop_requested() and not self.finished:
            self._interrupt(saved=True)

    # ------------------------------------------------------------------ data

    def _loader(self, validation: bool = False) -> DataLoader:
        """The training or validation DataLoader, made once per fit() and kept, so that
        its workers (`data.num_workers`, engine/threads.py `loader_workers`) live across
        epochs; the training sampler says which epoch and batch it starts at."""
        key = "val" if validation else "train"
        if key not in self._loaders:
            self._loaders[key] = self._make_loader(validation)
        return self._loaders[key]

    def _make_loader(self, validation: bool) -> DataLoader:
        data, training = self.settings.data, self.settings.training
        if validation:
            assert self.data.val is not None
            dataset = self.data.val.dataset
            sampler = EpochBatchSampler(len(dataset), training.batch_size, shuffle=False)
        else:
            dataset, sampler = self.data.train.dataset, self.train_sampler
        sampler = self.strategy.batch_sampler(sampler, validation)  # torchrun: this rank's
        workers = loader_workers(data.num_workers, self.device)
        cuda = self.device.type == "cuda"
        extra: dict[str, Any] = {}
        if workers > 0:
            extra["prefetch_factor"] = data.prefetch_factor or (CUDA_PREFETCH_FACTOR if cuda else 2)
            # a per-sample transform reads the sampler's epoch, which a worker that lives
            # across epochs would not see change
            extra["persistent_workers"] = dataset.transform is None
        return Loader(  # a DataLoader whose worker errors read as the worker raised them
            dataset,
            batch_sampler=sampler,
            collate_fn=self.task.collate,
            num_workers=workers,
            pin_memory=data.pin_memory and cuda,  # then copied with non_blocking=True
            # a private generator: creating a loader must not draw from the global torch RNG,
            # or a resumed run would see different dropout masks than an uninterrupted one
            generator=torch.Generator().manual_seed(self.settings.training.seed),
            **extra,
        )

    def _on_device(self, batch: Any, epoch: int, batch_index: int) -> Any:
        """A training batch on the training device, augmented there (data/batch_augment.py):
        its draws depend on (seed, epoch, batch_index, rank) only, so a resume repeats them."""
        batch = batch.to(self.device, non_blocking=True)
        return batch if self.augment is None else self.augment(batch, epoch, batch_index)

    # ------------------------------------------------------------------ checkpoints

    def checkpoint_payload(self) -> dict[str, Any]:
        """Everything `resume` needs, as plain data (docs/architecture.md, "Checkpoints").
        With training.ema the model is the weight average; the trained weights go beside it."""
        averaged = {}
        if self.ema is not None:
            averaged = {
                ckpt.TRAINED_MODEL_KEY: self.model.state_dict(),
                ckpt.EMA_KEY: self.ema.state_dict(),
            }
        return {
            ckpt.SETTINGS_KEY: self.settings.model_dump(mode="json"),
            ckpt.LABELS_KEY: self.task.labels_map(self.data),
            ckpt.INPUTS_KEY: dict(self.data.input_dims),
            ckpt.MODEL_KEY: self.eval_model.state_dict(),
            **averaged,
            ckpt.OPTIMIZER_KEY: self.optimizer.state_dict(),
            ckpt.SCHEDULER_KEY: self.schedule.state_dict(),
            ckpt.SCALER_KEY: self.precision.scaler.state_dict() if self.precision.scaler else {},
            ckpt.STATE_KEY: self.state.state_dict(),
            ckpt.RNG_KEY: {**ckpt.capture_rng_state(), "data": self.train_sampler.state_dict()},
            ckpt.HOOKS_KEY: {h.name: h.state_dict() for h in self.hooks if h.name},
        }

    def load_payload(self, payload: dict[str, Any]) -> None:
        """Restore a run from `checkpoint_payload()`; RNG last, after everything that draws.
        CheckpointError (exit 2), naming last.pt, for entries missing or of the wrong shape."""
        source = self.work_dir / "last.pt"
        problem = ckpt.resume_problem(payload)
        if problem is not None:
            raise CheckpointError(f"{source}: {problem}", hint=RESUME_HINT)
        try:
            self._load_payload(payload, source)
        except CheckpointError:
            raise
        except (
            KeyError,
            TypeError,
            ValueError,
            IndexError,
            RuntimeError,
            AttributeError,
            OverflowError,  # an RNG state with numbers out of their range (numpy's uint32)
        ) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise CheckpointError(
                f"{source}: cannot restore the run's state from it "
                f"({type(exc).__name__}: {reason[:160]})",
                hint=RESUME_HINT,
            ) from None

    def _load_payload(self, payload: dict[str, Any], source: Path) -> None:
        from signcli.engine.optim import optimizer_state_problem
        from signcli.engine.warm_start import load_model_state

        if self.ema is None:
            load_model_state(self.model, payload[ckpt.MODEL_KEY], strict=True, source=str(source))
        else:
            missing = [k for k in (ckpt.TRAINED_MODEL_KEY, ckpt.EMA_KEY) if k not in payload]
            if missing:
                raise CheckpointError(
                    f"{source}: training.ema is on but the checkpoint has no "
                    f"{' or '.join(missing)}, which resume needs",
                    hint=RESUME_HINT,
                )
            trained = payload[ckpt.TRAINED_MODEL_KEY]
            load_model_state(self.model, trained, strict=True, source=str(source))
            load_model_state(
                self.ema.model, payload[ckpt.MODEL_KEY], strict=True, source=str(source)
            )
            self.ema.load_state_dict(payload[ckpt.EMA_KEY])
        problem = optimizer_state_problem(self.optimizer, payload[ckpt.OPTIMIZER_KEY])
        if problem is not None:
            raise CheckpointError(f"{source}: {problem}", hint=RESUME_HINT)
        options = [
            {k: v for k, v in g.items() if k != "params"} for g in self.optimizer.param_groups
        ]
        self.optimizer.load_state_dict(payload[ckpt.OPTIMIZER_KEY])
        # the options come from the settings, as when the run started (the schedule sets
        # the lr of each step): a checkpoint's own (`amsgrad: true`, `lr: "x"`) could only
        # break the first step
        for group, own in zip(self.optimizer.param_groups, options, strict=True):
            group.update(own)
        self.schedule.load_state_dict(payload[ckpt.SCHEDULER_KEY])
        if self.precision.scaler is not None and payload.get(ckpt.SCALER_KEY):
            self.precision.scaler.load_state_dict(payload[ckpt.SCALER_KEY])
        self.state.load_state_dict(payload[ckpt.STATE_KEY])
        if self.state.batch_in_epoch > len(self.batch_sizes):
            raise CheckpointError(
                f"{source}: train_state.batch_in_epoch is {self.state.batch_in_epoch:,}, "
                f"but an epoch of this data has {len(self.batch_sizes)} batches",
                hint=RESUME_HINT,
            )
        hook_states = payload.get(ckpt.HOOKS_KEY, {})
        for hook in self.hooks:
            if hook.name in hook_states:
                hook.load_state_dict(hook_states[hook.name])
        ckpt.restore_rng_state(payload[ckpt.RNG_KEY])
        self.continuing = True

    # ------------------------------------------------------------------ hooks & signals

    def _call(self, event: str, *args: Any) -> None:
        for hook in self.hooks:
            getattr(hook, event)(self, *args)

    def _interrupt(self, saved: bool = False) -> None:
        if not saved:  # mid-epoch: the hooks save what a resume needs (last.pt)
            self._call("on_interrupt")
        stop = self.strategy.stop_signal(self.stop_received)
        name = signal.Signals(stop).name if stop else "signal"
        raise TrainingInterrupted(
            f"{name} received: stopped {self.state.position(len(self.batch_sizes))}; "
            f"{self.work_dir / 'last.pt'} is saved",
            hint=f"continue with: signcli resume {self.work_dir}{self.strategy.resume_note}",
        )

    def _stop_on_signals(self) -> _SignalGuard:
        return _SignalGuard(self)

    def _stop_requested(self) -> bool:
        """Whether to stop here: a signal reached this process (torchrun: the ranks agreed
        at the last reduce that one reached some rank, so all stop together)."""
        return self.strategy.stop_signal(self.stop_received) is not None

    def _collective_errors(self) -> AbstractContextManager[None]:
        return self.strategy.collective_errors(self.work_dir)


class _SignalGuard:
    """First SIGINT/SIGTERM: finish the current step, save, stop. A second one: abort now
    (torchrun: ignored, see `Torchrun.on_signal`)."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        first = self.trainer.stop_received is None
        if first:
            self.trainer.stop_received = signum
        if self.trainer.strategy.on_signal(first):
            raise KeyboardInterrupt

    def __enter__(self) -> _SignalGuard:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


COMPILE_TIME_MULTIPLE = 32  # a compiled run pads clips to a multiple of this many frames
COMPILE_RECOMPILE_LIMIT = 64  # graphs per compiled function: T buckets x (full, last batch)


def _compiled(model: torch.nn.Module, settings: Settings) -> Any:
    """`torch.compile` of the model for training, one static-shape graph per batch shape.

    Clip lengths change from batch to batch: with symbolic shapes the model's graph still
    specialises on T (dynamo recompiled at every new length and fell back to eager after
    8), so the training batches are padded to a multiple of COMPILE_TIME_MULTIPLE frames
    (`Batch.pad_time`) instead: max_len / 32 lengths, each compiled once."""
    import torch._dynamo

    backend = settings.training.compile_backend
    known = torch._dynamo.list_backends(exclude_tags=())
    if backend not in known:
        raise UsageError(
            f"training.compile_backend: torch.compile has no backend {backend!r}",
            hint=f"use one of {', '.join(known)} (inductor is the default)",
        )
    limit = max(torch._dynamo.config.recompile_limit, COMPILE_RECOMPILE_LIMIT)
    torch._dynamo.config.recompile_limit = limit
    return torch.compile(model, backend=backend, dynamic=False)


def _input_stats(data: TrainingData, model: SignModel) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-feature mean/std of (up to INPUT_STATS_MAX_SAMPLES) training samples as the
    encoder sees them (after the model's split and normalisation), ignoring NaN."""
    dataset = data.train.dataset
    count = len(dataset)
    picks = np.linspace(0, count - 1, min(count, INPUT_STATS_MAX_SAMPLES)).round().astype(int)
    prepared: dict[str, list[torch.Tensor]] = {}
    with torch.no_grad():
        for i in np.unique(picks):  # one clip at a time: some channels are per clip
            streams = {k: torch.tensor(v)[None] for k, v in dataset.raw(int(i)).streams.items()}
            mask = torch.ones(next(iter(streams.values())).shape[:2], dtype=torch.bool)
            for name, x in model.prepare_inputs(streams, mask).items():  # [1, T, D']
                prepared.setdefault(name, []).append(x[0])
        return input_stats({name: torch.cat(parts) for name, parts in prepared.items()})


def _mean_frames(data: TrainingData, lengths: np.ndarray | None) -> float:
    """Mean frames of a training clip: from the stored lengths, else from a few clips."""
    if lengths is not None and len(lengths):
        return float(lengths.mean())
    dataset = data.train.dataset
    picks = np.unique(np.linspace(0, len(dataset) - 1, min(len(dataset), 16)).round().astype(int))
    sample = [dataset.raw(int(i)) for i in picks]
    return float(np.mean([next(iter(s.streams.values())).shape[0] for s in sample]))


def _lengths(dataset: Any, required: bool) -> np.ndarray | None:
    """Frames of each training sample: free when the split is held in memory or packed
    (from file headers otherwise, only when length bucketing needs them); None when not
    worth reading."""
    return dataset.lengths(read=required)


def _padding_share(lengths: np.ndarray, order: np.ndarray, batch_size: int) -> float:
    """Padded frames / all frames of the epoch's batches, as stored (before augmentation)."""
    padded = sum(
        int(lengths[order[i : i + batch_size]].max()) * len(order[i : i + batch_size])
        for i in range(0, len(order), batch_size)
    )
    return 1.0 - float(lengths.sum()) / padded if padded else 0.0


def _start_facts(settings: Settings, data: TrainingData) -> dict[str, str]:
    """What a rank starts from, for `distributed.check_same_start`: every setting (dotted
    key: value) and, per split, the samples, a digest of their ids and targets, and the
    input widths and class counts."""
    import hashlib
    import json

    facts: dict[str, str] = {}

    def flatten(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                flatten(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            facts[prefix] = json.dumps(value, sort_keys=True, default=str)

    flatten("", settings.model_dump(mode="json"))
    for split in (data.train, data.val):
        if split is None:
            continue
        digest = hashlib.blake2b(digest_size=8)
        digest.update("\n".join(split.ids).encode("utf-8", "surrogatepass"))
        digest.update(np.ascontiguousarray(split.gloss).tobytes())
        if split.cat is not None:
            digest.update(np.ascontiguousarray(split.cat).tobytes())
        if split.texts is not None:  # the text tasks' targets: a stale copy of a texts CSV
            digest.update("\0".join(split.texts).encode("utf-8", "surrogatepass"))
        facts[f"{split.name} data"] = (
            f"{len(split.ids)} samples (ids and targets {digest.hexdigest()})"
        )
    facts["input widths"] = json.dumps(data.input_dims, sort_keys=True)
    facts["classes"] = f"{data.num_gloss} gloss, {data.num_cat} cat"
    return facts
