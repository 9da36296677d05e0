"""Fuzz the surfaces issue 23 added to the suite: packed cache files (`open_pack` and the
samples of a pack it accepts), the import sources read file by file (asl-signs and
asl-fingerspelling parquet, `.pose` files, per-sequence `.npy`), and the torchrun
start-up check (`start_differences`, what every rank compares at start).

Each is a valid file damaged (truncated, bytes flipped, a stretch overwritten, or random
bytes) or random facts. The property, with the rest of the suite's: a cache is either
used, every sample of it read at its declared width, or refused as a CacheProblem (then
rebuilt) in one short line; a source is read into `[T, L, 3]` streams or becomes a
one-line reason naming its file; a start-up difference is one short line per fact; never
another exception or a Python warning, in bounded memory and time, nothing outside the
sandbox touched."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import Sandbox, expect_only, fuzz, run_bounded

# property-based fuzzing of a reader: the full lane runs it
pytestmark = pytest.mark.slow

MAX_LINE = 400  # a reason or a difference is one line of about this at most (paths included)


@st.composite
def damaged(draw: st.DrawFn, valid: bytes) -> bytes:
    """`valid` cut short, with bytes flipped, a stretch overwritten, or random bytes."""
    how = draw(st.sampled_from(["truncate", "flip", "overwrite", "random", "as is"]))
    raw = bytearray(valid)
    if how == "truncate":
        return bytes(raw[: draw(st.integers(0, max(0, len(raw) - 1)))])
    if how == "flip":
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, len(raw) - 1))
            raw[at] ^= draw(st.integers(1, 255))
        return bytes(raw)
    if how == "overwrite":
        at = draw(st.integers(0, len(raw) - 1))
        raw[at : at + 16] = draw(st.binary(min_size=1, max_size=16))
        return bytes(raw)
    if how == "random":
        return draw(st.binary(max_size=512))
    return valid


def _one_line(text: str, path: Path | None = None) -> None:
    assert isinstance(text, str) and text.strip(), f"an empty reason: {text!r}"
    assert "\n" not in text.strip() and len(text) < MAX_LINE + len(str(path or "")), text
    if path is not None:
        assert path.name in text, f"the reason does not name {path.name}: {text}"


# ---------------------------------------------------------------------------------------
# cache files

FINGERPRINT = "f" * 40


@functools.cache
def valid_pack() -> bytes:
    """A whole cache of three samples of two streams (widths 2 and 3), as bytes."""
    import tempfile

    from signcli.data.packed import build_pack

    rng = np.random.default_rng(0)
    samples = [
        {"a": rng.random((T, 2), np.float32), "b": rng.random((T, 3), np.float32)}
        for T in (3, 1, 4)
    ]

    def read_chunk(items: Any) -> list[tuple[dict[str, np.ndarray] | None, str]]:
        return [(samples[i], "") for i in items]

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.pack"
        result = build_pack(path, FINGERPRINT, [0, 1, 2], read_chunk, workers=1)
        assert result.pack is not None
        return path.read_bytes()


def _open_and_read(path: Path) -> str:
    from signcli.data.packed import CacheProblem, open_pack

    outcome = expect_only(lambda: open_pack(path, FINGERPRINT, 3), (CacheProblem,))
    if isinstance(outcome, CacheProblem):
        _one_line(str(outcome))
        return "refused"
    assert outcome.count == 3 and sorted(outcome.input_dims.items()) == [("a", 2), ("b", 3)]
    for index in range(outcome.count):
        streams = outcome.streams(index)
        assert {name: array.shape[1] for name, array in streams.items()} == {"a": 2, "b": 3}
    return "used"


@fuzz(30, long=3000)
@given(data=st.data())
def test_a_fuzzed_cache_file_is_used_or_refused(data: st.DataObject, tmp_path: Path) -> None:
    with Sandbox(tmp_path) as box:
        path = box.file("cache/x.pack", data.draw(damaged(valid_pack())))
        box.freeze()
        run_bounded(lambda: _open_and_read(path))


# ---------------------------------------------------------------------------------------
# import sources, file by file


def _check_streams(outcome: Any, path: Path) -> str:
    if isinstance(outcome, str):
        _one_line(outcome, path)
        return "reason"
    assert isinstance(outcome, dict) and outcome, f"neither streams nor a reason: {outcome!r}"
    frames = {array.shape[0] for array in outcome.values()}
    assert len(frames) == 1, f"streams of different lengths: {frames}"
    for array in outcome.values():
        assert array.ndim == 3 and array.shape[2] == 3 and array.dtype == np.float32
    return "streams"


@functools.cache
def valid_source(kind: str) -> bytes:
    import tempfile

    from tests.importers.kaggle_samples import make_points, write_long_parquet, write_wide_parquet
    from tests.importers.pose_samples import write_pose_file

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "source"
        if kind == "asl-signs":
            write_long_parquet(path, np.arange(3), make_points(rng, 3, 0))
        elif kind == "asl-fingerspelling":
            write_wide_parquet(path, {7: (np.arange(2), make_points(rng, 2, 7))})
        elif kind == "pose":
            write_pose_file(path, frames=2)
        else:  # a per-sequence MediaPipe .npy: [T, 1662]
            np.save(path, rng.random((2, 1662), np.float32), allow_pickle=False)
            path = path.with_suffix(".npy")
        return path.read_bytes()


def _read_source(kind: str, path: Path) -> str:
    if kind == "asl-signs":
        from signcli.data.recordings.asl_signs import read_sequence

        return _check_streams(expect_only(lambda: read_sequence(path)), path)
    if kind == "asl-fingerspelling":
        from signcli.data.recordings.asl_fingerspelling import read_file

        found = expect_only(lambda: read_file(path, [7]))
        return _check_streams(found[7], path)
    if kind == "pose":
        from signcli.data.recordings.pose_file import PoseRef, read_streams

        ref = PoseRef(str(path), "mediapipe-holistic", "pixels")
        return _check_streams(expect_only(lambda: read_streams(ref)), path)
    from signcli.data.recordings.mp_frames import _load

    outcome = expect_only(lambda: _load(path))
    if isinstance(outcome, str):
        _one_line(outcome, path)
        return "reason"
    assert isinstance(outcome, np.ndarray) and outcome.dtype.kind in "fiu"
    return "array"


SOURCE_KINDS = ["asl-signs", "asl-fingerspelling", "pose", "npy"]
SUFFIX = {"asl-signs": ".parquet", "asl-fingerspelling": ".parquet", "pose": ".pose", "npy": ".npy"}


@fuzz(20, long=2000)
@given(data=st.data(), kind=st.sampled_from(SOURCE_KINDS))
def test_a_fuzzed_import_source_is_read_or_a_reason(
    data: st.DataObject, kind: str, tmp_path: Path
) -> None:
    pytest.importorskip("pose_format") if kind == "pose" else None
    with Sandbox(tmp_path) as box:
        path = box.file(f"src/a{SUFFIX[kind]}", data.draw(damaged(valid_source(kind))))
        box.freeze()
        run_bounded(lambda: _read_source(kind, path))


def test_the_sources_are_valid_before_fuzzing(tmp_path: Path) -> None:
    """The undamaged files read: the fuzzing starts from files the readers accept."""
    for kind in SOURCE_KINDS:
        if kind == "pose" and pytest.importorskip("pose_format") is None:
            continue
        path = tmp_path / f"a{SUFFIX[kind]}"
        path.write_bytes(valid_source(kind))
        assert _read_source(kind, path) in ("streams", "array"), kind
    path = tmp_path / "x.pack"
    path.write_bytes(valid_pack())
    assert _open_and_read(path) == "used"


# ---------------------------------------------------------------------------------------
# torchrun's start-up check

fact_values = st.none() | st.text(max_size=300) | st.integers() | st.binary(max_size=50)
facts = st.dictionaries(
    st.sampled_from(["optim.lr", "train data", "data.train_dir", "input widths"])
    | st.text(max_size=200),
    fact_values,
    max_size=6,
)


def _compare(everyone: list[Any]) -> str:
    from signcli.engine.distributed import start_differences

    differences = expect_only(lambda: start_differences(everyone))
    for line in differences:
        _one_line(line)
    if all(isinstance(f, dict) for f in everyone) and all(f == everyone[0] for f in everyone):
        assert differences == []
    return f"{len(differences)} differences"


@fuzz(40, long=4000)
@given(
    first=facts,
    others=st.lists(facts | st.none() | st.integers(), min_size=1, max_size=3),
    same=st.booleans(),
)
def test_start_differences_are_short_lines(first: dict, others: list, same: bool) -> None:
    everyone = [first, *([dict(first)] * len(others) if same else others)]
    run_bounded(lambda: _compare(everyone))
