"""`signcli smoke`: seconds-long sanity run of the models on synthetic data."""

from __future__ import annotations

from typing import Annotated

import typer

from signcli.cli import _run
from signcli.cli._options import ConfigOpt, JsonOpt, SetOpt


def smoke(
    model: Annotated[
        str, typer.Option("--model", "-m", help="transformer, gru, ... or all.")
    ] = "all",
    task: Annotated[
        str,
        typer.Option(
            help="classify, ctc or translate (synthetic signed sentences; gloss or "
            "English targets)."
        ),
    ] = "classify",
    overfit: Annotated[
        bool, typer.Option(help="Train on one fixed batch until the loss is under 5% of its start.")
    ] = False,
    steps: Annotated[
        int, typer.Option(min=1, help="Training steps of the loss-goes-down check.")
    ] = 20,
    num_gloss: Annotated[
        int, typer.Option(min=1, help="Gloss classes of the synthetic data.")
    ] = 105,
    num_cat: Annotated[
        int, typer.Option(min=0, help="Category classes (0 = no category head).")
    ] = 10,
    seed: Annotated[
        int,
        # numpy's seeds are 32-bit: outside them smoke died with "unexpected ValueError"
        typer.Option(min=0, max=2**32 - 1, help="Seed of the synthetic data and the model."),
    ] = 0,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Check shapes, finite loss, gradients and that the loss goes down. Exit 1 on a failure."""
    with _run.guarded():
        import json

        from rich.console import Console
        from rich.table import Table

        from signcli.engine.smoke import smoke_model
        from signcli.models import MODEL_REGISTRY
        from signcli.settings import load_settings

        names = sorted(MODEL_REGISTRY) if model == "all" else [model]
        results = []
        for name in names:
            settings = load_settings(config, {"model.name": name, "model.task": task}, set_ or [])
            results.append(
                smoke_model(
                    settings.model,
                    steps=steps,
                    overfit=overfit,
                    num_gloss=num_gloss,
                    num_cat=num_cat,
                    seed=seed,
                )
            )
        passed = all(r.passed for r in results)
        if json_:
            document = {
                "passed": passed,
                "models": [
                    {
                        "model": r.model,
                        "passed": r.passed,
                        "seconds": round(r.seconds, 3),
                        "checks": [
                            {"check": c.check, "passed": c.passed, "detail": c.detail}
                            for c in r.checks
                        ],
                    }
                    for r in results
                ],
            }
            typer.echo(json.dumps(document, indent=2))
        else:
            table = Table(title="signcli smoke" + (" --overfit" if overfit else ""))
            for column in ("model", "check", "result", "detail"):
                table.add_column(column)
            for r in results:
                for c in r.checks:
                    verdict = "[green]pass[/]" if c.passed else "[bold red]FAIL[/]"
                    table.add_row(r.model, c.check, verdict, c.detail)
                table.add_row(r.model, "time", "", f"{r.seconds:.1f}s", end_section=True)
            Console(emoji=False).print(table)
        raise typer.Exit(0 if passed else 1)
