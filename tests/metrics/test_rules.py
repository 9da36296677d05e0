"""Rules files: every `at` mode, bounds and trends, and errors that name the rule at fault."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from signcli.core.errors import UsageError
from signcli.metrics.jsonl import read_metrics
from signcli.metrics.rules import Rule, better_direction, evaluate_rules, load_rules


def check(run: Path, **rule):
    """Evaluate one rule given as keyword arguments on the run at `run`."""
    (result,) = evaluate_rules(read_metrics(run), [Rule(**rule)])
    return result


@pytest.mark.parametrize(
    ("metric", "at", "value", "epoch"),
    [
        ("val_gloss_top1", "last", 0.80, 3),
        ("val_gloss_top1", None, 0.80, 3),  # at defaults to last
        ("val_gloss_top1", "best", 0.85, 2),  # accuracy: best is the highest
        ("val_loss", "best", 1.4, 2),  # loss: best is the lowest
        ("val_loss", "min", 1.4, 2),
        ("val_loss", "max", 2.1, 1),
        ("train_loss", "epoch:1", 2.0, 1),
        ("train_loss", "epoch: 2", 1.2, 2),
        ("epoch_s", "best", 1.4, 2),  # seconds: lower is better
        ("samples_per_s", "best", 110.0, 2),
    ],
)
def test_at_picks_the_value(run_jsonl: Path, metric, at, value, epoch) -> None:
    result = check(run_jsonl, metric=metric, at=at, min=-1e9)
    assert result.observed == value and result.passed
    assert f"epoch {epoch}" in result.detail


@pytest.mark.parametrize(
    ("bounds", "passed", "bound_text"),
    [
        ({"min": 0.80}, True, ">= 0.8"),  # bounds are inclusive
        ({"min": 0.81}, False, ">= 0.81"),
        ({"max": 0.80}, True, "<= 0.8"),
        ({"max": 0.79}, False, "<= 0.79"),
        ({"min": 0.5, "max": 0.9}, True, ">= 0.5 and <= 0.9"),
        ({"min": 0.5, "max": 0.7}, False, ">= 0.5 and <= 0.7"),
    ],
)
def test_min_and_max_bounds(run_jsonl: Path, bounds, passed, bound_text) -> None:
    result = check(run_jsonl, metric="val_gloss_top1", at="last", **bounds)
    assert result.passed is passed and result.bound == bound_text
    assert result.name == "val_gloss_top1 at last"


@pytest.mark.parametrize(
    ("metric", "trend", "passed"),
    [
        ("train_loss", "decreases", True),  # 2.0 -> 0.9
        ("train_loss", "increases", False),
        ("val_gloss_top1", "increases", True),  # 0.30 -> 0.80
        ("val_gloss_top1", "decreases", False),
        ("val_loss", "decreases", True),  # last vs first, not monotone: 2.1 -> 1.4 -> 1.5
    ],
)
def test_trends_compare_last_with_first(run_jsonl: Path, metric, trend, passed) -> None:
    result = check(run_jsonl, metric=metric, **{trend: True})
    assert result.passed is passed and result.name == f"{metric} {trend}"


def test_flat_or_single_value_fails_a_trend(write_jsonl) -> None:
    flat = write_jsonl([{"epoch": 1, "train_loss": 1.0}, {"epoch": 2, "train_loss": 1.0}])
    assert not check(flat, metric="train_loss", decreases=True).passed
    once = write_jsonl([{"epoch": 1, "train_loss": 1.0}], name="once.jsonl")
    result = check(once, metric="train_loss", decreases=True)
    assert not result.passed and "needs two epochs" in result.detail


def test_nan_fails_every_bound_and_never_wins_best(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 1, "val_loss": 1.0}\n{"epoch": 2, "val_loss": NaN}\n')
    assert check(path, metric="val_loss", at="best", max=2.0).observed == 1.0
    assert check(path, metric="val_loss", at="max", min=0).observed == 1.0
    result = check(path, metric="val_loss", at="last", max=2.0)
    assert math.isnan(result.observed) and not result.passed
    assert result.to_dict()["observed"] is None  # JSON has no NaN


def test_unknown_metric_lists_the_metrics_that_exist(run_jsonl: Path) -> None:
    with pytest.raises(UsageError) as info:
        check(run_jsonl, metric="val_gloss_top2", at="best", min=0.8)
    message = str(info.value)
    assert "unknown metric 'val_gloss_top2'" in message and "did you mean val_gloss_top1" in message
    assert "train_loss, val_loss, val_gloss_top1, epoch_s" in message


def test_epoch_past_the_run_or_not_logged_is_a_usage_error(write_jsonl) -> None:
    path = write_jsonl([{"epoch": 1, "train_loss": 2.0}, {"epoch": 2, "val_loss": 1.0}])
    with pytest.raises(UsageError, match="epoch:5 is past the end of the run"):
        check(path, metric="train_loss", at="epoch:5", max=1)
    with pytest.raises(UsageError, match="not logged at epoch 2"):
        check(path, metric="train_loss", at="epoch:2", max=1)


def test_best_of_a_counter_is_a_usage_error(run_jsonl: Path) -> None:
    with pytest.raises(UsageError, match="lr has no better direction"):
        check(run_jsonl, metric="lr", at="best", max=1)


def test_evaluation_errors_are_reported_together(run_jsonl: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "checks:\n"
        "  - {metric: train_loss, decreases: true}\n"
        "  - {metric: nope, max: 1}\n"
        "  - {metric: train_loss, at: 'epoch:9', max: 1}\n"
    )
    with pytest.raises(UsageError) as info:
        evaluate_rules(read_metrics(run_jsonl), load_rules(rules))
    lines = str(info.value).splitlines()
    # each names the rules file, as load_rules' errors do (found by tests/fuzz: they did not)
    assert lines[0].startswith(f"{rules}: rule 2 {{metric: nope, max: 1}}: unknown metric 'nope'")
    assert lines[1].startswith(
        f"{rules}: rule 3 {{metric: train_loss, at: epoch:9, max: 1}}: epoch:9"
    )


@pytest.mark.parametrize(
    ("metric", "direction"),
    [
        ("train_loss", "min"),
        ("val_loss", "min"),
        ("val_wer", "min"),
        ("val_text_loss", "min"),
        ("epoch_s", "min"),
        ("val_gloss_top1", "max"),
        ("val_bleu", "max"),
        ("samples_per_s", "max"),
        ("lr", None),
        ("step", None),
    ],
)
def test_better_direction(metric: str, direction) -> None:
    assert better_direction(metric) == direction


# -- loading rules files


def test_loads_the_design_example_as_yaml_and_json(tmp_path: Path) -> None:
    yaml_path = tmp_path / "rules.yaml"
    yaml_path.write_text(
        "# signcli metrics-check ... --rules rules.yaml\n"
        "checks:\n"
        "  - {metric: val_gloss_top1, at: best, min: 0.80}\n"
        "  - {metric: train_loss, at: last, max: 0.50}\n"
        "  - {metric: train_loss, decreases: true}\n"
        "  - {metric: val_loss, at: epoch:2, max: 1e-3}\n"  # YAML 1.1 reads 1e-3 as a string
    )
    rules = load_rules(yaml_path)
    assert [r.name for r in rules] == [
        "val_gloss_top1 at best",
        "train_loss at last",
        "train_loss decreases",
        "val_loss at epoch:2",
    ]
    assert rules[0].min == 0.8 and rules[3].max == 1e-3 and rules[3].at_epoch == 2
    json_path = tmp_path / "rules.json"
    json_path.write_text(json.dumps({"checks": [{"metric": "train_loss", "decreases": True}]}))
    assert load_rules(json_path)[0].decreases


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("{metric: train_loss, at: lasst, max: 0.5}", "must be last, best, min, max or epoch:N"),
        ("{metric: train_loss, at: 'epoch:0', max: 0.5}", "epochs count from 1"),
        ("{metric: train_loss, mx: 0.5}", "mx: unknown key (did you mean max?"),
        ("{metric: train_loss, max: low}", "max: Input should be a valid number"),
        ("{metric: train_loss, at: last}", "checks nothing"),
        ("{metric: train_loss, decreases: false}", "decreases: false checks nothing"),
        ("{metric: train_loss, decreases: true, max: 1}", "not both"),
        ("{metric: train_loss, decreases: true, increases: true}", "keep one"),
        ("{metric: train_loss, min: 2, max: 1}", "min 2 is above max 1"),
        ("{metric: train_loss, min: .nan}", "min: Input should be a finite number (got nan)"),
        ("{metric: train_loss, max: .inf}", "max: Input should be a finite number (got inf)"),
        ("{metric: train_loss, min: -.Inf, max: 1}", "min: Input should be a finite number"),
        ("{max: 1}", "metric: required"),
        ("train_loss < 1", "expected a mapping"),
    ],
)
def test_malformed_rule_names_the_rule_and_the_problem(tmp_path: Path, entry, problem) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(f"checks:\n  - {{metric: train_loss, decreases: true}}\n  - {entry}\n")
    with pytest.raises(UsageError) as info:
        load_rules(path)
    message = str(info.value)
    assert message.startswith(f"{path}: rule 2 ")
    assert problem in message


def test_a_non_finite_bound_in_json_names_the_rule(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text('{"checks": [{"metric": "val_loss", "max": NaN}]}')
    with pytest.raises(UsageError) as info:
        load_rules(path)
    assert str(info.value) == (
        f"{path}: rule 1 {{metric: val_loss, max: nan}}: max: Input should be a finite number "
        "(got nan)"
    )


def test_every_malformed_rule_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("checks:\n  - {metric: a, at: x, max: 1}\n  - {metric: b}\n")
    lines = str(pytest.raises(UsageError, load_rules, path).value).splitlines()
    assert [line.split(":")[1].strip()[:6] for line in lines] == ["rule 1", "rule 2"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "expected a mapping with a `checks:` list"),
        ("- {metric: a, max: 1}\n", "expected a mapping with a `checks:` list"),
        ("checks: []\n", "non-empty list"),
        ("checks: [{metric: a, max: 1}]\nbaseline: x\n", "unknown top-level key(s) baseline"),
        ("checks: [{metric: a, max: 1}\n", "invalid YAML"),
        # found by tests/fuzz: a number past Python's digit limit was "unexpected ValueError"
        ("checks: [{metric: a, max: " + "9" * 5000 + "}]\n", "a number of 5,000 digits"),
        ("checks: [{metric: a, max: !!float x}]\n", "cannot read 'x' as float"),
    ],
)
def test_malformed_rules_file(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        load_rules(path)


LAUGHS = "".join(  # 9 nested anchors of 9 aliases each: 9 ** 9 values once expanded
    f"l{n}: &l{n} [{', '.join(['lol' if n == 0 else f'*l{n - 1}'] * 9)}]\n" for n in range(9)
)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"checks:\n  - {metric: caf\xe9, max: 1}\n", "rules.yaml:2: not UTF-8 text (byte 0xe9)"),
        (LAUGHS + "checks: [{metric: *l8, max: 1}]\n", "rules.yaml: more than 10,000 values"),
        ("checks: &c [{metric: a, max: 1}, *c]\n", "rules.yaml: checks[1]: a YAML alias refers"),
    ],
)
def test_hostile_rules_file_is_refused_naming_it(tmp_path: Path, content, problem) -> None:
    path = tmp_path / "rules.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(UsageError) as info:
        load_rules(path)
    assert str(info.value).startswith(str(tmp_path / problem))


def test_missing_rules_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="rules file .* not found"):
        load_rules(tmp_path / "nope.yaml")
