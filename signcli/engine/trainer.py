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
from signcli.data.dataset import EpochBatchSampler
from signcli.data.sources import TrainingData, load_training_data
from signcli.engine import checkpoint as ckpt
from signcli.engine.device import make_precision, resolve_device, seed_everything
from signcli.engine.hooks import Hook
from signcli.engine.inference import predict
from signcli.engine.optim import LRSchedule, build_optimizer
from signcli.engine.state import TrainState
from signcli.errors import CheckpointError, TrainingDiverged, TrainingInterrupted, UsageError
from signcli.models import SignModel, build_run_model
from signcli.models.inputs import input_stats
from signcli.settings import Settings, with_absolute_paths
from signcli.tasks import build_task

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
        if stored_labels is not None:  # resume: what the run resolved (text: its tokenizer)
            self.task.restore(stored_labels, "last.pt")
        self.data = data if data is not None else load_training_data(settings)
        # record what the data resolved (class counts, `auto` sizes) so config.json rebuilds
        # this model and resume repeats this run
        settings = resolve_auto_settings(settings, len(self.data.train.dataset))
        self.task.resolve(settings, self.data)
        self.settings = settings
        self.work_dir = Path(settings.training.work_dir)
        self.device = resolve_device(settings.training.device)
        self.precision = make_precision(settings.training.precision, self.device)
        seed_everything(settings.training.seed, settings.training.deterministic)

        self.model = build_run_model(
            settings, self.data.input_dims, self.data.num_gloss, self.data.num_cat
        )
        self.model.set_input_stats(_input_stats(self.data, self.model))
        self.model.to(self.device)
        # the training forward; checkpoints and validation use the plain module
        self.train_forward = (
            _compiled(self.model, settings) if settings.training.compile else self.model
        )
        self.loss_fn = self.task.loss_module(settings.optim)
        self.optimizer = build_optimizer(self.model, settings.optim)

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
        if settings.data.augment.enabled:  # train split only; draws follow the sampler's epoch
            from signcli.data.augment import augmenter_for

            self.data.train.dataset.transform = augmenter_for(
                self.data.train, settings, self.train_sampler
            )
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
        self._stop_signal: int | None = None
        for warning in [*self.data.warnings, *settings.model.unused_options()]:
            log.warning(warning)

    # ------------------------------------------------------------------ properties

    @property
    def epochs(self) -> int:
        return self.settings.training.epochs

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.batch_sizes) / self.settings.optim.accumulate)

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
            self._call("on_train_start")
            self.continuing = True  # a later fit() of this trainer trains on
            with self._stop_on_signals():
                while not self.finished and not self.should_stop:
                    self._train_epoch()
            self._call("on_train_end", self.history)
        return self.history

    def _work_dir_lock(self) -> AbstractContextManager[None]:
        """The work directory's lock when the default hooks write into it (re-entrant: a
        `start_run` that holds it already shares it)."""
        if not self.default_hooks:
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
        for batch_index, batch in enumerate(self._loader(), start=state.batch_in_epoch):
            group = batch_index // accumulate
            group_samples = sum(self.batch_sizes[group * accumulate : (group + 1) * accumulate])
            loss, hits = self._forward_backward(batch, len(batch) / group_samples, epoch)
            state.epoch_loss_sum += loss * len(batch)
            state.epoch_samples += len(batch)
            if state.epoch_gloss_correct is not None:
                state.epoch_gloss_correct += hits
            state.batch_in_epoch = batch_index + 1
            self._call("on_batch_end", loss, len(batch))
            if state.batch_in_epoch % accumulate == 0 or state.batch_in_epoch == len(
                self.batch_sizes
            ):
                self._optimizer_step()
                self._call("on_step_end")
                if self._stop_signal is not None and state.batch_in_epoch < len(self.batch_sizes):
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
        self._end_epoch(epoch, metrics)

    def _forward_backward(self, batch: Any, weight: float, epoch: int) -> tuple[float, int]:
        """Backward of one batch; returns its loss and the task's count (`Task.train_hits`,
        classify: how many gloss argmaxes hit)."""
        batch = batch.to(self.device, non_blocking=True)
        with self.precision.autocast():
            outputs = self.task.forward(self.train_forward, batch)
            loss = self.loss_fn(outputs, batch.targets)
        hits = self.task.train_hits(outputs, batch.targets)
        # one device-to-host copy for both numbers: the finiteness check syncs anyway
        if hits is None:
            value, correct = float(loss.detach().float()), 0.0
        else:
            value, correct = torch.stack([loss.detach().float(), hits.float()]).tolist()
        if not math.isfinite(value):
            raise TrainingDiverged(
                f"training diverged: loss is {value} at epoch {epoch}, step {self.state.step + 1}; "
                f"the last good checkpoint {self.work_dir / 'last.pt'} is kept",
                hint="lower --lr, keep --grad-clip on, or check the data with `signcli validate-npz`",
            )
        scaled = loss * weight
        if self.precision.scaler is not None:
            self.precision.scaler.scale(scaled).backward()
        else:
            scaled.backward()
        return value, int(correct)

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
        self.state.step += 1

    def validate(self) -> dict[str, float]:
        """val_loss and the task's metrics on the validation split ({} without one)."""
        if self.data.val is None:
            return {}
        loader = self._loader(validation=True)
        self._call("on_validation_start", len(loader))
        predictions = predict(
            self.model,
            loader,
            self.device,
            self.precision,
            self.loss_fn,
            on_batch=lambda: self._call("on_validation_batch_end"),
            task=self.task,
        )
        metrics = {} if predictions.loss is None else {"val_loss": predictions.loss}
        metrics.update(self.task.validation_metrics(predictions))
        self._call("on_validation_end", metrics)
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
        if self._stop_signal is not None and not self.finished:
            self._interrupt(saved=True)

    # ------------------------------------------------------------------ data

    def _loader(self, validation: bool = False) -> DataLoader:
        data, training = self.settings.data, self.settings.training
        if validation:
            assert self.data.val is not None
            dataset = self.data.val.dataset
            sampler = EpochBatchSampler(len(dataset), training.batch_size, shuffle=False)
        else:
            dataset, sampler = self.data.train.dataset, self.train_sampler
        workers = data.num_workers
        extra: dict[str, Any] = {}
        if workers > 0:
            extra["prefetch_factor"] = data.prefetch_factor or 2
        return DataLoader(
            dataset,
            batch_sampler=sampler,
            collate_fn=self.task.collate,
            num_workers=workers,
            pin_memory=data.pin_memory and self.device.type == "cuda",
            # a private generator: creating a loader must not draw from the global torch RNG,
            # or a resumed run would see different dropout masks than an uninterrupted one
            generator=torch.Generator().manual_seed(self.settings.training.seed),
            **extra,
        )

    # ------------------------------------------------------------------ checkpoints

    def checkpoint_payload(self) -> dict[str, Any]:
        """Everything `resume` needs, as plain data (docs/architecture.md, "Checkpoints")."""
        return {
            ckpt.SETTINGS_KEY: self.settings.model_dump(mode="json"),
            ckpt.LABELS_KEY: self.task.labels_map(self.data),
            ckpt.INPUTS_KEY: dict(self.data.input_dims),
            ckpt.MODEL_KEY: self.model.state_dict(),
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

        load_model_state(self.model, payload[ckpt.MODEL_KEY], strict=True, source=str(source))
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
        name = signal.Signals(self._stop_signal).name if self._stop_signal else "signal"
        raise TrainingInterrupted(
            f"{name} received: stopped at epoch {self.state.epoch + (self.state.batch_in_epoch > 0)}, "
            f"step {self.state.step}; {self.work_dir / 'last.pt'} is saved",
            hint=f"continue with: signcli resume {self.work_dir}",
        )

    def _stop_on_signals(self) -> _SignalGuard:
        return _SignalGuard(self)


class _SignalGuard:
    """First SIGINT/SIGTERM: finish the current step, save, stop. Second SIGINT: abort now."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.trainer._stop_signal is not None:
            raise KeyboardInterrupt
        self.trainer._stop_signal = signum
        log.warning("stopping after the current step (press Ctrl-C again to abort at once)")

    def __enter__(self) -> _SignalGuard:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def _compiled(model: torch.nn.Module, settings: Settings) -> Any:
    """`torch.compile` of the model for training. dynamic=True: clip lengths change from
    batch to batch, and a graph per length would recompile again and again."""
    import torch._dynamo

    backend = settings.training.compile_backend
    known = torch._dynamo.list_backends(exclude_tags=())
    if backend not in known:
        raise UsageError(
            f"training.compile_backend: torch.compile has no backend {backend!r}",
            hint=f"use one of {', '.join(known)} (inductor is the default)",
        )
    return torch.compile(model, backend=backend, dynamic=True)


def _input_stats(data: TrainingData, model: SignModel) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-feature mean/std of (up to INPUT_STATS_MAX_SAMPLES) training samples as the
    encoder sees them (after the model's split and normalisation), ignoring NaN."""
    dataset = data.train.dataset
    count = len(dataset)
    picks = np.linspace(0, count - 1, min(count, INPUT_STATS_MAX_SAMPLES)).round().astype(int)
    samples = [dataset.raw(int(i)) for i in np.unique(picks)]
    frames = {  # [sum T, D]: normalisation is per frame, so frames of all samples go at once
        name: torch.from_numpy(np.concatenate([s.streams[name] for s in samples]))
        for name in samples[0].streams
    }
    with torch.no_grad():
        return input_stats(model.prepare_inputs(frames))


def _lengths(dataset: Any, required: bool) -> np.ndarray | None:
    """Frames of each training sample: free when the split is held in memory (read once
    otherwise, only when length bucketing needs them); None when not worth reading."""
    if dataset.cache is None and not required:
        return None
    return np.asarray([dataset.raw(i).length for i in range(len(dataset))], dtype=np.int64)


def _padding_share(lengths: np.ndarray, order: np.ndarray, batch_size: int) -> float:
    """Padded frames / all frames of the epoch's batches, as stored (before augmentation)."""
    padded = sum(
        int(lengths[order[i : i + batch_size]].max()) * len(order[i : i + batch_size])
        for i in range(0, len(order), batch_size)
    )
    return 1.0 - float(lengths.sum()) / padded if padded else 0.0
