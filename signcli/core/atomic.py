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

from signcli.core.errors import DiskError, UsageError
from signcli.core.files import path_kind as _kind

PATH_HINT = "choose another path, or move what is in the way"


def check_folder(path: Path, what: str = "output folder") -> None:
    """UsageError (exit 2) when `path` cannot be a folder: it exists and is not one, or one
    of its parents is a file. Creates nothing, so commands call it before any work."""
    path = Path(path)
    kind = _kind(path)
    if kind is None:
        _check_parents(path, what)
    elif kind != "a folder":
        raise UsageError(f"{what} {path} is {kind}, not a folder", hint=PATH_HINT)


def ensure_folder(path: Path, what: str = "output folder") -> Path:
    """`check_folder`, then create `path` with its parents; OSError becomes DiskError."""
    path = Path(path)
    check_folder(path, what)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DiskError(
            f"could not create {what} {path}: {exc.strerror or exc}",
            hint="fix the folder's permissions or free disk space",
        ) from exc
    return path


def check_output_file(path: Path, what: str = "output file") -> None:
    """UsageError (exit 2) unless `path` is absent or a regular file, and its folder can be
    one: the atomic write renames a new file over the target, which would replace a device,
    FIFO or socket with a regular file."""
    path = Path(path)
    kind = _kind(path)
    if kind is not None and kind != "a file":
        raise UsageError(f"{what} {path} is {kind}, not a regular file", hint=PATH_HINT)
    if kind is None:
        _check_parents(path, what)


def _check_parents(path: Path, what: str) -> None:
    """UsageError if the nearest existing parent of the absent `path` is not a folder."""
    for parent in path.parents:
        kind = _kind(parent)
        if kind is None:
            continue
        if kind != "a folder":
            raise UsageError(f"{what} {path} cannot be created: {parent} is {kind}", hint=PATH_HINT)
        return


@contextmanager
def atomic_open(path: Path, mode: str = "wb") -> Iterator[IO]:
    """Open `path.tmp` for writing; on success it replaces `path`, on failure it is removed
    and `path` is left untouched. OSError (full disk, read-only folder) becomes DiskError."""
    path = Path(path)
    check_output_file(path)
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
