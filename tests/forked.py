"""`signcli ARGS` in a forked child process, for the tests that kill or signal a run.

A fresh `python -m signcli` spends about 2 s of CPU importing torch and signcli before it
does anything; a child forked from the test process starts with them imported. It is a
process of its own all the same: it has its own PID, signal handlers and exit code, and a
SIGKILL or a lost peer ends it as it ends any process. tests/conftest.py sets one math
thread before torch is imported, so no OpenMP thread pool is copied half-way into it.

    process = ForkedCommand(["train", "transformer", ...], tmp_path / "run", RANK="1")
    stdout, stderr = process.communicate(timeout=60)   # as a Popen's, texts

Keep `python -m signcli` (subprocess) where the interpreter's own start is the subject.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path


class ForkedCommand:
    """The command's child process, with the part of Popen's interface the tests use; its
    stdout and stderr go to `stdout.txt` and `stderr.txt` in `folder`."""

    def __init__(self, args: list[str], folder: Path, **env: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.outputs = folder / "stdout.txt", folder / "stderr.txt"
        self.args = ["signcli", *args]
        self.returncode: int | None = None
        self.pid = os.fork()
        if self.pid == 0:  # the child: runs the command, never returns into pytest
            _run_child(args, self.outputs, env)

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            time.sleep(0.01)
        assert self.returncode is not None
        return self.returncode

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        self.wait(timeout)
        out, err = (p.read_text(errors="replace") if p.exists() else "" for p in self.outputs)
        return out, err


def _run_child(args: list[str], outputs: tuple[Path, Path], env: dict[str, str]) -> None:
    code = 3
    try:
        for fd, path in zip((1, 2), outputs, strict=True):
            os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
        # pytest's capture replaced sys.stdout/err with its own files: write to fds 1 and 2
        sys.stdout = open(1, "w", closefd=False)  # open until os._exit
        sys.stderr = open(2, "w", closefd=False)
        os.environ.update(env)
        from signcli.cli import app

        app(args, prog_name="signcli")
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
    except BaseException:  # noqa: BLE001 - the parent reads it in stderr.txt
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
