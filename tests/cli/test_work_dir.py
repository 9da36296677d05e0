"""`train` and `resume` keep what is in the work directory: one run at a time holds it, the
--log-csv file is signcli's own, --overwrite removes all of the old run or nothing, and a
torn metrics.jsonl line is repaired on resume."""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from signcli.cli import app
from signcli.core.run_files import LOCK_FILE, RUN_FILES
from signcli.engine import recipes, workdir
from signcli.engine.callbacks import CSV_HEADER
from tests.engine.lock_holder import HOLDER_COMMAND, lock_held_elsewhere
from tests.tiny import TINY_FLAGS

runner = CliRunner()
needs_flock = pytest.mark.skipif(workdir.fcntl is None, reason="no flock on this platform")
TINY = TINY_FLAGS


def train_args(root: Path, work: Path, *extra: str) -> list[str]:
    return [
        "train", "transformer",
        "--train-dir", str(root / "train"), "--train-labels", str(root / "train_labels.csv"),
        "--val-dir", str(root / "val"), "--val-labels", str(root / "val_labels.csv"),
        *TINY, "--epochs", "1", "--work-dir", str(work), *extra,
    ]  # fmt: skip


def fake_run(work: Path) -> dict[str, str]:
    """Run files with recognisable contents (only their presence matters to train)."""
    work.mkdir(parents=True)
    for name in RUN_FILES:
        (work / name).write_text(f"old {name}")
    return snapshot(work)


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def root(make_npz_dataset) -> Path:
    return make_npz_dataset(n=8, T=5, D=6)


@pytest.fixture
def no_data_reads(monkeypatch) -> None:
    """Fail the test if start_run gets as far as reading the data."""

    def trainer(*args, **kwargs):
        raise AssertionError("the data was read")

    monkeypatch.setattr(recipes, "Trainer", trainer)


@needs_flock
def test_train_into_a_folder_in_use_exits_2_before_removing_or_reading(
    root: Path, tmp_path: Path, no_data_reads
) -> None:
    work = tmp_path / "run"
    before = fake_run(work)
    with lock_held_elsewhere(work) as holder:
        result = runner.invoke(app, train_args(root, work, "--overwrite"))
        assert result.exit_code == 2, result.output
        assert (
            f"{work} is in use by another signcli run (PID {holder.pid}: {HOLDER_COMMAND})"
            in result.output
        )
        assert "or use another --work-dir" in result.output
        lock = (work / LOCK_FILE).read_text()
        assert lock == f"{holder.pid}\n{HOLDER_COMMAND}\n"  # the live run's lock file is kept
        assert {k: v for k, v in snapshot(work).items() if k != LOCK_FILE} == before


@needs_flock
def test_resume_of_a_folder_in_use_exits_2(tmp_path: Path, no_data_reads) -> None:
    work = tmp_path / "run"
    fake_run(work)
    with lock_held_elsewhere(work) as holder:
        result = runner.invoke(app, ["resume", str(work)])
    assert result.exit_code == 2, result.output
    assert f"in use by another signcli run (PID {holder.pid}" in result.output


def test_an_existing_log_csv_is_refused_and_kept(root: Path, tmp_path: Path) -> None:
    mine = tmp_path / "notes.csv"
    mine.write_text("name,score\nann,3\n")
    new_run = runner.invoke(app, train_args(root, tmp_path / "run", "--log-csv", str(mine)))
    assert new_run.exit_code == 2
    assert f"--log-csv {mine} already exists" in new_run.output
    forced = runner.invoke(
        app, train_args(root, tmp_path / "run", "--log-csv", str(mine), "--overwrite")
    )
    assert forced.exit_code == 2
    assert f"--log-csv {mine} is not a signcli epoch log" in forced.output
    assert mine.read_text() == "name,score\nann,3\n"
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_overwrite_replaces_signclis_own_log_and_resume_appends_to_it(
    root: Path, tmp_path: Path
) -> None:
    log_csv, work = tmp_path / "log.csv", tmp_path / "run"
    assert runner.invoke(app, train_args(root, work, "--log-csv", str(log_csv))).exit_code == 0
    again = runner.invoke(app, train_args(root, work, "--log-csv", str(log_csv), "--overwrite"))
    assert again.exit_code == 0, again.output
    assert len(log_csv.read_text().splitlines()) == 2  # header + epoch 1 of the new run
    resumed = runner.invoke(app, ["resume", str(work), "--epochs", "2"])
    assert resumed.exit_code == 0, resumed.output
    rows = log_csv.read_text().splitlines()
    assert rows[0] == CSV_HEADER and [row.split(",")[0] for row in rows[1:]] == ["1", "2"]


def test_resume_refuses_a_log_csv_that_is_no_longer_signclis(root: Path, tmp_path: Path) -> None:
    log_csv, work = tmp_path / "log.csv", tmp_path / "run"
    assert runner.invoke(app, train_args(root, work, "--log-csv", str(log_csv))).exit_code == 0
    log_csv.write_text("somebody,else\n")
    resumed = runner.invoke(app, ["resume", str(work), "--epochs", "2"])
    assert resumed.exit_code == 2
    assert f"--log-csv {log_csv} is not a signcli epoch log" in resumed.output
    assert log_csv.read_text() == "somebody,else\n"


def test_overwrite_that_cannot_remove_a_file_removes_nothing(
    root: Path, tmp_path: Path, no_data_reads
) -> None:
    work = tmp_path / "run"
    fake_run(work)
    (work / "last.pt").unlink()
    (work / "last.pt").mkdir()  # as root chmod blocks nothing: a folder cannot be unlinked
    (work / "last.pt" / "x").write_text("x")
    before = snapshot(work)
    result = runner.invoke(app, train_args(root, work, "--overwrite"))
    assert result.exit_code == 2
    assert "last.pt is a folder, not a file signcli wrote" in result.output
    assert "nothing was removed" in result.output
    assert snapshot(work) == before


def test_overwrite_failing_midway_says_what_was_removed(
    root: Path, tmp_path: Path, monkeypatch
) -> None:
    work = tmp_path / "run"
    fake_run(work)
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs) -> None:
        if Path(path).name == "labels.json":
            raise OSError(errno.EIO, "Input/output error")
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(workdir.os, "unlink", unlink)
    result = runner.invoke(app, train_args(root, work, "--overwrite"))
    assert result.exit_code == 2, result.output
    assert (
        "could not remove" in result.output and "labels.json: Input/output error" in result.output
    )
    assert "removed config.json; still there: labels.json, split.json, metrics.jsonl" in (
        result.output
    )
    assert sorted(snapshot(work)) == sorted(set(RUN_FILES) - {"config.json"})


@pytest.mark.slow
def test_resume_repairs_a_torn_metrics_line_from_the_checkpoint(root: Path, tmp_path: Path) -> None:
    work = tmp_path / "run"
    assert runner.invoke(app, train_args(root, work)).exit_code == 0
    metrics = work / "metrics.jsonl"
    epoch_1 = metrics.read_text()
    metrics.write_text(epoch_1[:25])  # killed while appending epoch 1's line
    resumed = runner.invoke(app, ["resume", str(work), "--epochs", "2"])
    assert resumed.exit_code == 0, resumed.output
    assert f"{metrics}:1: dropped a torn last line" in resumed.output
    assert "epoch 1, the last one the checkpoint finished, had no line" in resumed.output
    lines = metrics.read_text().splitlines(keepends=True)
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    assert lines[0] == epoch_1  # the same line, byte for byte


@pytest.mark.slow  # trains a run (about a second) to resume
@pytest.mark.parametrize(
    ("name", "kind", "message"),
    [
        ("curves.png", "folder", "curves file .*curves.png is a folder"),
        ("best.pt", "fifo", "checkpoint .*best.pt is a FIFO"),
        ("config.json", "fifo", "run settings file .*config.json is a FIFO"),
    ],
)
def test_resume_names_a_run_file_that_is_not_a_file_before_training(
    root: Path, tmp_path: Path, name: str, kind: str, message: str
) -> None:
    """issue 23: a folder in curves.png's place failed the run after an epoch of training;
    a FIFO config.json read "holds no run (config.json not found)"."""
    work = tmp_path / "run"
    assert runner.invoke(app, train_args(root, work)).exit_code == 0
    metrics = (work / "metrics.jsonl").read_text()
    (work / name).unlink()
    (work / name).mkdir() if kind == "folder" else os.mkfifo(work / name)
    resumed = runner.invoke(app, ["resume", str(work), "--epochs", "2"])
    assert resumed.exit_code == 2, resumed.output
    assert re.search(message, resumed.output), resumed.output
    assert (work / "metrics.jsonl").read_text() == metrics  # no epoch was trained
