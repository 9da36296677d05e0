"""`signcli extract SRC OUT`: run MediaPipe Holistic on a folder of sign videos and write the
dataset `import` writes, so that `signcli train transformer OUT` needs no other flag.

Exit 0 when the extraction finished (videos that cannot be decoded are listed, not fatal), 2
when it could not run (mediapipe missing, SRC without videos, OUT not safe to write, a merge
with videos still missing), 130 when interrupted (what was written stays; the same command
resumes). The work is `signcli.extract.run`; this module parses flags and prints the summary.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Annotated

import typer

from signcli.cli import _run
from signcli.cli._options import JsonOpt, QuietOpt

SKIPPED_SHOWN = 10
INSTALL = 'pip install "signcli[extract]"'


def install_note() -> str:
    """The help's last line: what the command needs, and whether it is installed here
    (looked up without importing it, so `--help` stays light)."""
    present = find_spec("mediapipe") is not None and find_spec("cv2") is not None
    # rich markup would take "[extract]" for a tag: escaped
    state = "installed here" if present else f"NOT installed here: {INSTALL}".replace("[", "\\[")
    return f"Needs the extract extra (mediapipe 0.10.14 and OpenCV): {state}."


def extract(
    src: Annotated[
        Path,
        typer.Argument(
            metavar="SRC",
            help="Folder of videos: SRC/<label>/*.mp4, or SRC/*.mp4 with --labels (read only).",
        ),
    ],
    out: Annotated[
        Path,
        typer.Argument(metavar="OUT", help="New or empty output folder (the dataset root)."),
    ],
    labels: Annotated[
        Path | None,
        typer.Option(
            "--labels",
            help="CSV of labels for videos not in label folders: an id column (id, video_id, "
            "file, ...: a file name or stem), a label column (label, gloss, sign) and "
            "optionally signer.",
            show_default=False,
        ),
    ] = None,
    fps: Annotated[
        float | None,
        typer.Option(
            "--fps",
            help="Resample each video to this frame rate before detection (fewer frames, "
            "faster) \\[default: every frame].",
            show_default=False,
        ),
    ] = None,
    model_complexity: Annotated[
        int,
        typer.Option(
            "--model-complexity",
            min=0,
            max=2,
            help="Holistic's pose model: 1 ships with mediapipe 0.10.14; 0 (lite) and 2 "
            "(heavy) are downloaded by mediapipe on first use, so they need that done once.",
        ),
    ] = 1,
    streams: Annotated[
        str | None,
        typer.Option(
            "--streams",
            metavar="STREAMS",
            help="Streams to keep, comma-separated, e.g. pose,hand_l,hand_r,face:lips "
            "\\[default: face, hand_l, hand_r, pose].",
            show_default=False,
        ),
    ] = None,
    layout: Annotated[
        str,
        typer.Option(
            "--layout",
            help="single: one .npz per sample, streams side by side in X; multi: one folder "
            "per stream.",
        ),
    ] = "single",
    val_fraction: Annotated[
        float | None,
        typer.Option(
            "--val-fraction",
            min=0.0,
            max=0.95,
            help="Share of the videos for validation, stratified by label; 0 = none "
            "\\[default: 0.2].",
            show_default=False,
        ),
    ] = None,
    split_by: Annotated[
        str | None,
        typer.Option(
            "--split-by",
            help="signer: keep each signer on one side of the split; none: split videos "
            "\\[default: signer when --labels names every video's signer].",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the validation split.")] = 0,
    also_pose: Annotated[
        bool,
        typer.Option(
            "--also-pose",
            help="Also write OUT/poses/<id>.pose (pose-format's Holistic layout) for other tools.",
        ),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Worker processes, one video each at a time \\[default: the CPU count].",
            show_default=False,
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            metavar="I/N",
            help="Extract only share I of N (I from 0) into OUT, e.g. a Slurm array's "
            "$SLURM_ARRAY_TASK_ID/4; then run once with --merge.",
            show_default=False,
        ),
    ] = None,
    merge: Annotated[
        bool,
        typer.Option(
            "--merge",
            help="After every shard finished: check, then write the CSVs, report and manifest "
            "(reads no video, needs no mediapipe).",
        ),
    ] = False,
    overwrite: Annotated[
        bool, typer.Option(help="Replace an earlier extraction in OUT (only what extract wrote).")
    ] = False,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Extract MediaPipe Holistic keypoints from the videos at SRC into a dataset at OUT.

    Writes what `signcli import` writes (OUT/train, OUT/val and labels CSVs, or one folder
    per stream with --layout multi, and OUT/signcli-dataset.json with the mediapipe-holistic
    landmark set), offline. Parts not found in a frame are NaN; the signer's left hand is
    hand_l. A video that cannot be decoded is skipped and listed; an interrupted run resumes
    when run again."""
    with _run.guarded():
        from signcli.core.cores import available_cores
        from signcli.core.limits import check_workers
        from signcli.extract.run import ExtractOptions, run_extract
        from signcli.importers.run import output_choices

        check_workers("--workers", workers)

        layout_, split_by, kept = output_choices(layout, split_by, streams)
        options = ExtractOptions(
            src=src,
            out=out,
            labels=labels,
            streams=kept,
            layout=layout_,
            val_fraction=val_fraction,
            split_by=split_by,
            seed=seed,
            fps=fps,
            model_complexity=model_complexity,
            also_pose=also_pose,
            workers=workers or available_cores().count,
            shard=_parse_shard(shard) if shard is not None else None,
            merge=merge,
            overwrite=overwrite,
        )
        with _ProgressBar(quiet or json_) as bar:
            report = run_extract(options, bar.update)
        if json_:
            import json

            typer.echo(json.dumps(report.to_dict(), indent=2))
        else:
            _print_summary(report)


def _parse_shard(text: str) -> tuple[int, int]:
    from signcli.core.errors import UsageError

    index, slash, count = text.partition("/")
    try:
        if not slash:
            raise ValueError
        return int(index), int(count)
    except ValueError:
        raise UsageError(
            f"--shard {text!r}: expected I/N, e.g. 0/4 for the first of four shards"
        ) from None


class _ProgressBar:
    """Videos done out of the total, with frames/s; plain lines when not on a terminal."""

    PLAIN_EVERY_S = 10.0

    def __init__(self, quiet: bool) -> None:
        import sys

        self.quiet = quiet
        self.live = sys.stdout.isatty() and not quiet
        self.progress = None
        self.task = None
        self.last_line = 0.0
        self.started = 0.0

    def __enter__(self) -> _ProgressBar:
        import time

        self.started = time.monotonic()
        return self

    def update(self, done: int, total: int, frames: int) -> None:
        import time

        if self.quiet:
            return
        seconds = time.monotonic() - self.started
        rate = f"{frames / seconds:.1f} frames/s" if seconds > 1 and frames else ""
        if self.live:
            if self.progress is None:
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    Progress,
                    TextColumn,
                    TimeRemainingColumn,
                )

                self.progress = Progress(
                    TextColumn("extracting"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("videos"),
                    TextColumn("{task.fields[rate]}"),
                    TimeRemainingColumn(),
                )
                self.progress.start()
                self.task = self.progress.add_task("extract", total=total, rate="")
            self.progress.update(self.task, completed=done, rate=rate)
            return
        now = time.monotonic()
        if now - self.last_line >= self.PLAIN_EVERY_S or done == total:
            self.last_line = now
            typer.echo(f"extracted {done}/{total} videos" + (f", {rate}" if rate else ""))

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()


def _print_summary(report) -> None:  # noqa: ANN001 - ExtractReport is imported lazily
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    splits = ", ".join(f"{n} {s}" for s, n in report.splits.items())
    what = f"shard {report.shard}: " if report.shard else ""
    if report.merged_shards:
        how = f"merged from {report.merged_shards} shards ({report.frames_extracted} frames)"
    else:
        rate = f", {report.frames_per_s:.1f} frames/s" if report.frames_per_s else ""
        how = (
            f"{report.frames_extracted} frames in {report.seconds:.1f} s{rate} "
            f"({report.workers} workers, model complexity {report.model_complexity})"
        )
    console.print(
        f"{what}extracted {report.written} videos ({splits}), {report.classes} classes, {how}",
        markup=False,
    )
    if not report.shard:
        console.print(f"split: {report.split_rule}", markup=False)
    if report.resumed:
        console.print(f"resumed: {report.resumed} videos were already extracted and kept")
    table = Table(title=f"parts found ({report.landmark_set})", title_justify="left")
    table.add_column("stream")
    table.add_column("landmarks", justify="right")
    table.add_column("frames found", justify="right")
    for name, count in report.streams.items():
        table.add_row(name, str(count), f"{report.found_share.get(name, 0.0):.1%}")
    console.print(table)
    if report.written:
        f = report.frames
        console.print(f"frames per video: {f['min']:.0f} .. {f['max']:.0f} (mean {f['mean']})")
    if report.skipped:
        console.print(f"[yellow]skipped {len(report.skipped)}[/]:", markup=True)
        for what_, reason in report.skipped[:SKIPPED_SHOWN]:
            console.print(f"  {what_}: {reason}", markup=False)
        if len(report.skipped) > SKIPPED_SHOWN:
            console.print(f"  ... and {len(report.skipped) - SKIPPED_SHOWN} more in the report")
    if report.shard:
        console.print("next: when every shard is done, the same command with --merge")
    else:
        console.print(f"next: signcli train transformer {report.out}", markup=False)
