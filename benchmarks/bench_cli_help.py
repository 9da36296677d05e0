"""Start-up cost of the CLI: median wall time of `signcli --help`. Target: <= 0.35 s.

    python benchmarks/bench_cli_help.py [--runs 15] [--command validate-npz]

Each run is a fresh process of the installed `signcli` script (`python -m signcli` when
the script is not on PATH), so the figure is what a user waits for at the prompt:
interpreter start-up, Typer, and every command module's import-time cost. One warm-up
run first, so that the figures do not include a cold disk cache. With --command, times
`signcli COMMAND --help` as well.

Measured on the 2-core development machine (CPU only), 15 runs, seven commands registered:
`signcli --help` median 0.208 s; `signcli validate-npz --help` median 0.312 s.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

TARGET_S = 0.35


def median_wall_s(command: list[str], runs: int) -> float:
    subprocess.run(command, capture_output=True, check=True)  # warm-up
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--command", action="append", default=[], help="also time COMMAND --help")
    args = parser.parse_args()

    script = shutil.which("signcli")
    base = [script] if script else [sys.executable, "-m", "signcli"]
    for extra in [[], *([name] for name in args.command)]:
        label = " ".join(["signcli", *extra, "--help"])
        median_s = median_wall_s([*base, *extra, "--help"], args.runs)
        verdict = "met" if median_s <= TARGET_S else "MISSED"
        print(
            f"{label}: median {median_s:.3f} s over {args.runs} runs (target <= {TARGET_S} s: {verdict})"
        )


if __name__ == "__main__":
    main()
