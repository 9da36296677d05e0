"""Task entry points the commands call: start a run, resume a run.

They own what surrounds the loop: the work directory's life cycle (refuse to clobber a
run, clean up on --overwrite), warm starts, and reading a run back for `resume`.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from signcli.data.sources import load_training_data
from signcli.engine import checkpoint as ckpt
from signcli.engine.atomic import check_folder
from signcli.engine.callbacks import (
    CONFIG_FILE,
    LAST_CHECKPOINT,
    RUN_FILES,
    SPLIT_FILE,
    TENSORBOARD_DIR,
)
from signcli.engine.hooks import Hook
from signcli.engine.trainer import Trainer
from signcli.errors import CheckpointError, UsageError
from signcli.settings import Settings, load_settings, upgrade_stored_settings, with_absolute_paths

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
    """A new run in `settings.training.work_dir` (paths made absolute first); refuses a
    folder that holds one already."""
    settings = with_absolute_paths(settings)
    work_dir = settings.training.work_dir
    check_folder(work_dir, "--work-dir")  # before reading data or training
    existing = [name for name in RUN_FILES if (work_dir / name).exists()]
    if existing and not overwrite:
        raise UsageError(
            f"{work_dir} already holds a run ({', '.join(existing)})",
            hint=f"continue it with `signcli resume {work_dir}`, "
            "or pass --overwrite to start over (or choose another --work-dir)",
        )
    # read the data (which may fail) before deleting anything of the old run
    trainer = Trainer(settings, hooks)
    if init_checkpoint is not None:
        from signcli.engine.warm_start import load_model_state

        payload = ckpt.load_checkpoint(init_checkpoint)
        load_model_state(
            trainer.model, payload[ckpt.MODEL_KEY], strict=init_strict, source=str(init_checkpoint)
        )
    if existing:
        for name in existing:
            (work_dir / name).unlink()
        shutil.rmtree(work_dir / TENSORBOARD_DIR, ignore_errors=True)
    return RunResult(trainer, trainer.fit())


def resume_run(
    work_dir: Path,
    hooks: Sequence[Hook] = (),
    *,
    epochs: int | None = None,
    device: str | None = None,
) -> RunResult:
    """Continue the run in `work_dir` exactly where last.pt left it (config.json is the truth)."""
    work_dir = Path(work_dir)
    config, last = work_dir / CONFIG_FILE, work_dir / LAST_CHECKPOINT
    if not config.is_file():
        raise UsageError(
            f"{work_dir} holds no run ({CONFIG_FILE} not found)",
            hint="pass the --work-dir of a run started with `signcli train`",
        )
    try:
        stored = json.loads(config.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{config}: not valid JSON ({exc})") from None
    flags = {
        "training.epochs": epochs,
        "training.device": device,
        "training.work_dir": str(work_dir),
    }
    settings = load_settings(base=upgrade_stored_settings(stored), flags=flags)
    if not last.is_file():
        raise UsageError(
            f"{work_dir} has no {LAST_CHECKPOINT} yet (the run stopped before its first save)",
            hint=f"start it again with `signcli train ... --work-dir {work_dir} --overwrite`",
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
    trainer = Trainer(settings, hooks, data=load_training_data(settings, split_file))
    trainer.load_payload(payload)
    if trainer.finished:
        log.info(
            "this run already finished %d epoch(s); pass --epochs N to train longer",
            trainer.state.epoch,
        )
        return RunResult(trainer, [], already_finished=True)
    return RunResult(trainer, trainer.fit())
