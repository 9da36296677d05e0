"""Start-up cost of the CLI: median wall time of `signcli --help`. Target: <= 0.35 s.

    python benchmarks/bench_cli_help.py [--runs 15] [--command validate-npz]

Each run is a fresh process of the installed `signcli` script (`python -m signcli` when
the script is not on PATH), so the figure is what a user waits for at the prompt:
interpreter start-up, Typer, and every command module's import-time cost. One warm-up
run first, so that the figures do not include a cold disk cache. With --command, times
`signcli COMMAND --help` as well.

Writes its table to docs/benchmarks/bench_cli_help.md (markdown_report.py): the figures
the documentation shows.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time

from markdown_report import Report, add_markdown_argument, table

TARGET_S = 0.35


def median_wall_s(command: list[str], runs: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (user + system) of `runs` runs: on a
    loaded machine the wall time waits for a core, the CPU time much less."""
    subprocess.run(command, capture_output=True, check=True)  # warm-up
    timings, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        timings.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(timings), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--command", action="append", default=[], help="also time COMMAND --help")
    add_markdown_argument(parser, "bench_cli_help")
    args = parser.parse_args()
    report = Report.start("bench_cli_help", "start-up time of `signcli --help`")

    script = shutil.which("signcli")
    base = [script] if script else [sys.executable, "-m", "signcli"]
    rows = []
    for extra in [[], *([name] for name in args.command)]:
        label = " ".join(["signcli", *extra, "--help"])
        median_s, cpu_s = median_wall_s([*base, *extra, "--help"], args.runs)
        verdict = "met" if median_s <= TARGET_S else "MISSED"
        print(
            f"{label}: median {median_s:.3f} s over {args.runs} runs (target <= {TARGET_S} s: {verdict})"
        )
        rows.append([f"`{label}`", f"{median_s:.3f}", f"{cpu_s:.3f}", f"<= {TARGET_S}", verdict])
    header = ["command", f"median wall s ({args.runs} runs)", "median CPU s", "target s", "target"]
    body = table(header, rows)
    body += (
        "\n\nEach run is a fresh process of the installed `signcli` script, after one warm-up "
        "run: what a user waits for at the prompt. The target is on wall time on a quiet "
        "machine; under load the CPU time (user + system) is the steadier figure."
    )
    report.write(args.markdown, body)


if __name__ == "__main__":
    main()
