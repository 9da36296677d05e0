"""`signcli import FORMAT SRC OUT`: convert keypoints in a format users already have into a
signcli dataset with its manifest, so that `signcli train transformer OUT` needs no flag.

Exit 0 when the import finished (skipped sequences are listed, not fatal), 2 when it could
not run (unknown format, SRC not in that format, OUT not safe to write), 130 when
interrupted (what was written stays; the same command resumes).
The work is `signcli.importers.run`; this module parses flags and prints the summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from signcli.cli import _run
from signcli.cli._options import JsonOpt, MinConfidenceOpt, PartsOpt, PersonOpt, QuietOpt

FORMAT_HELP = (
    "mp-folders (MediaPipe Holistic .npy trees: ROOT/<label>/<sequence>/<frame>.npy or "
    "ROOT/<label>/<sequence>.npy, any combination of parts), asl-signs (Kaggle isolated "
    "signs: train.csv + parquet), asl-fingerspelling (Kaggle fingerspelling: text targets), "
    "openpose (folders of *_keypoints.json), pose (.pose files of MediaPipe, OpenPose, MMPose "
    "or OpenPifPaf; needs signcli\\[pose]). Every variant accepted: docs/import.md."
)
SKIPPED_SHOWN = 10


def import_(
    format_: Annotated[str, typer.Argument(metavar="FORMAT", help=FORMAT_HELP, show_default=False)],
    src: Annotated[
        Path, typer.Argument(metavar="SRC", help="The source dataset folder (read only).")
    ],
    out: Annotated[
        Path,
        typer.Argument(metavar="OUT", help="New or empty output folder (the dataset root)."),
    ],
    labels: Annotated[
        Path | None,
        typer.Option(
            "--labels",
            help="CSV of labels for sources without label folders: an id column (id, "
            "video_id, ...), a label column (label, gloss, sign) and optionally signer.",
            show_default=False,
        ),
    ] = None,
    streams: Annotated[
        str | None,
        typer.Option(
            "--streams",
            metavar="STREAMS",
            help="Streams to keep, comma-separated, e.g. pose,hand_l,hand_r,face:lips "
            "(face:lips keeps the lip landmarks only) \\[default: every stream of the source].",
            show_default=False,
        ),
    ] = None,
    layout: Annotated[
        str,
        typer.Option(
            "--layout",
            help="single: one .npz per sample, streams side by side in X; multi: one folder "
            "per stream (the multi-stream layout).",
        ),
    ] = "single",
    val_fraction: Annotated[
        float | None,
        typer.Option(
            "--val-fraction",
            min=0.0,
            max=0.95,
            help="Share of the sequences for validation, stratified by label; 0 = none "
            "\\[default: the source's own split, else 0.2].",
            show_default=False,
        ),
    ] = None,
    split_by: Annotated[
        str | None,
        typer.Option(
            "--split-by",
            help="signer: keep each signer on one side of the split; none: split sequences "
            "\\[default: signer when the source names every sequence's signer].",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the validation split.")] = 0,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Worker processes \\[default: the cores this process may use].",
            show_default=False,
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace an earlier import in OUT (only what import wrote).")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Scan and plan (streams, classes, split); write nothing."),
    ] = False,
    parts: PartsOpt = None,
    index: Annotated[
        str | None,
        typer.Option(
            "--index",
            metavar="FILE",
            help="asl-signs: the index CSV in SRC \\[default: train.csv].",
            show_default=False,
        ),
    ] = None,
    person: PersonOpt = None,
    min_confidence: MinConfidenceOpt = None,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Import keypoints from FORMAT at SRC into a signcli dataset at OUT.

    Writes OUT/train (and OUT/val) with labels CSVs, or one folder per stream with
    --layout multi, and OUT/signcli-dataset.json, which `train`, `validate-npz` and `eval`
    read for paths, column layout, landmark set and mirror pairs. Undetected landmarks
    become NaN; a signer stays on one side of the split. Never writes into SRC; an
    interrupted import resumes when run again."""
    with _run.guarded():
        from signcli.core.cores import available_cores
        from signcli.core.limits import check_workers
        from signcli.importers.run import ImportOptions, output_choices, run_import

        check_workers("--workers", workers)

        layout_, split_by, kept = output_choices(layout, split_by, streams)
        options = ImportOptions(
            format=format_,
            src=src,
            out=out,
            streams=kept,
            layout=layout_,
            labels=labels,
            val_fraction=val_fraction,
            split_by=split_by,
            seed=seed,
            workers=workers or available_cores().count,
            overwrite=overwrite,
            dry_run=dry_run,
            source_options={
                "parts": parts,
                "index": index,
                "person": person,
                "min_confidence": min_confidence,
            },
        )
        with _ProgressBar(quiet or json_) as bar:
            report = run_import(options, bar.update)
        if json_:
            import json

            typer.echo(json.dumps(report.to_dict(), indent=2))
        else:
            _print_summary(report)


class _ProgressBar:
    """A rich bar (count, rate, ETA) on a terminal; a line every few seconds otherwise."""

    PLAIN_EVERY_S = 5.0

    def __init__(self, quiet: bool) -> None:
        import sys

        self.quiet = quiet
        self.live = sys.stdout.isatty() and not quiet
        self.progress = None
        self.task = None
        self.last_line = 0.0
        self.started = (0.0, 0)  # (time, sequences done) when the bar appeared

    def __enter__(self) -> _ProgressBar:
        return self

    def update(self, done: int, total: int, failed: int = 0) -> None:
        import time

        if self.quiet:
            return
        if self.live:
            if self.progress is None:
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    Progress,
                    TaskProgressColumn,
                    TextColumn,
                    TimeRemainingColumn,
                )

                self.progress = Progress(
                    TextColumn("importing"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TaskProgressColumn(),
                    TextColumn("{task.fields[rate]}"),
                    TimeRemainingColumn(),
                )
                self.progress.start()
                self.task = self.progress.add_task("import", total=total, rate="")
                self.started = (time.monotonic(), done)
            seconds, first = time.monotonic() - self.started[0], self.started[1]
            rate = f"{(done - first) / seconds:.0f} seq/s" if seconds > 0.5 else ""
            self.progress.update(self.task, completed=done, rate=rate)
            return
        now = time.monotonic()
        if now - self.last_line >= self.PLAIN_EVERY_S or done == total:
            self.last_line = now
            # done counts the sequences that could not be converted too: the summary's
            # "imported" is done - failed
            failures = f" ({failed} could not be converted)" if failed else ""
            typer.echo(f"converted {done - failed}/{total} sequences{failures}")

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()


def _print_summary(report) -> None:  # noqa: ANN001 - ImportReport is imported lazily
    from rich.console import Console
    from rich.table import Table

    console = Console(emoji=False, highlight=False, soft_wrap=True)
    verb = "would import" if report.dry_run else "imported"
    splits = ", ".join(f"{n} {s}" for s, n in report.splits.items())
    signers = ", ".join(f"{n} in {s}" for s, n in report.signers.items() if n)
    rate = (
        f" in {report.seconds:.1f} s ({report.written / report.seconds:.0f}/s)"
        if (report.seconds and not report.dry_run)
        else ""
    )
    console.print(f"{verb} {report.written} sequences ({splits}){rate}, {report.classes} classes")
    if signers:
        console.print(f"signers: {signers}")
    console.print(f"split: {report.split_rule}")
    if report.resumed:
        console.print(f"resumed: {report.resumed} sequences were already written and kept")
    table = Table(title=f"streams ({report.landmark_set or 'landmarks'})", title_justify="left")
    table.add_column("stream")
    table.add_column("landmarks", justify="right")
    if not report.dry_run:
        table.add_column("not detected", justify="right")
    for name, count in report.streams.items():
        row = [name, str(count)]
        if not report.dry_run:
            row.append(f"{report.nan_share.get(name, 0.0):.1%}")
        table.add_row(*row)
    console.print(table)
    if not report.dry_run and report.written:
        f = report.frames
        console.print(f"frames per sequence: {f['min']:.0f} .. {f['max']:.0f} (mean {f['mean']})")
    _print_people(console, report.sequence_notes)
    if report.skipped:
        console.print(f"[yellow]skipped {len(report.skipped)}[/]:", markup=True)
        for what, reason in report.skipped[:SKIPPED_SHOWN]:
            console.print(f"  {what}: {reason}", markup=False)
        if len(report.skipped) > SKIPPED_SHOWN:
            console.print(
                f"  ... and {len(report.skipped) - SKIPPED_SHOWN} more in import-report.json"
            )
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}", markup=True)
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if not report.dry_run:
        console.print(f"next: signcli train transformer {report.out}", markup=False)


def _print_people(console, notes: dict[str, dict]) -> None:  # noqa: ANN001 - rich, lazily
    """People per clip and whom each crowded clip took (the OpenPose readers' notes)."""
    counts: dict[int, int] = {}
    crowded = []
    for sample_id, note in notes.items():
        if "people" not in note:
            continue
        counts[note["people"]] = counts.get(note["people"], 0) + 1
        if note["people"] > 1:
            crowded.append((sample_id, note))
    if not counts:
        return
    rule = next(iter(notes.values())).get("person", "auto")
    per = ", ".join(f"{n} in {c} clip{'s' * (c != 1)}" for n, c in sorted(counts.items()))
    console.print(f"people per clip: {per} (--person {rule})", markup=False)
    for sample_id, note in crowded[:SKIPPED_SHOWN]:
        taken = note["taken"]
        console.print(
            f"  {sample_id}: {note['people']} people, took the one at x {taken['x']:g} "
            f"(size {taken['size']:g}), seen in {taken['frames']}/{taken['of']} frames",
            markup=False,
        )
    if len(crowded) > SKIPPED_SHOWN:
        console.print(f"  ... and {len(crowded) - SKIPPED_SHOWN} more in import-report.json")
