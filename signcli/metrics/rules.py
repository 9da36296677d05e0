"""The rules file of `signcli metrics-check` and the checks it makes (docs/architecture.md,
"metrics-check rules"). YAML or JSON:

    checks:
      - {metric: val_gloss_top1, at: best, min: 0.80}
      - {metric: train_loss, at: last, max: 0.50}
      - {metric: train_loss, decreases: true}

A rule is either a *bound* or a *trend*.

A bound picks one value of the metric with `at` and checks it against `min` and/or `max`
(inclusive: `min: 0.8` passes at 0.8):

    last     the metric's last logged value (the default when `at` is left out)
    best     its best value: the lowest for loss-like metrics and epoch_s, the highest otherwise
    min/max  its lowest / highest value over all epochs
    epoch:N  its value at epoch N (1-based; N past the run's last epoch is a usage error)

A trend compares the metric's last logged value with its first: `decreases: true` passes when
last < first, `increases: true` when last > first. Both are strict (a flat metric fails
both), and a run that logged the metric only once fails them: one value shows no trend.

Epochs that did not log a metric (no validation that epoch) are skipped, never read as 0.
A NaN value fails every check. A bound that is NaN or infinite is a malformed rule. Torch-free.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from signcli.core.errors import UsageError, did_you_mean
from signcli.core.structured import read_structured_file
from signcli.core.task_specs import metric_mode, task_spec
from signcli.metrics.jsonl import MetricsLog

COUNTERS = ("epoch", "step", "lr")  # no better direction; `best` makes no sense for them
TIMINGS = ("epoch_s", "samples_per_s")  # machine-dependent; baselines skip them unless named
# how batches were made, not how good the model is: no better direction either
BATCHING = ("train_pad_share",)

_EPOCH_AT = re.compile(r"^epoch\s*:\s*(\d+)$")
_AT_NAMES = ("last", "best", "min", "max")

Direction = Literal["min", "max"]


def better_direction(metric: str, task: str | None = None) -> Direction | None:
    """Which way `metric` improves: "min" for losses, error rates and epoch seconds, "max"
    for accuracies, BLEU and throughput, None for counters (epoch, step, lr). The run's
    `task` declares its metrics' directions (core/task_specs.py); without one, any task's.
    Batching statistics (train_pad_share) have none either."""
    if metric in COUNTERS or metric in BATCHING:
        return None
    if metric == "epoch_s" or metric.endswith("_loss"):
        return "min"
    declared = (metric_mode(metric, task) if task is not None else None) or metric_mode(metric)
    return "min" if declared == "min" else "max"


@dataclass(frozen=True)
class CheckResult:
    """One verdict: `observed` (None when there is no single value) against `bound`."""

    name: str  # what was checked, e.g. "val_gloss_top1 at best"
    metric: str
    observed: float | None
    bound: str  # human-readable, e.g. ">= 0.8"
    passed: bool
    detail: str  # where the value came from, e.g. "highest, at epoch 4"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["observed"] is not None and not math.isfinite(data["observed"]):
            data["observed"] = None  # JSON has no NaN or Infinity
        return data


class Rule(BaseModel):
    """One entry of `checks:`."""

    # allow_inf_nan=False: a bound of .nan or .inf is a malformed rule, not a check that
    # always fails (nan) or always passes (inf)
    model_config = ConfigDict(
        extra="forbid", use_attribute_docstrings=True, frozen=True, allow_inf_nan=False
    )

    metric: str = Field(min_length=1)
    """A key of metrics.jsonl, e.g. val_gloss_top1."""
    at: str | None = None
    """Bound rules: last (default), best, min, max or epoch:N."""
    min: float | None = None
    """Bound rules: the picked value must be >= this."""
    max: float | None = None
    """Bound rules: the picked value must be <= this."""
    decreases: bool = False
    """Trend rule: the last value must be lower than the first."""
    increases: bool = False
    """Trend rule: the last value must be higher than the first."""

    _source: str = PrivateAttr(default="")

    @model_validator(mode="before")
    @classmethod
    def _reject_false_trends(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("decreases", "increases"):
                if key in data and data[key] in (False, "false", "no", 0):
                    raise ValueError(f"{key}: false checks nothing; use true or drop the rule")
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> Rule:
        trend = self.decreases or self.increases
        bound = self.min is not None or self.max is not None
        if self.decreases and self.increases:
            raise ValueError("decreases and increases together can never pass; keep one")
        if trend and (bound or self.at is not None):
            raise ValueError(
                "a rule is a bound (at with min/max) or a trend (decreases/increases), not both;"
                " split it into two rules"
            )
        if not trend and not bound:
            raise ValueError("checks nothing: add min, max, decreases: true or increases: true")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}; no value can pass")
        if self.at is not None and self.at not in _AT_NAMES and not _EPOCH_AT.match(self.at):
            raise ValueError(f"at: must be last, best, min, max or epoch:N, got {self.at!r}")
        if self.at is not None and (match := _EPOCH_AT.match(self.at)) and int(match[1]) < 1:
            raise ValueError(f"at: epochs count from 1, got {self.at!r}")
        return self

    @property
    def at_epoch(self) -> int | None:
        match = _EPOCH_AT.match(self.at or "")
        return int(match[1]) if match else None

    @property
    def name(self) -> str:
        if self.decreases:
            return f"{self.metric} decreases"
        if self.increases:
            return f"{self.metric} increases"
        at = f"epoch:{self.at_epoch}" if self.at_epoch is not None else (self.at or "last")
        return f"{self.metric} at {at}"

    @property
    def label(self) -> str:
        """How error messages name the rule: its file, its number there and its text."""
        return self._source or self.name


def load_rules(path: Path) -> list[Rule]:
    """Read and validate a rules file; every malformed rule is reported, each on one line."""
    path = Path(path)
    data = _read_rules_file(path)
    if not isinstance(data, dict) or "checks" not in data:
        raise UsageError(
            f"{path}: expected a mapping with a `checks:` list",
            hint="e.g. checks: [{metric: val_gloss_top1, at: best, min: 0.8}]",
        )
    extra = sorted(set(data) - {"checks"})
    if extra:
        raise UsageError(f"{path}: unknown top-level key(s) {', '.join(extra)}; only `checks:`")
    entries = data["checks"]
    if not isinstance(entries, list) or not entries:
        raise UsageError(f"{path}: `checks:` must be a non-empty list of rules")
    rules: list[Rule] = []
    problems: list[str] = []
    for index, entry in enumerate(entries, 1):
        source = f"rule {index} {_flow(entry)}"
        if not isinstance(entry, dict):
            problems.append(f"{path}: {source}: expected a mapping like {{metric: ..., max: ...}}")
            continue
        try:
            rule = Rule.model_validate(entry)
        except ValidationError as exc:
            problems.extend(f"{path}: {source}: {_describe(error)}" for error in exc.errors())
            continue
        rule._source = f"{path}: {source}"  # evaluation errors name the file too
        rules.append(rule)
    if problems:
        raise UsageError("\n".join(problems))
    return rules


def evaluate_rules(
    log: MetricsLog, rules: Sequence[Rule], task: str | None = None
) -> list[CheckResult]:
    """One CheckResult per rule. Rules that cannot be evaluated on this run (unknown metric,
    a metric the run's `task` never produces, epoch past the end, `best` of a counter) are
    usage errors, all reported together. `task`: the run's, from its config.json (None: a
    metrics file without one, checked against its own keys only)."""
    results: list[CheckResult] = []
    problems: list[str] = []
    for rule in rules:
        try:
            results.append(_evaluate(log, rule, task))
        except UsageError as exc:
            problems.append(f"{rule.label}: {exc.message}")
    if problems:
        raise UsageError("\n".join(problems))
    return results


def unknown_metric(metric: str, known: Sequence[str], where: str) -> UsageError:
    """The error for a metric that is not in a run: the closest name and all that exist."""
    suggestion = did_you_mean(metric, known)
    return UsageError(f"unknown metric {metric!r}{suggestion}; {where} has: {', '.join(known)}")


def format_value(value: float) -> str:
    return f"{value:.6g}"


def _evaluate(log: MetricsLog, rule: Rule, task: str | None = None) -> CheckResult:
    series = log.series(rule.metric)
    if not series:
        if task is not None and rule.metric not in task_spec(task).logged_keys:
            produced = task_spec(task).logged_keys
            suggestion = did_you_mean(rule.metric, produced)
            raise UsageError(
                f"metric {rule.metric!r}{suggestion}: a run of task {task} never produces it "
                f"(its config.json says task {task}); it produces: {', '.join(produced)}"
            )
        raise unknown_metric(rule.metric, log.metric_names(), str(log.path))
    if rule.decreases or rule.increases:
        return _evaluate_trend(rule, series)
    epoch, value, detail = _pick(log, rule, series, task)
    passed = not math.isnan(value)
    passed = passed and (rule.min is None or value >= rule.min)
    passed = passed and (rule.max is None or value <= rule.max)
    bounds = []
    if rule.min is not None:
        bounds.append(f">= {format_value(rule.min)}")
    if rule.max is not None:
        bounds.append(f"<= {format_value(rule.max)}")
    return CheckResult(rule.name, rule.metric, value, " and ".join(bounds), passed, detail)


def _pick(
    log: MetricsLog, rule: Rule, series: list[tuple[int, float]], task: str | None = None
) -> tuple[int, float, str]:
    """The (epoch, value) a bound applies to, and a few words on where it came from."""
    at = rule.at or "last"
    wanted = rule.at_epoch
    if wanted is not None:
        if wanted > log.last_epoch:
            raise UsageError(
                f"epoch:{wanted} is past the end of the run (last epoch {log.last_epoch})"
            )
        values = [value for epoch, value in series if epoch == wanted]
        if not values:
            logged = ", ".join(str(epoch) for epoch, _ in series)
            raise UsageError(f"{rule.metric} was not logged at epoch {wanted} (logged: {logged})")
        return wanted, values[-1], f"epoch {wanted}"
    if at == "best":
        direction = better_direction(rule.metric, task)
        if direction is None:
            raise UsageError(f"{rule.metric} has no better direction; use at: min or at: max")
        at = direction
    if at == "last":
        epoch, value = series[-1]
        return epoch, value, f"last, epoch {epoch}"
    # NaN never wins: it sorts as the worst value either way
    if at == "min":
        epoch, value = min(series, key=lambda p: (math.isnan(p[1]), p[1]))
        words = "lowest"
    else:
        epoch, value = max(series, key=lambda p: (not math.isnan(p[1]), p[1]))
        words = "highest"
    if rule.at == "best":
        words = f"best ({words})"
    return epoch, value, f"{words}, epoch {epoch}"


def _evaluate_trend(rule: Rule, series: list[tuple[int, float]]) -> CheckResult:
    (first_epoch, first), (last_epoch, last) = series[0], series[-1]
    sign = "<" if rule.decreases else ">"
    bound = f"{sign} {format_value(first)}"
    if len(series) < 2:
        detail = f"logged once (epoch {first_epoch}); a trend needs two epochs"
        return CheckResult(rule.name, rule.metric, last, bound, False, detail)
    passed = last < first if rule.decreases else last > first
    detail = f"first {format_value(first)} (epoch {first_epoch}), last epoch {last_epoch}"
    return CheckResult(rule.name, rule.metric, last, bound, passed, detail)


def _read_rules_file(path: Path) -> Any:
    # the settings files' reader: UTF-8, at most 1 MB, YAML aliases that loop or multiply
    # refused before _flow could expand them into an error message
    return read_structured_file(path, "rules file", hint="check the --rules path")


def _flow(entry: Any) -> str:
    """A rule as the user wrote it, on one line: {metric: train_loss, at: lasst, max: 0.5}."""
    if isinstance(entry, dict):
        return "{" + ", ".join(f"{key}: {_flow(value)}" for key, value in entry.items()) + "}"
    if isinstance(entry, list):
        return "[" + ", ".join(_flow(value) for value in entry) + "]"
    if entry is None:
        return "null"
    if isinstance(entry, bool):
        return str(entry).lower()
    return str(entry)


def _describe(error: Any) -> str:
    """One pydantic error as `key: problem (got value)`."""
    location = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        fields = list(Rule.model_fields)
        close = difflib.get_close_matches(location, fields, n=1)
        suggestion = f"did you mean {close[0]}? " if close else ""
        return f"{location}: unknown key ({suggestion}known: {', '.join(fields)})"
    if error["type"] == "missing":
        return f"{location}: required"
    if not location:
        return message
    return f"{location}: {message} (got {_flow(error['input'])})"
