"""`signcli eval CHECKPOINT`: metrics, per-class report, confusion matrix and predictions of a
trained model on a split; the model is rebuilt from the checkpoint alone."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from signcli.cli import _run
from signcli.cli._options import (
    BeamSizeOpt,
    DeviceOpt,
    JsonOpt,
    KeyOpt,
    LMBonusOpt,
    LMOrderOpt,
    LMTextsOpt,
    LMWeightOpt,
    TrustDecoderClassOpt,
)

if TYPE_CHECKING:
    from rich.console import Console

# Options whose default is a setting's (shown in --help by cli/_defaults.py)
SETTING_OF_OPTION = {"device": "training.device"}


def eval_(
    checkpoint: Annotated[
        Path, typer.Argument(help="best.pt, last.pt or any signcli checkpoint.", show_default=False)
    ],
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Folder of .npz samples to evaluate, or a dataset root (its validation "
            "split); multi-stream: the folder holding one folder per stream (face/, hand_l/, "
            "...) \\[default: the run's validation split].",
            show_default=False,
        ),
    ] = None,
    index: Annotated[
        Path | None,
        typer.Option(
            "--index",
            help="Multi-stream: CSV of the ids to evaluate (column video_id or id).",
            show_default=False,
        ),
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(
            "--labels",
            help="Labels CSV of those samples (file,gloss,cat,...; multi-stream: id,gloss[,cat] "
            "\\[default: the run's --labels]).",
            show_default=False,
        ),
    ] = None,
    text: Annotated[
        Path | None,
        typer.Option(
            "--text",
            help="Text tasks (ctc, translate): texts of those samples, CSV file,text "
            "(multi-stream: meta.csv id;texto) \\[default: the run's, or <data folder>_text.csv"
            "].",
            show_default=False,
        ),
    ] = None,
    beam_size: BeamSizeOpt = None,
    key: KeyOpt = None,
    batch_size: Annotated[
        int | None,
        typer.Option(min=1, help="Samples per forward pass \\[default: 64].", show_default=False),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Folder for eval.json, per_class.csv, per_group.csv, confusion.csv/.png and "
            "predictions.parquet \\[default: CHECKPOINT's folder/eval-<stem>-<data folder name>].",
            show_default=False,
        ),
    ] = None,
    no_labels: Annotated[
        bool,
        typer.Option("--no-labels", help="Unlabelled samples: write predictions only, no metrics."),
    ] = False,
    group_by: Annotated[
        str | None,
        typer.Option(
            "--group-by",
            help="Column of the labels CSV to report gloss accuracy per group of, into "
            "per_group.csv \\[default: the run's data.group_by, else signer when the labels "
            "have it].",
            show_default=False,
        ),
    ] = None,
    length_penalty: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="translate: beam hypotheses ranked by score / length ** this "
            "\\[default: the run's text.length_penalty].",
            show_default=False,
        ),
    ] = None,
    lm_order: LMOrderOpt = 0,
    lm_weight: LMWeightOpt = None,
    lm_bonus: LMBonusOpt = None,
    lm_texts: LMTextsOpt = None,
    device: DeviceOpt = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace an earlier evaluation in the output folder.")
    ] = False,
    trust_decoder_class: TrustDecoderClassOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Metrics, per-class report, confusion matrix and predictions of CHECKPOINT on a split.

    Reports gloss top-1/top-5, macro-F1, balanced accuracy, category top-1, loss.
    With a group column in the labels (--group-by, default signer): per group too.
    Writes eval.json, per_class.csv, per_group.csv, confusion.csv, confusion.png
    and predictions.parquet to --out.
    The model is rebuilt from the checkpoint; --key defaults to its training key.
    Multi-stream models read the ids of --index in their layout."""
    with _run.guarded():
        import json

        from signcli.cli._defaults import setting_default
        from signcli.evaluation.run import DEFAULT_BATCH_SIZE, evaluate

        _run.setup_logging()
        result = evaluate(
            checkpoint,
            data_dir,
            labels,
            index=index,
            key=key,
            batch_size=batch_size or DEFAULT_BATCH_SIZE,
            out_dir=out,
            no_labels=no_labels,
            device=device or setting_default(SETTING_OF_OPTION["device"]),
            group_by=group_by,
            text_csv=text,
            beam_size=beam_size,
            length_penalty=length_penalty,
            trust_decoder_class=trust_decoder_class,
            lm_order=lm_order,
            lm_weight=lm_weight,
            lm_bonus=lm_bonus,
            lm_texts=lm_texts,
            overwrite=overwrite,
        )
        for warning in result.warnings:
            typer.echo(f"warning: {warning}", err=True)
        if json_:
            typer.echo(json.dumps(result.summary, indent=2))
        else:
            _print_table(result.summary)


SHOWN = (  # eval.json key, label in the table
    ("num_samples", "samples"),
    ("gloss_top1", "gloss top-1"),
    ("gloss_top5", "gloss top-5"),
    ("gloss_macro_f1", "gloss macro-F1"),
    ("gloss_balanced_accuracy", "gloss balanced accuracy"),
    ("cat_top1", "category top-1"),
    ("wer", "WER"),
    ("bleu", "BLEU"),
    ("chrf", "chrF"),
    ("loss", "loss"),
)


def _print_table(summary: dict) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    data = summary.get("data_dir") or summary["index"]
    table = Table(title=f"eval {escape(Path(summary['checkpoint']).name)} on {escape(data)}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, label in SHOWN:
        if key in summary:
            value = summary[key]
            table.add_row(label, str(value) if isinstance(value, int) else f"{value:.4f}")
    decoding = _decoding(summary)
    if decoding:
        table.add_row("decoding", escape(decoding))
    console = Console(emoji=False)
    console.print(table)
    if "lm" in summary:
        lm = summary["lm"]
        console.print(
            f"beam {summary['beam_size']} with a {lm['order']}-gram LM of {lm['sentences']} "
            f"sentences ({escape(lm['texts'])}), weight {lm['weight']:g}, bonus {lm['bonus']:g}"
        )
    if "per_group" in summary:
        _print_groups(console, summary["per_group"])
    console.print(f"wrote {', '.join(summary['files'])} to {escape(summary['out_dir'])}")


def _decoding(summary: dict) -> str:
    """How a text model decoded: greedy or a beam, its length penalty, a language model."""
    if "beam_size" not in summary:
        return ""
    beam = summary["beam_size"]
    words = "greedy" if beam == 1 else f"beam {beam}"
    if "length_penalty" in summary and beam > 1:
        words += f", length penalty {summary['length_penalty']:g}"
    if "lm" in summary:
        words += f", {summary['lm']['order']}-gram LM"
    return words


MAX_GROUP_ROWS = 20  # the worst groups; the rest are in per_group.csv


def _print_groups(console: Console, per_group: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    column, groups = per_group["column"], per_group["groups"]
    table = Table(title=f"gloss per {escape(column)}, worst first")
    table.add_column(escape(column))
    table.add_column("samples", justify="right")
    table.add_column("top-1", justify="right")
    table.add_column("macro-F1", justify="right")
    for group in groups[:MAX_GROUP_ROWS]:
        table.add_row(
            escape(group["group"]) or "(empty)",
            str(group["samples"]),
            f"{group['gloss_top1']:.4f}",
            f"{group['gloss_macro_f1']:.4f}",
        )
    console.print(table)
    if len(groups) > MAX_GROUP_ROWS:
        console.print(
            f"{len(groups) - MAX_GROUP_ROWS} more {escape(column)} group(s) in per_group.csv "
            f"({len(groups)} in all)"
        )
