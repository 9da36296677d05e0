"""Another process that holds a work directory's lock, for the tests of the lock."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import signcli

HOLDER_COMMAND = "signcli train transformer --work-dir run"
# takes the lock, says so, and holds it until its stdin closes (or it is killed)
HOLDER = """
import os, sys
from signcli.engine.workdir import work_dir_lock
with work_dir_lock(sys.argv[1], command=sys.argv[2]):
    ready_r, ready_w = os.pipe()
    child = os.fork() if len(sys.argv) > 3 else None  # as a DataLoader worker is forked
    if child == 0:  # the fork handlers have run: say so, so the test never races them
        os.write(ready_w, b"1")
        sys.stdin.read()
        os._exit(0)
    if child:
        os.read(ready_r, 1)
    print("locked", child or "", flush=True)
    sys.stdin.read()
"""


@contextmanager
def lock_held_elsewhere(work_dir: Path, fork: bool = False) -> Iterator[subprocess.Popen]:
    """Another process that holds `work_dir`'s lock for the block (no sleeps: it reports
    when it has the lock and lets go when its stdin closes). With `fork`, it forks a child
    after taking the lock (whose PID becomes `process.child`), which lives as long as the
    stdin pipe stays open."""
    env = {**os.environ, "PYTHONPATH": str(Path(signcli.__file__).parents[1])}
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(work_dir), HOLDER_COMMAND, *(["fork"] if fork else [])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        word, _, child = process.stdout.readline().strip().partition(" ")
        assert word == "locked"
        process.child = int(child) if child else None
        yield process
    finally:
        process.stdin.close()  # lets a live holder go; a killed one is gone already
        process.wait(timeout=30)
        process.stdout.close()
