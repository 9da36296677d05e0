"""A full disk during a run's writes (issue 23, faults): the lock, metrics.jsonl and a
checkpoint each become a DiskError (exit 2) naming the folder, the previous file intact."""

from __future__ import annotations

import errno
import resource
import signal
from pathlib import Path

import pytest
import torch

from signcli.core.errors import DiskError, UsageError
from signcli.engine import workdir
from signcli.engine.checkpoint import save_checkpoint
from signcli.metrics.jsonl import append_metrics


def disk_full(*_: object, **__: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_checkpoint_past_a_file_size_limit_keeps_the_previous_one(tmp_path: Path) -> None:
    """A real short write (RLIMIT_FSIZE), which torch's zip writer reports as a RuntimeError."""
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": {"w": torch.zeros(4)}})
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, hard))
    try:
        with pytest.raises(DiskError, match=f"could not write last.pt in {tmp_path}"):
            save_checkpoint(path, {"model": {"w": torch.zeros(100_000)}})
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert torch.load(path, weights_only=True)["model"]["w"].shape == (4,)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temp file left


def test_metrics_on_a_full_disk_keep_the_previous_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "metrics.jsonl"
    append_metrics(path, {"epoch": 1, "train_loss": 1.0})
    before = path.read_text()
    monkeypatch.setattr("signcli.core.atomic.os.fsync", disk_full)
    with pytest.raises(DiskError, match=f"metrics.jsonl in {tmp_path}: No space left"):
        append_metrics(path, {"epoch": 2, "train_loss": 0.5})
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.jsonl"]


class _FullDiskHandle:
    """The lock file's handle, on a disk with no space for the PID line."""

    def __init__(self, handle) -> None:  # noqa: ANN001
        self._handle = handle

    def write(self, text: str) -> int:
        disk_full()
        return 0

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._handle, name)


def test_a_lock_write_on_a_full_disk_names_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = workdir._open_lock_file
    monkeypatch.setattr(workdir, "_open_lock_file", lambda path: _FullDiskHandle(opened(path)))
    with pytest.raises(DiskError, match=f"could not write the lock file in {tmp_path}"):
        with workdir.work_dir_lock(tmp_path):
            pass
    monkeypatch.undo()
    with workdir.work_dir_lock(tmp_path):  # released: the next run takes it
        pass


def test_a_last_pt_that_is_a_folder_is_reported_as_one(tmp_path: Path) -> None:
    from signcli.engine.recipes import resume_run
    from signcli.settings import Settings

    (tmp_path / "config.json").write_text(Settings().model_dump_json())
    (tmp_path / "last.pt").mkdir()
    with pytest.raises(UsageError, match="checkpoint .*last.pt is a folder, not a regular file"):
        resume_run(tmp_path)
