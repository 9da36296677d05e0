"""The page a benchmark writes: `docs/benchmarks/<script>.md`, its table under one header
that says when, where, at which commit and with which command it was measured.

    report = Report.start("bench_engine", "Engine overhead: Trainer.fit vs a hand-written loop")
    ...                                  # the measurement
    report.write(args.markdown, table + "\\n\\nTarget: ratio >= 0.95: met\\n")

Every benchmark script imports this module (`python benchmarks/SCRIPT.py` puts this folder
on sys.path) and adds `--markdown PATH` with `add_markdown_argument` (default
docs/benchmarks/<script>.md; `-` writes nothing). The report sits between two snippet
markers (HTML comments, invisible on the page itself), so docs/benchmarks.md includes it
with `--8<-- "benchmarks/<script>.md:report"` and no figure is copied by hand. The machine
is shared with other sessions: the 1-minute load average at the start and at the end is
part of the header, and a figure is only as good as that load.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "docs" / "benchmarks"
SECTION = "report"  # the snippet section docs/benchmarks.md includes


def add_markdown_argument(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument(
        "--markdown",
        type=Path,
        default=PAGES / f"{name}.md",
        help=f"write the report here (default: docs/benchmarks/{name}.md; '-': nowhere)",
    )


def commit() -> str:
    """The short commit of the code measured, with a note when the tree has changes."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    changed = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=ROOT).returncode != 0
    return f"{head} (with uncommitted changes)" if changed else head or "unknown"


def machine() -> str:
    """Host, usable CPUs, architecture, Python and (when loaded) torch."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parts = [
        f"{platform.node()}, {cpus} CPUs ({platform.processor() or platform.machine()})",
        f"{platform.system()}, Python {platform.python_version()}",
    ]
    torch = sys.modules.get("torch")
    if torch is not None:
        parts.append(f"torch {torch.__version__}")
    return ", ".join(parts)


@dataclass
class Report:
    """What the header needs, taken when the measurement starts (commit and load then)."""

    name: str
    title: str
    started: datetime
    started_s: float
    commit: str
    load_start: float
    argv: list[str]

    @classmethod
    def start(cls, name: str, title: str) -> Report:
        return cls(
            name=name,
            title=title,
            started=datetime.now(UTC),
            started_s=time.perf_counter(),
            commit=commit(),
            load_start=os.getloadavg()[0],
            argv=sys.argv[1:],
        )

    def header(self) -> str:
        took = time.perf_counter() - self.started_s
        command = shlex.join(["python", f"benchmarks/{self.name}.py", *self.argv])
        return (
            f"Written by `benchmarks/{self.name}.py`; run the command again to replace it.\n\n"
            f"- measured: {self.started:%Y-%m-%d %H:%M} UTC ({took:.0f} s)\n"
            f"- machine: {machine()}; load average (1 min) {self.load_start:.1f} at the "
            f"start, {os.getloadavg()[0]:.1f} at the end (the machine is shared)\n"
            f"- commit: {self.commit}\n"
            f"- command: `{command}`\n"
        )

    def write(self, path: Path | None, body: str) -> Path | None:
        """Write the page (title, header, `body`) to `path`; None or `-`: print only."""
        page = (
            f"# {self.name}: {self.title}\n\n"
            f"<!-- --8<-- [start:{SECTION}] -->\n"
            f"{self.header()}\n{body.strip()}\n"
            f"<!-- --8<-- [end:{SECTION}] -->\n"
        )
        print(page)
        if path is None or str(path) == "-":
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, path)
        return path


def table(header: list[str], rows: list[list[object]]) -> str:
    """A markdown table; floats as given (format them before)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
