"""The work directory's lock and --overwrite's removal (engine/workdir.py): a second process
is refused by name, a dead holder never blocks, and a removal that cannot finish says so
before (or, failing midway, after) touching anything."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
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


def test_log_csv_never_replaces_an_input_or_another_runs_file(tmp_path: Path) -> None:
    from signcli.engine.callbacks import check_log_csv

    labels = tmp_path / "train_labels.csv"
    labels.write_text("file,gloss\n")
    with pytest.raises(UsageError, match="an input of this command"):
        check_log_csv(labels, tmp_path / "new", resuming=False, overwrite=True, inputs=[labels])
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text("{}")
    with pytest.raises(UsageError, match="one of the run's own files"):
        check_log_csv(other / "config.json", tmp_path / "new", resuming=False, overwrite=True)


def test_overwrite_never_follows_a_linked_tensorboard_folder(tmp_path: Path) -> None:
    work = tmp_path / "run"
    fake_run(work)
    elsewhere = tmp_path / "my_logs"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("mine")
    shutil.rmtree(work / "tensorboard")
    (work / "tensorboard").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(
        UsageError,
        match="(?s)tensorboard is a symbolic link, which --overwrite does not follow.*nothing was removed",
    ):
        removable_run(work)
    assert (elsewhere / "keep.txt").read_text() == "mine"
    assert all((work / name).exists() for name in RUN_FILES)


@contextlib.contextmanager
def recursion_limit(limit: int) -> Iterator[None]:
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(limit)
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


def _nest(folder: Path, depth: int) -> None:
    """`depth` folders one inside the other under `folder`, made iteratively (relative
    names: os.makedirs recurses, and the full path would pass the OS's length limit)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            inner = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)


def test_overwrite_refuses_a_tensorboard_tree_deeper_than_the_limit(
    tmp_path: Path, monkeypatch
) -> None:
    """issue 23: os.walk (and rmtree) recurse; a tree deeper than the recursion limit was a
    RecursionError. Now refused by name, before anything is removed."""
    work = tmp_path / "run"
    fake_run(work)
    _nest(work / "tensorboard", 400)
    try:
        with recursion_limit(300):  # a recursive walk of 400 levels fails here, as 2,000 do
            _check_deep_tensorboard(work, monkeypatch)
    finally:  # rm walks any depth; pytest's own cleanup (shutil.rmtree) would recurse
        subprocess.run(["rm", "-rf", str(work / "tensorboard")], check=True)


def _check_deep_tensorboard(work: Path, monkeypatch) -> None:
    with pytest.raises(
        UsageError,
        match=r"(?s)tensorboard holds folders more than 100 levels deep.*nothing was removed",
    ):
        removable_run(work)
    assert all((work / name).exists() for name in RUN_FILES)
    monkeypatch.setenv("SIGNCLI_MAX_FOLDER_DEPTH", "1000")  # allowed: iterative, no recursion
    assert work / "tensorboard" in removable_run(work)
