"""Atomic writes: the old file survives any failure, and no temp file is left behind."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from signcli.engine import atomic
from signcli.engine.atomic import atomic_save, atomic_write
from signcli.errors import DiskError


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
