"""The machinery of the fuzz suite (tests/fuzz/): how many examples, the sandbox each example
runs in, and the properties every example must hold whatever its input:

- the CLI exits 0, 1 or 2 (docs/architecture.md, "Exit codes and output"), prints no
  traceback and no "unexpected X: ... report it" line of `_run.guarded`, which is how a
  crash that no SigncliError describes reaches the user, and no Python warning
  (`file.py:12: RuntimeWarning: ...` is about signcli's insides, not the input);
- a library call returns, or raises one of the SigncliError classes its docstring names,
  whose message names the file at fault (`message_names`), and warns of nothing;
- memory is bounded: `run_bounded` caps the address space (RLIMIT_AS) at what the process
  had plus MEMORY_BYTES, in a forked child (whole commands) or in this process (library
  calls), so an unbounded allocation fails the example (MemoryError, torch's "can't
  allocate memory", or the child dies) instead of taking the machine down;
- time is bounded: a child is killed after `timeout` seconds, an in-process call gets a
  SIGALRM, and either fails the example;
- no file outside the example's work folder is touched: each example runs in a fresh
  `Sandbox`, with the work folder as its current folder and HOME; the fuzzed inputs and a
  decoy folder beside it are compared before and after, to the byte.

Sizes: `fuzz(fast, long)` gives each test `fast` examples in the suite (the whole of
tests/fuzz/ takes about 40 s on 2 busy cores) and `long` with SIGNCLI_FUZZ=long, the run of
benchmarks/fuzz_long.sh, where every example also runs in its own child process
(SIGNCLI_FUZZ_FORK=1 asks for that in the suite too); SIGNCLI_FUZZ_EXAMPLES=N sets every
test to N, SIGNCLI_FUZZ_TIMEOUT=S the time limit of an example.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import re
import resource
import select
import shutil
import signal
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, settings

LONG = os.environ.get("SIGNCLI_FUZZ", "").strip().lower() == "long"
EXAMPLES = int(os.environ.get("SIGNCLI_FUZZ_EXAMPLES", "0") or 0)
# every example in a child process (run_bounded): the long run's default
FORK_ALL = os.environ.get("SIGNCLI_FUZZ_FORK", "1" if LONG else "0") not in ("", "0")

EXIT_CODES = frozenset({0, 1, 2})
MEMORY_BYTES = 1024**3  # what one example may allocate beyond what the process had
TIMEOUT_S = float(os.environ.get("SIGNCLI_FUZZ_TIMEOUT", "20"))  # generous: 2 loaded cores

# `_run.guarded` turns any exception that is not a SigncliError into these words
_UNEXPECTED = re.compile(r"unexpected [A-Z_a-z.]*[A-Z]\w*:|report it")
# how Python prints a warning: `path/file.py:12: UserWarning: ...`
_WARNING_LINE = re.compile(r"\.py:\d+: \w*Warning\b")
# an allocation refused by the memory limit, which a broad `except` may have reworded
_OUT_OF_MEMORY = re.compile(r"allocate memory|MemoryError|out of memory|malloc", re.IGNORECASE)


def preload() -> None:
    """Import what the commands import lazily, once, in this process: a forked child then
    starts with them (importing pandas or torch in each child would take seconds)."""
    # pyarrow's default allocator (mimalloc) reserves address space far beyond what it
    # uses, which the children's RLIMIT_AS refuses ("malloc of size 64 failed"): pandas'
    # string columns are arrow arrays, so every CSV read would fail. The system allocator
    # reserves what it uses.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    import pyarrow

    pyarrow.set_memory_pool(pyarrow.system_memory_pool())
    import pandas  # noqa: F401
    import rich.console  # noqa: F401
    import rich.markup  # noqa: F401
    import rich.table  # noqa: F401
    import torch  # noqa: F401
    import yaml  # noqa: F401
    from typer.testing import CliRunner

    import signcli.cli  # noqa: F401
    import signcli.core.manifest  # noqa: F401
    import signcli.data.validate  # noqa: F401
    import signcli.engine.recipes  # noqa: F401
    import signcli.engine.restore  # noqa: F401
    import signcli.metrics.gate  # noqa: F401
    import signcli.settings  # noqa: F401
    from signcli.cli import app

    CliRunner().invoke(app, ["--version"])


def fuzz(fast: int, long: int = 2000) -> settings:
    """Hypothesis settings of one fuzz test: `fast` examples in the suite, `long` in the long
    run. No deadline (a loaded machine is slow, not wrong): `run_bounded` and `time_limit`
    bound the time of an example instead."""
    return settings(
        max_examples=EXAMPLES or (long if LONG else fast),
        deadline=None,
        # no explain phase: it reruns a failing example hundreds of times (minutes for a
        # command) to say which parts of it matter; the shrunk example says enough
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
        print_blob=True,
    )


# ---------------------------------------------------------------------------------------
# time and memory


class Hang(BaseException):
    """An example ran past its time limit. A BaseException, so that neither `guarded` nor
    the library's own `except Exception` can turn it into an ordinary error."""


@contextlib.contextmanager
def time_limit(seconds: float = TIMEOUT_S) -> Iterator[None]:
    """Fail with Hang when the block runs longer than `seconds` (SIGALRM, main thread)."""

    def fire(signum: int, frame: object) -> None:
        raise Hang(f"the example ran for more than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _address_space() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[0]) * resource.getpagesize()


@contextlib.contextmanager
def memory_limit(memory: int = MEMORY_BYTES) -> Iterator[None]:
    """Cap this process's address space (RLIMIT_AS) at what it has plus `memory` bytes
    while the block runs: an allocation beyond raises MemoryError (numpy, Python) or a
    RuntimeError saying it "can't allocate memory" (torch), which `check_output` and
    `expect_only` treat as a failure, instead of exhausting the machine."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _address_space() + memory
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def run_bounded(
    call: Callable[[], Any],
    *,
    memory: int = MEMORY_BYTES,
    timeout: float = TIMEOUT_S,
    fork: bool | None = None,
) -> Any:
    """`call()` with its memory and time bounded; returns what it returned.

    With `fork` (the default for whole commands, and for everything in the long run) it
    runs in a forked child whose address space may grow by `memory` bytes and which is
    killed after `timeout` seconds, even inside a C loop that never returns to Python; the
    result is pickled back. Without (library calls in the suite: a fork costs ~40 ms) it
    runs here under `memory_limit` and `time_limit`. What it returns is recorded as a
    hypothesis event (`--hypothesis-show-statistics`). Either way an exception (an assertion
    of the property, or anything else) fails the example as an AssertionError holding the
    traceback, and so do a MemoryError, a child killed by a signal or one past its time."""
    if not (FORK_ALL if fork is None else fork):
        try:
            with time_limit(timeout), memory_limit(memory):
                return _record(call())
        except Hang as exc:
            raise AssertionError(f"{exc} (a hang?)\n" + traceback.format_exc()) from None
        except MemoryError:
            raise AssertionError(
                f"MemoryError: the example needed more than {memory / 1024**3:g} GiB beyond "
                "the process's own (an unbounded allocation)\n" + traceback.format_exc()
            ) from None
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 0
        try:
            os.close(read_end)
            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            cap = _address_space() + memory
            if hard != resource.RLIM_INFINITY:
                cap = min(cap, hard)
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
            try:
                outcome: tuple[str, Any] = ("returned", call())
            except MemoryError:
                outcome = (
                    "failed",
                    f"MemoryError: the example needed more than {memory / 1024**3:g} GiB "
                    f"beyond the process's own (an unbounded allocation)\n"
                    + traceback.format_exc(),
                )
            except BaseException:  # noqa: BLE001 - everything goes back to the parent
                outcome = ("failed", traceback.format_exc())
            try:
                blob = pickle.dumps(outcome)
            except Exception:  # noqa: BLE001 - an unpicklable result
                blob = pickle.dumps(("returned", repr(outcome[1])))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(blob)
        except BaseException:  # noqa: BLE001
            status = 3
        finally:
            os._exit(status)
    os.close(write_end)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    timed_out = False
    with os.fdopen(read_end, "rb") as pipe:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([pipe], [], [], left)
            if not ready:
                continue
            chunk = os.read(pipe.fileno(), 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if timed_out:
        raise AssertionError(f"the example ran for more than {timeout:g} s (a hang?)")
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        raise AssertionError(
            f"the example's process died of {name} (out of its {memory / 1024**3:g} GiB?)"
        )
    if not chunks:
        raise AssertionError(f"the example's process exited with {status} and no result")
    kind, value = pickle.loads(b"".join(chunks))
    if kind == "failed":
        raise AssertionError("in the bounded child process:\n" + value)
    return _record(value)


# ---------------------------------------------------------------------------------------
# the properties


def _record(value: Any) -> Any:
    """Record what an example came to (an exit code, "refused", the kinds of findings) as a
    hypothesis event: `--hypothesis-show-statistics` then shows how often inputs get past
    the first check, which says whether the strategies reach the code behind it."""
    from hypothesis import event
    from hypothesis.control import currently_in_test_context

    label = value
    if isinstance(value, tuple) and value and isinstance(value[0], int):
        label = f"exit {value[0]}"  # invoke's (exit code, output)
    if isinstance(label, (str, int)) and currently_in_test_context():
        event(str(label)[:60])
    return value


def check_output(output: str, where: str = "") -> None:
    """No traceback and no `guarded` catch-all line in what a command printed."""
    assert "Traceback" not in output, f"{where}a traceback was printed:\n{output}"
    match = _UNEXPECTED.search(output)
    assert match is None, f"{where}an unexpected error (a bug) was printed:\n{output}"
    match = _WARNING_LINE.search(output)
    assert match is None, f"{where}a Python warning was printed:\n{output}"
    match = _OUT_OF_MEMORY.search(output)
    assert match is None, f"{where}ran out of memory (an unbounded allocation?):\n{output}"


def invoke(args: Sequence[str], codes: frozenset[int] | set[int] = EXIT_CODES) -> tuple[int, str]:
    """Run `signcli ARGS` in this process (typer's CliRunner) and check the CLI properties:
    an exit code in `codes`, no exception escaping the command, no traceback, no
    "unexpected ... report it". Returns (exit code, stdout and stderr)."""
    from typer.testing import CliRunner

    from signcli.cli import app

    result = CliRunner().invoke(app, list(args))
    command = "signcli " + " ".join(args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        trace = "".join(traceback.format_exception(result.exception))
        raise AssertionError(f"{command}: an exception escaped the command:\n{trace}")
    check_output(result.output, f"{command}: ")
    assert result.exit_code in codes, (
        f"{command}: exit {result.exit_code}, expected one of {sorted(codes)}\n{result.output}"
    )
    return result.exit_code, result.output


def expect_only(
    call: Callable[[], Any], allowed: tuple[type[BaseException], ...] = ()
) -> BaseException | Any:
    """`call()`, which may return or raise one of `allowed` (returned, then); anything else
    fails the example with its traceback."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outcome = call()
        _no_warnings(caught)
        return outcome
    except allowed as exc:
        assert _OUT_OF_MEMORY.search(str(exc)) is None, (
            f"ran out of memory (an unbounded allocation?): {type(exc).__name__}: {exc}"
        )
        return exc
    except Hang:
        raise
    except BaseException as exc:  # noqa: BLE001
        trace = "".join(traceback.format_exception(exc))
        allowed_names = ", ".join(a.__name__ for a in allowed) or "nothing"
        raise AssertionError(
            f"raised {type(exc).__name__} (may raise {allowed_names}):\n{trace}"
        ) from None


def _no_warnings(caught: list[warnings.WarningMessage]) -> None:
    """A Python warning reaches the user as `file.py:N: SomeWarning: ...` on stderr, a line
    about signcli's insides rather than their input: the input's problem must be reported
    as a finding or an error instead."""
    shown = [
        f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})"
        for w in caught
        if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))
    ]
    assert not shown, "Python warnings escaped:\n" + "\n".join(shown)


def message_names(exc: BaseException, *paths: Path) -> None:
    """An error message names one of `paths` (its full path or its file name)."""
    text = str(exc)
    assert any(str(p) in text or Path(p).name in text for p in paths), (
        f"{type(exc).__name__} does not name {', '.join(map(str, paths))}: {text}"
    )


# ---------------------------------------------------------------------------------------
# the sandbox


def snapshot(root: Path, skip: Path | None = None) -> dict[str, tuple[Any, ...]]:
    """Every entry under `root` (links not followed) with its kind, mode, size, modification
    time and, for files, a hash of the content; `skip` and what is under it left out."""
    found: dict[str, tuple[Any, ...]] = {}
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if skip is not None:
            dirs[:] = [d for d in dirs if here / d != skip]
        for name in dirs + files:
            path = here / name
            info = path.lstat()
            entry: tuple[Any, ...] = (info.st_mode, info.st_size, info.st_mtime_ns)
            if path.is_file() and not path.is_symlink():
                entry += (hashlib.sha1(path.read_bytes()).hexdigest(),)
            found[str(path.relative_to(root))] = entry
    return found


class Sandbox:
    """One example's folders, under a fresh temporary root:

        root/inputs/   the fuzzed files, which no command may change
        root/outside/  decoys (and HOME's parent), which no command may touch
        root/work/     the current folder and HOME while the example runs: outputs go here

    Use as a context manager; on exit the root, less work/, must be as it was when the
    inputs were written (`freeze`), or the example fails naming what changed."""

    def __init__(self, base: Path) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ex-", dir=base))
        self.inputs = self.root / "inputs"
        self.outside = self.root / "outside"
        self.work = self.root / "work"
        for folder in (self.inputs, self.outside, self.work):
            folder.mkdir()
        (self.outside / "keep.txt").write_text("a file no command may touch\n")
        (self.outside / "train").mkdir()
        (self.outside / "train" / "keep.npz").write_bytes(b"PK\x05\x06" + bytes(18))
        self._frozen: dict[str, tuple[Any, ...]] | None = None
        self._cwd = os.getcwd()
        self._env: dict[str, str | None] = {}

    def file(self, name: str, content: bytes | str) -> Path:
        """Write an input file (name relative to inputs/; folders are made)."""
        path = self.inputs / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return path

    def folder(self, name: str) -> Path:
        path = self.inputs / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def freeze(self) -> None:
        """Record the inputs and decoys as they must stay (called by __enter__, and again
        by tests that write more inputs inside the block)."""
        self._frozen = snapshot(self.root, skip=self.work)

    def __enter__(self) -> Sandbox:
        self.freeze()
        os.chdir(self.work)
        for name, value in (("HOME", str(self.work)), ("TMPDIR", str(self.work))):
            self._env[name] = os.environ.get(name)
            os.environ[name] = value
        tempfile.tempdir = None  # re-read TMPDIR
        return self

    def __exit__(self, *exc_info: object) -> None:
        os.chdir(self._cwd)
        for name, value in self._env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        tempfile.tempdir = None
        try:
            if exc_info[0] is None and self._frozen is not None:
                after = snapshot(self.root, skip=self.work)
                changed = sorted(
                    name
                    for name in set(self._frozen) | set(after)
                    if self._frozen.get(name) != after.get(name)
                )
                assert not changed, f"files outside the work folder changed: {changed}"
        finally:
            _remove(self.root)


def _remove(path: Path) -> None:
    def writable(function: Callable[..., Any], name: str, exc: object) -> None:
        os.chmod(name, 0o700)
        function(name)

    shutil.rmtree(path, onerror=writable)
