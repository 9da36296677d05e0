"""The checks of `metrics-check` as a JUnit XML report, the format CI systems (GitHub Actions
reporters, GitLab, Jenkins) read as test results: one <testsuite>, one <testcase> per check,
a <failure> in each failed one, the file's warnings in <system-err>. Torch-free."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from signcli.core.atomic import atomic_write, check_output_file, ensure_folder
from signcli.metrics.rules import CheckResult, format_value

SUITE_NAME = "signcli metrics-check"


def junit_xml(
    checks: Sequence[CheckResult],
    warnings: Sequence[str] = (),
    properties: dict[str, str] | None = None,
) -> str:
    """The report as a string (XML declaration included)."""
    failures = sum(not check.passed for check in checks)
    counts = {"tests": str(len(checks)), "failures": str(failures), "errors": "0"}
    root = ET.Element("testsuites", {"name": SUITE_NAME, **counts})
    suite = ET.SubElement(root, "testsuite", {"name": SUITE_NAME, **counts, "skipped": "0"})
    if properties:
        props = ET.SubElement(suite, "properties")
        for name, value in properties.items():
            ET.SubElement(props, "property", {"name": name, "value": value})
    seen: dict[str, int] = {}
    for check in checks:
        # CI systems track tests by name across runs: keep names stable and unique
        seen[check.name] = seen.get(check.name, 0) + 1
        name = check.name if seen[check.name] == 1 else f"{check.name} ({seen[check.name]})"
        case = ET.SubElement(
            suite, "testcase", {"classname": "metrics-check", "name": name, "time": "0"}
        )
        observed = "n/a" if check.observed is None else format_value(check.observed)
        summary = f"observed {observed}, expected {check.bound} ({check.detail})"
        if check.passed:
            ET.SubElement(case, "system-out").text = summary
        else:
            failure = ET.SubElement(case, "failure", {"message": summary, "type": "MetricCheck"})
            failure.text = summary
    if warnings:
        ET.SubElement(suite, "system-err").text = "\n".join(warnings)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(
    path: Path,
    checks: Sequence[CheckResult],
    warnings: Sequence[str] = (),
    properties: dict[str, str] | None = None,
) -> None:
    """Write the report atomically, creating its folder if needed."""
    path = Path(path)
    check_output_file(path, "--junit")
    ensure_folder(path.parent, "--junit folder")
    atomic_write(path, junit_xml(checks, warnings, properties))
