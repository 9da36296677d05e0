"""What is at a path, and the one rule for every file signcli reads that it did not create.

A FIFO (named pipe) given where signcli reads a file (a labels CSV, a settings or rules
file, metrics.jsonl, a checkpoint, an import source) would block the command forever in
`open` or `read` until something writes to it, and a device such as /dev/zero never ends.
Every such file is opened with `open_input` (or read whole with `read_input` /
`read_input_text`): opened non-blocking, checked on the open descriptor (regular files
only), its size checked against a `core/limits.py` bound before anything is read where a
large file would cost gigabytes once parsed; each refusal a UsageError (exit 2) naming the
path and what it is. Torch-free; `core/atomic.py` uses `path_kind` for the outputs.
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


def folder_problem(path: Path) -> str | None:
    """Why `path` is not an input folder, in words ("does not exist", "is a FIFO, not a
    folder"), or None when it is one: a file in a folder's place is named, not "missing"."""
    kind = path_kind(path)
    if kind == FOLDER:
        return None
    return "does not exist" if kind is None else f"is {kind}, not a folder"


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


class FileTooLarge(UsageError, OSError):
    """A file signcli reads is larger than its `core/limits.py` bound. A UsageError (exit 2)
    for commands, and an OSError, so readers that report unreadable files as findings
    (an import source, a sample) report it as one."""


def open_input(
    path: Path, what: str, mode: str = "rb", *, limit: Limit | None = None, **kwargs: Any
) -> IO:
    """Open `path`, a file signcli did not create, for reading in `mode` ("rb" or "r" with
    `encoding=` ...), never blocking: the descriptor is opened non-blocking and checked with
    `fstat` (the file opened is the file checked, whatever is swapped in between), then
    made blocking again. NotARegularFile unless it is a regular file; FileTooLarge when
    `limit` (a bound in bytes) is given and the file is larger; OSError as `open`."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        info = os.fstat(fd)
        kind = _kind_of_mode(info.st_mode)
        if kind != REGULAR_FILE:
            raise NotARegularFile(
                f"{what} {path} is {kind}, not a regular file",
                hint="give the path of the file itself; signcli does not read from pipes or devices",
            )
        if limit is not None and info.st_size > limit.value():
            raise FileTooLarge(f"{what} {path} is {info.st_size:,} bytes: {limit.at_most()}")
        os.set_blocking(fd, True)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def open_input_or_refuse(
    path: Path,
    what: str,
    mode: str = "rb",
    *,
    limit: Limit | None = None,
    hint: str | None = None,
    **kwargs: Any,
) -> IO:
    """`open_input` for a file a command cannot do without: every failure a UsageError
    (exit 2) naming it: not found (with `hint`, where the path came from), not a regular
    file, too large, unreadable."""
    try:
        return open_input(path, what, mode, limit=limit, **kwargs)
    except (NotARegularFile, FileTooLarge):
        raise
    except FileNotFoundError:
        raise UsageError(f"{what} {path} not found", hint=hint) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsageError(f"cannot read {what} {path}: {reason}") from None


def read_input_bytes(path: Path, what: str, *, limit: Limit) -> bytes:
    """The whole of `path` through `open_input`, for readers that treat every failure as
    "unreadable" themselves: each one is an OSError (NotARegularFile, FileTooLarge, or
    the open's or the read's own)."""
    with open_input(path, what, limit=limit) as handle:
        data = handle.read(limit.value() + 1)
    if len(data) > limit.value():  # grew past the bound since it was opened
        raise FileTooLarge(f"{what} {path} is over {limit.value():,} bytes: {limit.at_most()}")
    return data


def read_input(path: Path, what: str, *, limit: Limit, hint: str | None = None) -> bytes:
    """The whole of `path`, opened with `open_input_or_refuse` and read up to `limit`
    bytes (a file that grows past it while read is refused too)."""
    with open_input_or_refuse(path, what, limit=limit, hint=hint) as handle:
        try:
            data = handle.read(limit.value() + 1)
        except OSError as exc:
            raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > limit.value():
        raise FileTooLarge(f"{what} {path} is over {limit.value():,} bytes: {limit.at_most()}")
    return data


def read_input_text(path: Path, what: str, *, limit: Limit, hint: str | None = None) -> str:
    """`read_input` decoded as UTF-8 (a BOM dropped); text that is not UTF-8 is a
    UsageError naming the file, line and byte, never quoting the file."""
    raw = read_input(path, what, limit=limit, hint=hint)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UsageError(
            f"{path}:{line}: {what} is not UTF-8 text (byte 0x{raw[exc.start]:02x})",
            hint="save the file as UTF-8",
        ) from None


_CHUNK_BYTES = 1024**2
_CELL_ENDS = (b",", b";", b"\t", b"\n")  # a cell ends at a delimiter or a line end


def open_table(path: Path, what: str, mode: str = "rb", **kwargs: Any) -> IO:
    """`open_input` for a CSV read whole (labels, texts, index, meta): FileTooLarge when it
    is over MAX_TABLE_BYTES (from `fstat`) or holds more than MAX_TABLE_CELLS cells, counted
    as delimiters and line ends in 1 MiB chunks (an upper bound: quoted text counts too)
    before anything is parsed, so a file of millions of tiny cells costs no memory to
    refuse. The handle comes back at the file's start."""
    from signcli.core.limits import MAX_TABLE_BYTES, MAX_TABLE_CELLS

    handle = open_input(path, what, mode, limit=MAX_TABLE_BYTES, **kwargs)
    try:
        bound, cells = MAX_TABLE_CELLS.value(), 0
        raw = handle.buffer if hasattr(handle, "buffer") else handle
        while chunk := raw.read(_CHUNK_BYTES):
            cells += sum(chunk.count(end) for end in _CELL_ENDS)
            if cells > bound:
                raise FileTooLarge(
                    f"{what} {path} holds more than {bound:,} cells: {MAX_TABLE_CELLS.at_most()}"
                )
        raw.seek(0)
        if raw is not handle:
            handle.seek(0)
        return handle
    except BaseException:
        handle.close()
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
