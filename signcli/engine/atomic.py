"""Atomic file writes: a process killed at any instant leaves the old file or the new one.

Write `NAME.tmp` in the same folder, flush and fsync, `os.replace`, then fsync the folder
so the rename itself survives a power cut (docs/architecture.md, "Work directory"). Torch-free.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from signcli.errors import DiskError


@contextmanager
def atomic_open(path: Path, mode: str = "wb") -> Iterator[IO]:
    """Open `path.tmp` for writing; on success it replaces `path`, on failure it is removed
    and `path` is left untouched. OSError (full disk, read-only folder) becomes DiskError."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        _remove_quietly(tmp)
        reason = exc.strerror or str(exc)
        raise DiskError(
            f"could not write {path.name} in {path.parent}: {reason}",
            hint="free disk space or fix the folder's permissions; the previous file is intact",
        ) from exc
    except BaseException:
        _remove_quietly(tmp)
        raise


def atomic_write(path: Path, data: bytes | str) -> None:
    """Replace `path` with `data` atomically."""
    mode = "wb" if isinstance(data, bytes) else "w"
    with atomic_open(path, mode) as handle:
        handle.write(data)


def atomic_save(path: Path, writer: Callable[[IO], None]) -> None:
    """Replace `path` atomically with what `writer(handle)` writes (e.g. torch.save)."""
    with atomic_open(path, "wb") as handle:
        writer(handle)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # not supported on this platform or filesystem
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
