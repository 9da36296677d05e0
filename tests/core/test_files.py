"""core/files.py and core/errors.excerpt: files signcli did not create are opened only when
they are regular files, without ever blocking on a FIFO; messages quote a file's content
only as a short excerpt (issue 23, hangs and leaks)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from signcli.core.errors import UsageError, excerpt
from signcli.core.files import NotARegularFile, open_input


@contextmanager
def no_hang(seconds: int = 5) -> Iterator[None]:
    """Fail instead of hanging when the code under test blocks on a FIFO."""

    def fail(*_: object) -> None:
        raise TimeoutError("blocked on a FIFO")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def test_open_input_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    with no_hang(), pytest.raises(NotARegularFile, match="is a FIFO, not a regular file"):
        open_input(fifo(tmp_path / "labels.csv"), "labels file")
    assert isinstance(NotARegularFile("x"), OSError)  # readers report it as unreadable


def test_open_input_reads_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello")
    with open_input(tmp_path / "a.txt", "text file", "r", encoding="utf-8") as handle:
        assert handle.read() == "hello"


def test_a_fifo_listed_as_a_sample_is_a_finding(tmp_path: Path) -> None:
    from signcli.data.npz import check_npz, read_frames

    path = fifo(tmp_path / "s1.npz")
    with no_hang():
        check, array = check_npz(path, "X")
        assert read_frames(path) is None
    assert array is None
    assert "is a FIFO" in check.problems[0].message


def test_a_fifo_in_the_cache_folder_is_a_cache_problem(tmp_path: Path) -> None:
    from signcli.data.packed import CacheProblem, open_pack

    with no_hang(), pytest.raises(CacheProblem, match="is a FIFO"):
        open_pack(fifo(tmp_path / "x.pack"), "fingerprint")


def test_a_fifo_lock_file_is_refused(tmp_path: Path) -> None:
    from signcli.engine.workdir import work_dir_lock

    fifo(tmp_path / ".signcli.lock")
    with no_hang(), pytest.raises(UsageError, match="lock file .* is a FIFO"):
        with work_dir_lock(tmp_path):
            pass


def test_excerpt_is_short_and_never_quotes_binary() -> None:
    assert excerpt("file,gloss") == "'file,gloss'"
    long = excerpt("x" * 500)
    assert long.startswith("'xxx") and "(500 characters)" in long and len(long) < 70
    assert excerpt("SECRET=hunter2\x00PATH=/bin") == "binary data (24 characters, not shown)"


def test_a_labels_file_with_the_environment_is_not_printed(tmp_path: Path) -> None:
    from signcli.data.labels import read_labels

    path = tmp_path / "environ"
    path.write_bytes(b"HOME=/root\x00API_KEY=hunter2\x00PATH=/bin\x00")
    messages = " ".join(p.message for p in read_labels(path).problems)
    assert "missing column" in messages
    assert "hunter2" not in messages and "HOME" not in messages


def test_walk_files_is_iterative_and_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """issue 23: a tree deeper than the recursion limit; rglob and os.walk recurse."""
    from signcli.core.files import walk_files

    folder = tmp_path
    for _ in range(150):
        folder = folder / "d"
    folder.mkdir(parents=True)
    (folder / "x.POSE").write_text("")
    (tmp_path / "top.pose").write_text("")
    (tmp_path / "other.txt").write_text("")
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(120)  # fewer frames than levels: a recursive walk would fail
    try:
        monkeypatch.setenv("SIGNCLI_MAX_FOLDER_DEPTH", "1000")
        files, too_deep = walk_files(tmp_path, ".pose")
        monkeypatch.setenv("SIGNCLI_MAX_FOLDER_DEPTH", "10")
        shallow, cut = walk_files(tmp_path, ".pose")
    finally:
        sys.setrecursionlimit(previous)
    assert sorted(files) == sorted([folder / "x.POSE", tmp_path / "top.pose"]) and too_deep == []
    assert shallow == [tmp_path / "top.pose"]
    assert [len(p.relative_to(tmp_path).parts) for p in cut] == [11]
