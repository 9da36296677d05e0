"""Decoding and resampling (OpenCV, no mediapipe): what `extract` feeds the detector."""

from __future__ import annotations

import os

import pytest

from signcli.data.video import kept_frame, output_fps

pytest.importorskip("cv2", reason='needs OpenCV: pip install -e ".[extract]"')

from signcli.data.video import VideoError, read_frames  # noqa: E402
from tests.extract.videos import REAL_FRAMES, REAL_VIDEO, write_damaged  # noqa: E402


@pytest.mark.parametrize(
    ("rate", "fps", "frames", "kept"),
    [(30.0, 10.0, 30, 10), (29.9, 10.0, 58, 20), (25.0, 30.0, 25, 25), (30.0, None, 7, 7),
     (None, 10.0, 9, 9), (60.0, 25.0, 120, 50)],
)  # fmt: skip
def test_resampling_keeps_one_frame_per_slot(rate, fps, frames, kept):
    indices = [i for i in range(frames) if kept_frame(i, rate, fps)]
    assert len(indices) == kept and indices[0] == 0
    assert output_fps(rate, fps) == (None if rate is None else min(rate, fps or rate))


def test_the_real_video_decodes_to_rgb_frames_at_the_rate_asked():
    info, frames = read_frames(REAL_VIDEO)
    every = list(frames)
    assert (info.width, info.height) == (540, 720) and round(info.fps, 1) == 29.9
    assert len(every) == REAL_FRAMES and every[0].shape == (720, 540, 3)
    info, frames = read_frames(REAL_VIDEO, fps=10)
    assert len(list(frames)) == 20


@pytest.mark.parametrize("kind", ["damaged", "not a video", "missing", "fifo"])
def test_an_unreadable_file_is_a_video_error_with_a_reason(kind, tmp_path):
    path = tmp_path / "clip.mp4"
    if kind == "damaged":
        write_damaged(path)
    elif kind == "not a video":
        path.write_text("hello\n")
    elif kind == "fifo":  # issue 23: named as such, and never opened (it would block)
        os.mkfifo(path)
    with pytest.raises(VideoError) as caught:
        info, frames = read_frames(path)
        list(frames)
    assert str(caught.value) in (
        "not found",
        "a FIFO, not a regular file",
        "OpenCV cannot open it (not a video, damaged, or a codec it lacks)",
        "OpenCV opens it but decodes no frame (damaged?)",
    )
