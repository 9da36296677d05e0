"""Speed of `signcli validate-npz` on 10,000 files (T 40..80, D = 156). Target: <= 10 s.

    python benchmarks/bench_validate.py [DATASET_ROOT] [--files 10000] [--runs 5] [--workers N]

Without DATASET_ROOT, `make_npz_set.py` writes the set to a temp folder first. Each run
is the whole command in a fresh process (`python -m signcli validate-npz ROOT --json`,
default workers = every core), start-up and the labels CSVs included; the figure is the
median wall time of the runs. The files are in the page cache after the first run (and
after writing them), as they are when one validates a dataset one has just extracted.

Writes its table to docs/benchmarks/bench_validate.md (markdown_report.py).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from make_npz_set import make_npz_set  # noqa: E402 - a sibling script, not a package
from markdown_report import Report, add_markdown_argument, table  # noqa: E402 - a sibling

TARGET_S = 10.0


def time_validate(root: Path, runs: int, workers: int | None) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (the command and its workers, user + system) of each run."""
    command = [sys.executable, "-m", "signcli", "validate-npz", str(root), "--json"]
    if workers is not None:
        command += ["--workers", str(workers)]
    wall_s, cpu_s = [], []
    for _ in range(runs):
        cpu_before = _children_cpu_s()
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True)
        wall_s.append(time.perf_counter() - start)
        cpu_s.append(_children_cpu_s() - cpu_before)
        if result.returncode != 0:
            raise SystemExit(f"validate-npz exited {result.returncode}:\n{result.stderr}")
    return wall_s, cpu_s


def _children_cpu_s() -> float:
    # waited-for children and their waited-for workers: a figure that other load barely moves
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, nargs="?")
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=None)
    add_markdown_argument(parser, "bench_validate")
    args = parser.parse_args()
    report = Report.start("bench_validate", "`signcli validate-npz` on 10,000 files")

    with tempfile.TemporaryDirectory() as tmp:
        root = args.root
        if root is None:
            root = Path(tmp) / "data"
            print(f"writing {args.files} files to {root} ...")
            make_npz_set(root, args.files)
        files = sum(1 for _ in root.glob("*/*.npz")) or sum(1 for _ in root.glob("*.npz"))
        wall_s, cpu_s = time_validate(root, args.runs, args.workers)
    median_s = statistics.median(wall_s)
    print(f"runs: {', '.join(f'{t:.2f}' for t in wall_s)} s wall")
    print(
        f"validate-npz {files} files: median {median_s:.2f} s, {files / median_s:,.0f} files/s, "
        f"{statistics.median(cpu_s):.2f} CPU s "
        f"(target <= {TARGET_S:.0f} s for 10,000: {'met' if median_s <= TARGET_S else 'MISSED'})"
    )
    workers = "default (every core)" if args.workers is None else str(args.workers)
    body = table(
        ["files", "workers", "runs (wall s)", "median wall s", "files/s", "median CPU s"],
        [[f"{files:,}", workers, ", ".join(f"{t:.2f}" for t in wall_s), f"{median_s:.2f}",
          f"{files / median_s:,.0f}", f"{statistics.median(cpu_s):.2f}"]],
    )  # fmt: skip
    verdict = (
        ("met" if median_s <= TARGET_S else "NOT met")
        if files >= 10_000
        else "not judged: fewer files"
    )
    body += (
        f"\n\nTarget: <= {TARGET_S:.0f} s for 10,000 files ({verdict}). "
        "Each run is the whole command in a fresh process (T 40..80, D 156, with labels); "
        "CPU s is the command and its workers, user + system, which other load barely moves."
    )
    report.write(args.markdown, body)


if __name__ == "__main__":
    main()
