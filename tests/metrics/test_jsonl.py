"""metrics.jsonl: atomic append and truncate, and a reader that tolerates only a torn last line."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

from signcli.core import atomic
from signcli.core.errors import DataError, DiskError, UsageError
from signcli.metrics.jsonl import append_metrics, read_metrics, resume_metrics

TORN = '{"epoch": 4, "train_lo'


def test_append_creates_then_adds_one_line_per_epoch(tmp_path: Path, run_records) -> None:
    path = tmp_path / "metrics.jsonl"
    for record in run_records:
        append_metrics(path, record)
    lines = path.read_text().splitlines()
    assert [json.loads(line) for line in lines] == run_records
    assert os.listdir(tmp_path) == ["metrics.jsonl"]  # no .tmp left behind


def test_append_keeps_old_lines_byte_for_byte(run_jsonl: Path) -> None:
    before = run_jsonl.read_text()
    append_metrics(run_jsonl, {"epoch": 4, "train_loss": 0.5})
    after = run_jsonl.read_text()
    assert after.startswith(before)
    assert json.loads(after.splitlines()[-1]) == {"epoch": 4, "train_loss": 0.5}


def test_append_writes_numpy_scalars_as_plain_numbers(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    append_metrics(path, {"epoch": np.int64(1), "train_loss": np.float32(0.5)})
    assert path.read_text() == '{"epoch": 1, "train_loss": 0.5}\n'


@pytest.mark.parametrize(
    "record",
    [{"epoch": 1, "trainLoss": 1.0}, {"epoch": 1, "note": "x"}, {"epoch": True}, {"lr": 0.1}],
)
def test_append_rejects_records_that_break_the_format(tmp_path: Path, record) -> None:
    with pytest.raises(ValueError):
        append_metrics(tmp_path / "metrics.jsonl", record)
    assert not (tmp_path / "metrics.jsonl").exists()


def test_append_drops_a_torn_last_line(write_jsonl, run_records) -> None:
    path = write_jsonl(run_records, tail=TORN)
    append_metrics(path, {"epoch": 4, "train_loss": 0.5})
    log = read_metrics(path)
    assert [r["epoch"] for r in log.records] == [1, 2, 3, 4] and not log.warnings


def test_resume_keeps_epochs_up_to_the_checkpoint(run_jsonl: Path) -> None:
    resume_metrics(run_jsonl, 2)
    assert [r["epoch"] for r in read_metrics(run_jsonl).records] == [1, 2]
    resume_metrics(run_jsonl, 0)
    assert run_jsonl.read_text() == ""
    assert os.listdir(run_jsonl.parent) == ["metrics.jsonl"]


def test_resume_that_changes_nothing_does_not_rewrite(run_jsonl: Path) -> None:
    inode = run_jsonl.stat().st_ino
    resume_metrics(run_jsonl, 3)
    assert run_jsonl.stat().st_ino == inode  # os.replace would give a new inode


def full_disk(src, dst) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("write", ["append", "resume"])
def test_a_failed_write_is_a_disk_error_and_keeps_the_old_file(
    run_jsonl: Path, monkeypatch, write: str
) -> None:
    before = run_jsonl.read_bytes()
    monkeypatch.setattr(atomic.os, "replace", full_disk)
    with pytest.raises(DiskError, match="No space left"):
        if write == "append":
            append_metrics(run_jsonl, {"epoch": 4, "train_loss": 0.5})
        else:
            resume_metrics(run_jsonl, 1)
    assert run_jsonl.read_bytes() == before
    assert os.listdir(run_jsonl.parent) == ["metrics.jsonl"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores modes")
def test_read_only_folder_is_a_disk_error(run_jsonl: Path) -> None:
    before = run_jsonl.read_bytes()
    run_jsonl.parent.chmod(0o555)
    try:
        with pytest.raises(DiskError):
            append_metrics(run_jsonl, {"epoch": 4, "train_loss": 0.5})
    finally:
        run_jsonl.parent.chmod(0o755)
    assert run_jsonl.read_bytes() == before


def test_read_gives_records_and_names(run_jsonl: Path, run_records) -> None:
    log = read_metrics(run_jsonl)
    assert log.records == run_records and log.warnings == [] and log.last_epoch == 3
    assert log.metric_names()[:4] == ["epoch", "step", "lr", "train_loss"]
    assert log.series("val_gloss_top1") == [(1, 0.30), (2, 0.85), (3, 0.80)]


def test_where_names_the_line_of_the_last_value(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text(
        '{"epoch": 1, "val_loss": 2.0}\n\n{"epoch": 2, "val_loss": 1.0}\n{"epoch": 3}\n'
    )
    log = read_metrics(path)
    assert log.line_numbers == [1, 3, 4]
    assert log.where("val_loss") == f"{path}:3" and log.where("epoch") == f"{path}:4"


def test_epochs_without_a_metric_are_skipped_not_zero(write_jsonl) -> None:
    path = write_jsonl([{"epoch": 1, "train_loss": 2.0}, {"epoch": 2, "val_loss": 1.0}])
    log = read_metrics(path)
    assert log.series("val_loss") == [(2, 1.0)]
    assert log.metric_names() == ["epoch", "train_loss", "val_loss"]


def test_torn_last_line_is_a_warning_and_ignored(write_jsonl, run_records) -> None:
    log = read_metrics(write_jsonl(run_records, tail=TORN))
    assert len(log.records) == 3
    assert len(log.warnings) == 1 and "metrics.jsonl:4" in log.warnings[0]


def test_last_line_without_newline_is_complete(write_jsonl, run_records) -> None:
    path = write_jsonl(run_records[:2], tail=json.dumps(run_records[2]))
    assert len(read_metrics(path).records) == 3


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"epoch": 1}', "{oops", '{"epoch": 3}'], "metrics.jsonl:2: not valid JSON"),
        (['{"epoch": 1}', "[1, 2]"], "metrics.jsonl:2: expected a JSON object"),
        (['{"epoch": 1, "train_loss": "low"}'], 'train_loss must be a number, got "low"'),
        (['{"train_loss": 1.0}'], "metrics.jsonl:1: no 'epoch' key"),
        (['{"epoch": 1.5}'], "epoch must be a whole number"),
        (['{"epoch": 0}'], "epoch must be a whole number >= 1"),
        # found by tests/fuzz: "unexpected OverflowError", "ValueError", "RecursionError"
        (['{"epoch": 1' + "0" * 400 + "}"], "metrics.jsonl:1: epoch is an integer of 401 digits"),
        (['{"epoch": 1, "val_loss": 1' + "0" * 400 + "}", '{"epoch": 2}'], "metrics.jsonl:1: val_loss is an integer of 401 digits"),
        (['{"epoch": 1, "x": ' + "9" * 5000 + "}", '{"epoch": 2}'], "metrics.jsonl:1: a number of 5,000 digits"),
        (['{"epoch": 1, "x": ' + "[" * 100_000, '{"epoch": 2}'], "metrics.jsonl:1: nested too deeply"),
    ],
)  # fmt: skip
def test_bad_lines_are_data_errors_naming_file_and_line(
    tmp_path: Path, lines: list[str], message: str
) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=message):
        read_metrics(path)


@pytest.mark.parametrize("text", ["", "\n\n", TORN])
def test_a_file_without_a_complete_epoch_is_an_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text(text)
    with pytest.raises(DataError, match="no epoch has finished"):
        read_metrics(path)


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        read_metrics(tmp_path / "nope.jsonl")
