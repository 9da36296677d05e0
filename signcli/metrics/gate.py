"""`check_metrics`: a run's metrics.jsonl against a rules file, a baseline run, or both.
This is what `signcli metrics-check` calls; the command only parses flags and prints.

Given a run's work directory, or a metrics.jsonl beside the run's config.json, the rules
are checked against the run's task too (core/task_specs.py): a rule on a metric the task
never produces is refused naming the ones it does, and `at: best` follows the task's
direction of each metric. A plain metrics.jsonl is checked against its own keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signcli.core.errors import UsageError
from signcli.core.task_specs import DEFAULT_TASK, TASKS
from signcli.metrics.baseline import DEFAULT_RTOL, compare_to_baseline
from signcli.metrics.jsonl import read_metrics
from signcli.metrics.rules import CheckResult, evaluate_rules, load_rules

CONFIG_FILE = "config.json"  # engine/workdir.py's name (that module is not imported here)
METRICS_FILE = "metrics.jsonl"


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
    checks cannot run; a failed check is a CheckResult with passed=False, not an error.
    `metrics_path` may be a run's work directory (its metrics.jsonl is read)."""
    metrics_path = Path(metrics_path)
    if _is(metrics_path, Path.is_dir):
        metrics_path = metrics_path / METRICS_FILE
    log = read_metrics(metrics_path)
    report = CheckReport(metrics_path, [], list(log.warnings), rules_path, baseline_path)
    task, warning = run_task(metrics_path)
    if warning is not None:
        report.warnings.append(warning)
    if rules_path is not None:
        report.checks += evaluate_rules(log, load_rules(rules_path), task)
    if baseline_path is not None:
        baseline = read_metrics(baseline_path)
        report.warnings += baseline.warnings
        report.checks += compare_to_baseline(log, baseline, rtol, baseline_metrics)
    return report


def run_task(metrics_path: Path) -> tuple[str | None, str | None]:
    """The task of the run that wrote `metrics_path`, from the config.json beside it
    (`model.task`; a config.json without it is a classification run), and a warning when
    that file exists but says nothing usable. (None, None) without a config.json."""
    from signcli.core.structured import read_structured_file

    config = Path(metrics_path).parent / CONFIG_FILE
    if not _is(config, Path.is_file):
        return None, None
    try:
        stored = read_structured_file(config, "run config")
    except UsageError as exc:
        return None, f"{exc.message}: rules are checked against the metrics file only"
    model = stored.get("model") if isinstance(stored, dict) else None
    task = model.get("task", DEFAULT_TASK) if isinstance(model, dict) else None
    if not isinstance(task, str) or task not in TASKS:
        shown = "no model section" if task is None else f"the unknown task {task!r}"
        return None, f"{config} names {shown}: rules are checked against the metrics file only"
    return task, None


def _is(path: Path, test: Any) -> bool:
    """`path.is_dir()` / `is_file()`, False for a path the system cannot stat (too long):
    the reader that opens it says what is wrong."""
    try:
        return bool(test(path))
    except OSError:
        return False
