"""The hooks that make the work directory: run files, metrics.jsonl, checkpoints, early
stopping, and the optional CSV and TensorBoard logs (docs/architecture.md, "Work directory")."""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signcli.core.atomic import atomic_write, check_output_file, ensure_folder
from signcli.core.errors import DataError, UsageError, excerpt
from signcli.core.files import FileTooLarge, NotARegularFile, open_input, open_table
from signcli.core.run_files import (
    BEST_CHECKPOINT,
    CONFIG_FILE,
    CURVES_FILE,
    LABELS_FILE,
    LAST_CHECKPOINT,
    LOCK_FILE,
    METRICS_FILE,
    RUN_FILES,
    SPLIT_FILE,
    TENSORBOARD_DIR,
    TOKENIZER_FILE,
)
from signcli.core.task_specs import DEFAULT_TASK, TASKS, task_spec
from signcli.core.write_targets import check_write_target
from signcli.engine.checkpoint import save_checkpoint
from signcli.engine.hooks import Hook
from signcli.engine.workdir import refuse_existing_run
from signcli.metrics.jsonl import append_metrics, format_record, resume_metrics
from signcli.settings import Settings

if TYPE_CHECKING:
    from signcli.engine.trainer import Trainer

log = logging.getLogger("signcli")

# how a Python caller continues or replaces a run (start_run gives the CLI's flags instead)
PYTHON_RESUME = "resume_run(work_dir) (or `signcli resume`)"
PYTHON_OVERWRITE = "call start_run(settings, overwrite=True)"


def work_dir_hooks(settings: Settings) -> list[Hook]:
    """The hooks every run gets, in the order they must run at each epoch end: the metrics
    line first, then the checkpoint (so a resume from last.pt may drop, never miss, lines)."""
    training = settings.training
    hooks: list[Hook] = [
        RunFilesHook(),
        MetricsLogHook(),
        CheckpointHook(),
        EarlyStoppingHook(),
        CurvesHook(),  # after MetricsLogHook: it draws metrics.jsonl
    ]
    if training.log_csv is not None:
        columns = task_spec(settings.model.task).log_columns
        hooks.append(CsvLogHook(Path(training.log_csv), columns))
    if training.tensorboard:
        hooks.append(TensorBoardHook())
    return hooks


class RunFilesHook(Hook):
    """config.json (effective settings), labels.json (class maps) and, with
    data.val_fraction, split.json (the ids of each side), written at start. A new run (not
    `trainer.continuing`) refuses a folder that holds a run, and an existing --log-csv
    file, before writing anything: `start_run(overwrite=True)` removes them."""

    def on_train_start(self, trainer: Trainer) -> None:
        if not trainer.continuing:
            refuse_existing_run(trainer.work_dir, resume=PYTHON_RESUME, overwrite=PYTHON_OVERWRITE)
            log_csv = trainer.settings.training.log_csv
            if log_csv is not None:
                check_log_csv(Path(log_csv), trainer.work_dir, resuming=False, overwrite=False)
        ensure_folder(trainer.work_dir, "--work-dir")
        settings = trainer.settings.model_dump(mode="json")
        atomic_write(trainer.work_dir / CONFIG_FILE, json.dumps(settings, indent=2) + "\n")
        labels = trainer.task.labels_map(trainer.data)
        atomic_write(trainer.work_dir / LABELS_FILE, json.dumps(labels, indent=2) + "\n")
        if isinstance(labels.get("tokenizer"), str):  # text tasks: beside the run, as used
            atomic_write(trainer.work_dir / TOKENIZER_FILE, labels["tokenizer"])
        if trainer.data.split is not None:  # on resume, the record it was read from
            split = trainer.data.split.to_dict()
            atomic_write(trainer.work_dir / SPLIT_FILE, json.dumps(split, indent=2) + "\n")


class MetricsLogHook(Hook):
    """Appends one JSON object per finished epoch to metrics.jsonl. Its state (stored in
    every checkpoint) is the last epoch's record, so a resume can re-create that line."""

    name = "metrics_log"

    def __init__(self) -> None:
        self.last_record: dict[str, float] | None = None

    def on_train_start(self, trainer: Trainer) -> None:
        # one line per epoch the checkpoint finished: drop a torn last line and the lines
        # of epochs that ran after the checkpoint was written, re-create a missing last one
        path = trainer.work_dir / METRICS_FILE
        for warning in resume_metrics(path, trainer.state.epoch, self.last_record):
            log.warning(warning)

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        append_metrics(trainer.work_dir / METRICS_FILE, metrics)
        # plain ints and floats, as in the line: a checkpoint loads with weights_only=True
        self.last_record = json.loads(format_record(metrics))

    def state_dict(self) -> dict[str, Any]:
        return {"last_record": self.last_record} if self.last_record is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        record = state.get("last_record")
        if record and not isinstance(record, dict):
            raise ValueError(
                f"hooks.metrics_log.last_record: expected a mapping, got {record!r}"[:160]
            )
        if record:
            format_record(record)  # ValueError unless the line it re-creates is a metrics line
        self.last_record = dict(record) if record else None  # ints stay ints: epoch, step


class CheckpointHook(Hook):
    """last.pt after every epoch (and every N steps if asked); best.pt on improvement."""

    def save_last(self, trainer: Trainer) -> None:
        save_checkpoint(trainer.work_dir / LAST_CHECKPOINT, trainer.checkpoint_payload())

    def on_train_start(self, trainer: Trainer) -> None:
        # a folder or FIFO in a checkpoint's place (a resumed run's best.pt): named now,
        # not after the first epoch's training
        for name in (BEST_CHECKPOINT, LAST_CHECKPOINT):
            check_output_file(trainer.work_dir / name, "checkpoint")
        # a step-0 checkpoint makes a run killed during its first epoch resumable too
        if trainer.state.step == 0 and not (trainer.work_dir / LAST_CHECKPOINT).exists():
            self.save_last(trainer)

    def on_step_end(self, trainer: Trainer) -> None:
        every = trainer.settings.training.save_every_steps
        mid_epoch = trainer.state.batch_in_epoch < len(trainer.batch_sizes)
        if every and mid_epoch and trainer.state.step % every == 0:
            self.save_last(trainer)

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        # best.pt before last.pt: a run killed while writing best.pt resumes from before
        # this epoch's end and writes it again; the other order left best.pt.tmp behind
        # and best.pt without this epoch once last.pt had moved past it
        payload = trainer.checkpoint_payload()
        if trainer.is_best:
            save_checkpoint(trainer.work_dir / BEST_CHECKPOINT, payload)
        save_checkpoint(trainer.work_dir / LAST_CHECKPOINT, payload)

    def on_interrupt(self, trainer: Trainer) -> None:
        self.save_last(trainer)  # a signal mid-epoch: resume from this very step


class EarlyStoppingHook(Hook):
    """Says that early stopping ended the run, and how to train on. The decision is the
    trainer's (`Trainer.stopped_early`, from the monitor it keeps in `_end_epoch`).

    It says so when the run ends, not in on_epoch_end: hooks run in order and the progress
    hook comes after this one, so a message there would precede the epoch line it is about.
    Rank 0 only under torchrun: every rank takes the same decision from the broadcast
    metrics, and one message is enough."""

    def __init__(self) -> None:
        self.stopped_before = False  # fit() found the run stopped already (a resume)

    def on_train_start(self, trainer: Trainer) -> None:
        self.stopped_before = trainer.stopped_early

    def on_train_end(self, trainer: Trainer, history: list[dict[str, float]]) -> None:
        if not trainer.stopped_early or self.stopped_before:  # not this fit()'s doing
            return
        state = trainer.state
        best = (
            ""
            if state.best_metric is None
            else f" (best {state.best_metric:.4f} at epoch {state.best_epoch})"
        )
        log.info(
            "early stopping after epoch %d: %s did not improve for %d epoch(s)%s; "
            "to train on: signcli resume %s --early-stop 0",
            state.epoch,
            trainer.monitor,
            trainer.settings.training.early_stop,
            best,
            trainer.work_dir,
        )


class CurvesHook(Hook):
    """WORK_DIR/curves.png: losses and metrics per epoch (train vs val), drawn from
    metrics.jsonl (a resumed run's earlier epochs too). Redrawn after an epoch when
    CURVES_EVERY_S have passed since the last drawing (drawing takes ~0.2 s: epochs of a
    fraction of a second must not pay it each time), and when the run ends unless the
    drawing after its last epoch shows it already (a second drawing of the same records
    cost every fit() of one epoch ~0.2 s more: bench_engine's engine overhead)."""

    def __init__(self) -> None:
        self.drawn_at: float | None = None
        self.drawn_epoch: int | None = None  # the last epoch the drawing shows

    def on_train_start(self, trainer: Trainer) -> None:
        # a folder in its place failed the run after its first epoch's training
        check_output_file(trainer.work_dir / CURVES_FILE, "curves file")

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        if self.drawn_at is None or time.monotonic() - self.drawn_at >= CURVES_EVERY_S:
            self.draw(trainer)

    def on_train_end(self, trainer: Trainer, history: list[dict[str, float]]) -> None:
        if history and self.drawn_epoch != trainer.state.epoch:
            self.draw(trainer)

    def draw(self, trainer: Trainer) -> None:
        from signcli.metrics.jsonl import read_metrics
        from signcli.metrics.plots import curves_png

        self.drawn_at = time.monotonic()
        try:
            records = read_metrics(trainer.work_dir / METRICS_FILE).records
        except (UsageError, DataError) as exc:  # the log is the run's: say so, train on
            log.warning("curves.png not drawn: %s", exc)
            return
        png = curves_png(records, trainer.monitor, trainer.state.best_epoch or None)
        atomic_write(trainer.work_dir / CURVES_FILE, png)
        self.drawn_epoch = trainer.state.epoch


CURVES_EVERY_S = 10.0

# the first line of a --log-csv signcli writes: its task's columns (TaskSpec.log_columns)
CSV_HEADERS = frozenset(",".join(spec.log_columns) for spec in TASKS.values())
CSV_HEADER = ",".join(TASKS[DEFAULT_TASK].log_columns)  # classify's, shown in messages


def check_log_csv(
    path: Path,
    work_dir: Path,
    *,
    resuming: bool,
    overwrite: bool,
    inputs: Iterable[Path | None] = (),
) -> None:
    """UsageError (exit 2) unless `path` may be the run's --log-csv: absent, or a signcli
    epoch log that this run continues (`resuming`) or may replace (`overwrite`); never one
    of the run's `inputs` (labels, texts, index files) nor another run's file."""
    path = Path(path)
    check_write_target(path, "--log-csv", inputs=inputs)
    if path.parent.absolute() == Path(work_dir).absolute() and path.name in (*RUN_FILES, LOCK_FILE):
        raise UsageError(
            f"--log-csv {path} is one of the run's own files", hint="give the CSV another name"
        )
    if not path.exists():
        return
    if not resuming and not overwrite:
        raise UsageError(
            f"--log-csv {path} already exists",
            hint="pass --overwrite to replace it (only an epoch log signcli wrote), "
            "or choose another path",
        )
    if not is_signcli_log(path):
        what = "continue" if resuming else "replace"
        raise UsageError(
            f"--log-csv {path} is not a signcli epoch log (its first line is not {CSV_HEADER}): "
            f"signcli will not {what} it",
            hint="move it away or choose another --log-csv",
        )


def is_signcli_log(path: Path) -> bool:
    """Whether `path` starts with a header CsvLogHook writes (any task's)."""
    try:
        # open_input: a FIFO named by --log-csv would block here
        with open_input(path, "--log-csv", "r", encoding="utf-8", newline="") as handle:
            return handle.readline(4096).rstrip("\r\n") in CSV_HEADERS
    except (OSError, UnicodeDecodeError):
        return False


class CsvLogHook(Hook):
    """--log-csv PATH: one row per epoch (the training guide's CSV log), rewritten atomically.
    A resumed run keeps the rows of the epochs its checkpoint finished."""

    def __init__(
        self, path: Path, columns: Sequence[str] = TASKS[DEFAULT_TASK].log_columns
    ) -> None:
        self.path = path
        self.columns = tuple(columns)  # the run's task's (TaskSpec.log_columns)
        self.rows: list[dict[str, Any]] = []

    def on_train_start(self, trainer: Trainer) -> None:
        self.rows = []
        if trainer.continuing:
            check_log_csv(self.path, trainer.work_dir, resuming=True, overwrite=False)
            self.rows = self._rows_until(trainer.state.epoch)
        check_output_file(self.path, "--log-csv")
        ensure_folder(self.path.parent, "--log-csv folder")

    def _rows_until(self, epoch: int) -> list[dict[str, Any]]:
        if not self.path.exists():
            if epoch > 0:
                log.warning(
                    "%s not found: the CSV log starts again at epoch %d", self.path, epoch + 1
                )
            return []
        rows = []
        try:
            handle = open_table(self.path, "--log-csv", "r", encoding="utf-8", newline="")
        except (FileTooLarge, NotARegularFile):
            raise
        except OSError as exc:
            raise UsageError(f"cannot read --log-csv {self.path}: {exc.strerror or exc}") from None
        with handle:
            try:
                for lineno, row in enumerate(csv.DictReader(handle), 2):
                    try:
                        row_epoch = int(row["epoch"])
                    except (TypeError, ValueError):
                        raise DataError(
                            f"{self.path}:{lineno}: epoch {excerpt(row['epoch'])} is not a whole number",
                            hint="fix or remove that row, or move the file away",
                        ) from None
                    if row_epoch <= epoch:
                        rows.append(row)
            except (UnicodeDecodeError, csv.Error) as exc:
                raise DataError(
                    f"{self.path}: cannot read the CSV log ({type(exc).__name__})",
                    hint="move the file away or choose another --log-csv",
                ) from None
        return rows

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        self.rows.append({k: metrics.get(k, "") for k in self.columns})
        out = io.StringIO()
        writer = csv.DictWriter(
            out, fieldnames=self.columns, lineterminator="\n", extrasaction="ignore"
        )
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write(self.path, out.getvalue())


class TensorBoardHook(Hook):
    """--tensorboard: every epoch metric as a scalar under WORK_DIR/tensorboard."""

    def __init__(self) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package
        except ImportError:
            raise UsageError(
                "--tensorboard needs the tensorboard package",
                hint='install it with: pip install "signcli[tensorboard]"',
            ) from None
        self._writer_class = SummaryWriter
        self.writer = None

    def on_train_start(self, trainer: Trainer) -> None:
        # purge_step drops events of epochs that ran after the checkpoint we resume from
        self.writer = self._writer_class(
            str(trainer.work_dir / TENSORBOARD_DIR), purge_step=trainer.state.epoch + 1
        )

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        assert self.writer is not None
        epoch = int(metrics["epoch"])
        for key, value in metrics.items():
            if key != "epoch":
                self.writer.add_scalar(key, value, epoch)
        self.writer.flush()

    def on_train_end(self, trainer: Trainer, history: list[dict[str, float]]) -> None:
        if self.writer is not None:
            self.writer.close()
