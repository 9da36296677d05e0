"""Data-parallel speed-up on CPU: `signcli train` as 1 process against torchrun with N (gloo).

    python benchmarks/bench_ddp.py [--samples 1024] [--epochs 4] [--procs 2] [--rounds 2]

Each process gets one math thread (OMP_NUM_THREADS=1), so N processes use N cores and one
process uses one: the figure is how well the work splits, not how well torch threads.
Same synthetic data (written once), same model, same global batch; the runs alternate
(1, N, 1, N, ...) so both see the same machine load. The figure per run is the median of
the `samples_per_s` of its epochs after the first (training only: validation, checkpoints
and process start are not in it), and the ratio to ideal is speed-up / N.
Target: 2 processes on 2 cores >= 1.6x one process. Check `uptime` first: other work on
the machine lowers the figure of the run that needs more cores; `--apart` also runs N
independent one-process runs at once, whose summed rate is what the cores give under the
current load, so DDP can be judged against it on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from markdown_report import Report, add_markdown_argument, table

MODEL = ["model.d_model=128", "model.num_layers=2", "model.num_heads=4", "model.ff_dim=256"]


def train_command(data: Path, work: Path, args: argparse.Namespace) -> list[str]:
    sets = [*MODEL, f"training.batch_size={args.batch_size}", "optim.scheduler=none"]
    return [
        "-m", "signcli", "train", "transformer",
        "--train-dir", str(data / "train"), "--train-labels", str(data / "train_labels.csv"),
        "--val-dir", str(data / "val"), "--val-labels", str(data / "val_labels.csv"),
        "--epochs", str(args.epochs), "--device", "cpu", "--quiet",
        "--work-dir", str(work), *[part for item in sets for part in ("--set", item)],
    ]  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(data: Path, work: Path, procs: int, args: argparse.Namespace, copies: int = 1) -> float:
    """Median samples/s of the epochs after the first, of one run with `procs` processes
    (`copies` independent runs at once: the sum of their rates)."""
    command = [sys.executable, *train_command(data, work, args)]
    if procs > 1:
        command[1:1] = [
            "-m", "torch.distributed.run", "--nproc_per_node", str(procs),
            "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{free_port()}",
        ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    works = [work.with_name(f"{work.name}_{i}") for i in range(copies)]
    processes = [
        subprocess.Popen(
            [part if part != str(work) else str(w) for part in command],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in works
    ]
    for process in processes:
        _, stderr = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{stderr[-3000:]}")
    total = 0.0
    for w in works:
        lines = (w / "metrics.jsonl").read_text().splitlines()
        rates = [json.loads(line)["samples_per_s"] for line in lines][1:]  # epoch 1 warms up
        total += statistics.median(rates)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1024, help="training samples")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32, help="the global batch")
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each, alternating")
    parser.add_argument(
        "--apart",
        action="store_true",
        help="also run N independent 1-process runs at once: the throughput the cores give "
        "under the current load, to compare DDP with on a busy machine",
    )
    add_markdown_argument(parser, "bench_ddp")
    args = parser.parse_args()
    report = Report.start("bench_ddp", "torchrun (gloo) on CPU vs one process")

    from signcli.data.synthetic import write_npz_dataset

    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        data = write_npz_dataset(
            Path(tmp) / "data", n_train=args.samples, n_val=64, num_gloss=20, num_cat=4
        )
        one, many, apart = [], [], []
        kinds = [("1 process", 1, 1, one), (f"{args.procs} processes", args.procs, 1, many)]
        if args.apart:
            kinds.append((f"{args.procs} separate runs", 1, args.procs, apart))
        for round_ in range(args.rounds):
            for label, procs, copies, rates in kinds:
                started = time.perf_counter()
                work = Path(tmp) / f"run{round_}_{procs}_{copies}"
                rates.append(run(data, work, procs, args, copies))
                print(
                    f"round {round_ + 1}: {label}: {rates[-1]:.0f} samples/s "
                    f"({time.perf_counter() - started:.0f} s with start-up)"
                )
    rate_one, rate_many = statistics.median(one), statistics.median(many)
    speedup = rate_many / rate_one
    print(
        f"median samples/s: 1 process {rate_one:.0f}, {args.procs} processes {rate_many:.0f}; "
        f"speed-up {speedup:.2f}x, {speedup / args.procs:.0%} of ideal "
        f"(target >= {0.8 * args.procs:.1f}x)"
    )
    if apart:
        rate_apart = statistics.median(apart)
        print(
            f"{args.procs} separate 1-process runs at once: {rate_apart:.0f} samples/s in all "
            f"(what the cores give under this load); DDP reaches {rate_many / rate_apart:.0%}"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    rows = [
        ["1 process", ", ".join(f"{r:.0f}" for r in one), f"{rate_one:.0f}", "1.00"],
        [f"{args.procs} processes (torchrun, gloo)", ", ".join(f"{r:.0f}" for r in many),
         f"{rate_many:.0f}", f"**{speedup:.2f}**"],
    ]  # fmt: skip
    if apart:
        rows.append(
            [f"{args.procs} separate 1-process runs at once", ", ".join(f"{r:.0f}" for r in apart),
             f"{rate_apart:.0f}", f"{rate_apart / rate_one:.2f}"]
        )  # fmt: skip
    body = table(["run", "samples/s per round", "median samples/s", "ratio to 1 process"], rows)
    target = 0.8 * args.procs
    body += (
        f"\n\n{args.samples} synthetic samples, global batch {args.batch_size}, d_model 128, "
        f"2 layers, one math thread per process, {args.epochs} epochs (samples/s: median of the "
        f"epochs after the first); {args.rounds} round(s), the kinds alternating. Target: "
        f">= {target:.1f}x ({'met' if speedup >= target else 'NOT met'})."
    )
    report.write(args.markdown, body)


if __name__ == "__main__":
    main()
