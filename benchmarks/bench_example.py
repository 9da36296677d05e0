"""The bundled example: time to val_gloss_top1 >= 0.90 and peak memory of `signcli train`.

    python benchmarks/bench_example.py [--seeds 0 1 2]
    python benchmarks/bench_example.py --task ctc [--seeds 0 1 2]

`--task ctc` runs the ctc quick start instead (examples/ctc.yaml on examples/sentences) and
reports its final-epoch val_wer and wall time. Target: final val WER <= 0.5 within the
quick start's 40 epochs on 2 CPU cores.

Runs `signcli train transformer --config examples/quickstart.yaml` as a subprocess per
seed and reads its metrics.jsonl: the training seconds (sum of `epoch_s`) until the first
epoch with val_gloss_top1 >= 0.90, the whole command's wall time (start-up and data
reading included), and the peak resident memory of the process. Targets: >= 0.90 within
60 s of training on 2 CPU cores, peak memory < 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from markdown_report import PAGES, Report, table

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.90


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--task", choices=["classify", "ctc"], default="classify")
    parser.add_argument(
        "--markdown",
        type=Path,
        help="write the report here (default: docs/benchmarks/bench_example.md, with --task "
        "ctc bench_example-ctc.md; '-': nowhere)",
    )
    args = parser.parse_args()
    if args.task == "ctc":
        report = Report.start("bench_example", "the ctc quick start, final val WER")
        body = ctc_quick_start(args.seeds)
        report.write(args.markdown or PAGES / "bench_example-ctc.md", body)
        return
    report = Report.start("bench_example", "the bundled example: time to 0.90 and peak memory")
    rows = []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "run"
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "signcli", "train", "transformer", "--config",
                 "examples/quickstart.yaml", "--work-dir", str(work), "--seed", str(seed), "--quiet"],
                cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            wall_s = time.perf_counter() - started
            # ru_maxrss of children is the largest child so far (KiB on Linux)
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            epochs = [
                json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()
            ]
        train_s, reached = 0.0, None
        for metrics in epochs:
            train_s += metrics["epoch_s"]
            if metrics["val_gloss_top1"] >= TARGET:
                reached = (metrics["epoch"], train_s)
                break
        best = max(m["val_gloss_top1"] for m in epochs)
        when = f"epoch {reached[0]} after {reached[1]:.1f}s of training" if reached else "never"
        print(
            f"seed {seed}: val_gloss_top1 >= {TARGET} at {when}; best {best:.3f} in "
            f"{len(epochs)} epochs; command wall {wall_s:.1f}s; peak memory so far {peak_mb:.0f} MB"
        )
        rows.append(
            [seed, f"epoch {reached[0]}" if reached else "never",
             f"{reached[1]:.1f}" if reached else "-", f"{best:.3f}", len(epochs),
             f"{wall_s:.1f}", f"{peak_mb:.0f}"]
        )  # fmt: skip
    body = table(
        ["seed", f"val_gloss_top1 >= {TARGET}", "training s to it", "best val top-1", "epochs",
         "command wall s", "peak RSS MB (largest run so far)"],
        rows,
    )  # fmt: skip
    body += (
        "\n\n`signcli train transformer --config examples/quickstart.yaml --seed S` as a "
        "subprocess per seed; training s is the sum of `epoch_s` up to the first epoch at the "
        "target. Targets: >= 0.90 within 60 s of training, peak memory < 1.5 GB."
    )
    report.write(args.markdown or PAGES / "bench_example.md", body)


def ctc_quick_start(seeds: list[int]) -> str:
    """examples/ctc.yaml as a user runs it: the final epoch's val_wer and the wall time (a
    markdown table of the seeds)."""
    rows = []
    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "run"
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "signcli", "train", "transformer", "--config",
                 "examples/ctc.yaml", "--work-dir", str(work), "--seed", str(seed), "--quiet"],
                cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            wall_s = time.perf_counter() - started
            epochs = [
                json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()
            ]
        final = epochs[-1]["val_wer"]
        verdict = "meets" if final <= 0.5 else "misses"
        print(
            f"seed {seed}: final val_wer {final:.3f} after {len(epochs)} epochs "
            f"({verdict} <= 0.5), best {min(m['val_wer'] for m in epochs):.3f}; "
            f"command wall {wall_s:.1f}s"
        )
        rows.append(
            [seed, f"{final:.3f}", f"{min(m['val_wer'] for m in epochs):.3f}", len(epochs),
             f"{wall_s:.1f}", verdict.replace("meets", "met").replace("misses", "NOT met")]
        )  # fmt: skip
    return (
        table(
            ["seed", "final val WER", "best val WER", "epochs", "command wall s", "target <= 0.5"],
            rows,
        )
        + "\n\n`signcli train transformer --config examples/ctc.yaml --seed S` per seed.\n"
    )


if __name__ == "__main__":
    main()
