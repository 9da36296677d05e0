"""Fuzz `signcli extract`: a folder of videos, some replaced by random bytes, a cut copy or a
copy with bytes overwritten (a decoder reading damaged frames), in label folders or flat
with a fuzzed `--labels` CSV.

`extract` exits 0, 1 or 2 without a traceback or an "unexpected" error, in bounded memory
and time, and never writes into SRC or anywhere but OUT. Needs the extract extra."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("mediapipe", reason='needs mediapipe: pip install -e ".[extract]"')

from tests.extract.videos import write_no_person  # noqa: E402
from tests.fuzz.harness import Sandbox, fuzz, invoke, run_bounded  # noqa: E402
from tests.fuzz.strategies import csv_bytes  # noqa: E402

pytestmark = pytest.mark.slow  # runs MediaPipe

VALID_LABELS = b"id,label\nclip0.avi,hello\nclip1,thanks\nclip2.avi,hello\n"


@st.composite
def damaged(draw: st.DrawFn, video: bytes) -> bytes:
    """`video` cut, with a stretch overwritten, or replaced by random bytes."""
    kind = draw(st.sampled_from(["cut", "overwritten", "random"]))
    if kind == "random" or not video:  # a video damaged twice may be empty already
        return draw(st.binary(max_size=200))
    at = draw(st.integers(0, len(video) - 1))
    if kind == "cut":
        return video[:at]
    stretch = draw(st.binary(min_size=1, max_size=400))
    return video[:at] + stretch + video[at + len(stretch) :]


@fuzz(3, long=300)
@given(data=st.data(), flat=st.booleans(), labels=st.sampled_from([VALID_LABELS]) | csv_bytes)
def test_extract_with_damaged_videos(
    data: st.DataObject, flat: bool, labels: bytes, tmp_path: Path
) -> None:
    with Sandbox(tmp_path) as box:
        src = box.folder("videos")
        for i in range(3):
            folder = src if flat else src / ("hello" if i % 2 == 0 else "thanks")
            write_no_person(folder / f"clip{i}.avi", frames=4)
        videos = sorted(src.rglob("*.avi"))
        for _ in range(data.draw(st.integers(1, 3), label="videos damaged")):
            path = data.draw(st.sampled_from(videos), label="video")
            path.write_bytes(data.draw(damaged(path.read_bytes()), label="content"))
        args = ["extract", str(src), "out", "--workers", "1", "--quiet", "--val-fraction", "0"]
        if flat:
            args += ["--labels", str(box.file("labels.csv", labels))]
        box.freeze()
        # in this process, not a forked child: mediapipe aborts in a child forked from a
        # process that ran it before (an earlier test in this worker), graph closed or not
        run_bounded(lambda: invoke(args), timeout=60, fork=False)
