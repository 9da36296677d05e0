"""Fuzz `metrics-check`: metrics.jsonl files (lines of random objects over the real metric
names, numbers past float and past Python's digit limit, NaN and Infinity as Python writes
them, torn and blank lines, lines that are not objects, bytes that are not UTF-8), rules
files (YAML and JSON documents of random rules, mangled or not) and baselines.

`check_metrics` returns a report, whose `--json` form is valid JSON, or raises a
SigncliError naming the file; `metrics-check` exits 0, 1 or 2 without a traceback or an
"unexpected" error; `resume_metrics` (what `resume` does to the file) leaves one line per
finished epoch or raises a SigncliError, and writes only the file it was given."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import Sandbox, expect_only, fuzz, invoke, message_names, run_bounded
from tests.fuzz.strategies import HUGE, mangled, plain_data, scalars, to_json, to_yaml

# property-based fuzzing of a reader or command: the full lane runs it
pytestmark = pytest.mark.slow

METRICS = [
    "epoch", "step", "lr", "train_loss", "train_gloss_top1", "val_loss", "val_gloss_top1",
    "val_gloss_top5", "val_cat_top1", "epoch_s", "samples_per_s", "val_wer", "val_bleu",
    "train_pad_share",
]  # fmt: skip
numbers = st.one_of(
    st.floats(),
    st.integers(),
    st.integers(0, 5),
    st.sampled_from([10**400, -(10**400), 2**63, 1e308, 0.0, -0.0]),
)
metric_values = numbers | numbers | scalars


@st.composite
def metrics_lines(draw: st.DrawFn) -> bytes:
    """A metrics.jsonl. Clean (two times in three): one object per epoch over the real
    names with numbers (NaN, infinities, -0.0, 1e308 included), epochs in order, maybe a
    torn last line or blank lines. Dirty: epochs missing, repeated or odd, values of any
    type, lines that are not objects, mangled text, or random bytes."""
    dirty = draw(st.integers(0, 2)) == 0
    if dirty and draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=120))
    value = metric_values if dirty else numbers
    lines = []
    epoch = 0
    for _ in range(draw(st.integers(0 if dirty else 1, 6))):
        epoch += draw(st.sampled_from([1, 1, 1, 0, 2, -1])) if dirty else 1
        record: dict[str, Any] = {}
        if not dirty or draw(st.integers(0, 8)):
            record["epoch"] = epoch if not dirty or draw(st.integers(0, 5)) else draw(value)
        names = st.sampled_from(METRICS[1:]) | (st.text(max_size=6) if dirty else st.nothing())
        for name in draw(st.lists(names, max_size=5)):
            record[name] = draw(value)
        plain = dirty and draw(st.integers(0, 8)) == 0
        lines.append(to_json(draw(plain_data())) if plain else to_json(record))
        if draw(st.integers(0, 6)) == 0:
            lines.append(draw(st.sampled_from(["", "   ", "\t"])))
    text = "\n".join(lines)
    if lines and draw(st.booleans()):
        text += "\n"
    if draw(st.integers(0, 5)) == 0:  # a torn last line
        text += draw(st.sampled_from(['{"epoch": ', '{"epo', "{", '{"epoch": 3, "val_loss": 0.']))
    if dirty and draw(st.integers(0, 3)) == 0:
        text = draw(mangled(text))
    return text.encode("utf-8", errors="surrogatepass")


rule_values = st.one_of(
    st.sampled_from(METRICS),
    st.sampled_from(["last", "best", "min", "max", "epoch:1", "epoch:3", "epoch: 2", "epoch:0"]),
    st.sampled_from(["epoch:" + "9" * 30, "epoch:" + HUGE, "epoch:٣", HUGE, True, "no"]),
    numbers,
    scalars,
)
RULE_KEYS = ["metric", "at", "min", "max", "decreases", "increases"]


@st.composite
def clean_rule(draw: st.DrawFn) -> dict[str, Any]:
    """A rule as a person writes one: a bound (at, min and/or max) or a trend."""
    rule: dict[str, Any] = {"metric": draw(st.sampled_from(METRICS))}
    if draw(st.booleans()):
        rule[draw(st.sampled_from(["decreases", "increases"]))] = True
        return rule
    if draw(st.booleans()):
        rule["at"] = draw(st.sampled_from(["last", "best", "min", "max", "epoch:1", "epoch:3"]))
    for bound in draw(
        st.lists(st.sampled_from(["min", "max"]), min_size=1, max_size=2, unique=True)
    ):
        rule[bound] = draw(numbers)
    return rule


@st.composite
def rules_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """(file name, content) of a --rules file: a `checks:` list of rules as people write
    them, or (dirty, one time in three) of random rules over the real keys, as YAML or
    JSON, sometimes mangled or not a rules file at all."""
    dirty = draw(st.integers(0, 2)) == 0
    random_rule = st.dictionaries(
        st.sampled_from(RULE_KEYS) | st.text(max_size=5), rule_values, max_size=4
    )
    rule = (random_rule | clean_rule() | plain_data(max_leaves=3)) if dirty else clean_rule()
    document: Any = {"checks": draw(st.lists(rule, min_size=0 if dirty else 1, max_size=4))}
    if dirty and draw(st.integers(0, 3)) == 0:
        document = draw(plain_data(st.sampled_from(["checks", *RULE_KEYS])))
    elif dirty and draw(st.integers(0, 3)) == 0:
        document["extra"] = draw(scalars)
    suffix = draw(st.sampled_from([".yaml", ".json", ".yml"]))
    text = to_json(document) if suffix == ".json" else to_yaml(document)
    if dirty and draw(st.integers(0, 2)) == 0:
        text = draw(mangled(text))
    return "rules" + suffix, text.encode("utf-8", errors="surrogatepass")


def _check(metrics: Path, rules: Path | None, baseline: Path | None, rtol: float) -> str:
    from signcli.core.errors import SigncliError
    from signcli.metrics.gate import check_metrics

    report = expect_only(
        lambda: check_metrics(metrics, rules_path=rules, baseline_path=baseline, rtol=rtol),
        (SigncliError,),
    )
    if isinstance(report, SigncliError):
        if not math.isfinite(rtol) and str(report).startswith("rtol"):
            return "refused (rtol)"  # the argument is what is wrong, and the message says so
        message_names(report, *(p for p in (metrics, rules, baseline) if p is not None))
        return f"refused ({type(report).__name__})"
    document = json.dumps(report.to_json(), allow_nan=False)  # --json: valid JSON
    assert json.loads(document)["passed"] == report.passed
    for check in report.checks:
        assert check.observed is None or isinstance(check.observed, (int, float))
    return "passed" if report.passed else "failed"


@fuzz(40, long=4000)
@given(
    metrics=metrics_lines(),
    rules=st.none() | rules_files(),
    baseline=st.none() | metrics_lines(),
    rtol=st.sampled_from([0.05, 0.0, 1e308]) | st.floats(min_value=0),
)
def test_check_metrics_returns_a_report_or_a_signcli_error(
    metrics: bytes, rules, baseline, rtol: float, tmp_path: Path
) -> None:
    with Sandbox(tmp_path) as box:
        metrics_path = box.file("metrics.jsonl", metrics)
        rules_path = box.file(*rules) if rules is not None else None
        baseline_path = box.file("baseline.jsonl", baseline) if baseline is not None else None
        if rules_path is None and baseline_path is None:
            rules_path = box.file("rules.yaml", "checks: [{metric: train_loss, max: 1}]\n")
        box.freeze()
        run_bounded(lambda: _check(metrics_path, rules_path, baseline_path, rtol))


@fuzz(5, long=1500)
@given(
    metrics=metrics_lines(),
    rules=rules_files(),
    baseline=st.none() | metrics_lines(),
    json_out=st.booleans(),
    junit=st.booleans(),
)
def test_metrics_check_exits_0_1_or_2(
    metrics: bytes, rules, baseline, json_out: bool, junit: bool, tmp_path: Path
) -> None:
    with Sandbox(tmp_path) as box:
        args = ["metrics-check", str(box.file("metrics.jsonl", metrics))]
        args += ["--rules", str(box.file(*rules))]
        if baseline is not None:
            args += ["--baseline", str(box.file("baseline.jsonl", baseline))]
        args += ["--json"] if json_out else []
        args += ["--junit", "report.xml"] if junit else []
        box.freeze()
        code, output = run_bounded(lambda: invoke(args), fork=True)
        if json_out and code in (0, 1):
            json.loads(output[output.index("{") :])  # one JSON document (warnings before it)


def _resume(path: Path, done: int, record: Any) -> str:
    from signcli.core.errors import SigncliError
    from signcli.metrics.jsonl import read_metrics, resume_metrics

    warnings = expect_only(lambda: resume_metrics(path, done, record), (SigncliError,))
    if isinstance(warnings, SigncliError):
        message_names(warnings, path)
        return "refused"
    assert all(isinstance(w, str) and str(path) in w for w in warnings)
    if done >= 1 and path.stat().st_size:
        epochs = [int(r["epoch"]) for r in read_metrics(path).records]
        assert epochs == sorted(set(epochs)) and all(1 <= e <= done for e in epochs), epochs
    return "rewritten"


@fuzz(20, long=3000)
@given(
    metrics=metrics_lines(),
    done=st.integers(0, 8),
    record=st.none() | st.dictionaries(st.sampled_from(METRICS), metric_values, max_size=4),
    its_epoch=st.booleans(),
)
def test_resume_metrics_leaves_one_line_per_finished_epoch(
    metrics: bytes, done: int, record, its_epoch: bool, tmp_path: Path
) -> None:
    with Sandbox(tmp_path) as box:
        path = box.work / "run" / "metrics.jsonl"  # resume rewrites the run's own file
        path.parent.mkdir()
        path.write_bytes(metrics)
        if isinstance(record, dict) and its_epoch:  # the checkpoint's metrics of its epoch
            record["epoch"] = done
        record = _as_the_hook_keeps(record)
        run_bounded(lambda: _resume(path, done, record))


def _as_the_hook_keeps(record: dict | None) -> dict | None:
    """The record a checkpoint's metrics_log hook state may hold: MetricsLogHook refuses
    one that is not a metrics line when it loads (a CheckpointError of resume)."""
    from signcli.metrics.jsonl import format_record

    try:
        return None if record is None else json.loads(format_record(record))
    except ValueError:
        return None
