"""The work directory's lock and --overwrite's removal (engine/workdir.py): a second process
is refused by name, a dead holder never blocks, and a removal that cannot finish says so
before (or, failing midway, after) touching anything."""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

import pytest

from signcli.core.errors import DiskError, UsageError
from signcli.core.run_files import LOCK_FILE, RUN_FILES
from signcli.engine import workdir
from signcli.engine.workdir import removable_run, remove_run, work_dir_lock
from tests.engine.lock_holder import HOLDER_COMMAND, lock_held_elsewhere

pytestmark = pytest.mark.skipif(workdir.fcntl is None, reason="no flock on this platform")


def test_a_second_process_is_refused_naming_the_holder(tmp_path: Path) -> None:
    work = tmp_path / "run"
    with lock_held_elsewhere(work) as holder:
        with pytest.raises(UsageError) as refused:
            with work_dir_lock(work):
                pytest.fail("the lock was taken twice")
        assert str(refused.value).splitlines() == [
            f"{work} is in use by another signcli run (PID {holder.pid}: {HOLDER_COMMAND})",
            "  wait for that run to finish (or stop it), or use another --work-dir",
        ]
    with work_dir_lock(work):  # released: free again
        assert (work / LOCK_FILE).read_text().startswith(f"{os.getpid()}\n")
    assert not (work / LOCK_FILE).exists()


def test_a_killed_holder_leaves_a_lock_file_that_does_not_block(tmp_path: Path) -> None:
    work = tmp_path / "run"
    with lock_held_elsewhere(work) as holder:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert str(holder.pid) in (work / LOCK_FILE).read_text()  # stale, left behind
    with work_dir_lock(work, command="signcli resume run"):
        assert (work / LOCK_FILE).read_text() == f"{os.getpid()}\nsigncli resume run\n"


def test_a_forked_child_does_not_keep_a_killed_parents_lock(tmp_path: Path) -> None:
    work = tmp_path / "run"
    with lock_held_elsewhere(work, fork=True) as holder:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        os.kill(holder.child, 0)  # the forked child still runs, its lock file still open
        with work_dir_lock(work):
            pass


def test_the_lock_is_reentrant_and_leaves_no_empty_folder(tmp_path: Path) -> None:
    work = tmp_path / "runs" / "a"
    with work_dir_lock(work), work_dir_lock(work):  # start_run, then the Trainer.fit it calls
        assert (work / LOCK_FILE).exists()
    assert not (tmp_path / "runs").exists()  # a run that wrote nothing leaves nothing
    with work_dir_lock(work):
        (work / "config.json").write_text("{}")
    assert sorted(os.listdir(work)) == ["config.json"]


def fake_run(work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    for name in RUN_FILES:
        (work / name).write_text(name)
    (work / "tensorboard" / "sub").mkdir(parents=True)
    (work / "tensorboard" / "sub" / "events").write_text("e")
    (work / "notes.txt").write_text("mine")


def test_removal_is_checked_before_anything_is_removed(tmp_path: Path) -> None:
    work = tmp_path / "run"
    fake_run(work)
    (work / "best.pt").unlink()
    (work / "best.pt").mkdir()  # a folder where a checkpoint should be (root can't chmod)
    (work / "best.pt" / "keep").write_text("x")
    with pytest.raises(UsageError) as refused:
        removable_run(work)
    assert "--overwrite cannot remove the old run in" in str(refused.value)
    assert "best.pt is a folder, not a file signcli wrote" in str(refused.value)
    assert "nothing was removed" in str(refused.value)
    assert all((work / name).exists() for name in RUN_FILES)


def test_a_removal_failing_midway_names_what_went_and_what_remains(
    tmp_path: Path, monkeypatch
) -> None:
    work = tmp_path / "run"
    fake_run(work)
    log_csv = tmp_path / "log.csv"
    log_csv.write_text("epoch\n")
    targets = removable_run(work, [log_csv])
    assert [p.name for p in targets] == [*RUN_FILES, "tensorboard", "log.csv"]
    real_unlink = os.unlink

    def unlink_fails_on_labels(path, *args, **kwargs) -> None:
        if Path(path).name == "labels.json":
            raise OSError(errno.EPERM, "Operation not permitted")
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(workdir.os, "unlink", unlink_fails_on_labels)
    with pytest.raises(DiskError) as failed:
        remove_run(work, targets)
    message = str(failed.value)
    assert (
        f"--overwrite could not remove {work / 'labels.json'}: Operation not permitted" in message
    )
    assert (
        "removed config.json; still there: labels.json, split.json, metrics.jsonl, last.pt, "
        f"best.pt, tokenizer.json, curves.png, tensorboard, {log_csv}"
    ) in message
    assert "cannot be resumed" in message
    assert not (work / "config.json").exists() and (work / "labels.json").exists()
    assert (work / "notes.txt").exists()


def test_a_removal_leaves_other_files_and_the_lock(tmp_path: Path) -> None:
    work = tmp_path / "run"
    fake_run(work)
    (work / LOCK_FILE).write_text("1\nsigncli train\n")
    remove_run(work, removable_run(work))
    assert sorted(os.listdir(work)) == [LOCK_FILE, "notes.txt"]
