"""The fuzz harness catches what it promises to: a write outside the work folder, an
unbounded allocation, a hang, a crash of the process, a traceback or an "unexpected" line
in a command's output, a Python warning, an exception a reader may not raise."""

from __future__ import annotations

import os
import signal
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.fuzz.harness import Sandbox, check_output, expect_only, run_bounded


def test_a_write_into_the_inputs_or_beside_them_fails(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match=r"changed: \['inputs/s\.npz'\]"):
        with Sandbox(tmp_path) as box:
            path = box.file("s.npz", b"PK")
            box.freeze()
            path.write_bytes(b"PK!")
    with pytest.raises(AssertionError, match=r"outside/new"):
        with Sandbox(tmp_path) as box:
            (box.outside / "new").write_text("x")
    with Sandbox(tmp_path) as box:  # the work folder (the current one, and HOME) is free
        Path("run").mkdir()
        Path("~/x").expanduser().write_text("x")
        assert Path.cwd() == box.work


@pytest.mark.parametrize("fork", [False, True])
def test_an_unbounded_allocation_or_a_hang_fails_the_example(fork: bool) -> None:
    with pytest.raises(AssertionError, match="MemoryError|died"):
        run_bounded(lambda: np.ones(10**10), fork=fork)
    with pytest.raises(AssertionError, match="ran for more than 0.5 s"):
        run_bounded(lambda: time.sleep(30), timeout=0.5, fork=fork)
    assert run_bounded(lambda: 3, fork=fork) == 3


def test_a_child_that_dies_fails_the_example() -> None:
    # as the kernel's out-of-memory killer would (SIGSEGV would print pytest's faulthandler)
    with pytest.raises(AssertionError, match="died of SIGKILL"):
        run_bounded(lambda: os.kill(os.getpid(), signal.SIGKILL), fork=True)


@pytest.mark.parametrize(
    "output",
    [
        "Traceback (most recent call last):\n  File ...",
        "error: unexpected KeyError: 'exp_avg'\n  rerun with `signcli --debug ...` for the "
        "traceback and report it",
        "/x/labels.py:74: ParserWarning: Length of header ...",
        "error: last.pt: cannot restore (RuntimeError: DefaultCPUAllocator: can't allocate memory)",
    ],
)
def test_what_a_command_must_never_print(output: str) -> None:
    with pytest.raises(AssertionError):
        check_output(output)


def test_a_readers_own_error_words_are_not_taken_for_a_crash() -> None:
    check_output("error: best.pt: weights do not fit the model: unexpected key head.w")


def test_only_the_allowed_exceptions_and_no_warnings() -> None:
    assert isinstance(expect_only(lambda: int("x"), (ValueError,)), ValueError)
    with pytest.raises(AssertionError, match="raised KeyError"):
        expect_only(lambda: {}["x"], (ValueError,))
    with pytest.raises(AssertionError, match="Python warnings escaped"):
        expect_only(lambda: warnings.warn("careful", UserWarning, stacklevel=1))
