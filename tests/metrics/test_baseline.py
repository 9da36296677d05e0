"""Baseline comparison: only a worsening beyond rtol fails; timings and counters need naming."""

from __future__ import annotations

import pytest

from signcli.core.errors import DataError, UsageError
from signcli.metrics.baseline import compare_to_baseline
from signcli.metrics.jsonl import read_metrics


def compare(write_jsonl, run_records, last_changes: dict, rtol: float = 0.05, metrics=None):
    """Compare the reference run (baseline) with a copy whose last epoch has `last_changes`."""
    baseline = read_metrics(write_jsonl(run_records, name="baseline.jsonl"))
    changed = [dict(r) for r in run_records]
    changed[-1].update(last_changes)
    run = read_metrics(write_jsonl(changed, name="run.jsonl"))
    return {c.metric: c for c in compare_to_baseline(run, baseline, rtol, metrics)}


def test_same_run_passes_and_skips_timings_and_counters(write_jsonl, run_records) -> None:
    results = compare(write_jsonl, run_records, {})
    assert list(results) == ["train_loss", "val_loss", "val_gloss_top1"]
    assert all(c.passed for c in results.values())
    assert results["val_gloss_top1"].name == "val_gloss_top1 vs baseline"


@pytest.mark.parametrize(
    ("metric", "value", "passed"),
    [
        # baseline at the last epoch: val_gloss_top1 0.80, train_loss 0.9; rtol 0.05
        ("val_gloss_top1", 0.99, True),  # higher accuracy is always fine
        ("val_gloss_top1", 0.77, True),  # 0.80 - 0.04 = 0.76 allowed
        ("val_gloss_top1", 0.75, False),
        ("train_loss", 0.10, True),  # lower loss is always fine
        ("train_loss", 0.94, True),  # 0.9 + 0.045 allowed
        ("train_loss", 0.96, False),
    ],
)
def test_only_a_worsening_beyond_rtol_fails(write_jsonl, run_records, metric, value, passed):
    result = compare(write_jsonl, run_records, {metric: value})[metric]
    assert result.passed is passed and result.observed == value


def test_rtol_zero_means_no_worse_than_baseline(write_jsonl, run_records) -> None:
    results = compare(write_jsonl, run_records, {"val_gloss_top1": 0.7999}, rtol=0.0)
    assert not results["val_gloss_top1"].passed and results["train_loss"].passed


def test_timings_count_only_when_named(write_jsonl, run_records) -> None:
    slow = {"epoch_s": 10.0, "samples_per_s": 10.0}
    assert all(c.passed for c in compare(write_jsonl, run_records, slow).values())
    named = compare(write_jsonl, run_records, slow, metrics=["epoch_s", "samples_per_s"])
    assert list(named) == ["epoch_s", "samples_per_s"]
    assert not named["epoch_s"].passed and not named["samples_per_s"].passed
    fast = compare(write_jsonl, run_records, {"epoch_s": 0.1}, metrics=["epoch_s"])
    assert fast["epoch_s"].passed


def test_named_counter_must_match_both_ways(write_jsonl, run_records) -> None:
    # lr 1e-4 at the last epoch: no better direction, so +-rtol either way
    assert compare(write_jsonl, run_records, {"lr": 1.04e-4}, metrics=["lr"])["lr"].passed
    assert not compare(write_jsonl, run_records, {"lr": 1.1e-4}, metrics=["lr"])["lr"].passed
    assert not compare(write_jsonl, run_records, {"lr": 0.9e-4}, metrics=["lr"])["lr"].passed


def test_named_metric_missing_from_a_run_is_a_usage_error(write_jsonl, run_records) -> None:
    with pytest.raises(UsageError, match="unknown metric 'val_bleu'.*both runs together has"):
        compare(write_jsonl, run_records, {}, metrics=["val_bleu"])


def test_runs_with_nothing_in_common(write_jsonl) -> None:
    run = read_metrics(write_jsonl([{"epoch": 1, "train_loss": 1.0}], name="a.jsonl"))
    other = read_metrics(write_jsonl([{"epoch": 1, "val_loss": 1.0}], name="b.jsonl"))
    with pytest.raises(UsageError, match="share no metric"):
        compare_to_baseline(run, other)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_baseline_value_is_an_error_not_a_verdict(
    write_jsonl, run_records, value
) -> None:
    run = read_metrics(write_jsonl(run_records, name="run.jsonl"))
    run_records[2]["val_loss"] = value  # line 3 of the baseline
    run_records[2]["val_gloss_top1"] = value
    baseline = read_metrics(write_jsonl(run_records, name="baseline.jsonl"))
    with pytest.raises(DataError) as info:
        compare_to_baseline(run, baseline)
    lines = info.value.message.splitlines()
    shown = f"{value:g}"
    assert lines == [
        f"{baseline.path}:3: the baseline's val_loss is {shown}; cannot compare with it",
        f"{baseline.path}:3: the baseline's val_gloss_top1 is {shown}; cannot compare with it",
    ]


def test_a_non_finite_value_the_baseline_check_does_not_use_is_fine(write_jsonl, run_records):
    run = read_metrics(write_jsonl(run_records, name="run.jsonl"))
    run_records[0]["val_loss"] = float("nan")  # not the last epoch: not compared
    run_records[2]["epoch_s"] = float("inf")  # a timing: compared only when named
    baseline = read_metrics(write_jsonl(run_records, name="baseline.jsonl"))
    assert all(check.passed for check in compare_to_baseline(run, baseline))
    with pytest.raises(DataError, match=r"baseline\.jsonl:3: the baseline's epoch_s is inf"):
        compare_to_baseline(run, baseline, metrics=["epoch_s"])


@pytest.mark.parametrize("rtol", [float("nan"), float("inf"), -0.1])
def test_rtol_must_be_finite_and_not_negative(write_jsonl, run_records, rtol) -> None:
    with pytest.raises(UsageError, match="rtol must be a finite number >= 0"):
        compare(write_jsonl, run_records, {}, rtol=rtol)


def test_batching_statistics_and_hook_keys_need_naming(write_jsonl, run_records) -> None:
    # train_pad_share has no "better": a run with less padding is not a worse model
    extra = [{**r, "train_pad_share": 0.1, "my_hook_key": 3.0} for r in run_records]
    results = compare(write_jsonl, extra, {"train_pad_share": 0.5, "my_hook_key": 9.0})
    assert "train_pad_share" not in results and "my_hook_key" not in results
    assert all(c.passed for c in results.values())
    named = compare(write_jsonl, extra, {"train_pad_share": 0.5}, metrics=["train_pad_share"])
    assert not named["train_pad_share"].passed  # named: compared (no direction: must match)
