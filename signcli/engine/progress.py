"""Progress output as a hook: rich bars on a terminal, plain log lines otherwise (CI)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from signcli.auto_size import skeleton_without_layout
from signcli.engine.hooks import Hook

if TYPE_CHECKING:
    from signcli.engine.trainer import Trainer

Mode = Literal["auto", "bar", "plain", "quiet"]
# off a terminal, the longest silence: a line at least this often (every log_every steps
# too), so a CI log or `tail -f` shows the run is alive
PLAIN_EVERY_S = 25.0


def format_metrics(metrics: dict[str, float]) -> str:
    parts = []
    for key, value in metrics.items():
        if key in ("epoch", "step"):
            continue
        if key == "lr":
            parts.append(f"lr {value:.2e}")
        elif key == "epoch_s":
            parts.append(f"{value:.1f}s")
        elif key == "samples_per_s":
            parts.append(f"{value:.0f} samples/s")
        elif key == "train_pad_share":
            parts.append(f"{value:.0%} padding")
        else:
            parts.append(f"{key} {value:.4f}")
    return "  ".join(parts)


class ProgressHook(Hook):
    """`bar`: a rich bar per epoch (step/total, loss, lr, samples/s, ETA) and a validation bar;
    `plain`: a line every `log_every` steps and per epoch; `quiet`: the final summary only;
    `auto`: bar on a terminal, plain otherwise."""

    def __init__(self, mode: Mode = "auto", console: Console | None = None) -> None:
        self.console = console or Console(soft_wrap=True, emoji=False)
        if mode == "auto":
            mode = "bar" if self.console.is_terminal else "plain"
        self.mode = mode
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.val_task: TaskID | None = None
        self.epoch_started = 0.0
        self.epoch_samples = 0
        self.run_started = time.monotonic()
        self.last_line = time.monotonic()  # when plain mode last printed
        self.val_batches = self.val_done = 0

    # -- training

    def on_train_start(self, trainer: Trainer) -> None:
        self.run_started = self.last_line = time.monotonic()
        if self.mode == "quiet":
            return
        model = trainer.model
        params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        val = len(trainer.data.val.ids) if trainer.data.val is not None else 0
        resumed = (
            f", resuming {trainer.state.position(len(trainer.batch_sizes))}"
            if trainer.state.step
            else ""
        )
        model = trainer.settings.model
        targets = (  # the output ids of a text task are its tokenizer's vocabulary
            f"task {trainer.task.name}, {model.num_tokens} token ids"
            if model.num_tokens is not None
            else f"{model.num_gloss} glosses"
        )
        self.console.print(
            f"training {trainer.settings.model.name} ({params / 1e6:.2f}M parameters) on "
            f"{trainer.device.type}: {len(trainer.data.train.ids)} train / {val} val samples, "
            f"{targets}, {trainer.epochs} epochs{resumed}",
            highlight=False,
        )
        self.console.print(f"  {trainer.threads.choice.describe()}", highlight=False)
        for line in input_lines(trainer):
            self.console.print(f"  {line}", highlight=False)
        if self.mode == "bar":
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self.progress.start()

    def on_epoch_start(self, trainer: Trainer) -> None:
        self.epoch_started = time.perf_counter()
        self.epoch_samples = 0
        if self.progress is not None:
            total = len(trainer.batch_sizes)
            self.task = self.progress.add_task(
                f"epoch {trainer.state.epoch + 1}/{trainer.epochs}",
                total=total,
                completed=trainer.state.batch_in_epoch,
                info="",
            )

    def on_batch_end(self, trainer: Trainer, loss: float, batch_size: int) -> None:
        self.epoch_samples += batch_size
        if self.progress is not None:
            self._refresh_bar(trainer)
        elif self._overdue():
            self._print_step(trainer)

    def on_step_end(self, trainer: Trainer) -> None:
        state = trainer.state
        if self.progress is not None:  # the step has just set a new learning rate
            self._refresh_bar(trainer)
        elif self.mode == "plain" and state.step % trainer.settings.training.log_every == 0:
            self._print_step(trainer)

    def _overdue(self) -> bool:
        return self.mode == "plain" and time.monotonic() - self.last_line >= PLAIN_EVERY_S

    def _print_step(self, trainer: Trainer) -> None:
        state = trainer.state
        self._print(
            f"epoch {state.epoch + 1}/{trainer.epochs} batch {state.batch_in_epoch}/"
            f"{len(trainer.batch_sizes)} step {state.step}  {self._info(trainer)}"
        )

    def _print(self, line: str) -> None:
        print(line, flush=True)
        self.last_line = time.monotonic()

    def _info(self, trainer: Trainer) -> str:
        state = trainer.state
        running = state.epoch_loss_sum / max(1, state.epoch_samples)
        rate = self.epoch_samples / max(time.perf_counter() - self.epoch_started, 1e-9)
        return f"loss {running:.4f}  lr {trainer.lr:.2e}  {rate:.0f} samples/s"

    def _refresh_bar(self, trainer: Trainer) -> None:
        assert self.progress is not None and self.task is not None
        self.progress.update(
            self.task, completed=trainer.state.batch_in_epoch, info=self._info(trainer)
        )

    def on_validation_start(self, trainer: Trainer, num_batches: int) -> None:
        self.val_batches, self.val_done = num_batches, 0
        if self.progress is not None:
            self.val_task = self.progress.add_task("  validation", total=num_batches, info="")

    def on_validation_batch_end(self, trainer: Trainer) -> None:
        self.val_done += 1
        if self.progress is not None and self.val_task is not None:
            self.progress.advance(self.val_task)
        elif self._overdue():
            self._print(
                f"epoch {trainer.state.epoch + 1}/{trainer.epochs} validation batch "
                f"{self.val_done}/{self.val_batches}"
            )

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        if self.progress is not None:
            for task in (self.task, self.val_task):
                if task is not None:
                    self.progress.remove_task(task)
            self.task = self.val_task = None
        if self.mode == "quiet":
            return
        best = " *" if trainer.is_best else ""
        line = f"epoch {int(metrics['epoch'])}/{trainer.epochs}  {format_metrics(metrics)}{best}"
        if self.mode == "bar":
            self.console.print(line, highlight=False)
        else:
            self._print(line)

    def on_train_end(self, trainer: Trainer, history: list[dict[str, float]]) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        for line in run_summary(trainer, time.monotonic() - self.run_started):
            self.console.print(line, highlight=False)

    def close(self) -> None:
        """Stop the live display (the loop ended by an exception)."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def run_summary(trainer: Trainer, wall_s: float) -> list[str]:
    """The end of a run: how long, the best epoch, the threads, the files, what to run next."""
    from signcli.core.run_files import BEST_CHECKPOINT, RUN_FILES

    state, work = trainer.state, trainer.work_dir
    best = (
        f"best {trainer.monitor} {state.best_metric:.4f} at epoch {state.best_epoch}"
        if state.best_metric is not None
        else "no finished epoch"
    )
    lines = [
        f"done: {state.epoch} epoch(s), {state.step} steps in {format_duration(wall_s)}; "
        f"{best}; work dir {work}",
        f"  math: {trainer.threads.summary()}",
    ]
    files = [name for name in RUN_FILES if (work / name).is_file()]
    if files:
        lines.append(f"  wrote {', '.join(files)}")
    checkpoint = work / BEST_CHECKPOINT
    if checkpoint.is_file():
        lines += [
            f"  next: signcli eval {checkpoint}",
            f"        signcli export-onnx {checkpoint} --out {work / 'model.onnx'}",
            f"        signcli predict {checkpoint} FILES_OR_FOLDERS",
        ]
    return lines


def format_duration(seconds: float) -> str:
    """1.2 s, 4m 05s, 2h 03m."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def input_lines(trainer: Trainer) -> list[str]:
    """What the model's input stage feeds the encoder, for a skeleton without a landmark
    set: the place where saying what the columns are (data.coords) changes the model."""
    data = trainer.settings.data
    # trainer.model is the bare model (torchrun's wrapper is trainer.train_model)
    plan = getattr(getattr(trainer.model, "features", None), "plan", None)
    if not plan or not skeleton_without_layout(data) or "x" not in plan:
        return []
    line = f"input X: {plan['x'].describe()}"
    guess = getattr(trainer, "coords_guess", None)  # None: said by hand, or a resumed run
    if plan["x"].coords and guess is not None and guess.joints:
        line += (
            f" (guessed from how the columns move, {guess.scores[guess.coords]:.0f} sd above"
            " chance; --set data.coords=none if they are not joints)"
        )
    elif not plan["x"].coords:
        line += (
            " (joints? --set data.coords=xy|xyz normalises them per sample and moves them"
            " whole: better on new signers)"
        )
    return [line]
