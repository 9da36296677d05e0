"""Fuzz `signcli import`: an OpenPose source (per-frame `*_keypoints.json`) whose frames are
replaced by random JSON, mangled frames and frames of odd people and keypoint lists, with a
fuzzed `--labels` CSV for the flat layout and a fuzzed `--person`; and a MediaPipe-folders
source whose `.npy` frames (or per-sequence [T, W] files) are random `.npy` streams, with
a fuzzed `--parts`.

`import` exits 0, 1 or 2 without a traceback or an "unexpected" error, in bounded memory
and time, and never writes into SRC (the sandbox's inputs) or anywhere but OUT."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import Sandbox, fuzz, invoke, run_bounded
from tests.fuzz.strategies import csv_bytes, mangled, plain_data, scalars, to_json
from tests.fuzz.test_fuzz_npz import npy_bytes
from tests.importers.samples import write_mp_folders, write_openpose

# property-based fuzzing of a reader or command: the full lane runs it
pytestmark = pytest.mark.slow

PARTS = [
    "pose_keypoints_2d",
    "hand_left_keypoints_2d",
    "hand_right_keypoints_2d",
    "face_keypoints_2d",
]
numbers = st.floats() | st.integers(-5, 600) | st.sampled_from([0, 0.0, 1e308, 10**400])


@st.composite
def person(draw: st.DrawFn) -> Any:
    """An OpenPose person: keypoint lists of odd lengths and values, or anything else."""
    if draw(st.integers(0, 5)) == 0:
        return draw(plain_data(st.sampled_from(PARTS)))
    entry: dict[str, Any] = {"person_id": [-1]}
    for part in draw(st.lists(st.sampled_from(PARTS), unique=True, max_size=4)):
        length = draw(st.sampled_from([0, 54, 75, 63, 210, 3, 76]) | st.integers(0, 80))
        entry[part] = (
            draw(st.lists(numbers, min_size=length, max_size=length))
            if length < 80
            else draw(scalars)
        )
    return entry


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    """One `*_keypoints.json`: people of odd keypoints, random JSON, or mangled text."""
    kind = draw(st.sampled_from(["people", "people", "people", "random", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=80))
    if kind == "random":
        document = draw(plain_data(st.sampled_from(["people", "version", *PARTS])))
    else:
        document = {"version": 1.3, "people": draw(st.lists(person(), max_size=3))}
    text = to_json(document)
    if draw(st.integers(0, 4)) == 0:
        text = draw(mangled(text))
    return text.encode("utf-8", errors="surrogatepass")


VALID_LABELS = (
    "id,label,signer\nhello_0,hello,a\nhello_1,hello,b\nthanks_0,thanks,a\nthanks_1,thanks,b\n"
)


@pytest.mark.slow
@fuzz(5, long=800)
@given(
    data=st.data(),
    flat=st.booleans(),
    labels=st.sampled_from([None, VALID_LABELS.encode()]) | csv_bytes,
    layout=st.sampled_from(["single", "multi"]),
    person=st.sampled_from([None, "auto", "largest", "most-moving", "0", "2", "-1", "x"]),
)
def test_import_openpose_with_fuzzed_frames(
    data: st.DataObject,
    flat: bool,
    labels: bytes | None,
    layout: str,
    person: str | None,
    tmp_path: Path,
) -> None:
    """Flat sources (video folders without label folders) take their labels from a CSV:
    the valid one or a fuzzed one; with label folders, mostly none."""
    with Sandbox(tmp_path) as box:
        src = box.folder("openpose")
        write_openpose(src, videos=2, frames=3, flat=flat, face=False)
        files = sorted(src.rglob("*.json"))
        for _ in range(data.draw(st.integers(1, 3), label="frames replaced")):
            path = data.draw(st.sampled_from(files), label="frame")
            path.write_bytes(data.draw(frames(), label="content"))
        args = ["import", "openpose", str(src), "out", "--workers", "1", "--quiet"]
        args += ["--layout", layout] + (["--person", person] if person is not None else [])
        if flat and labels is None:
            labels = VALID_LABELS.encode()
        if labels is not None and (flat or data.draw(st.integers(0, 3), label="csv") == 0):
            args += ["--labels", str(box.file("labels.csv", labels))]
        box.freeze()
        run_bounded(lambda: invoke(args), timeout=60, fork=True)


@pytest.mark.slow
@fuzz(4, long=600)
@given(data=st.data(), layout=st.sampled_from(["single", "multi"]))
def test_import_mp_folders_with_fuzzed_frames(
    data: st.DataObject, layout: str, tmp_path: Path
) -> None:
    with Sandbox(tmp_path) as box:
        src = box.folder("mp")
        write_mp_folders(src, labels=("hello", "thanks"), sequences=2, frames=3)
        files = sorted(src.rglob("*.npy"))
        for _ in range(data.draw(st.integers(1, 3), label="frames replaced")):
            path = data.draw(st.sampled_from(files), label="frame")
            path.write_bytes(data.draw(npy_bytes() | st.binary(max_size=64), label="content"))
        box.freeze()
        args = ["import", "mp-folders", str(src), "out", "--workers", "1", "--quiet"]
        run_bounded(lambda: invoke(args + ["--layout", layout]), timeout=60, fork=True)


PARTS_OPTIONS = st.sampled_from(
    [None, "hand_r", "pose:4,face,hand_l,hand_r", "face,face", "pose:9", "", ","]
) | st.text(max_size=20)


@fuzz(4, long=600)
@given(data=st.data(), parts=PARTS_OPTIONS)
def test_import_mp_per_sequence_files_with_fuzzed_content_and_parts(
    data: st.DataObject, parts: str | None, tmp_path: Path
) -> None:
    import numpy as np

    with Sandbox(tmp_path) as box:
        src = box.folder("mp")
        rng = np.random.default_rng(0)
        for label in ("hello", "thanks"):
            (src / label).mkdir()
            for i in range(2):
                np.save(src / label / f"{i}.npy", rng.uniform(0.1, 1, (3, 1662)))
        files = sorted(src.rglob("*.npy"))
        for _ in range(data.draw(st.integers(1, 2), label="files replaced")):
            path = data.draw(st.sampled_from(files), label="file")
            path.write_bytes(data.draw(npy_bytes() | st.binary(max_size=64), label="content"))
        box.freeze()
        args = ["import", "mp-folders", str(src), "out", "--workers", "1", "--quiet"]
        args += ["--parts", parts] if parts is not None else []
        run_bounded(lambda: invoke(args), timeout=60, fork=True)


def test_the_sources_are_valid_before_fuzzing(tmp_path: Path) -> None:
    """The unfuzzed sources import (exit 0): the fuzzed ones start from a working import."""
    with Sandbox(tmp_path) as box:
        write_openpose(box.folder("openpose"), videos=2, frames=3, face=False)
        write_mp_folders(box.folder("mp"), labels=("hello", "thanks"), sequences=2, frames=3)
        box.freeze()
        for fmt, src in (("openpose", "openpose"), ("mp-folders", "mp")):
            args = ["import", fmt, str(box.inputs / src), f"out-{fmt}", "--workers", "1"]
            run_bounded(lambda args=args: invoke(args, codes={0}), fork=True)
