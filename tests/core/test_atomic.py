"""Atomic writes: the old file survives any failure, and no temp file is left behind."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from signcli.core import atomic
from signcli.core.atomic import atomic_save, atomic_write, check_folder, ensure_folder
from signcli.core.errors import DiskError, UsageError


def test_replaces_content(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    atomic_write(target, "old")
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["f.json"]


def test_failed_writer_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "last.pt"
    atomic_write(target, b"good")

    def explode(handle) -> None:
        handle.write(b"partial")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_save(target, explode)
    assert target.read_bytes() == b"good"
    assert os.listdir(tmp_path) == ["last.pt"]


def test_full_disk_becomes_disk_error_naming_the_folder(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "last.pt"
    atomic_write(target, b"good")

    def full_disk(src, dst) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full_disk)
    with pytest.raises(DiskError) as info:
        atomic_write(target, b"new")
    assert str(tmp_path) in str(info.value) and "No space left" in str(info.value)
    assert target.read_bytes() == b"good"
    assert os.listdir(tmp_path) == ["last.pt"]


def test_a_fifo_target_is_refused_and_left_alone(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match=r"pipe is a FIFO, not a regular file"):
        atomic_write(fifo, b"data")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["pipe"]


def test_a_folder_target_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"is a folder, not a regular file"):
        atomic_write(tmp_path, b"data")


def test_a_target_under_a_file_names_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(UsageError) as info:
        atomic_write(blocker / "sub" / "f.json", "{}")
    assert f"cannot be created: {blocker} is a file" in str(info.value)
    assert blocker.read_text() == "x"


def test_check_and_ensure_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(UsageError, match=r"--out .*blocker is a file, not a folder"):
        check_folder(blocker, "--out")
    with pytest.raises(UsageError, match=r"cannot be created: .*blocker is a file"):
        ensure_folder(blocker / "a" / "b", "--out")
    check_folder(tmp_path / "new" / "deeper")  # absent under a folder: fine
    assert not (tmp_path / "new").exists()  # and nothing created
    assert ensure_folder(tmp_path / "new" / "deeper").is_dir()
