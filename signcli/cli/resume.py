"""`signcli resume WORK_DIR`: continue an interrupted or finished run where it stopped."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from signcli.cli import _run
from signcli.cli._options import DeviceOpt, QuietOpt, TrustDecoderClassOpt

if TYPE_CHECKING:
    from signcli.engine.trainer import Trainer


def resume(
    work_dir: Annotated[
        Path, typer.Argument(help="The run's folder (holds config.json and last.pt).")
    ],
    epochs: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Train to this many epochs in all (extends a finished run) "
            "\\[default: the run's].",
            show_default=False,
        ),
    ] = None,
    early_stop: Annotated[
        int | None,
        typer.Option(
            "--early-stop",
            "--patience",
            min=0,
            help="Early-stopping patience in epochs, 0 = off: continues a run that stopped "
            "early (0, or more than the epochs it has gone without improving) "
            "\\[default: the run's].",
            show_default=False,
        ),
    ] = None,
    device: DeviceOpt = None,
    trust_decoder_class: TrustDecoderClassOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Continue training from WORK_DIR/last.pt with the settings of WORK_DIR/config.json.

    --epochs, --early-stop and --device replace the run's settings (and are written back
    to config.json)."""
    with _run.guarded():
        from signcli.engine.recipes import resume_run

        _run.setup_logging()
        progress = _run.progress_hook(quiet)
        try:
            result = resume_run(
                work_dir,
                [progress],
                epochs=epochs,
                device=device,
                early_stop=early_stop,
                trust_decoder_class=trust_decoder_class,
            )
            _run.leave_process_group()
        finally:
            progress.close()
        if result.already_finished and result.trainer.strategy.is_main:
            typer.echo(_nothing_to_do(work_dir, result.trainer, epochs))


def _nothing_to_do(work_dir: Path, trainer: Trainer, epochs: int | None) -> str:
    """Why a resumed run trained nothing, and the command that would train on."""
    state, done = trainer.state, trainer.state.epoch
    if trainer.stopped_early:
        patience = trainer.settings.training.early_stop
        command = f"signcli resume {work_dir}" + (f" --epochs {epochs}" if epochs else "")
        best = (
            ""
            if state.best_metric is None
            else f"; best {state.best_metric:.4f} at epoch {state.best_epoch}"
        )
        return (
            f"{work_dir}: the run stopped early at epoch {done} of {trainer.epochs}: "
            f"{trainer.monitor} has not improved for {state.bad_epochs} epoch(s) "
            f"(early stopping patience {patience}{best}); "
            "nothing to do\n"
            f"  to train on: `{command} --early-stop 0` (early stopping off), or "
            f"`--early-stop {state.bad_epochs + patience}` (stop after "
            f"{patience} more epoch(s) without improvement)"
        )
    if epochs is not None:
        return (
            f"{work_dir}: the run already finished {done} epoch(s), and --epochs {epochs} "
            f"asks for no more; nothing to do (pass --epochs N with N above {done})"
        )
    return (
        f"{work_dir}: the run already finished after {done} epoch(s); nothing to do "
        "(pass --epochs N to train longer)"
    )
