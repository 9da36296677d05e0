"""Errors of DataLoader worker processes, as the worker raised them.

torch re-raises an exception of a worker process (`data.num_workers` > 0) in the main
process as the same class built from one string, "Caught DataError in DataLoader worker
process 0.\\nOriginal Traceback (most recent call last): ...": the whole traceback becomes
the message the user reads (a SettingsError even splits it into characters). `Loader`
is a DataLoader whose iteration re-raises such an error as the worker raised it: the
same class (so the same exit code) with the worker's own message, the last entry of
the traceback. A worker that died (killed for memory, a crash inside C code) is a
DataError naming `data.num_workers` instead of torch's RuntimeError.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from torch.utils.data import DataLoader

from signcli.core.errors import DataError, SettingsError, SigncliError

_ORIGINAL = "\nOriginal Traceback (most recent call last):"
# torch's words for a worker that is gone: "DataLoader worker (pid(s) 123) exited
# unexpectedly", "DataLoader worker (pid 123) is killed by signal: Killed."
_WORKER_DIED = re.compile(r"DataLoader worker \(pids?(?:\(s\))? ([\d, ]+)\) (.*)")


class Loader(DataLoader):
    """A DataLoader whose worker errors read as the worker raised them (`worker_error`)."""

    def __iter__(self) -> Iterator[Any]:
        iterator = super().__iter__()
        while True:
            try:
                batch = next(iterator)
            except StopIteration:
                return
            except Exception as exc:  # noqa: BLE001 - translated when a worker raised it
                translated = worker_error(exc)
                if translated is None:
                    raise
            else:
                yield batch
                continue
            # the workers stopped and unregistered from torch's SIGCHLD check now: a worker
            # that died would otherwise raise torch's RuntimeError again later, anywhere
            shutdown = getattr(iterator, "_shutdown_workers", None)
            try:
                if shutdown is not None:
                    shutdown()
            except RuntimeError:  # that check firing once more while they stop
                pass
            raise translated


def worker_error(exc: BaseException) -> BaseException | None:
    """The error a worker raised, rebuilt from torch's re-raised `exc` (same class, the
    worker's message), a DataError for a worker that died, or None when `exc` is neither."""
    text = str(exc.args[0]) if exc.args and isinstance(exc.args[0], str) else str(exc)
    if _ORIGINAL in text:
        return _rebuilt(type(exc), text)
    died = _WORKER_DIED.search(text) if isinstance(exc, RuntimeError) else None
    if died is not None:
        how = died.group(2).strip().rstrip(".").splitlines()[0]
        return DataError(
            f"a data-loading worker process (pid {died.group(1).strip()}) died: {how}",
            hint="it may have run out of memory; lower data.num_workers or set it to 0 "
            "(--set data.num_workers=0), then resume",
        )
    return None


def _rebuilt(cls: type[BaseException], text: str) -> BaseException:
    """`cls` with the message the worker's exception had: what follows the last
    `module.Class: ` line of the traceback (the message may span lines)."""
    names = {f"{cls.__module__}.{cls.__qualname__}", cls.__qualname__}
    message = text.rsplit("\n", 1)[-1]
    for name in names:
        cut = text.rfind(f"\n{name}: ")
        if cut >= 0:
            message = text[cut + len(name) + 3 :]
            break
    message = message.rstrip("\n")
    if issubclass(cls, SigncliError):
        # without calling __init__, whose signature differs (SettingsError takes a list);
        # the message is str() of the original, hint included
        error = cls.__new__(cls)
        Exception.__init__(error, message)
        error.message, error.hint = message, None
        if isinstance(error, SettingsError):
            error.problems = message.split("\n")
        return error
    try:
        return cls(message)
    except Exception:  # noqa: BLE001 - a class that does not take one string
        return RuntimeError(message)
