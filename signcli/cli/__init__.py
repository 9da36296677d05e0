"""The `signcli` app: registers the commands, nothing else.

Command modules import only typer, pathlib and typing at module level, so that
`signcli --help` never pays for torch, numpy or pandas.
"""

from __future__ import annotations

from typing import Annotated

import typer

from signcli import __version__
from signcli.cli import _run

app = typer.Typer(
    name="signcli",
    help="Train, resume, evaluate, export and gate sign-language recognition models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"signcli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks instead of one-line errors.")
    ] = False,
) -> None:
    """Train, resume, evaluate, export and gate sign-language recognition models."""
    _run.DEBUG = debug or _run.DEBUG


def _register() -> None:
    from signcli.cli import (
        cv,
        export_onnx,
        extract,
        import_,
        metrics_check,
        predict,
        resume,
        smoke,
        train,
        validate_npz,
    )
    from signcli.cli import eval as eval_command
    from signcli.cli import settings as settings_listing
    from signcli.cli._defaults import settings_command
    from signcli.cli._setting_options import setting_options_command

    app.command("validate-npz")(validate_npz.validate_npz)
    app.command("smoke")(smoke.smoke)
    train_command = setting_options_command(
        train.TYPED_FLAGS, train.GENERATED_FLAGS, train.FLAG_ALIASES
    )
    app.command("train", cls=train_command)(train.train)
    app.command("resume")(resume.resume)
    app.command("cv")(cv.cv)
    app.command("eval", cls=settings_command(eval_command.SETTING_OF_OPTION))(eval_command.eval_)
    app.command("predict")(predict.predict)
    app.command("export-onnx")(export_onnx.export_onnx)
    app.command("metrics-check")(metrics_check.metrics_check)
    app.command("import")(import_.import_)
    app.command("extract", epilog=extract.install_note())(extract.extract)
    app.command("settings")(settings_listing.settings)


_register()


def main() -> None:
    app()
