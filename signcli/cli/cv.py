"""`signcli cv MODEL DATA --folds K --group-by COLUMN`: grouped cross-validation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from signcli.cli import _run
from signcli.cli._options import ConfigOpt, DeviceOpt, JsonOpt, QuietOpt, SetOpt

if TYPE_CHECKING:
    from signcli.engine.cross_validation import CrossValidation

# the train options cv takes as flags, by parameter name (everything else: --config, --set)
SETTING_OF_OPTION = {
    "epochs": "training.epochs",
    "seed": "training.seed",
    "layout": "data.layout",
    "device": "training.device",
    "work_dir": "training.work_dir",
}


def cv(
    model: Annotated[
        str, typer.Argument(help="transformer (keypoints), gru (features): as `signcli train`.")
    ],
    data: Annotated[
        Path | None,
        typer.Argument(
            metavar="[DATA]",
            help="Dataset root (train/, train_labels.csv, val/, val_labels.csv, or a "
            "signcli-dataset.json); its splits are pooled. Without it: --config or --set "
            "data.train_dir=... (one labelled folder).",
            show_default=False,
        ),
    ] = None,
    folds: Annotated[
        int, typer.Option("--folds", "-k", help="Number of folds (K runs), at least 2.")
    ] = 5,
    group_by: Annotated[
        str,
        typer.Option(
            "--group-by",
            help="Column of the labels CSV (or of {split}_meta.csv beside it) whose groups "
            "stay whole: signer, speaker, session.",
        ),
    ] = "signer",
    config: ConfigOpt = None,
    set_: SetOpt = None,
    epochs: Annotated[
        int | None,
        typer.Option(
            min=1, help="Epochs per fold [default: auto]; a rerun may raise it.", show_default=False
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of every fold's run.", show_default=False)
    ] = None,
    layout: Annotated[
        str | None,
        typer.Option(
            help="Column ranges of body parts in X, as `signcli train --layout`.",
            show_default=False,
        ),
    ] = None,
    device: DeviceOpt = None,
    work_dir: Annotated[
        str | None,
        typer.Option(
            "--work-dir",
            "-o",
            metavar="PATH",
            help="Folder of the folds' runs (fold-<k>/), cv-plan.json and cv.json.",
        ),
    ] = "runs/cv",
    overwrite: Annotated[
        bool, typer.Option(help="Train every fold again, replacing the runs in --work-dir.")
    ] = False,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Train K runs, each holding out whole groups (signers, speakers, sessions) for validation,
    and report every final-epoch metric per fold and as mean ± std (WORK_DIR/cv.json).

    Each fold is an ordinary run in WORK_DIR/fold-<k> (`signcli resume` continues one).
    Running the same command again skips finished folds and continues unfinished ones."""
    options = dict(locals())
    with _run.guarded():
        from signcli.engine.cross_validation import run_cross_validation
        from signcli.settings import load_settings

        flags = {key: options[name] for name, key in SETTING_OF_OPTION.items()}
        flags.update({"model.name": model, "data.dataset": _absolute(data)})
        settings = load_settings(config, flags, set_ or [])
        _run.setup_logging()
        progress: list = []

        def hooks() -> list:
            for hook in progress:  # the previous fold's bar ends before the next one starts
                hook.close()
            progress[:] = [_run.progress_hook(quiet or json_)]
            return list(progress)

        try:
            result = run_cross_validation(settings, folds, group_by, hooks, overwrite=overwrite)
        finally:
            for hook in progress:
                hook.close()
        if json_:
            typer.echo(result.path.read_text(encoding="utf-8").rstrip())
        else:
            typer.echo(summary_table(result))


def summary_table(result: CrossValidation) -> str:
    """Metric rows, a column per fold, then mean ± std (plain text, aligned)."""
    folds = result.folds
    head = ["metric", *(f"fold-{f.fold}" for f in folds), "mean ± std"]
    rows = [
        ["held out", *(", ".join(f.held_out) for f in folds), ""],
        ["train/val", *(f"{f.train_samples}/{f.val_samples}" for f in folds), ""],
    ]
    for name, mean in result.mean.items():
        rows.append(
            [
                name,
                *(_number(f.metrics[name]) for f in folds),
                f"{_number(mean)} ± {_number(result.std[name])}",
            ]  # fmt: skip
        )
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [head, *rows]]  # fmt: skip
    lines.append(f"{len(folds)} folds by {result.group_by}; written to {result.path}")
    return "\n".join(lines)


def _number(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4f}" if abs(value) >= 1e-3 else f"{value:.3g}"


def _absolute(path: Path | None) -> Path | None:
    return None if path is None else path.expanduser().absolute()
