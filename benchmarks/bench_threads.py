"""signcli's own thread choice against fixed thread counts, on a quiet and on a loaded machine.

    python benchmarks/bench_threads.py [--rounds 3] [--epochs 8] [--load-procs N]

Each measurement is one `signcli train transformer` process on the bundled example
(examples/quickstart.yaml, and a wider model of the same data: d_model 128, batch 32) with
OMP_NUM_THREADS and MKL_NUM_THREADS removed from its environment, so that `default` is
what a new user gets; `1` and `all` pin `training.threads`. The figure of a run is the
median samples/s of its epochs after the first (the first reads the data). The three modes
alternate within each round, so they see the same machine; `load` repeats the rounds while
`--load-procs` CPU-bound processes (one per core by default) spin beside them. The load is
bounded: each process exits by itself after --load-max-s, and the benchmark stops them
when it is done. Target: default >= 0.9 x the best fixed count, quiet and under load.

The markdown table goes to docs/benchmarks/bench_threads.md (markdown_report.py: date, machine,
command, commit, load). On a machine that other people's jobs share, "quiet" means "without
the benchmark's own load": the table records the load average seen at the start.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from markdown_report import Report, add_markdown_argument  # noqa: E402

from signcli.core.cores import available_cores  # noqa: E402

CONFIGS = {
    "quickstart": [],
    "d_model 128, batch 32": [
        "model.d_model=128",
        "model.ff_dim=256",
        "model.num_heads=4",
        "training.batch_size=32",
    ],
}
SPIN = "import time\nend = time.time() + {limit}\nwhile time.time() < end:\n    pass\n"


def run_once(mode: str, overrides: list[str], epochs: int, work: Path, cores: int) -> float:
    """Median samples/s over epochs 2.. of one training process."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    threads = {"default": [], "1": ["training.threads=1"], "all": [f"training.threads={cores}"]}
    sets = [arg for value in [*overrides, *threads[mode]] for arg in ("--set", value)]
    command = [
        sys.executable,
        "-m",
        "signcli",
        "train",
        "transformer",
        "--config",
        str(ROOT / "examples" / "quickstart.yaml"),
        "--epochs",
        str(epochs),
        "--set",
        "training.early_stop=0",
        "--work-dir",
        str(work),
        "--overwrite",
        "--quiet",
        *sets,
    ]
    subprocess.run(command, check=True, env=env, cwd=ROOT, capture_output=True)
    lines = (work / "metrics.jsonl").read_text().splitlines()
    rates = [json.loads(line)["samples_per_s"] for line in lines[1:]]
    return statistics.median(rates)


def start_load(processes: int, limit_s: float) -> list[subprocess.Popen]:
    return [
        subprocess.Popen([sys.executable, "-c", SPIN.format(limit=limit_s)])
        for _ in range(processes)
    ]


def stop_load(load: list[subprocess.Popen]) -> None:
    for process in load:
        process.terminate()
    for process in load:
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--load-procs", type=int, default=None, help="default: one per core")
    parser.add_argument("--load-max-s", type=float, default=900.0)
    add_markdown_argument(parser, "bench_threads")
    args = parser.parse_args()
    report_page = Report.start("bench_threads", "signcli's thread choice vs fixed counts")
    cores = available_cores().count
    load_procs = args.load_procs or cores
    modes = ["default", "1", "all"]
    results: dict[tuple[str, str], dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for condition in ("quiet", "load"):
            load = start_load(load_procs, args.load_max_s) if condition == "load" else []
            try:
                time.sleep(1.0 if load else 0.0)
                for config, overrides in CONFIGS.items():
                    rates = results.setdefault((condition, config), {m: [] for m in modes})
                    for round_ in range(args.rounds):
                        # rotate the order so that no mode always runs first
                        for mode in modes[round_ % 3 :] + modes[: round_ % 3]:
                            work = Path(tmp) / mode
                            rate = run_once(mode, overrides, args.epochs, work, cores)
                            rates[mode].append(rate)
                            print(f"{condition:5s} {config:22s} {mode:7s} {rate:8.0f} samples/s")
            finally:
                stop_load(load)
    table = report(results, modes, cores)
    print(table)
    report_page.write(
        args.markdown,
        f"{cores} cores available; load = {load_procs} spinning processes started by the "
        "benchmark ('quiet' is without them, not an idle machine: see the load average).\n\n"
        "Median samples/s of each mode over the rounds (each run: median of epochs 2..); "
        "ratio = default / the best fixed count. On a machine shared with other jobs the "
        "runs of one mode vary a lot; compare within a row.\n\n" + table + "\n",
    )


def report(results: dict, modes: list[str], cores: int) -> str:
    rows = [
        f"| condition | config | default | 1 thread | {cores} threads | default / best fixed |",
        "|---|---|---|---|---|---|",
    ]
    for (condition, config), rates in results.items():
        median = {m: statistics.median(rates[m]) for m in modes}
        best = max(median["1"], median["all"])
        rows.append(
            f"| {condition} | {config} | {median['default']:.0f} | {median['1']:.0f} | "
            f"{median['all']:.0f} | {median['default'] / best:.2f} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
