"""`signcli metrics-check METRICS`: the CI gate. A run's metrics.jsonl against rules, a
baseline run, or both; exit 0 when every check passes, 1 when one fails, 2 when it cannot run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from signcli.cli import _run
from signcli.cli._options import JsonOpt

BASELINE = "Baseline"


def metrics_check(
    metrics: Annotated[
        Path,
        typer.Argument(help="The run's metrics.jsonl, or its work directory.", show_default=False),
    ],
    rules: Annotated[
        Path | None,
        typer.Option(
            "--rules",
            "-r",
            help="Rules file (YAML or JSON) with a `checks:` list.",
            show_default=False,
        ),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            help="Another run's metrics.jsonl: every shared metric must be no worse at the "
            "last epoch (timings and counters only with --metric).",
            show_default=False,
            rich_help_panel=BASELINE,
        ),
    ] = None,
    rtol: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="Relative tolerance of --baseline: a worsening up to rtol * |baseline| passes, "
            "an improvement always does (default 0.05).",
            show_default=False,
            rich_help_panel=BASELINE,
        ),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            "-m",
            help="Compare only this metric with --baseline (repeatable); the way to include "
            "timings (epoch_s, samples_per_s) and counters (epoch, step, lr).",
            show_default=False,
            rich_help_panel=BASELINE,
        ),
    ] = None,
    junit: Annotated[
        Path | None,
        typer.Option(help="Also write the checks as a JUnit XML report here.", show_default=False),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Gate CI on a run's metrics.jsonl, against rules or a baseline run.

    Exit 0 when every check passes, 1 when one fails, 2 when the checks cannot run
    (unreadable file, unknown metric, malformed rule).

    --rules FILE (YAML or JSON) holds a `checks:` list. Each rule names a `metric` (a key of
    metrics.jsonl, e.g. val_gloss_top1, train_loss) and is a bound or a trend.
    A bound: `at` picks one value of the metric, and `min` and/or `max` bound it (inclusive).
      at: last      its last logged value (the default)
      at: best      its best value: lowest for losses, val_wer and epoch_s, else highest
      at: min, max  its lowest, highest value over all epochs
      at: epoch:N   its value at epoch N (1-based)
    A trend: `decreases: true` (or `increases: true`) passes when the last logged value is
    below (above) the first; strict, and a metric logged once fails it.
    Epochs without the metric are skipped; a NaN value fails every check.

    With the run's config.json beside the metrics file (a work directory), a rule on a
    metric the run's task never produces is refused (exit 2), naming the ones it does.

    --baseline OTHER.jsonl: every metric both runs log is compared at their last epochs; a
    worsening beyond --rtol * |baseline| fails, an improvement passes.

    Example rules file (examples/ci/ has a complete CI job):
      checks:
        - {metric: val_gloss_top1, at: best, min: 0.80}
        - {metric: train_loss, at: last, max: 2.0}
        - {metric: val_loss, at: epoch:3, max: 2.5}
        - {metric: train_loss, decreases: true}"""
    with _run.guarded():
        import json

        from signcli.core.atomic import check_output_file
        from signcli.core.errors import UsageError
        from signcli.metrics.baseline import DEFAULT_RTOL
        from signcli.metrics.gate import check_metrics
        from signcli.metrics.junit import write_junit

        if baseline is None and (rtol is not None or metric):
            flag = "--rtol" if rtol is not None else "--metric"
            raise UsageError(f"{flag} applies to --baseline, which was not given")
        if rules is None and baseline is None:
            raise UsageError(
                "nothing to check: give --rules FILE, --baseline OTHER.jsonl, or both",
                hint="e.g. signcli metrics-check run/metrics.jsonl --rules examples/ci/rules.yaml",
            )

        if junit is not None:  # a bad report path is usage, not a verdict on the metrics
            check_output_file(junit, "--junit")
        report = check_metrics(
            metrics,
            rules_path=rules,
            baseline_path=baseline,
            rtol=DEFAULT_RTOL if rtol is None else rtol,
            baseline_metrics=metric,
        )
        for warning in report.warnings:
            typer.echo(f"warning: {warning}", err=True)
        if junit is not None:
            properties = {"metrics": str(metrics)}
            if rules is not None:
                properties["rules"] = str(rules)
            if baseline is not None:
                properties["baseline"] = str(baseline)
            write_junit(junit, report.checks, report.warnings, properties)
        if json_:
            typer.echo(json.dumps(report.to_json(), indent=2))
        else:
            _print_table(report)
        raise typer.Exit(0 if report.passed else 1)


def _print_table(report) -> None:  # noqa: ANN001 - CheckReport is imported lazily
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from signcli.metrics.rules import format_value

    table = Table(title=f"metrics-check {escape(str(report.metrics_path))}")
    for column in ("check", "observed", "bound", "verdict", "detail"):
        table.add_column(column, justify="right" if column == "observed" else "left")
    for check in report.checks:
        verdict = "[green]pass[/]" if check.passed else "[bold red]FAIL[/]"
        observed = "n/a" if check.observed is None else format_value(check.observed)
        table.add_row(escape(check.name), observed, check.bound, verdict, escape(check.detail))
    console = Console(emoji=False)
    console.print(table)
    total = len(report.checks)
    if report.passed:
        console.print(f"[green]all {total} checks passed[/]")
    else:
        console.print(f"[bold red]{report.failures} of {total} checks failed[/]")
