"""Speed and memory of importing the Kaggle `asl-signs` layout. Target: >= 200 sequences/s
with 2 workers on the 2-core development machine.

    python benchmarks/bench_import.py [SRC] [--sequences 2000] [--workers 1 2] [--chunk 64]
                                      [--runs 3] [--json]

Without SRC, writes an asl-signs tree of N sequences to a temp folder first (to SRC, and
keeps it, when SRC is given but does not exist), shaped like
the competition's files: T from a triangular distribution on 10..100 frames with mode 10
(mean 40), 543 rows per frame (frame int16, row_id, type, landmark_index int16, x y z
float64; snappy, pyarrow's default), each hand missing (NaN) in about 20% of the frames,
in runs, 250 signs, 21 participants. The real set has 94,477 sequences.

Each configuration runs in a fresh process (`--measure`), so that its peak RSS is its
own, not the generator's: `timed_import` (scan SRC, then read every item: in-process for
1 worker, else a `ProcessPoolExecutor` of N workers given `--chunk` items per task) is
what is timed. Workers return counts, not arrays: they stand for workers that write
their samples themselves. Peak RSS is `getrusage` maxrss of the measuring process (main)
and the largest of its workers (children). The figure is the median of `--runs` runs;
the files are in the page cache (just written), as after a download and unzip.

When `signcli.importers.run` exists, `timed_import` is the one place to change to time the
whole import (choice of streams, writing, manifest) instead of the reader alone.

Writes its table to docs/benchmarks/bench_import.md (markdown_report.py).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from markdown_report import Report, add_markdown_argument, table

TARGET_RATE = 200.0  # sequences/s with 2 workers
FORMAT_NAME = "asl-signs"
FRAMES = (10, 10, 100)  # triangular (low, mode, high): mean 40
HAND_MISSING = 0.2  # share of frames in which a hand is not detected
MISSING_RUN = 5  # frames: a hand goes missing for runs of about this length
NUM_SIGNS = 250
NUM_PARTICIPANTS = 21
PARTS = (("face", 468), ("left_hand", 21), ("pose", 33), ("right_hand", 21))
LANDMARKS = sum(count for _, count in PARTS)  # 543


def write_asl_signs_tree(root: Path, sequences: int, seed: int = 0) -> None:
    """An asl-signs SRC of `sequences` files under `root` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    types = np.concatenate([[part] * count for part, count in PARTS])
    index = np.concatenate([np.arange(count) for _, count in PARTS]).astype(np.int16)
    # per landmark of a frame: its type, and the end of its row_id (`<frame>-face-0`)
    type_names = pa.array(types)
    row_suffix = pa.array([f"-{t}-{i}" for t, i in zip(types, index, strict=True)])
    hands = (slice(468, 489), slice(522, 543))  # left_hand, right_hand
    signs = [f"sign{i:03d}" for i in range(NUM_SIGNS)]
    rows = ["path,participant_id,sequence_id,sign"]
    for i in range(sequences):
        T = int(round(rng.triangular(*FRAMES)))
        start = int(rng.integers(0, 50))  # real files rarely start at frame 0
        frame = np.repeat(np.arange(start, start + T, dtype=np.int16), LANDMARKS)
        landmark = pa.array(np.tile(np.arange(LANDMARKS), T))  # [T * 543] 0..542
        points = rng.random((T, LANDMARKS, 3))
        for span in hands:  # runs of MISSING_RUN frames, HAND_MISSING of them
            runs = rng.random(-(-T // MISSING_RUN)) < HAND_MISSING
            points[np.repeat(runs, MISSING_RUN)[:T], span] = np.nan
        flat = points.reshape(-1, 3)
        row_id = pc.binary_join_element_wise(
            pc.cast(pa.array(frame), pa.string()), row_suffix.take(landmark), ""
        )
        table = pa.table(
            {
                "frame": frame,
                "row_id": row_id,
                "type": type_names.take(landmark),
                "landmark_index": np.tile(index, T),
                "x": flat[:, 0],
                "y": flat[:, 1],
                "z": flat[:, 2],
            }
        )
        participant, sequence = 16069 + 1000 * (i % NUM_PARTICIPANTS), 1000000000 + i
        rel = f"train_landmark_files/{participant}/{sequence}.parquet"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, root / rel)
        rows.append(f"{rel},{participant},{sequence},{signs[i % NUM_SIGNS]}")
    (root / "train.csv").write_text("\n".join(rows) + "\n")
    (root / "sign_to_prediction_index_map.json").write_text(
        json.dumps({sign: i for i, sign in enumerate(signs)})
    )


def read_chunk(items: list) -> tuple[int, int, list[str]]:
    """Read some items as a worker: (sequences read, frames read, reasons for the rest)."""
    from signcli.importers import get_format

    read, frames, reasons = 0, 0, []
    for result in get_format(FORMAT_NAME).read(items):
        if isinstance(result, str):
            reasons.append(result)
        else:
            read += 1
            frames += result["pose"].shape[0]
    return read, frames, reasons


def timed_import(src: Path, workers: int, chunk: int, mode: str, streams: str | None) -> dict:
    """THE timed step. mode `import`: the whole `signcli import` (scan, split, convert,
    write every sample, CSVs, manifest) into a temp OUT; mode `read`: scan SRC and read
    every item with the reader alone, `workers` processes (1: in this process)."""
    from signcli.importers import get_format

    if mode == "import":
        from signcli.importers.run import ImportOptions, run_import

        with tempfile.TemporaryDirectory(dir=src.parent) as tmp:
            chosen = tuple(streams.split(",")) if streams else None
            started = time.perf_counter()
            report = run_import(
                ImportOptions(FORMAT_NAME, src, Path(tmp) / "out", chosen, workers=workers)
            )
            total_s = time.perf_counter() - started
            written = sum(p.stat().st_size for p in (Path(tmp) / "out").rglob("*.npz"))
        return {
            "sequences": report.written,
            "frames": report.frames["mean"] * report.written,
            "unreadable": len(report.skipped),
            "skipped": 0,
            "scan_s": float("nan"),
            "total_s": total_s,
            "written_mb": written / 1e6,
        }
    started = time.perf_counter()
    scan = get_format(FORMAT_NAME).scan(src)
    scanned = time.perf_counter()
    chunks = [scan.items[i : i + chunk] for i in range(0, len(scan.items), chunk)]
    if workers == 1:
        counts = [read_chunk(c) for c in chunks]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            counts = list(pool.map(read_chunk, chunks))
    total_s = time.perf_counter() - started
    return {
        "sequences": sum(c[0] for c in counts),
        "frames": sum(c[1] for c in counts),
        "unreadable": sum(len(c[2]) for c in counts),
        "skipped": len(scan.skipped),
        "scan_s": scanned - started,
        "total_s": total_s,
    }


def measure(src: Path, workers: int, chunk: int, mode: str, streams: str | None) -> dict:
    """One run of `timed_import` in this (fresh) process, with peak RSS and CPU seconds."""
    result = timed_import(src, workers, chunk, mode, streams)
    main = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers, once joined
    result.update(
        main_rss_mb=main.ru_maxrss / 1024,  # Linux: KiB
        worker_rss_mb=children.ru_maxrss / 1024,
        cpu_s=main.ru_utime + main.ru_stime + children.ru_utime + children.ru_stime,
    )
    return result


def run_fresh(src: Path, workers: int, chunk: int, mode: str, streams: str | None) -> dict:
    command = [sys.executable, __file__, str(src), "--measure", "--workers", str(workers)]
    command += ["--chunk", str(chunk), "--mode", mode]
    command += ["--streams", streams] if streams else []
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"measuring run exited {completed.returncode}:\n{completed.stderr}")
    return json.loads(completed.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "src",
        type=Path,
        nargs="?",
        help="an asl-signs SRC; written first if absent (default: a temp one)",
    )
    parser.add_argument("--sequences", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--chunk", type=int, default=64, help="read mode: items per worker task")
    parser.add_argument(
        "--mode",
        choices=("import", "read"),
        default="import",
        help="import: the whole `signcli import`; read: the reader alone",
    )
    parser.add_argument("--streams", help="import mode: --streams of the import (default: all)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    add_markdown_argument(parser, "bench_import")
    args = parser.parse_args()

    if args.measure:  # a child of the run below: one configuration, JSON on stdout
        print(json.dumps(measure(args.src, args.workers[0], args.chunk, args.mode, args.streams)))
        return

    report = Report.start("bench_import", "`signcli import asl-signs` speed and memory")
    with tempfile.TemporaryDirectory() as tmp:
        src = args.src or Path(tmp) / "asl-signs"
        if not src.exists():  # a SRC given and absent is written there and kept
            started = time.perf_counter()
            write_asl_signs_tree(src, args.sequences)
            if not args.json:
                print(f"wrote {args.sequences} sequences in {time.perf_counter() - started:.1f} s")
        results = []
        for workers in args.workers:
            runs = [
                run_fresh(src, workers, args.chunk, args.mode, args.streams)
                for _ in range(args.runs)
            ]
            median = sorted(runs, key=lambda r: r["total_s"])[len(runs) // 2]
            median["rate"] = median["sequences"] / median["total_s"]
            median["workers"] = workers
            median["runs_s"] = [round(r["total_s"], 3) for r in runs]
            results.append(median)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    first = results[0]
    print(
        f"{first['sequences']} sequences, {first['frames'] / first['sequences']:.1f} frames "
        f"each on average, {first['unreadable']} unreadable, {first['skipped']} skipped; "
        f"median of {args.runs} runs; mode {args.mode}"
        + (f", {first['written_mb']:.0f} MB written" if "written_mb" in first else "")
    )
    print(f"{'workers':>7} {'seq/s':>7} {'total s':>8} {'scan s':>7} {'CPU s':>6} "
          f"{'main MB':>8} {'worker MB':>9}")  # fmt: skip
    for row in results:
        print(
            f"{row['workers']:>7} {row['rate']:>7.0f} {row['total_s']:>8.2f} "
            f"{row['scan_s']:>7.3f} {row['cpu_s']:>6.2f} {row['main_rss_mb']:>8.0f} "
            f"{row['worker_rss_mb']:>9.0f}"
        )
    verdict = "no 2-worker run"
    for row in results:
        if row["workers"] == 2:
            verdict = "met" if row["rate"] >= TARGET_RATE else "NOT met"
            print(f"target >= {TARGET_RATE:.0f} sequences/s with 2 workers: {verdict}")
    body = table(
        ["workers", "sequences/s", "total s (median)", "runs s", "scan s", "CPU s",
         "peak RSS main MB", "peak RSS per worker MB"],
        [[r["workers"], f"{r['rate']:.0f}", f"{r['total_s']:.2f}",
          ", ".join(f"{t:.2f}" for t in r["runs_s"]), _figure(r["scan_s"], ".3f"),
          f"{r['cpu_s']:.2f}", f"{r['main_rss_mb']:.0f}",
          _figure(r["worker_rss_mb"] if r["workers"] > 1 else math.nan, ".0f")] for r in results],
    )  # fmt: skip
    written = f", {first['written_mb']:.0f} MB written" if "written_mb" in first else ""
    body += (
        f"\n\n{first['sequences']:,} generated asl-signs sequences "
        f"({first['frames'] / first['sequences']:.1f} frames each on average, 543 landmarks), "
        f"mode {args.mode} (streams: {args.streams or 'all'}){written}; each configuration in "
        f"a fresh process, median of {args.runs} runs. Target: >= {TARGET_RATE:.0f} "
        f"sequences/s with 2 workers ({verdict})."
    )
    report.write(args.markdown, body)


def _figure(value: float, fmt: str) -> str:
    """A table cell: "-" for a figure the mode does not measure (NaN; no workers)."""
    return "-" if math.isnan(value) else format(value, fmt)


if __name__ == "__main__":
    main()
