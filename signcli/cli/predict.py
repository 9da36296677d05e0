"""`signcli predict MODEL INPUTS...`: a checkpoint or exported ONNX model over new files, one
row per input (or per time-stamped segment with --window)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
    MinConfidenceOpt,
    PartsOpt,
    PersonOpt,
    TrustDecoderClassOpt,
)

MAX_SHOWN_ROWS = 50  # the table on screen; --out has every row


def predict(
    model: Annotated[
        Path,
        typer.Argument(
            metavar="CHECKPOINT_OR_ONNX",
            help="best.pt / last.pt, or a model.onnx from `signcli export-onnx`.",
            show_default=False,
        ),
    ],
    inputs: Annotated[
        list[Path],
        typer.Argument(
            metavar="INPUTS...",
            help=".npz samples, folders of them, a dataset root (its validation split), "
            "videos (with the extract extra), or recordings import reads: .pose files, "
            "asl-signs / asl-fingerspelling .parquet, OpenPose JSON folders, MediaPipe .npy "
            "(a [T, W] file or a folder of frames).",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Write every row to this file: .csv, .json or .parquet.",
            show_default=False,
        ),
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Classes per row.")] = 5,
    window: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Slide the classifier over each recording in windows of N frames and report "
            "segments.",
            show_default=False,
        ),
    ] = None,
    stride: Annotated[
        int | None,
        typer.Option(
            min=1, help="Frames between windows \\[default: --window].", show_default=False
        ),
    ] = None,
    fps: Annotated[
        float | None,
        typer.Option(
            help="Videos: extract keypoints at this rate (use the dataset's source.fps) "
            "\\[default: each video's own rate]. .npz and recordings: their frame rate, for "
            "--window times "
            "\\[default: 30].",
            show_default=False,
        ),
    ] = None,
    beam_size: BeamSizeOpt = None,
    lm_order: LMOrderOpt = 0,
    lm_weight: LMWeightOpt = None,
    lm_bonus: LMBonusOpt = None,
    lm_texts: LMTextsOpt = None,
    parts: PartsOpt = None,
    person: PersonOpt = None,
    min_confidence: MinConfidenceOpt = None,
    key: KeyOpt = None,
    device: DeviceOpt = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing --out file.")] = False,
    trust_decoder_class: TrustDecoderClassOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Predict the gloss (top-k with probabilities) or the text of each input.

    Examples:
    signcli predict runs/exp1/best.pt clip.npz new_clips/ --out predictions.csv;
    signcli predict model.onnx data/mine --json;
    signcli predict runs/exp1/best.pt long.npz --window 30 --stride 10;
    signcli predict runs/exp1/best.pt recording.mp4 --fps 10 --window 20;
    signcli predict runs/exp1/best.pt clip.pose openpose_json/video07/ sign.parquet."""
    with _run.guarded():
        import json

        from signcli.data.recordings.read import ReadOptions
        from signcli.evaluation.predict import predict_files, write_rows

        _run.setup_logging()
        if out is not None:  # refuse before the model runs, not after
            from signcli.core.atomic import check_output_file

            check_output_file(out, "--out")
        result = predict_files(
            model,
            inputs,
            top_k=top_k,
            window=window,
            stride=stride,
            fps=fps,
            key=key,
            device=device or "auto",
            beam_size=beam_size,
            lm_order=lm_order,
            lm_weight=lm_weight,
            lm_bonus=lm_bonus,
            lm_texts=lm_texts,
            trust_decoder_class=trust_decoder_class,
            read_options=ReadOptions(parts, person, min_confidence),
        )
        for problem in result.skipped:
            typer.echo(f"warning: skipped {problem}", err=True)
        if out is not None:
            write_rows(out, result.rows, overwrite=overwrite)
        if json_:
            document = {"model": result.model, "task": result.task, "rows": result.rows}
            typer.echo(json.dumps(document, indent=1, ensure_ascii=False))
            return
        _print_rows(result.rows)
        if out is not None:
            typer.echo(f"wrote {len(result.rows)} row(s) to {out}")


def _print_rows(rows: list[dict]) -> None:
    """A table of the rows; the top-k columns of a classifier in one cell."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    columns = list(dict.fromkeys(k for row in rows for k in row))
    ranks = [c for c in columns if c.startswith("top") and not c.endswith("_prob")]
    shown = [c for c in columns if c != "file" and not c.startswith("top")]
    table = Table()
    for column in shown:
        table.add_column(column, justify="right" if column.endswith(("prob", "_s")) else "left")
    if ranks:
        table.add_column(f"top-{len(ranks)}")
    for row in rows[:MAX_SHOWN_ROWS]:
        cells = [_cell(row.get(c)) for c in shown]
        if ranks:
            cells.append(", ".join(f"{row[r]} {row[r + '_prob']:.2f}" for r in ranks if r in row))
        table.add_row(*(escape(cell) for cell in cells))
    console = Console(soft_wrap=True)
    console.print(table)
    if len(rows) > MAX_SHOWN_ROWS:
        console.print(f"{len(rows) - MAX_SHOWN_ROWS} more row(s): write them all with --out FILE")


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else str(value)
