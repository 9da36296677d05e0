"""The work directory's life cycle (its file names are core/run_files.py's): the lock that keeps one signcli run in a
folder at a time, refusing to start over a run, and removing one for `--overwrite`
(docs/architecture.md, "Work directory").

The lock is `WORK_DIR/.signcli.lock`, held with `fcntl.flock` on an open file that records
the PID and command line of its holder. The operating system drops the lock when that
process dies, however it dies, so a lock file left by a killed run never blocks the next
one. On platforms without `fcntl` (Windows) runs are not locked. Torch-free.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import stat
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from signcli.core.atomic import ensure_folder
from signcli.core.errors import DiskError, UsageError
from signcli.core.files import path_kind
from signcli.core.limits import MAX_FOLDER_DEPTH
from signcli.core.run_files import (
    LOCK_FILE,
    RUN_FILES,
    TENSORBOARD_DIR,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, runs are not locked there
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("signcli")

COMMAND_SHOWN_CHARS = 200  # a longer command line is cut in the "in use" message
LOCK_INFO_MAX_BYTES = 4096  # what is read of another holder's lock file
IN_USE_HINT = "wait for that run to finish (or stop it), or use another --work-dir"
OVERWRITE_HINT = "rerun with --overwrite once it is fixed"

# work dirs this process holds, by real path, with how many nested holds each has
_held: dict[str, int] = {}
# the open lock files of this process: a forked child (a DataLoader worker) closes its
# copies, so that it does not keep the lock alive after its parent was killed
_handles: list[IO[str]] = []


def _close_in_child() -> None:
    for handle in _handles:
        try:
            handle.close()  # the child's copy only: the parent's descriptor keeps the lock
        except OSError:
            pass
    _handles.clear()
    _held.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_in_child)


# ---------------------------------------------------------------------------------------
# The lock


@contextmanager
def work_dir_lock(work_dir: Path, command: str | None = None) -> Iterator[None]:
    """Hold the lock of `work_dir` for the block, creating the folder if needed (and
    removing it again if it is still empty at the end). Re-entrant within one process, so
    `start_run` and the `Trainer.fit` it calls share one hold.

    UsageError (exit 2) naming the holder when another process holds it; `command` (default:
    this process's command line) is what that message shows to others.
    """
    work_dir = Path(work_dir)
    created = _missing_folders(work_dir)
    ensure_folder(work_dir, "--work-dir")
    key = os.path.realpath(work_dir)
    if key in _held:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    handle = _acquire(work_dir, command or current_command())
    _held[key] = 1
    try:
        yield
    finally:
        del _held[key]
        _release(handle, work_dir / LOCK_FILE)
        _remove_empty(created)


def current_command() -> str:
    """This process's command line as a person would type it (`signcli train ...`)."""
    argv = list(sys.argv) or ["python"]
    program = Path(argv[0]).name
    if program == "__main__.py":  # python -m signcli
        program = Path(argv[0]).parent.name
    elif program in ("", "-c"):
        program = "python"
    line = shlex.join([program, *argv[1:]])
    return line if len(line) <= COMMAND_SHOWN_CHARS else line[: COMMAND_SHOWN_CHARS - 3] + "..."


def _acquire(work_dir: Path, command: str) -> IO[str] | None:
    """The open, locked lock file (holding our PID and command), or None where files
    cannot be locked."""
    if fcntl is None:
        return None
    path = work_dir / LOCK_FILE
    while True:
        handle = _open_lock_file(path)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(handle)
            handle.close()
            raise UsageError(
                f"{work_dir} is in use by another signcli run ({holder})", hint=IN_USE_HINT
            ) from None
        except OSError as exc:  # a filesystem without flock (some network mounts)
            handle.close()
            log.warning(
                "could not lock %s (%s): nothing stops another signcli run from using it now",
                work_dir,
                exc.strerror or exc,
            )
            return None
        if _is_file_at(handle, path):
            break
        # its holder removed the file between our open and our lock: lock the new one
        handle.close()
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n{command}\n")
        handle.flush()
    except OSError as exc:  # a full disk: nothing of the run was touched yet
        handle.close()
        raise DiskError(
            f"could not write the lock file in {work_dir}: {exc.strerror or exc}",
            hint="free disk space, or use another --work-dir",
        ) from exc
    _handles.append(handle)
    return handle


def _open_lock_file(path: Path) -> IO[str]:
    """Open (create) the lock file without blocking: a FIFO or device put in its place
    would hang `open` or the read of the holder's PID, so anything but a regular file is
    refused from the open descriptor's `fstat`."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NONBLOCK", 0), 0o644)
    except OSError as exc:
        raise DiskError(
            f"could not create the lock file {path}: {exc.strerror or exc}",
            hint="fix the folder's permissions, or use another --work-dir",
        ) from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UsageError(
            f"the lock file {path} is {path_kind(path) or 'not a regular file'}, "
            "not a regular file",
            hint=f"remove it (signcli creates {LOCK_FILE} itself), or use another --work-dir",
        )
    os.set_blocking(fd, True)
    return os.fdopen(fd, "r+", encoding="utf-8", errors="replace")


def _holder(handle: IO[str]) -> str:
    """`PID 1234: signcli train ...` from another process's lock file."""
    handle.seek(0)
    pid, _, command = handle.read(LOCK_INFO_MAX_BYTES).partition("\n")
    pid, command = pid.strip(), command.strip()
    if not pid.isdigit():  # it has the lock but has not written its name yet
        return "PID unknown"
    return f"PID {pid}: {command}" if command else f"PID {pid}"


def _is_file_at(handle: IO[str], path: Path) -> bool:
    try:
        here, there = os.fstat(handle.fileno()), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _release(handle: IO[str] | None, path: Path) -> None:
    """Remove the lock file while still holding it (a process that opened it meanwhile
    sees it is gone and locks a new one), then let go."""
    if handle is None:
        return
    if handle in _handles:
        _handles.remove(handle)
    try:
        if _is_file_at(handle, path):
            os.unlink(path)
    except OSError:
        pass  # a stale lock file never blocks: flock, not the file, is the lock
    finally:
        handle.close()


def _missing_folders(folder: Path) -> list[Path]:
    """`folder` and those of its parents that do not exist, deepest first."""
    missing = []
    for candidate in (folder, *folder.parents):
        if os.path.lexists(candidate):
            break
        missing.append(candidate)
    return missing


def _remove_empty(folders: Sequence[Path]) -> None:
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty: the run wrote something
            return


# ---------------------------------------------------------------------------------------
# An existing run


def existing_run_files(work_dir: Path) -> list[str]:
    """The names of RUN_FILES present in `work_dir`."""
    return [name for name in RUN_FILES if os.path.lexists(Path(work_dir) / name)]


def refuse_existing_run(work_dir: Path, *, resume: str, overwrite: str) -> None:
    """UsageError when `work_dir` already holds a run; `resume` and `overwrite` say how to
    continue it or start over (CLI flags or Python calls)."""
    existing = existing_run_files(work_dir)
    if existing:
        raise UsageError(
            f"{work_dir} already holds a run ({', '.join(existing)})",
            hint=f"continue it with {resume}, or {overwrite} to start over "
            "(or choose another --work-dir)",
        )


def removable_run(work_dir: Path, extra: Sequence[Path] = ()) -> list[Path]:
    """What `--overwrite` removes, in order: the RUN_FILES present, the tensorboard folder,
    then `extra` files (the --log-csv). Checks all of them first: UsageError, with nothing
    removed, unless each is a regular file (tensorboard: a folder) in a writable folder."""
    work_dir = Path(work_dir)
    targets = [work_dir / name for name in RUN_FILES]
    targets += [work_dir / TENSORBOARD_DIR, *extra]
    present = [path for path in targets if os.path.lexists(path)]
    problems = [p for path in present if (p := _removal_problem(path, work_dir))]
    if problems:
        raise UsageError(
            f"--overwrite cannot remove the old run in {work_dir}: {'; '.join(problems)}",
            hint=f"nothing was removed; move what is in the way, then {OVERWRITE_HINT}",
        )
    return present


def remove_run(work_dir: Path, targets: Sequence[Path]) -> None:
    """Remove `targets` (from `removable_run`) in order. DiskError when one cannot be
    removed after all, naming what was removed and what remains."""
    for index, path in enumerate(targets):
        try:
            if stat.S_ISDIR(os.lstat(path).st_mode):  # tensorboard, checked by removable_run
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except OSError as exc:
            removed = ", ".join(_shown(p, work_dir) for p in targets[:index]) or "nothing"
            remaining = ", ".join(_shown(p, work_dir) for p in targets[index:])
            raise DiskError(
                f"--overwrite could not remove {path}: {exc.strerror or exc}; "
                f"removed {removed}; still there: {remaining}",
                hint=f"the old run is partly removed and cannot be resumed; {OVERWRITE_HINT}",
            ) from exc


def _removal_problem(path: Path, work_dir: Path) -> str | None:
    """Why `path` cannot be removed, or None."""
    shown = _shown(path, work_dir)
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):  # signcli writes no links: one there is the user's
        return f"{shown} is a symbolic link, which --overwrite does not follow"
    if path == work_dir / TENSORBOARD_DIR:
        if not stat.S_ISDIR(mode):
            return f"{shown} is not a folder"
        problem = _tensorboard_problem(path, work_dir)
        if problem:
            return problem
    elif not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        return f"{shown} is {kind}, not a file signcli wrote"
    if not os.access(path.parent, os.W_OK | os.X_OK):
        return f"{path.parent} is not writable"
    return None


def _tensorboard_problem(path: Path, work_dir: Path) -> str | None:
    """Why the tensorboard folder cannot be removed: a folder in it not writable, or folders
    nested deeper than MAX_FOLDER_DEPTH (tensorboard writes one or two levels; `os.walk`
    and `shutil.rmtree` recurse, and a tree thousands deep was a RecursionError midway).
    Iterative, links not followed."""
    limit = MAX_FOLDER_DEPTH.value()
    pending = [(path, 0)]
    while pending:
        folder, depth = pending.pop()
        if depth > limit:
            return (
                f"{_shown(path, work_dir)} holds folders more than {limit:,} levels deep, "
                f"which signcli does not write ({MAX_FOLDER_DEPTH.env} raises the limit)"
            )
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"{_shown(folder, work_dir)} is not writable"
        try:
            with os.scandir(folder) as entries:
                pending += [
                    (folder / e.name, depth + 1) for e in entries if e.is_dir(follow_symlinks=False)
                ]
        except OSError as exc:
            return f"{_shown(folder, work_dir)} cannot be listed ({exc.strerror or exc})"
    return None


def _shown(path: Path, work_dir: Path) -> str:
    """A run file by its name, anything else (the --log-csv) by its path."""
    return path.name if path.parent == Path(work_dir) else str(path)
