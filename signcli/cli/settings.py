"""`signcli settings [PREFIX]`: every settings key with its type, default and description,
from the settings model's field docstrings (`settings_docs` of signcli/reference.py, which
the documentation's settings reference is built from too)."""

from __future__ import annotations

from typing import Annotated

import typer

from signcli.cli import _run
from signcli.cli._options import JsonOpt


def settings(
    prefix: Annotated[
        str | None,
        typer.Argument(
            help="Only the keys that start with this, e.g. optim or data.augment.",
            show_default=False,
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """List every setting: its key, type, default and what it does.

    Give a key in a --config file (YAML or JSON, nested by section), with --set
    SECTION.KEY=VALUE, or with its flag where `train --help` shows one. An empty default
    means unset: the run takes the value from the data or does without."""
    with _run.guarded():
        import dataclasses
        import json
        import shutil
        import textwrap

        from signcli.core.errors import UsageError
        from signcli.reference import settings_docs

        rows = [row for row in settings_docs() if row.key.startswith(prefix or "")]
        if not rows:
            raise UsageError(
                f"no setting starts with {prefix!r}",
                hint="the sections are data, model, optim, training and text",
            )
        if json_:
            typer.echo(json.dumps([dataclasses.asdict(row) for row in rows], indent=2))
            return
        width = min(shutil.get_terminal_size().columns, 100) - 1
        for row in rows:
            default = f" = {row.default}" if row.default else ""
            typer.echo(f"{row.key}  ({row.type}){default}")
            for line in textwrap.wrap(row.description, width - 4):
                typer.echo(f"    {line}")
