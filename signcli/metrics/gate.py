"""`check_metrics`: a run's metrics.jsonl against a rules file, a baseline run, or both.
This is what `signcli metrics-check` calls; the command only parses flags and prints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signcli.metrics.baseline import DEFAULT_RTOL, compare_to_baseline
from signcli.metrics.jsonl import read_metrics
from signcli.metrics.rules import CheckResult, evaluate_rules, load_rules


@dataclass
class CheckReport:
    metrics_path: Path
    checks: list[CheckResult]
    warnings: list[str] = field(default_factory=list)
    rules_path: Path | None = None
    baseline_path: Path | None = None

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> int:
        return sum(not check.passed for check in self.checks)

    def to_json(self) -> dict[str, Any]:
        """The `--json` document."""
        return {
            "metrics": str(self.metrics_path),
            "rules": None if self.rules_path is None else str(self.rules_path),
            "baseline": None if self.baseline_path is None else str(self.baseline_path),
            "passed": self.passed,
            "failures": self.failures,
            "checks": [check.to_dict() for check in self.checks],
            "warnings": list(self.warnings),
        }


def check_metrics(
    metrics_path: Path,
    rules_path: Path | None = None,
    baseline_path: Path | None = None,
    rtol: float = DEFAULT_RTOL,
    baseline_metrics: Sequence[str] | None = None,
) -> CheckReport:
    """Rule checks first, then baseline checks. Raises UsageError/DataError (exit 2) when the
    checks cannot run; a failed check is a CheckResult with passed=False, not an error."""
    log = read_metrics(metrics_path)
    report = CheckReport(Path(metrics_path), [], list(log.warnings), rules_path, baseline_path)
    if rules_path is not None:
        report.checks += evaluate_rules(log, load_rules(rules_path))
    if baseline_path is not None:
        baseline = read_metrics(baseline_path)
        report.warnings += baseline.warnings
        report.checks += compare_to_baseline(log, baseline, rtol, baseline_metrics)
    return report
