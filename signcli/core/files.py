"""What is at a path, and the check that an input file is a regular file before it is opened.

A FIFO (named pipe) given where signcli reads a file (a labels CSV, a settings or rules
file, metrics.jsonl, a checkpoint) would block the command forever in `open` or `read`
until something writes to it, and a device such as /dev/zero never ends; both are refused
up front, from `os.stat`, with a UsageError (exit 2) naming the path and what it is.
Torch-free; `core/atomic.py` uses `path_kind` for the outputs.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO, Any

from signcli.core.errors import UsageError
from signcli.core.limits import MAX_FOLDER_DEPTH, Limit

REGULAR_FILE = "a file"
FOLDER = "a folder"


def path_kind(path: Path) -> str | None:
    """What is at `path` (links followed), in words, or None if nothing is."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # absent or unreadable (the open reports the latter); NUL
        return None
    return _kind_of_mode(mode)


def check_input_file(path: Path, what: str, hint: str | None = None) -> None:
    """UsageError (exit 2) unless `path` is a regular file (links followed): `what` (e.g.
    "labels file") names it in the message, `hint` says where it came from ("check --labels")
    when it does not exist."""
    path = Path(path)
    kind = path_kind(path)
    if kind is None:
        raise UsageError(f"{what} {path} not found", hint=hint)
    if kind != REGULAR_FILE:
        raise UsageError(
            f"{what} {path} is {kind}, not a regular file",
            hint="give the path of the file itself; signcli does not read from pipes or devices",
        )


class NotARegularFile(UsageError, OSError):
    """A path signcli reads is a FIFO, device, socket or folder. A UsageError (exit 2) for
    commands, and an OSError, so readers that report unreadable files as findings (a sample
    listed in an index, a cache file) report it as one."""


# O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


def open_input(path: Path, what: str, mode: str = "rb", **kwargs: Any) -> IO:
    """Open `path`, a file signcli did not create, for reading in `mode` ("rb" or "r" with
    `encoding=` ...), never blocking: the descriptor is opened non-blocking and checked with
    `fstat` (the file opened is the file checked, whatever is swapped in between), then
    made blocking again. NotARegularFile unless it is a regular file; OSError as `open`."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        kind = _kind_of_mode(os.fstat(fd).st_mode)
        if kind != REGULAR_FILE:
            raise NotARegularFile(
                f"{what} {path} is {kind}, not a regular file",
                hint="give the path of the file itself; signcli does not read from pipes or devices",
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def _kind_of_mode(mode: int) -> str:
    if stat.S_ISREG(mode):
        return REGULAR_FILE
    if stat.S_ISDIR(mode):
        return FOLDER
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "neither a file nor a folder"


def oversize(path: Path, what: str, limit: Limit) -> str | None:
    """Why `path` is too large to read whole (its size above `limit`, a `core/limits.py`
    bound in bytes), or None. Checked before reading: a CSV of hundreds of MB costs
    gigabytes once parsed."""
    try:
        size = os.stat(path).st_size
    except (OSError, ValueError):
        return None  # the read reports it
    if size <= limit.value():
        return None
    return f"{what} {path} is {size:,} bytes: {limit.at_most()}"


def walk_files(root: Path, suffix: str) -> tuple[list[Path], list[Path]]:
    """The regular files named `*suffix` (any case) in `root` and the folders below it, in
    no particular order, and the folders left unsearched because they lie deeper than
    `MAX_FOLDER_DEPTH` levels. Iterative, so a tree nested thousands deep is a skip rather
    than a RecursionError (as `Path.rglob` and `os.walk` are in Python 3.11); links to
    folders are not followed, and a folder that cannot be listed is passed over."""
    limit = MAX_FOLDER_DEPTH.value()
    suffix = suffix.lower()
    files: list[Path] = []
    too_deep: list[Path] = []
    pending: list[tuple[Path, int]] = [(Path(root), 0)]
    while pending:
        folder, depth = pending.pop()
        if depth > limit:
            too_deep.append(folder)
            continue
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            pending.append((folder / entry.name, depth + 1))
                        elif entry.name.lower().endswith(suffix) and entry.is_file():
                            files.append(folder / entry.name)
                    except OSError:
                        continue
        except OSError:  # unreadable, or a path past the OS's length limit
            continue
    return files, too_deep


NPZ_SUFFIX = ".npz"


def sample_id(name: str | Path) -> str:
    """The id of a sample: its file's basename without `.npz` (labels may use either)."""
    if isinstance(name, Path):
        base = name.name
    else:
        text = str(name)
        # a bare name is its own basename: skip the Path parse (100k label rows add up)
        bare = "/" not in text and "\\" not in text and ":" not in text and text != "."
        base = text if bare else Path(text).name
    return base[: -len(NPZ_SUFFIX)] if base.lower().endswith(NPZ_SUFFIX) else base
