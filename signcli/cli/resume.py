"""`signcli resume WORK_DIR`: continue an interrupted or finished run where it stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from signcli.cli import _run
from signcli.cli._options import DeviceOpt, QuietOpt


def resume(
    work_dir: Annotated[
        Path, typer.Argument(help="The run's folder (holds config.json and last.pt).")
    ],
    epochs: Annotated[
        int | None,
        typer.Option(min=1, help="Train to this many epochs in all (extends a finished run)."),
    ] = None,
    device: DeviceOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Continue training from WORK_DIR/last.pt with the settings of WORK_DIR/config.json."""
    with _run.guarded():
        from signcli.engine.recipes import resume_run

        _run.setup_logging()
        progress = _run.progress_hook(quiet)
        try:
            result = resume_run(work_dir, [progress], epochs=epochs, device=device)
        finally:
            progress.close()
        if result.already_finished:
            typer.echo(
                f"{work_dir}: the run already finished after {result.trainer.state.epoch} epoch(s); "
                "nothing to do (pass --epochs N to train longer)"
            )
