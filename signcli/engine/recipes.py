"""Task entry points the commands call: start a run, resume a run.

They own what surrounds the loop: the work directory's life cycle (its lock, refuse to
clobber a run, clean up on --overwrite), warm starts, and reading a run back for `resume`.
Both hold the work directory's lock (engine/workdir.py) from before they read anything
until the run ends, so a second `train` or `resume` into the same folder exits 2 at once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from signcli.core.atomic import check_folder
from signcli.core.errors import CheckpointError, SettingsError, UsageError
from signcli.core.files import check_input_file
from signcli.core.run_files import CONFIG_FILE, LAST_CHECKPOINT, SPLIT_FILE
from signcli.core.structured import read_structured_file
from signcli.data.sources import load_training_data
from signcli.engine import checkpoint as ckpt
from signcli.engine.callbacks import check_log_csv
from signcli.engine.distributed import is_main_process
from signcli.engine.hooks import Hook
from signcli.engine.trainer import RESUME_HINT, Trainer
from signcli.engine.trust import check_decoder_class, check_stored_model
from signcli.engine.workdir import refuse_existing_run, removable_run, remove_run, work_dir_lock
from signcli.settings import Settings, load_settings, with_absolute_paths
from signcli.tasks import build_task
from signcli.tasks.size import parameter_count, size_problems
from signcli.upgrade import upgrade_stored_labels, upgrade_stored_settings

log = logging.getLogger("signcli")


@dataclass
class RunResult:
    trainer: Trainer
    history: list[dict[str, float]]
    already_finished: bool = False


def start_run(
    settings: Settings,
    hooks: Sequence[Hook] = (),
    *,
    overwrite: bool = False,
    init_checkpoint: Path | None = None,
    init_strict: bool = True,
) -> RunResult:
    """A new run in `settings.training.work_dir` (paths made absolute first).

    Refuses a folder that holds a run, and an existing `training.log_csv`, unless
    `overwrite`; then removes the old run's files (and a --log-csv that signcli wrote) after
    the data was read, checking first that all of them can go. Holds the folder's lock
    throughout."""
    settings = with_absolute_paths(settings)
    work_dir = settings.training.work_dir
    log_csv = settings.training.log_csv
    if not is_main_process():  # under torchrun, rank 0 owns the work directory
        trainer = _warm_start(Trainer(settings, hooks), init_checkpoint, init_strict)
        return RunResult(trainer, trainer.fit())
    check_folder(work_dir, "--work-dir")  # before reading data or training
    with work_dir_lock(work_dir):
        if not overwrite:
            refuse_existing_run(
                work_dir, resume=f"`signcli resume {work_dir}`", overwrite="pass --overwrite"
            )
        if log_csv is not None:
            check_log_csv(
                log_csv,
                work_dir,
                resuming=False,
                overwrite=overwrite,
                inputs=_input_files(settings),
            )
        log_files = [log_csv] if log_csv is not None else []
        # every file of the old run must be removable before anything is read or removed
        old_run = removable_run(work_dir, log_files) if overwrite else []
        # read the data (which may fail) before deleting anything of the old run
        trainer = _warm_start(Trainer(settings, hooks), init_checkpoint, init_strict)
        if old_run:
            remove_run(work_dir, removable_run(work_dir, log_files))
        return RunResult(trainer, trainer.fit())


def _input_files(settings: Settings) -> list[Path | None]:
    """The files a run reads that a --log-csv must never replace."""
    data = settings.data
    return [
        *(data.train_labels, data.val_labels, data.labels, data.meta),
        *(data.train_index, data.val_index, data.train_text, data.val_text),
        settings.text.tokenizer_file,
    ]


def _warm_start(trainer: Trainer, init_checkpoint: Path | None, init_strict: bool) -> Trainer:
    """The trainer, its model's weights loaded from `init_checkpoint` (if given)."""
    if init_checkpoint is not None:
        from signcli.engine.warm_start import load_model_state

        payload = ckpt.load_checkpoint(init_checkpoint)
        load_model_state(
            trainer.model,
            payload[ckpt.MODEL_KEY],
            strict=init_strict,
            source=str(init_checkpoint),
        )
    return trainer


def resume_run(
    work_dir: Path,
    hooks: Sequence[Hook] = (),
    *,
    epochs: int | None = None,
    device: str | None = None,
    early_stop: int | None = None,
    trust_decoder_class: bool = False,
) -> RunResult:
    """Continue the run in `work_dir` exactly where last.pt left it (config.json is the truth),
    holding the folder's lock throughout.

    `epochs`, `device` and `early_stop` (the patience; 0 = off, so a run that stopped early
    trains on) replace the stored settings and are written back to config.json. A run with
    nothing left to train comes back with `already_finished` and trains nothing. A stored
    decoder class that is not signcli's own is refused (UsageError, exit 2) unless
    `trust_decoder_class` (signcli/engine/trust.py): the work directory may be someone else's."""
    work_dir = Path(work_dir)
    config = work_dir / CONFIG_FILE
    if not config.is_file():
        raise _no_run(work_dir)
    if not trust_decoder_class:
        _refuse_untrusted_config(config)
    with _main_lock(work_dir):
        return _resume_locked(
            work_dir,
            hooks,
            epochs=epochs,
            device=device,
            early_stop=early_stop,
            trust_decoder_class=trust_decoder_class,
        )


def _refuse_untrusted_config(config: Path) -> None:
    """Refuse a config.json naming a decoder class that is not signcli's own before the
    lock is taken: the lock's file is the first thing resume writes. A config.json that
    cannot be read is left to `_resume_locked`, which reports it as always (and checks the
    validated settings again under the lock)."""
    try:
        stored = read_structured_file(config, "run settings file")
    except UsageError:
        return
    check_stored_model(stored, config, trusted=False)


def _main_lock(work_dir: Path) -> AbstractContextManager[None]:
    """The work directory's lock, held by rank 0 only under torchrun (the other ranks read
    the run and train; they write nothing)."""
    return work_dir_lock(work_dir) if is_main_process() else nullcontext()


def _no_run(work_dir: Path) -> UsageError:
    config = work_dir / CONFIG_FILE
    if os.path.lexists(config):  # a FIFO or folder there: named, not "not found"
        check_input_file(config, "run settings file")
    return UsageError(
        f"{work_dir} holds no run ({CONFIG_FILE} not found)",
        hint="pass the --work-dir of a run started with `signcli train`",
    )


def _resume_locked(
    work_dir: Path,
    hooks: Sequence[Hook],
    *,
    epochs: int | None,
    device: str | None,
    early_stop: int | None,
    trust_decoder_class: bool,
) -> RunResult:
    """`resume_run` once the lock is held: read the run back, check it, train on."""
    config, last = work_dir / CONFIG_FILE, work_dir / LAST_CHECKPOINT
    if not config.is_file():  # removed by an --overwrite that ran before we got the lock
        raise _no_run(work_dir)
    # bounded and checked as a settings file is: size, UTF-8, syntax, numbers, nesting
    stored = read_structured_file(config, "run settings file")
    if not isinstance(stored, dict):
        raise UsageError(
            f"{config}: expected a mapping of sections (data, model, optim, training), "
            f"got {type(stored).__name__}",
            hint="restore the config.json this run wrote",
        )
    flags = {
        "training.epochs": epochs,
        "training.device": device,
        "training.early_stop": early_stop,
        "training.work_dir": str(work_dir),
    }
    try:
        settings = load_settings(base=upgrade_stored_settings(stored), flags=flags)
    except SettingsError as exc:  # a config.json edited by hand, or beyond the limits
        raise SettingsError([f"{config}: {problem}" for problem in exc.problems]) from None
    check_decoder_class(settings.model.decoder_class, config, trusted=trust_decoder_class)
    if os.path.lexists(last) and not last.is_file():  # a folder, a FIFO: not "no last.pt yet"
        check_input_file(last, "checkpoint", hint=f"check {work_dir}")
    if not last.is_file():
        raise UsageError(
            f"{work_dir} has no {LAST_CHECKPOINT} yet (the run stopped before its first save)",
            hint=f"start it again with `signcli train ... --work-dir {work_dir} --overwrite`",
        )
    if settings.training.log_csv is not None:
        check_log_csv(
            settings.training.log_csv,
            work_dir,
            resuming=True,
            overwrite=False,
            inputs=_input_files(settings),
        )
    payload = ckpt.load_checkpoint(last)
    stored_model = upgrade_stored_settings(payload[ckpt.SETTINGS_KEY]).get("model", {})
    if stored_model != settings.model.model_dump(mode="json"):
        raise CheckpointError(
            f"{last}: its model settings differ from {config}",
            hint="restore the config.json of this run; model settings cannot change on resume",
        )
    # the validation split carved at the start is read back, never drawn again
    split_file = work_dir / SPLIT_FILE if settings.data.val_fraction is not None else None
    data = load_training_data(settings, split_file)
    # the model the Trainer builds: refused here when last.pt's weights could not fill it
    # (config.json and last.pt of a few kB may describe gigabytes)
    # (config.json holds the head sizes the run resolved)
    sizes = (settings, data.input_dims, build_task(settings.model.task).head_sizes(settings.model))
    if not size_problems(*sizes):  # else the Trainer refuses, naming the limit
        unfilled = ckpt.unfilled_problem(payload[ckpt.MODEL_KEY], parameter_count(*sizes))
        if unfilled is not None:
            raise CheckpointError(f"{last}: {unfilled}", hint=RESUME_HINT)
    labels = payload.get(ckpt.LABELS_KEY)
    if labels is not None:
        labels = upgrade_stored_labels(labels, settings.model.task)
    trainer = Trainer(settings, hooks, data=data, stored_labels=labels)
    trainer.load_payload(payload)
    if trainer.finished:  # the caller says why (trainer.stopped_early) and how to go on
        return RunResult(trainer, [], already_finished=True)
    return RunResult(trainer, trainer.fit())
