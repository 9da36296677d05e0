"""Compare a run with a baseline run (`metrics-check --baseline OTHER.jsonl --rtol R`).

Every metric the two runs share is compared at its last logged value (normally the last
epoch). Only a worsening beyond the tolerance fails; better is always fine:

    higher is better (accuracies, BLEU, samples_per_s)  pass if run >= base - rtol * |base|
    lower is better  (losses, WER, epoch_s)             pass if run <= base + rtol * |base|
    no direction     (epoch, step, lr)                  pass if |run - base| <= rtol * |base|

By default only quality metrics are compared: those a task declares with the direction in
which they improve (tasks/registry.py: losses, accuracies, WER, BLEU, ...). Timings
(epoch_s, samples_per_s) depend on the machine, counters (epoch, step, lr) and batching
statistics (train_pad_share) on the settings, and a hook's own keys say nothing of quality,
so they are compared only when named explicitly (`--metric`). A baseline value of 0
leaves no tolerance: the run must match it or be better. A baseline value that is NaN or
infinite cannot be compared with (an infinite loss would pass anything): it is an error
naming the file and line, not a verdict. Torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from signcli.core.errors import DataError, UsageError
from signcli.core.task_specs import metric_mode
from signcli.metrics.jsonl import MetricsLog
from signcli.metrics.rules import (
    COUNTERS,
    TIMINGS,
    CheckResult,
    better_direction,
    format_value,
    unknown_metric,
)

DEFAULT_RTOL = 0.05  # 5%: above the epoch-to-epoch noise of a short run, below a real regression
EXCLUDED_BY_DEFAULT = COUNTERS + TIMINGS


def compare_to_baseline(
    run: MetricsLog,
    baseline: MetricsLog,
    rtol: float = DEFAULT_RTOL,
    metrics: Sequence[str] | None = None,
) -> list[CheckResult]:
    """One CheckResult per compared metric: `metrics` if given, else every shared quality
    metric (one a task declares; not timings, counters or batching statistics)."""
    if not math.isfinite(rtol) or rtol < 0:
        raise UsageError(f"rtol must be a finite number >= 0, got {rtol:g}")
    baseline_names = set(baseline.metric_names())
    shared = [name for name in run.metric_names() if name in baseline_names]
    if metrics:
        missing = [name for name in metrics if name not in shared]
        if missing:
            problems = [
                unknown_metric(name, shared, "both runs together").message for name in missing
            ]
            raise UsageError("\n".join(problems))
        names = list(dict.fromkeys(metrics))
    else:
        names = [name for name in shared if is_quality_metric(name)]
        if not names:
            raise UsageError(
                f"{run.path} and {baseline.path} share no metric to compare: no quality "
                f"metric in common (shared: {', '.join(shared) or 'none'}; others need --metric)"
            )
    unusable = [name for name in names if not math.isfinite(baseline.series(name)[-1][1])]
    if unusable:
        raise DataError(
            "\n".join(
                f"{baseline.where(name)}: the baseline's {name} is "
                f"{format_value(baseline.series(name)[-1][1])}; cannot compare with it"
                for name in unusable
            ),
            hint="use a baseline run whose metrics are finite numbers",
        )
    return [_compare(run, baseline, name, rtol) for name in names]


def is_quality_metric(name: str) -> bool:
    """Whether `name` is a metric of a model's quality: declared by a task with a
    direction, and not a timing or counter."""
    return name not in EXCLUDED_BY_DEFAULT and metric_mode(name) is not None


def _compare(run: MetricsLog, baseline: MetricsLog, metric: str, rtol: float) -> CheckResult:
    _, value = run.series(metric)[-1]
    base_epoch, base = baseline.series(metric)[-1]
    allowed = rtol * abs(base)
    direction = better_direction(metric)
    if direction == "max":
        passed = value >= base - allowed
        bound = f">= {format_value(base - allowed)}"
        words = "higher is better"
    elif direction == "min":
        passed = value <= base + allowed
        bound = f"<= {format_value(base + allowed)}"
        words = "lower is better"
    else:
        passed = abs(value - base) <= allowed
        bound = f"{format_value(base - allowed)} .. {format_value(base + allowed)}"
        words = "must match"
    detail = f"baseline {format_value(base)} (epoch {base_epoch}); {words}"
    return CheckResult(f"{metric} vs baseline", metric, value, bound, passed, detail)
