"""`signcli validate-npz PATH`: check a dataset before training, without importing torch.

Exit 0 when no errors are found, 1 when some are, 2 when PATH is missing or not a dataset
(or has no --group-by column).
The checks live in `signcli.data.validate`; this module parses flags and prints the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from signcli.cli import _run
from signcli.cli._options import JsonOpt, KeyOpt

PROBLEM_FILES_SHOWN = 20  # problem files listed without --all
GROUPS_SHOWN = 10  # --group-by: groups listed with their sample counts, most first


def validate_npz(
    path: Annotated[
        Path,
        typer.Argument(
            help="A folder of .npz files (one split), a dataset root holding train/ and val/ "
            "beside train_labels.csv and val_labels.csv (its signcli-dataset.json, if any, "
            "gives --layout, --streams and --group-by), or one .npz file.",
            show_default=False,
        ),
    ],
    labels: Annotated[
        Path | None,
        typer.Option(
            "--labels",
            "-l",
            help="Labels CSV (file,gloss,cat,occluded) of a folder of .npz files; a dataset "
            "root finds its own.",
            show_default=False,
        ),
    ] = None,
    text: Annotated[
        Path | None,
        typer.Option(
            "--text",
            help="Text targets CSV (file,text) of a folder of .npz files (text tasks); a "
            "dataset root finds its {split}_text.csv.",
            show_default=False,
        ),
    ] = None,
    key: KeyOpt = None,
    require_x2048: Annotated[
        bool,
        typer.Option(
            "--require-x2048",
            help="Features check of the training guide: every file holds X2048 [T, 2048].",
        ),
    ] = False,
    dim: Annotated[
        int | None,
        typer.Option(
            "--dim",
            min=1,
            help="Expected width D of every file (default: the width most files have).",
            show_default=False,
        ),
    ] = None,
    json_: JsonOpt = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            "-j",
            min=1,
            help="Processes that read the files (default: every core).",
            show_default=False,
        ),
    ] = None,
    all_: Annotated[
        bool,
        typer.Option(
            "--all", help=f"List every problem file, not only the first {PROBLEM_FILES_SHOWN}."
        ),
    ] = False,
    layout: Annotated[
        str | None,
        typer.Option(
            "--layout",
            metavar="LAYOUT",
            help="Column layout of X as given to `train --layout`: check it fits the files and "
            "report the NaN share of each body part.",
            show_default=False,
        ),
    ] = None,
    group_by: Annotated[
        str | None,
        typer.Option(
            "--group-by",
            metavar="COLUMN",
            help="Labels-CSV column (e.g. signer): count the samples per group and warn of "
            "groups found in both train and val.",
            show_default=False,
        ),
    ] = None,
    streams: Annotated[
        str | None,
        typer.Option(
            "--streams",
            help="Multi-stream layout: PATH holds these stream folders (comma-separated, e.g. "
            "hand_l,hand_r,pose, or `all` for face,hand_l,hand_r,pose), *_index.csv and labels.csv.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check every .npz file and labels CSV of a dataset: exit 0 without errors, 1 with, 2 when PATH is not a dataset."""
    with _run.guarded():
        import json

        from signcli.core.errors import UsageError
        from signcli.core.limits import check_workers
        from signcli.data.npz import FEATURES_DIM, FEATURES_KEY
        from signcli.data.validate import validate_path

        check_workers("--workers", workers)

        if require_x2048:
            if key not in (None, FEATURES_KEY):
                raise UsageError(f"--require-x2048 checks key {FEATURES_KEY}, not --key {key}")
            if dim not in (None, FEATURES_DIM):
                raise UsageError(f"--require-x2048 checks width {FEATURES_DIM}, not --dim {dim}")
            key, dim = FEATURES_KEY, FEATURES_DIM
        if group_by is not None:
            if not group_by.strip():
                raise UsageError("--group-by needs a labels-CSV column name, e.g. signer")
            group_by = group_by.strip().lower()  # read_labels lower-cases the header

        from signcli.core.manifest import read_manifest

        manifest = read_manifest(path) if path.is_dir() else None
        if manifest is not None:  # what `signcli import` recorded, unless a flag says otherwise
            group_by = group_by or manifest.signer_column
            key = key or manifest.key
            if manifest.layout == "multi" and streams is None:
                streams = ",".join(manifest.streams)
            elif layout is None and manifest.layout_spec():
                layout = ",".join(f"{n}={a}:{b}" for n, (a, b) in manifest.layout_spec().items())
        if streams is not None:
            from signcli.core.streams import STREAM_NAMES
            from signcli.data.validate import validate_streams

            names = (
                list(STREAM_NAMES)
                if streams == "all"
                else [n.strip() for n in streams.split(",") if n.strip()]
            )
            if streams == "all":
                names = [n for n in names if (path / n).is_dir()]
            unknown = [n for n in names if n not in STREAM_NAMES]
            if unknown or not names:
                raise UsageError(
                    f"--streams {streams!r}: expected names from {', '.join(STREAM_NAMES)}"
                )
            report = validate_streams(path, names, workers=workers, group_by=group_by)
        else:
            column_layout = _parse_layout(layout) if layout is not None else None
            report = validate_path(
                path,
                labels,
                key=key or "X",
                dim=dim,
                workers=workers,
                layout=column_layout,
                group_by=group_by,
                text=text,
            )
        if manifest is not None:
            from signcli.data.validate import apply_manifest

            apply_manifest(report, manifest.classes, manifest.coords, manifest.joints)
        if json_:
            typer.echo(json.dumps(report.to_dict(), indent=2))
        else:
            _print_report(report, show_all=all_)
        raise typer.Exit(0 if report.ok else 1)


def _columns_line(split) -> str:  # noqa: ANN001 - imported lazily
    """What X's columns are and what a run does with them (data/coords_guess.py)."""
    columns = split.columns
    assert columns is not None
    if columns.joints is None:
        if split.columns_declared:
            return "of unknown meaning (the manifest says coords none)"
        return (
            "of unknown meaning: no joint pattern found (too few columns to tell, or none); "
            "joints? --set data.coords=xy|xyz normalises them per sample"
        )
    what = f"{columns.joints} joints x {columns.coords}"
    if split.columns_declared:
        return f"{what} (the manifest)"
    return (
        f"{what}, guessed from how they move ({columns.scores[columns.coords]:.0f} sd above "
        "chance): a run normalises them per sample; --set data.coords=none if they are not joints"
    )


def _parse_layout(spec: str) -> dict[str, tuple[int, int]]:
    from signcli.core.column_layout import check_layout, parse_layout
    from signcli.core.errors import UsageError

    try:
        layout = parse_layout(spec)
    except ValueError as exc:
        raise UsageError(f"--layout {spec!r}: {exc}") from None
    problems = check_layout(layout)
    if problems:
        raise UsageError(f"--layout {spec!r}: {'; '.join(problems)}")
    return layout


def _print_report(report, show_all: bool) -> None:  # noqa: ANN001 - imported lazily
    from rich.console import Console

    console = Console(emoji=False, highlight=False)
    for split in report.splits:
        _print_split(console, split, show_all)
    splits = f"{len(report.splits)} split{'s' if len(report.splits) > 1 else ''}"
    if report.straddling:
        from rich.markup import escape

        from signcli.data.split import describe_groups

        console.print(
            f"[yellow]warning[/]: {len(report.straddling)} {escape(report.group_by)} group(s) "
            f"straddle the split (validation sees them in training): "
            f"{escape(describe_groups(report.straddling))}"
        )
    if report.ok:
        console.print(f"[green]OK[/]: no errors in {splits} ({report.warning_count} warning(s))")
    else:
        console.print(
            f"[bold red]FAILED[/]: {report.error_count} error(s) and "
            f"{report.warning_count} warning(s) in {splits}"
        )


def _print_split(console, split, show_all: bool) -> None:  # noqa: ANN001 - imported lazily
    from rich.markup import escape
    from rich.table import Table

    summary = Table(title=f"validate-npz: {escape(split.name)}", show_header=False)
    summary.add_column("what", style="bold")
    summary.add_column("found")
    summary.add_row("folder", escape(str(split.folder)))
    summary.add_row(
        "labels",
        escape(str(split.labels_path)) if split.labels_path else "none (--labels CSV checks them)",
    )
    summary.add_row("files", f"{split.file_count} (key {escape(split.key)})")
    if split.text_summary is not None:
        texts, tokens = split.text_summary, split.text_summary["tokens"]
        line = f"{escape(texts['path'])}: {texts['texts']} text(s), {texts['paired']} paired"
        if tokens is not None:
            line += (
                f"; tokens min/median/p95/max {tokens['min']} / {tokens['median']:g} / "
                f"{tokens['p95']} / {tokens['max']}"
            )
        summary.add_row("texts", line)
    summary.add_row("errors", _count_line(len(split.errors), split.counts_by_kind("error"), "red"))
    summary.add_row(
        "warnings", _count_line(len(split.warnings), split.counts_by_kind("warning"), "yellow")
    )
    if split.T_min is not None:
        summary.add_row("T min/median/max", f"{split.T_min} / {split.T_median:g} / {split.T_max}")
    if split.D is not None:
        others = sum(n for d, n in split.width_counts.items() if d != split.D)
        summary.add_row("D", f"{split.D}" + (f" ({others} file(s) differ)" if others else ""))
    if split.columns is not None:
        summary.add_row("X columns", _columns_line(split))
    declared = " (not detected: the manifest's missing landmarks)" if split.nan_declared else ""
    summary.add_row(
        "NaN share", f"{split.nan_share:.2%} of values, in {split.nan_files} file(s){declared}"
    )
    if split.layout_nan:
        summary.add_row(
            "NaN share by stream",
            ", ".join(f"{name} {share:.1%}" for name, share in split.layout_nan.items()),
        )
    for head, counts in split.class_counts.items():
        names = split.class_names.get(head, {})
        rarest = ", ".join(
            f"{escape(names.get(i, str(i)))} ({n})" for i, n in split.rarest_classes(head)
        )
        summary.add_row(
            f"{head} classes",
            f"{len(counts)}; rarest: {rarest}" if counts else "none labelled",
        )
    if split.group_by is not None:
        groups = list(split.group_counts.items())
        shown = ", ".join(f"{g} ({n})" for g, n in groups[:GROUPS_SHOWN])
        more = f" and {len(groups) - GROUPS_SHOWN} more" if len(groups) > GROUPS_SHOWN else ""
        summary.add_row(
            f"{escape(split.group_by)} groups",
            f"{len(groups)}: {escape(shown)}{more}" if groups else "none",
        )
    console.print(summary)

    by_file: dict[str, list] = {}
    for finding in split.findings:
        by_file.setdefault(finding.file, []).append(finding)
    # NaN (a landmark not detected) is normal and summed up above; without --all, files
    # whose only finding is their NaN share are not listed one by one
    if not show_all:
        by_file = {k: v for k, v in by_file.items() if any(f.kind != "nan" for f in v)}
    if not by_file:
        return
    # files with an error first: warnings must not hide them
    ordered = sorted(by_file.items(), key=lambda item: all(f.severity != "error" for f in item[1]))
    shown = ordered if show_all else ordered[:PROBLEM_FILES_SHOWN]
    problems = Table(title=f"problem files: {escape(split.name)}")
    problems.add_column("file")
    problems.add_column("kind")
    problems.add_column("problem")
    for name, findings in shown:
        kinds = ", ".join(
            f"[red]{f.kind}[/]" if f.severity == "error" else f"[yellow]{f.kind}[/]"
            for f in findings
        )
        problems.add_row(escape(name), kinds, escape("; ".join(f.message for f in findings)))
    console.print(problems)
    if len(shown) < len(ordered):
        console.print(
            f"... and {len(ordered) - len(shown)} more problem file(s); --all lists every one"
        )


def _count_line(total: int, by_kind: dict[str, int], colour: str) -> str:
    if not total:
        return "0"
    kinds = ", ".join(f"{kind} {n}" for kind, n in by_kind.items())
    return f"[{colour}]{total}[/] ({kinds})"
