"""Dataset caches: peak RSS and time to the first training step, memory vs mmap, by size.

    python benchmarks/make_npz_set.py /work/bench/cache/set100k --files 100000 --val-share 0 --frames 64
    python benchmarks/bench_cache.py /work/bench/cache/set100k [--sizes 10000 50000 100000]
                                     [--modes memory mmap] [--steps 20] [--out FILE.json]
                                     [--keep-cache]

SOURCE is a set written by make_npz_set.py (train/ and train_labels.csv). For each size N
a folder with the first N files of SOURCE is made beside it once (hard links: no extra
disk), then for each mode a fresh process builds a `Trainer` (`--cache MODE`, a small
transformer, batch 32, no augmentation, CPU) and trains `--steps` steps. Each process
reports the seconds from its start (interpreter up, before signcli is imported) to the end
of the first optimizer step (and of that: the imports, and `load_training_data`), its peak RSS (VmHWM) at that point and after `--steps` steps,
and, for mmap, its RSS after reading every sample of the split once (the pages are handed
back every packed.RELEASE_BYTES, so this stays flat).

mmap is run twice per size: "cold" with an empty cache folder (the run packs the split),
then "warm" (the cache exists, as for every later run and every DataLoader worker). The
source files are in the page cache for every run (they were just read or linked), as
after a first epoch. Targets (100k samples, T = 64, D = 156, mmap, warm): peak RSS
< 1.5 GB, time to the first step < 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from markdown_report import Report, add_markdown_argument, table

STARTED = time.perf_counter()  # as early as the child can take it

TARGET_RSS_MB = 1500
TARGET_FIRST_STEP_S = 10.0


def rss_mb(field: str) -> float:
    """VmHWM (peak) or VmRSS (now) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(args: argparse.Namespace) -> None:
    from signcli.data.sources import load_training_data
    from signcli.engine.hooks import Hook
    from signcli.engine.trainer import Trainer
    from signcli.settings import augment_off, load_settings

    root = Path(args.data)
    report: dict = {"size": args.size, "mode": args.mode}
    report["import_s"] = time.perf_counter() - STARTED  # python, torch, signcli

    class Stop(Exception):
        pass

    class Timer(Hook):
        def on_step_end(self, trainer) -> None:  # noqa: ANN001
            step = trainer.state.step
            if step == 1:
                report["first_step_s"] = time.perf_counter() - STARTED
                report["peak_rss_first_step_mb"] = rss_mb("VmHWM")
            if step >= args.steps:
                raise Stop

    settings = load_settings(
        flags=augment_off(),
        overrides=[
            f"data.train_dir={root / 'train'}", f"data.train_labels={root / 'train_labels.csv'}",
            f"data.cache={args.mode}", f"data.cache_dir={args.cache_dir}",
            "model.d_model=64", "model.num_layers=1", "model.num_heads=2", "model.ff_dim=128",
            "training.epochs=1", "training.batch_size=32", "training.device=cpu",
            f"training.work_dir={args.cache_dir}/run",
        ],
    )  # fmt: skip
    started = time.perf_counter()
    data = load_training_data(settings)
    report["data_s"] = time.perf_counter() - started  # list, labels, fingerprint, map or read
    trainer = Trainer(settings, hooks=[Timer()], data=data, default_hooks=False)
    report["setup_s"] = time.perf_counter() - STARTED
    try:
        trainer.fit()
    except Stop:
        pass
    report["peak_rss_mb"] = rss_mb("VmHWM")
    report["steps"] = trainer.state.step
    if args.mode == "mmap":
        dataset = trainer.data.train.dataset
        started = time.perf_counter()
        for i in range(len(dataset)):
            dataset.raw(i).streams["x"].sum()  # touch every page
        report["full_pass_s"] = time.perf_counter() - started
        report["rss_after_full_pass_mb"] = rss_mb("VmRSS")
        report["peak_rss_full_pass_mb"] = rss_mb("VmHWM")
    print(json.dumps(report))


def subset(source: Path, size: int) -> Path:
    """SOURCE's first `size` samples in a folder beside it (hard links), made once."""
    target = source.parent / f"{source.name}-first{size}"
    labels = target / "train_labels.csv"
    if labels.is_file():
        return target
    rows = (source / "train_labels.csv").read_text().splitlines()[: size + 1]
    if len(rows) < size + 1:
        raise SystemExit(f"{source} has fewer than {size} samples")
    (target / "train").mkdir(parents=True, exist_ok=True)
    for row in rows[1:]:
        name = row.split(",")[0]
        link = target / "train" / name
        if not link.exists():
            os.link(source / "train" / name, link)
    labels.write_text("\n".join(rows) + "\n")
    return target


def run(data: Path, size: int, mode: str, cache_dir: Path, steps: int) -> dict:
    command = [sys.executable, __file__, "--child", "--data", str(data), "--size", str(size),
               "--mode", mode, "--cache-dir", str(cache_dir), "--steps", str(steps)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, nargs="?")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    parser.add_argument("--modes", nargs="+", default=["memory", "mmap"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--keep-cache",
        action="store_true",
        help="keep each size's cache folder (bench-cache-N beside SOURCE) for a later run, "
        "which then measures mmap warm only",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    add_markdown_argument(parser, "bench_cache")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.source is None:
        parser.error("give SOURCE, a set written by make_npz_set.py")
    report = Report.start("bench_cache", "dataset caches: time to the first step and peak RSS")
    results = []
    for size in args.sizes:
        data = subset(args.source, size) if size < _count(args.source) else args.source
        cache_dir = args.source.parent / f"bench-cache-{size}"
        if not args.keep_cache:
            shutil.rmtree(cache_dir, ignore_errors=True)
        built = any(cache_dir.glob("*.pack"))
        for mode in args.modes:
            labels = [""] if mode != "mmap" else ["warm"] if built else ["cold", "warm"]
            for label in labels:
                result = run(data, size, mode, cache_dir, args.steps)
                result["when"] = label
                results.append(result)
                print(_line(result), flush=True)
        if not args.keep_cache:
            shutil.rmtree(cache_dir, ignore_errors=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    warm = [r for r in results if r["mode"] == "mmap" and r["when"] == "warm"]
    if warm:
        big = max(warm, key=lambda r: r["size"])
        ok = big["peak_rss_mb"] < TARGET_RSS_MB and big["first_step_s"] < TARGET_FIRST_STEP_S
        print(
            f"target (mmap, warm, {big['size']:,} samples): peak RSS {big['peak_rss_mb']:,.0f} MB "
            f"< {TARGET_RSS_MB:,} MB, first step {big['first_step_s']:.1f} s < "
            f"{TARGET_FIRST_STEP_S:.0f} s: {'met' if ok else 'NOT met'}"
        )
    report.write(args.markdown, cache_table(results, args.steps))


def cache_table(results: list[dict], steps: int) -> str:
    rows = [
        [f"{r['size']:,}", f"{r['mode']} {r['when']}".strip(), f"{r['first_step_s']:.1f}",
         f"{r['import_s']:.1f}", f"{r['data_s']:.1f}", f"{r['peak_rss_first_step_mb']:,.0f}",
         f"{r['peak_rss_mb']:,.0f}",
         f"{r['rss_after_full_pass_mb']:,.0f}" if "rss_after_full_pass_mb" in r else "-"]
        for r in results
    ]  # fmt: skip
    body = table(
        ["samples", "cache", "first step s", "imports s", "data s", "peak RSS MB, step 1",
         f"peak RSS MB, step {steps}", "RSS MB, every sample read once"],
        rows,
    )  # fmt: skip
    return body + (
        "\n\nA fresh process per row, on the first N files of SOURCE; first step: from the interpreter's start "
        "to the end of the first optimizer step. mmap `cold` packs the split, `warm` finds the "
        f"pack. Targets (mmap warm, the largest size): peak RSS < {TARGET_RSS_MB:,} MB, first "
        f"step < {TARGET_FIRST_STEP_S:.0f} s.\n"
    )


def _count(source: Path) -> int:
    return len((source / "train_labels.csv").read_text().splitlines()) - 1


def _line(r: dict) -> str:
    mode = f"{r['mode']} {r['when']}".strip()
    text = (
        f"{r['size']:>7,} {mode:<11} first step {r['first_step_s']:6.1f} s (imports "
        f"{r['import_s']:.1f} s, data {r['data_s']:.1f} s, setup {r['setup_s']:.1f} s), peak RSS {r['peak_rss_first_step_mb']:6,.0f} MB at step 1, "
        f"{r['peak_rss_mb']:6,.0f} MB at step {r['steps']}"
    )
    if "rss_after_full_pass_mb" in r:
        text += (
            f"; every sample read once in {r['full_pass_s']:.1f} s: RSS "
            f"{r['rss_after_full_pass_mb']:,.0f} MB (peak {r['peak_rss_full_pass_mb']:,.0f} MB)"
        )
    return text


if __name__ == "__main__":
    main()
