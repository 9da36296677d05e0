"""`signcli metrics-check`: exit 0 pass, 1 fail, 2 cannot run; table, --json and --junit."""

from __future__ import annotations

import json
import os
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from signcli.cli import app

# val_gloss_top1 peaks at epoch 2; train_loss falls every epoch
RUN = [
    {"epoch": 1, "step": 10, "lr": 1e-3, "train_loss": 2.0, "val_loss": 2.1,
     "val_gloss_top1": 0.30, "epoch_s": 1.5, "samples_per_s": 100.0},
    {"epoch": 2, "step": 20, "lr": 5e-4, "train_loss": 1.2, "val_loss": 1.4,
     "val_gloss_top1": 0.85, "epoch_s": 1.4, "samples_per_s": 110.0},
    {"epoch": 3, "step": 30, "lr": 1e-4, "train_loss": 0.9, "val_loss": 1.5,
     "val_gloss_top1": 0.80, "epoch_s": 1.6, "samples_per_s": 95.0},
]  # fmt: skip

PASSING_RULES = """\
checks:
  - {metric: val_gloss_top1, at: best, min: 0.80}
  - {metric: train_loss, at: last, max: 2.0}
  - {metric: train_loss, decreases: true}
"""


def write_run(path: Path, records=RUN, tail: str = "", **last_changes) -> Path:
    records = [dict(r) for r in records]
    records[-1].update(last_changes)
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail)
    return path


def signcli(*args: str | Path):
    # wide enough that rich never wraps a check name or an error line
    return CliRunner().invoke(app, ["metrics-check", *map(str, args)], env={"COLUMNS": "250"})


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return write_run(tmp_path / "metrics.jsonl")


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(PASSING_RULES)
    return path


def test_all_checks_pass(run: Path, rules: Path) -> None:
    result = signcli(run, "--rules", rules)
    assert result.exit_code == 0, result.output
    for text in ("val_gloss_top1 at best", "0.85", ">= 0.8", "train_loss decreases", "pass"):
        assert text in result.stdout
    assert "all 3 checks passed" in result.stdout and "FAIL" not in result.stdout


def test_a_failed_check_exits_1(run: Path, tmp_path: Path) -> None:
    strict = tmp_path / "strict.yaml"
    strict.write_text(PASSING_RULES + "  - {metric: val_gloss_top1, at: last, min: 0.9}\n")
    result = signcli(run, "--rules", strict)
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.stdout and "1 of 4 checks failed" in result.stdout


@pytest.mark.parametrize(
    ("change", "args", "code"),
    [
        ({}, [], 0),
        ({"val_gloss_top1": 0.95, "train_loss": 0.1}, [], 0),  # better both ways passes
        ({"val_gloss_top1": 0.77}, [], 0),  # within rtol 0.05 of 0.80
        ({"val_gloss_top1": 0.75}, [], 1),  # accuracy dropped beyond rtol
        ({"val_loss": 1.6}, [], 1),  # loss rose beyond rtol (1.5 + 0.075)
        ({"val_loss": 1.6}, ["--rtol", "0.1"], 0),
        ({"epoch_s": 99.0, "samples_per_s": 1.0}, [], 0),  # timings skipped by default
        ({"epoch_s": 99.0}, ["--metric", "epoch_s"], 1),  # ... unless named
        ({"val_loss": 9.0}, ["--metric", "val_gloss_top1"], 0),  # --metric picks the metrics
    ],
)
def test_baseline(run: Path, tmp_path: Path, change: dict, args: list[str], code: int) -> None:
    candidate = write_run(tmp_path / "candidate.jsonl", **change)
    result = signcli(candidate, "--baseline", run, *args)
    assert result.exit_code == code, result.output
    assert "vs baseline" in result.stdout


def test_rules_and_baseline_together(run: Path, rules: Path) -> None:
    result = signcli(run, "--rules", rules, "--baseline", run, "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["checks"]) == 6  # 3 rules + 3 shared metrics


def test_unknown_metric_exits_2_and_lists_the_metrics(run: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("checks:\n  - {metric: val_acc, at: best, min: 0.8}\n")
    result = signcli(run, "--rules", bad)
    assert result.exit_code == 2
    assert "unknown metric 'val_acc'" in result.stderr
    assert "epoch, step, lr, train_loss, val_loss, val_gloss_top1, epoch_s" in result.stderr
    assert "Traceback" not in result.output


def test_malformed_rule_exits_2_naming_it(run: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(PASSING_RULES + "  - {metric: train_loss, at: lasst, max: 0.5}\n")
    result = signcli(run, "--rules", bad)
    assert result.exit_code == 2
    assert "rule 4 {metric: train_loss, at: lasst, max: 0.5}: at: must be" in result.stderr


@pytest.mark.parametrize("bound", ["min: .nan", "min: .inf", "max: -.inf"])
def test_a_non_finite_bound_exits_2_naming_file_and_rule(run: Path, tmp_path: Path, bound) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(PASSING_RULES + f"  - {{metric: val_loss, at: best, {bound}}}\n")
    result = signcli(run, "--rules", bad)
    assert result.exit_code == 2
    flow = bound.replace(".", "").lower()  # .nan -> nan, -.inf -> -inf
    assert f"{bad}: rule 4 {{metric: val_loss, at: best, {flow}}}: " in result.stderr
    assert "finite number" in result.stderr
    assert "Traceback" not in result.output and "unexpected" not in result.output


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_non_finite_baseline_exits_2_naming_file_and_line(
    run: Path, tmp_path: Path, value: float
) -> None:
    baseline = write_run(tmp_path / "baseline.jsonl", val_loss=value)
    assert ("NaN" if value != value else "Infinity") in baseline.read_text()  # what json writes
    result = signcli(run, "--baseline", baseline)
    assert result.exit_code == 2
    assert f"{baseline}:3: the baseline's val_loss is {value:g}" in result.stderr
    assert "Traceback" not in result.output and "unexpected" not in result.output


def test_an_infinite_rtol_exits_2(run: Path) -> None:
    result = signcli(run, "--baseline", run, "--rtol", "inf")
    assert result.exit_code == 2 and "rtol must be a finite number" in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("", "is empty"),
        ('{"epoch": 1}\nnot json\n{"epoch": 2}\n', "metrics.jsonl:2: not valid JSON"),
    ],
)
def test_unusable_metrics_file_exits_2(tmp_path: Path, rules: Path, content, message) -> None:
    path = tmp_path / "metrics.jsonl"
    if content is not None:
        path.write_text(content)
    result = signcli(path, "--rules", rules)
    assert result.exit_code == 2 and message in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "nothing to check"),
        (["--rtol", "0.1"], "--rtol applies to --baseline"),
        (["--metric", "epoch_s"], "--metric applies to --baseline"),
    ],
)
def test_flag_misuse_exits_2(run: Path, args: list[str], message: str) -> None:
    result = signcli(run, *args)
    assert result.exit_code == 2 and message in result.stderr


def test_missing_baseline_exits_2(run: Path, tmp_path: Path) -> None:
    result = signcli(run, "--baseline", tmp_path / "nope.jsonl")
    assert result.exit_code == 2 and "nope.jsonl not found" in result.stderr


def test_torn_last_line_warns_and_still_checks(tmp_path: Path, rules: Path) -> None:
    path = write_run(tmp_path / "metrics.jsonl", tail='{"epoch": 4, "train_lo')
    result = signcli(path, "--rules", rules)
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "metrics.jsonl:4" in result.stderr
    assert "all 3 checks passed" in result.stdout


def test_junit_report_counts_failures(run: Path, tmp_path: Path) -> None:
    strict = tmp_path / "strict.yaml"
    strict.write_text(PASSING_RULES + "  - {metric: val_gloss_top1, at: last, min: 0.9}\n")
    junit = tmp_path / "reports" / "junit.xml"
    result = signcli(run, "--rules", strict, "--junit", junit)
    assert result.exit_code == 1
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("tests") == "4" and suite.get("failures") == "1"
    assert len(suite.findall("testcase/failure")) == 1


def test_json_is_one_document_and_nothing_else(tmp_path: Path, rules: Path) -> None:
    path = write_run(tmp_path / "metrics.jsonl", tail='{"epoch": 4, "train_lo')
    result = signcli(path, "--rules", rules, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["passed"] is True and document["failures"] == 0
    assert [c["name"] for c in document["checks"]] == [
        "val_gloss_top1 at best",
        "train_loss at last",
        "train_loss decreases",
    ]
    assert set(document["checks"][0]) == {"name", "metric", "observed", "bound", "passed", "detail"}
    assert len(document["warnings"]) == 1


def test_json_of_a_failed_run_exits_1(run: Path, tmp_path: Path) -> None:
    candidate = write_run(tmp_path / "candidate.jsonl", val_gloss_top1=0.1)
    result = signcli(candidate, "--baseline", run, "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["passed"] is False and document["failures"] == 1


def test_example_ci_rules_pass_on_a_good_run(run: Path) -> None:
    example = Path(__file__).parents[2] / "examples" / "ci" / "rules.yaml"
    result = signcli(run, "--rules", example)
    assert result.exit_code == 0, result.output


def test_help_states_the_default_rtol() -> None:
    from signcli.metrics.baseline import DEFAULT_RTOL

    result = signcli("--help")
    assert result.exit_code == 0
    assert f"default {DEFAULT_RTOL:g}" in " ".join(result.stdout.split())


def test_junit_path_that_cannot_be_a_file_exits_2_naming_it(
    run: Path, rules: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("keep")
    fifo = tmp_path / "pipe.xml"
    os.mkfifo(fifo)
    for junit, message in (
        (blocker / "sub.xml", f"cannot be created: {blocker} is a file"),
        (fifo, f"--junit {fifo} is a FIFO, not a regular file"),
    ):
        result = signcli(run, "--rules", rules, "--junit", junit)
        assert result.exit_code == 2, result.output
        assert message in result.stderr
        assert "unexpected" not in result.output and "Traceback" not in result.output
    assert blocker.read_text() == "keep"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
