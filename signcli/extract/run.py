"""`signcli extract SRC OUT`: videos -> MediaPipe Holistic -> the dataset `import` writes.

    scan SRC (sources.py)  ->  labels, class ids, validation split, streams: `importers/run.py`
    ->  extract each video in worker processes (holistic.py), one atomic write per sample with
        `importers/run.py`'s writer (and a `.pose` file first with --also-pose)
    ->  labels / index CSVs, `extract-report.json`, then the manifest last (`import`'s code)

The output is exactly an import's (layouts, `signcli-dataset.json` with the
`mediapipe-holistic` landmark set and its mirror pairs, units "pixels"), so `train`,
`validate-npz` and `eval` read it with no flag. The promises are import's too: nothing is
written under SRC; OUT must be new, empty or an earlier extraction; every sample is written
whole; the same command resumes an interrupted run (written samples are checked and kept);
`--overwrite` removes only what extract writes (`import`'s files, `poses/`, the reports); a
video that cannot be decoded is skipped and listed with its reason.

Shards (`--shard I/N`, I from 0 to N-1): every shard scans SRC and plans the same split,
then extracts its share (every N-th video of the id-sorted list, from the I-th), writes its
samples and `extract-shard-I-of-N.json` (what it extracted or skipped), and leaves the CSVs
and manifest alone. `--merge` then checks that every video is written or was skipped by a
shard, and writes the CSVs, the report and the manifest, reading no video (no mediapipe
needed). The merged dataset equals one run's.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from signcli.core.errors import EXIT_INTERRUPTED, SigncliError, UsageError
from signcli.core.files import read_input_bytes
from signcli.core.limits import MAX_JSON_BYTES
from signcli.core.manifest import write_manifest
from signcli.extract.sources import VIDEO_SOURCE, scan_videos
from signcli.importers.base import MEDIAPIPE_HOLISTIC, SourceItem
from signcli.importers.run import (
    STATE_NAME,
    ImportOptions,
    ImportReport,
    ItemResult,
    Layout,
    StreamPlan,
    Target,
    _check_existing,
    _check_paths,
    _class_names,
    _clear_import,
    _destinations,
    _manifest,
    _plan_streams,
    _read_state,
    _remove_strays,
    _report,
    _save,
    _select,
    _stats,
    _targets,
    _write_json,
    _write_tables,
    check_out_state,
)

REPORT_NAME = "extract-report.json"
SHARD_REPORT_GLOB = "extract-shard-*-of-*.json"

Progress = Callable[[int, int, int], None]  # (videos done, videos to do, frames extracted)


class ExtractInterrupted(SigncliError):
    """Ctrl-C during an extraction: what was written stays; the same command resumes."""

    exit_code = EXIT_INTERRUPTED


@dataclass(frozen=True)
class ExtractOptions:
    src: Path
    out: Path
    labels: Path | None = None  # CSV id,label[,signer] for a flat SRC
    streams: tuple[str, ...] | None = None  # "pose", "face:lips" ...; None = all four
    layout: Layout = "single"
    val_fraction: float | None = None  # None: 0.2
    split_by: str | None = None  # "signer" | "none" | None (signer when every video has one)
    seed: int = 0
    fps: float | None = None  # resample to this rate before detection; None = every frame
    model_complexity: int = 1
    also_pose: bool = False  # write OUT/poses/<id>.pose too
    workers: int = 1
    shard: tuple[int, int] | None = None  # (index, count), index 0 .. count-1
    merge: bool = False
    overwrite: bool = False

    def resume_key(self) -> dict[str, Any]:
        """What must be the same for a later run (a resume, another shard, the merge) to
        continue this one: everything that changes what is written."""
        return {
            "format": "extract",
            "src": str(self.src),
            "labels": str(self.labels) if self.labels else None,
            "streams": list(self.streams) if self.streams is not None else None,
            "layout": self.layout,
            "val_fraction": self.val_fraction,
            "split_by": self.split_by,
            "seed": self.seed,
            "fps": self.fps,
            "model_complexity": self.model_complexity,
            "also_pose": self.also_pose,
        }

    def import_options(self) -> ImportOptions:
        """The same choices in the form `importers/run.py`'s writer takes."""
        return ImportOptions(
            format="extract",
            src=self.src,
            out=self.out,
            streams=self.streams,
            layout=self.layout,
            labels=self.labels,
            val_fraction=self.val_fraction,
            split_by=self.split_by,
            seed=self.seed,
            workers=self.workers,
            overwrite=self.overwrite,
        )


@dataclass
class ExtractReport(ImportReport):
    """An import's report plus what only video has (also OUT/extract-report.json)."""

    found_share: dict[str, float] = field(default_factory=dict)  # stream -> share of frames
    frames_extracted: int = 0  # frames run through Holistic by this command
    frames_per_s: float | None = None
    workers: int = 1
    model_complexity: int = 1
    fps: float | None = None
    shard: str | None = None  # "I/N" for a shard's own report
    merged_shards: int = 0  # --merge: the shard reports it read (frames are theirs)


def run_extract(options: ExtractOptions, progress: Progress | None = None) -> ExtractReport:
    """Extract `options.src` into `options.out` (see the module docstring)."""
    started = time.perf_counter()
    src, out = options.src.expanduser().absolute(), options.out.expanduser().absolute()
    fps = float(options.fps) if options.fps is not None else None  # 10 and 10.0: one run
    options = _replace(options, src=src, out=out, fps=fps)
    _check_options(options)
    _check_paths(src, out, options.labels)
    resume = _check_out(out, options)
    scan = scan_videos(src, options.labels)
    skipped = list(scan.skipped)
    items = scan.items
    classes = _class_names(VIDEO_SOURCE, src, items)  # type: ignore[arg-type]
    plan = _plan_streams(MEDIAPIPE_HOLISTIC, MEDIAPIPE_HOLISTIC.streams, options.streams)
    targets, split_rule = _targets(items, classes, options.import_options())
    if options.merge:
        return _merge(options, plan, classes, targets, skipped, split_rule, started)
    _start(out, options, resume)
    mine = _shard_targets(targets, options.shard)
    results, frames = _extract_all(options, plan, mine, progress)
    for result in results:
        if result.error is not None:
            skipped.append((_video_of(mine, result.id), result.error))
    done = [t for t in mine if t.item.id in {r.id for r in results if r.error is None}]
    seconds = time.perf_counter() - started
    if options.shard is not None:
        report = _extract_report(options, plan, classes, done, results, skipped, split_rule,
                                 started, frames, seconds)  # fmt: skip
        _write_json(out / _shard_report_name(options.shard), report.to_dict())
        return report
    return _finish(options, plan, classes, done, results, skipped, split_rule, started,
                   frames, seconds)  # fmt: skip


# ---------------------------------------------------------------------------------------
# Checks before anything is written


def _replace(options: ExtractOptions, **changes: Any) -> ExtractOptions:
    from dataclasses import replace

    return replace(options, **changes)


def _check_options(options: ExtractOptions) -> None:
    """Usage errors that need no file: bad values, combinations that make no sense, and
    (unless merging, which reads no video) mediapipe and the complexity's model."""
    if options.fps is not None and not options.fps > 0:
        raise UsageError(f"--fps {options.fps:g}: expected a frame rate above 0")
    if options.shard is not None:
        index, count = options.shard
        if count < 1 or not 0 <= index < count:
            raise UsageError(
                f"--shard {index}/{count}: expected I/N with 0 <= I < N",
                hint="for a Slurm array --array=0-3: --shard $SLURM_ARRAY_TASK_ID/4",
            )
        if options.overwrite:
            raise UsageError(
                "--overwrite with --shard would let each shard delete the others' work",
                hint="empty OUT once before starting the shards, or choose a new folder",
            )
        if options.merge:
            raise UsageError("--merge runs once after every shard: give it without --shard")
    if options.merge and options.overwrite:
        raise UsageError("--merge keeps what the shards wrote: it takes no --overwrite")
    if options.merge:
        return
    from signcli.data.holistic import check_model_complexity
    from signcli.data.video import import_cv2

    import_cv2()
    check_model_complexity(options.model_complexity)
    if options.also_pose:
        from signcli.extract.pose_file import check_pose_format

        check_pose_format()


def _check_out(out: Path, options: ExtractOptions) -> bool:
    """True when OUT holds unfinished work of the same options (resume, another shard, the
    merge). UsageError when OUT is something extract must not replace or continue."""
    if options.merge and (not out.exists() or not any(out.iterdir())):
        raise UsageError(f"--merge: {out} holds no extraction", hint="run the shards first")
    return check_out_state(
        out, options.overwrite, options.resume_key(), command="extract",
        unfinished="an unfinished extraction", finished="a finished dataset",
        own_dataset=_refuse_an_imported_dataset,
    )  # fmt: skip


def _refuse_an_imported_dataset(out: Path) -> None:
    """UsageError unless the finished dataset at OUT was written by extract (its manifest
    names the source format): extract replaces only its own."""
    from signcli.core.manifest import read_manifest

    manifest = read_manifest(out)
    writer = manifest.source.get("format") if manifest is not None else None
    if writer != "extract":
        raise UsageError(
            f"OUT {out} holds a dataset written by `signcli import` "
            f"({writer or 'no format named'}), not by extract, which replaces only its own",
            hint="choose another folder",
        )


def _start(out: Path, options: ExtractOptions, resume: bool) -> None:
    """Make OUT ready: cleared of an earlier extraction (--overwrite), the state written."""
    from signcli.core.atomic import ensure_folder

    if options.overwrite and out.exists():
        _clear_extract(out)
    ensure_folder(out, "OUT")
    if not resume or _read_state(out) is None:
        _write_json(out / STATE_NAME, {"options": options.resume_key()})


def _clear_extract(out: Path) -> None:
    """Remove what extract writes, and only that (`_check_out` made sure OUT is its own)."""
    from signcli.extract.pose_file import POSES_FOLDER

    _clear_import(out)
    if (out / POSES_FOLDER).is_dir():
        shutil.rmtree(out / POSES_FOLDER)
    for path in [out / REPORT_NAME, *out.glob(SHARD_REPORT_GLOB)]:
        path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------
# Extraction (in worker processes)


def _shard_targets(targets: list[Target], shard: tuple[int, int] | None) -> list[Target]:
    """The shard's share: every N-th target of the id-sorted list, from the I-th."""
    if shard is None:
        return targets
    index, count = shard
    return sorted(targets, key=lambda t: t.item.id)[index::count]


@dataclass(frozen=True)
class _Job:
    """What a worker needs besides its targets (picklable)."""

    out: str
    layout: Layout
    plan: list[StreamPlan]
    fps: float | None
    model_complexity: int
    also_pose: bool


def _pose_path(out: Path, target: Target) -> Path:
    from signcli.extract.pose_file import POSE_SUFFIX, POSES_FOLDER

    return out / POSES_FOLDER / f"{target.item.id}{POSE_SUFFIX}"


def _already_written(job: _Job, target: Target) -> ItemResult | None:
    """The stats of a sample an earlier run wrote whole, or None when it must be done."""
    out = Path(job.out)
    paths = _destinations(out, job.layout, target, job.plan)
    if not all(p.is_file() for p in paths):
        return None
    if job.also_pose and not _pose_path(out, target).is_file():
        return None
    existing = _check_existing(paths, job.plan, job.layout)
    if existing is not None:
        existing.id, existing.resumed = target.item.id, True
    return existing


def _extract_all(
    options: ExtractOptions,
    plan: list[StreamPlan],
    targets: list[Target],
    progress: Progress | None,
) -> tuple[list[ItemResult], int]:
    """Extract every target not already written; results (any order) and frames extracted."""
    job = _Job(str(options.out), options.layout, plan, options.fps, options.model_complexity,
               options.also_pose)  # fmt: skip
    folders = {options.out / t.split for t in targets} if options.layout == "single" else set()
    folders |= {options.out / s.name for s in plan} if options.layout == "multi" else set()
    if options.also_pose:
        from signcli.extract.pose_file import POSES_FOLDER

        folders.add(options.out / POSES_FOLDER)
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    results: list[ItemResult] = []
    todo: list[Target] = []
    for target in targets:
        existing = _already_written(job, target)
        if existing is not None:
            results.append(existing)
        else:
            todo.append(target)
    total = len(targets)
    frames = [0]

    def report(done: int) -> None:
        if progress:
            progress(done, total, frames[0])

    report(len(results))
    if options.workers <= 1 or len(todo) <= 1:

        def count(n: int) -> None:
            frames[0] += n
            report(len(results))

        try:
            for target in todo:
                results.append(_extract_one(job, target, on_frames=count))
                report(len(results))
        except KeyboardInterrupt:
            raise _interrupted(options.out) from None
        return results, frames[0]
    return _extract_in_pool(options, job, todo, results, report, frames)


def _extract_in_pool(
    options: ExtractOptions,
    job: _Job,
    todo: list[Target],
    results: list[ItemResult],
    report: Callable[[int], None],
    frames: list[int],
) -> tuple[list[ItemResult], int]:
    """Workers (spawned: mediapipe's graph threads do not survive a fork) take one video at
    a time; a shared counter gives the frames/s; on Ctrl-C the stop flag makes each worker
    drop its video within a few frames, unwritten."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    counter = context.Value("q", 0)
    stop = context.Event()
    pool = ProcessPoolExecutor(
        max_workers=min(options.workers, len(todo)),
        mp_context=context,
        initializer=_init_worker,
        initargs=(counter, stop),
    )
    try:
        pending: set[Future] = {pool.submit(_extract_in_worker, job, t) for t in todo}
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in finished:
                results.append(future.result())
            frames[0] = counter.value
            report(len(results))
    except KeyboardInterrupt:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise _interrupted(options.out) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    frames[0] = counter.value
    return results, frames[0]


_WORKER: dict[str, Any] = {}  # in a worker process: the shared frame counter and stop flag


def _init_worker(counter: Any, stop: Any) -> None:
    """Workers leave Ctrl-C to the main process, which sets the stop flag."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER.update(counter=counter, stop=stop)


def _extract_in_worker(job: _Job, target: Target) -> ItemResult:
    counter, stop = _WORKER["counter"], _WORKER["stop"]

    def count(n: int) -> None:
        with counter.get_lock():
            counter.value += n

    return _extract_one(job, target, on_frames=count, should_stop=stop.is_set)


def _extract_one(
    job: _Job,
    target: Target,
    *,
    on_frames: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ItemResult:
    """Extract one video and write its sample (and .pose); a video that cannot be read or
    converted gets its reason, and nothing is written for it."""
    from signcli.data.holistic import detector, no_person_found
    from signcli.data.video import VideoError

    item = target.item
    try:
        keypoints = detector(job.model_complexity).detect(
            Path(item.ref), job.fps, should_stop=should_stop, on_frames=on_frames
        )
        arrays = _select(keypoints.streams, job.plan)
    except (VideoError, ValueError) as exc:
        return ItemResult(item.id, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - one video mediapipe fails on must not cost the run
        return ItemResult(item.id, error=f"mediapipe failed: {type(exc).__name__}: {exc}")
    if not any(keypoints.found_frames().values()):
        return ItemResult(item.id, error=no_person_found(keypoints.frames))
    out = Path(job.out)
    try:
        if job.also_pose:
            from signcli.extract.pose_file import write_pose_file

            write_pose_file(_pose_path(out, target), keypoints)
        paths = _destinations(out, job.layout, target, job.plan)
        if job.layout == "single":
            _save(paths[0], {"X": np.concatenate(arrays, axis=1)})
        else:
            for path, array in zip(paths, arrays, strict=True):
                _save(path, array)
    except OSError as exc:
        raise UsageError(f"could not write into {out}: {exc.strerror or exc}") from exc
    return _stats(item.id, arrays, job.plan)


def _interrupted(out: Path) -> ExtractInterrupted:
    return ExtractInterrupted(
        f"interrupted: the samples written so far are kept in {out}",
        hint="run the same command again to resume",
    )


def _video_of(targets: list[Target], item_id: str) -> str:
    return next((str(t.item.ref) for t in targets if t.item.id == item_id), item_id)


# ---------------------------------------------------------------------------------------
# Tables, manifest, reports; shards and the merge


def _shard_report_name(shard: tuple[int, int]) -> str:
    return f"extract-shard-{shard[0]}-of-{shard[1]}.json"


def _extract_report(
    options: ExtractOptions,
    plan: list[StreamPlan],
    classes: list[str],
    done: list[Target],
    results: list[ItemResult],
    skipped: list[tuple[str, str]],
    split_rule: str,
    started: float,
    frames: int,
    seconds: float,
) -> ExtractReport:
    base = _report(options.import_options(), VIDEO_SOURCE, plan, classes, done, results,  # type: ignore[arg-type]
                   skipped, sum(r.resumed for r in results), started, split_rule)  # fmt: skip
    report = ExtractReport(**{f.name: getattr(base, f.name) for f in fields(ImportReport)})
    report.found_share = {s: round(1.0 - share, 4) for s, share in base.nan_share.items()}
    report.frames_extracted = frames
    report.frames_per_s = round(frames / seconds, 1) if seconds > 0 and frames else None
    report.workers = options.workers
    report.model_complexity = options.model_complexity
    report.fps = options.fps
    report.shard = f"{options.shard[0]}/{options.shard[1]}" if options.shard else None
    return report


def _finish(
    options: ExtractOptions,
    plan: list[StreamPlan],
    classes: list[str],
    done: list[Target],
    results: list[ItemResult],
    skipped: list[tuple[str, str]],
    split_rule: str,
    started: float,
    frames: int,
    seconds: float,
) -> ExtractReport:
    """The CSVs, the report and, last, the manifest (the mark of a finished dataset)."""
    out = options.out
    _remove_strays(out, options.layout, plan, done)
    _remove_stray_poses(out, done)
    _write_tables(out, options.layout, plan, classes, done)
    report = _extract_report(options, plan, classes, done, results, skipped, split_rule,
                             started, frames, seconds)  # fmt: skip
    _write_json(out / REPORT_NAME, report.to_dict())
    manifest = _manifest(options.import_options(), VIDEO_SOURCE, plan, classes, done)  # type: ignore[arg-type]
    # how the keypoints were made: a video given to a model trained on them needs the same
    manifest.source.update(fps=options.fps, model_complexity=options.model_complexity)
    write_manifest(out, manifest)
    (out / STATE_NAME).unlink(missing_ok=True)
    for path in out.glob(SHARD_REPORT_GLOB):
        path.unlink()
    return report


def _remove_stray_poses(out: Path, done: list[Target]) -> None:
    """`.pose` files (and `.tmp`s) in OUT/poses of videos this dataset does not list."""
    from signcli.extract.pose_file import POSES_FOLDER

    if not (out / POSES_FOLDER).is_dir():
        return
    keep = {_pose_path(out, t) for t in done}
    for path in (out / POSES_FOLDER).iterdir():
        if path.is_file() and path not in keep and path.suffix in (".pose", ".tmp"):
            path.unlink()


def _merge(
    options: ExtractOptions,
    plan: list[StreamPlan],
    classes: list[str],
    targets: list[Target],
    skipped: list[tuple[str, str]],
    split_rule: str,
    started: float,
) -> ExtractReport:
    """Finish a sharded extraction: every video written or skipped by a shard, then the
    tables, report and manifest, as one run would have written them."""
    out = options.out
    shard_skipped: dict[str, str] = {}
    frames = 0
    for path in sorted(out.glob(SHARD_REPORT_GLOB)):
        try:
            record = json.loads(read_input_bytes(path, "shard report", limit=MAX_JSON_BYTES))
            frames += int(record.get("frames_extracted") or 0)
            for entry in record.get("skipped", []):
                shard_skipped[str(entry["what"])] = str(entry["reason"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"--merge: cannot read the shard report {path} ({exc})") from None
    job = _Job(str(out), options.layout, plan, options.fps, options.model_complexity,
               options.also_pose)  # fmt: skip
    results: list[ItemResult] = []
    missing: list[SourceItem] = []
    for target in targets:
        existing = _already_written(job, target)
        if existing is not None:
            results.append(existing)
        elif str(target.item.ref) in shard_skipped:
            skipped.append((str(target.item.ref), shard_skipped[str(target.item.ref)]))
        else:
            missing.append(target.item)
    if missing:
        raise UsageError(
            f"--merge: {len(missing)} of {len(targets)} videos are not extracted yet "
            f"(e.g. {missing[0].ref}); shard reports found: "
            + (", ".join(p.name for p in sorted(out.glob(SHARD_REPORT_GLOB))) or "none"),
            hint="run the shards that did not finish (the same command with --shard I/N), "
            "then --merge again",
        )
    written = {r.id for r in results}
    done = [t for t in targets if t.item.id in written]
    shards = len(list(out.glob(SHARD_REPORT_GLOB)))
    # seconds 0: no frames/s, the frames were the shards' work
    report = _finish(
        options, plan, classes, done, results, skipped, split_rule, started, frames, 0.0
    )
    report.merged_shards = shards
    _write_json(out / REPORT_NAME, report.to_dict())
    return report
