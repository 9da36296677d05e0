"""Speed of `signcli extract`: frames/s with 1 and 2 worker processes, side by side.

    python benchmarks/bench_extract.py [SRC] [--copies 8] [--workers 1 2] [--runs 2]
                                       [--model-complexity 1] [--markdown PATH]

Without SRC, the source is `--copies` copies of the real signing clip of the tests
(tests/data/videos/signing.mp4: 58 frames, 540 x 720, one signer) in two label folders.
Targets (model complexity 1, on the 2-core machine): >= 20 frames/s per worker, and 2
workers >= 1.7x one.

Each run is the whole command in a fresh process (`signcli extract SRC OUT --workers N
--json`, into a new OUT): decoding, MediaPipe Holistic, writing the samples and the
manifest, and for N > 1 the start of the spawned workers (each loads the models, about a
second) are all timed. The figure is frames extracted / wall seconds, the median of
`--runs` runs; the worker counts alternate (1, 2, 1, 2 ...) so that a change in the
machine's other load falls on both. The machine is shared: the 1-minute load average
before and after each run is printed with it, and a figure is only as good as that load.
Frames per CPU-second (user + system time of the command and its workers) is what a worker
that had a core to itself would approach; the other load inflates it far less than wall
time, so it is the figure to compare across loaded runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from markdown_report import Report, add_markdown_argument

REPO = Path(__file__).resolve().parents[1]
REAL_VIDEO = REPO / "tests" / "data" / "videos" / "signing.mp4"
TARGET_PER_WORKER = 20.0  # frames/s, model complexity 1
TARGET_SPEEDUP = 1.7  # 2 workers over 1


def make_source(root: Path, copies: int) -> Path:
    """`copies` copies of the real clip, alternating between two label folders."""
    for i in range(copies):
        folder = root / ("hello" if i % 2 == 0 else "thanks")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(REAL_VIDEO, folder / f"clip{i:03d}.mp4")
    return root


def run_once(src: Path, workers: int, complexity: int, scratch: Path) -> dict:
    """One extraction in a fresh process; its report, wall seconds and the load around it."""
    out = Path(tempfile.mkdtemp(dir=scratch)) / "out"
    command = [sys.executable, "-m", "signcli", "extract", str(src), str(out), "--workers",
               str(workers), "--model-complexity", str(complexity), "--val-fraction", "0",
               "--json"]  # fmt: skip
    load_before = os.getloadavg()[0]
    cpu_before = _children_cpu_s()
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    cpu_s = _children_cpu_s() - cpu_before
    load_after = os.getloadavg()[0]
    if result.returncode != 0:
        raise SystemExit(f"extract failed ({result.returncode}): {result.stderr.strip()}")
    report = json.loads(result.stdout)
    shutil.rmtree(out.parent)
    return {
        "workers": workers,
        "frames": report["frames_extracted"],
        "seconds": round(seconds, 2),
        "frames_per_s": round(report["frames_extracted"] / seconds, 1),
        "cpu_s": round(cpu_s, 1),
        "frames_per_cpu_s": round(report["frames_extracted"] / cpu_s, 1),
        "load": (round(load_before, 2), round(load_after, 2)),
    }


def _children_cpu_s() -> float:
    """User + system CPU seconds of the finished child processes (and theirs: the extract
    process waits for its workers), which the other load on the machine does not inflate
    the way it inflates wall time."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", nargs="?", type=Path, help="a folder of videos (default: copies)")
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--model-complexity", type=int, default=1)
    add_markdown_argument(parser, "bench_extract")
    args = parser.parse_args()
    report = Report.start("bench_extract", "`signcli extract` frames/s with 1 and 2 workers")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as scratch:
        src = args.src or make_source(Path(scratch) / "src", args.copies)
        runs: list[dict] = []
        for repeat in range(args.runs):
            for workers in args.workers:
                run = run_once(src, workers, args.model_complexity, Path(scratch))
                runs.append(run)
                print(f"run {repeat + 1}: {workers} workers, {run['frames']} frames in "
                      f"{run['seconds']} s = {run['frames_per_s']} frames/s, "
                      f"{run['cpu_s']} CPU-s = {run['frames_per_cpu_s']} frames per CPU-s "
                      f"(load average {run['load'][0]} -> {run['load'][1]})", flush=True)  # fmt: skip
    median = {
        w: statistics.median(r["frames_per_s"] for r in runs if r["workers"] == w)
        for w in args.workers
    }
    lines = [
        "| workers | frames/s (median) | per worker | runs (frames/s) | frames per CPU-s | load average (1 min) |",
        "|---|---|---|---|---|---|",
    ]
    for w in args.workers:
        mine = [r for r in runs if r["workers"] == w]
        lines.append(
            f"| {w} | {median[w]:.1f} | {median[w] / w:.1f} | "
            + ", ".join(f"{r['frames_per_s']:.1f}" for r in mine)
            + " | "
            + ", ".join(f"{r['frames_per_cpu_s']:.1f}" for r in mine)
            + " | "
            + ", ".join(f"{r['load'][0]:.1f}-{r['load'][1]:.1f}" for r in mine)
            + " |"
        )
    verdicts = []
    if 1 in median:
        ok = median[1] >= TARGET_PER_WORKER
        verdicts.append(
            f"1 worker: {median[1]:.1f} frames/s, target >= {TARGET_PER_WORKER:g}: "
            + ("met" if ok else "NOT met")
        )
    if 1 in median and 2 in median:
        speedup = median[2] / median[1]
        verdicts.append(
            f"2 workers / 1: {speedup:.2f}x, target >= {TARGET_SPEEDUP:g}x: "
            + ("met" if speedup >= TARGET_SPEEDUP else "NOT met")
        )
    print("\n".join(lines + [""] + verdicts))
    source = str(args.src) if args.src else f"{args.copies} copies of tests/data/videos/signing.mp4"
    body = f"Model complexity {args.model_complexity}, source: {source}.\n\n" + "\n".join(
        lines + [""] + verdicts
    )
    report.write(args.markdown, body)


if __name__ == "__main__":
    main()
