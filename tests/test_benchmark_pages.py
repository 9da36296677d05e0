"""The Benchmarks page copies no figure by hand: each table is a page a benchmark script
writes (benchmarks/markdown_report.py), included with a snippet; every page it includes
exists, carries the header (date, machine, commit, command) and the snippet section."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "benchmarks.md"
INCLUDE = re.compile(r'^--8<-- "benchmarks/([\w-]+)\.md:report"$', re.M)


def load_report_module():
    path = ROOT / "benchmarks" / "markdown_report.py"
    spec = importlib.util.spec_from_file_location("markdown_report", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["markdown_report"] = module  # dataclasses look the module up by name
    spec.loader.exec_module(module)
    return module


def test_every_included_page_exists_with_its_header_and_section() -> None:
    included = INCLUDE.findall(PAGE.read_text())
    assert len(included) >= 10
    for name in included:
        text = (ROOT / "docs" / "benchmarks" / f"{name}.md").read_text()
        assert "<!-- --8<-- [start:report] -->" in text and "<!-- --8<-- [end:report] -->" in text
        for field in ("- measured: 20", "- machine: ", "- commit: ", "- command: "):
            assert field in text, f"{name}.md has no {field!r}"


def test_every_script_the_page_includes_writes_its_page_with_the_helper() -> None:
    for name in INCLUDE.findall(PAGE.read_text()):
        script = ROOT / "benchmarks" / f"{name.split('-')[0]}.py"
        assert "from markdown_report import" in script.read_text(), script.name


def test_a_report_has_the_header_the_table_and_the_markers(tmp_path: Path) -> None:
    report_module = load_report_module()
    report = report_module.Report.start("bench_x", "a title")
    body = report_module.table(["a", "b"], [[1, "2.0"]])
    written = report.write(tmp_path / "bench_x.md", body)
    text = written.read_text()
    assert text.startswith("# bench_x: a title\n")
    assert "| a | b |\n|---|---|\n| 1 | 2.0 |" in text
    assert re.search(r"- measured: \d{4}-\d\d-\d\d \d\d:\d\d UTC", text)
    assert "- command: `python benchmarks/bench_x.py" in text
    assert "load average (1 min)" in text
    assert report.write(Path("-"), body) is None  # '-': print only
