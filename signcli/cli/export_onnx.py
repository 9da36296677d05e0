"""`signcli export-onnx CHECKPOINT --out model.onnx`: the whole classifier as ONNX with
dynamic batch and time axes, checked against PyTorch in onnxruntime (exit 1 if it differs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from signcli.cli import _run
from signcli.cli._options import JsonOpt, TrustDecoderClassOpt


def export_onnx(
    checkpoint: Annotated[
        Path, typer.Argument(help="best.pt, last.pt or any signcli checkpoint.", show_default=False)
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The .onnx file to write.", show_default=False)
    ],
    opset: Annotated[
        int | None,
        typer.Option(min=18, help="ONNX opset \\[default: the exporter's].", show_default=False),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check/--no-check",
            help="Compare onnxruntime with PyTorch on random inputs of several batch sizes and "
            "lengths (max |diff| <= 1e-4) and time both.",
        ),
    ] = True,
    trust_decoder_class: TrustDecoderClassOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Export CHECKPOINT's model to ONNX with dynamic batch and time, checked in onnxruntime.

    Inputs: one float32 \\[batch, time, D] per stream, named after it
    (x for single-stream models; NaN = missing landmark), and
    mask, bool \\[batch, time] (True = real frame).
    Outputs: gloss_logits, and cat_logits when the model has a category head.
    translate: the encoder (output memory) plus OUT's stem + .decoder_step.onnx
    (memory, memory_mask, tokens -> next_logits) and tokenizer.json beside them;
    the check also compares greedy decoding.
    Needs the onnx extra: pip install "signcli\\[onnx]"."""
    with _run.guarded():
        import json

        from signcli.export.onnx import export_onnx as export

        result = export(
            checkpoint, out, opset=opset, check=check, trust_decoder_class=trust_decoder_class
        )
        if json_:
            typer.echo(json.dumps(result.to_json(), indent=2))
        else:
            _print_summary(result)
        if result.check is not None and not result.check.passed:
            worst = result.check.worst
            _run.error(
                f"{_run.escape(str(out))}: onnxruntime differs from PyTorch by {worst.max_abs_diff:.3g} > "
                f"{result.check.tolerance:g} (batch {worst.batch}, time {worst.time}); "
                "the file is written but should not be used"
            )
            raise typer.Exit(1)
        if result.greedy is not None and not result.greedy.passed:
            greedy = result.greedy
            _run.error(
                f"{_run.escape(str(out))}: greedy decoding in onnxruntime gives other tokens than PyTorch for "
                f"{greedy.samples - greedy.same_tokens} of {greedy.samples} sample inputs; "
                "the files are written but should not be used"
            )
            raise typer.Exit(1)


def _print_summary(result) -> None:  # noqa: ANN001 - ExportResult is imported lazily
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(emoji=False)
    console.print(f"wrote {escape(str(result.path))} (opset {result.opset})")
    for path in result.files:
        console.print(f"wrote {escape(path)}")
    console.print(f"  inputs:  {escape(_shapes(result.inputs))}")
    console.print(f"  outputs: {escape(_shapes(result.outputs))}")
    check = result.check
    if check is None:
        console.print("  not checked (--no-check)")
        return
    table = Table(title="onnxruntime vs PyTorch")
    for column in ("batch", "time", "max |diff|"):
        table.add_column(column, justify="right")
    for case in check.cases:
        table.add_row(str(case.batch), str(case.time), f"{case.max_abs_diff:.2e}")
    console.print(table)
    verdict = "[green]pass[/]" if check.passed else "[bold red]FAIL[/]"
    if result.greedy is not None:
        greedy = result.greedy
        console.print(
            f"greedy decoding, onnxruntime vs PyTorch: {greedy.same_tokens}/{greedy.samples} "
            f"samples with the same tokens (max |diff| {greedy.step_max_abs_diff:.2e})"
        )
    console.print(f"max |diff| {check.max_abs_diff:.2e} (tolerance {check.tolerance:g}): {verdict}")
    latency = check.latency_ms
    console.print(
        f"median latency at batch {latency['batch']}, time {latency['time']}: "
        f"onnxruntime {latency['onnxruntime']:.2f} ms, PyTorch {latency['torch']:.2f} ms"
    )


def _shapes(named: dict[str, list]) -> str:
    return ", ".join(f"{name} [{', '.join(map(str, shape))}]" for name, shape in named.items())
