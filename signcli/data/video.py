"""Decode a video into RGB frames with OpenCV, optionally resampled to a lower frame rate
(OpenCV comes with the `extract` extra and is imported inside the functions).

Any container and codec OpenCV's FFmpeg backend reads (mp4, webm, avi, mov, mkv ...). A file
OpenCV cannot open, or that yields no frame, is a `VideoError` whose message is the reason
`extract` lists it under "skipped"; it never stops the run.

Resampling (`--fps F` below the video's rate) keeps frame i when it starts a new 1/F slot,
`floor(i * F / rate) > floor((i - 1) * F / rate)`: a pure function of the frame index, so a
resumed or sharded run keeps the same frames. A rate above the video's keeps every frame
(nothing is invented), and a video whose container gives no rate keeps every frame.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from signcli.core.errors import UsageError
from signcli.core.files import REGULAR_FILE, path_kind

if TYPE_CHECKING:
    import numpy as np

# what `signcli extract` and a video given to `predict` need, and how to get it
INSTALL_HINT = 'pip install "signcli[extract]"  (mediapipe 0.10.14, which brings OpenCV)'
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv")


class VideoError(Exception):
    """A video that cannot be decoded; str() is the one-line reason for the report."""


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float | None  # the container's frame rate; None when it gives none
    frames: int  # the container's frame count (an estimate for some formats; 0 = unknown)


def import_cv2():
    """OpenCV, or a UsageError that says which extra installs it."""
    # FFmpeg's own messages about a damaged file would interleave with the progress bar;
    # the reason reaches the report instead
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    try:
        import cv2
    except ImportError as exc:
        raise UsageError(f"signcli extract needs OpenCV ({exc})", hint=INSTALL_HINT) from None
    return cv2


def kept_frame(index: int, rate: float | None, fps: float | None) -> bool:
    """Whether frame `index` of a video at `rate` frames/s is kept when resampling to `fps`."""
    if fps is None or rate is None or fps >= rate:
        return True
    return index == 0 or math.floor(index * fps / rate) > math.floor((index - 1) * fps / rate)


def output_fps(rate: float | None, fps: float | None) -> float | None:
    """The frame rate of the kept frames."""
    if rate is None:
        return None
    return rate if fps is None or fps >= rate else float(fps)


def open_video(path: Path):
    """An opened `cv2.VideoCapture` and its `VideoInfo`; VideoError when it cannot be read."""
    cv2 = import_cv2()
    kind = path_kind(Path(path))
    if kind != REGULAR_FILE:  # checked before OpenCV opens it by path: a FIFO would block
        raise VideoError("not found" if kind is None else f"{kind}, not a regular file")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise VideoError("OpenCV cannot open it (not a video, damaged, or a codec it lacks)")
    rate = capture.get(cv2.CAP_PROP_FPS)
    info = VideoInfo(
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        fps=float(rate) if rate and math.isfinite(rate) and rate > 0 else None,
        frames=max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)),
    )
    return capture, info


def read_frames(path: Path, fps: float | None = None) -> tuple[VideoInfo, Iterator[np.ndarray]]:
    """The video's `VideoInfo` and an iterator over its kept frames, RGB `[H, W, 3]` uint8.
    VideoError when it cannot be opened, or when it ends before its first frame."""
    cv2 = import_cv2()
    capture, info = open_video(path)

    def frames() -> Iterator[np.ndarray]:
        index = 0
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    if index == 0:
                        raise VideoError("OpenCV opens it but decodes no frame (damaged?)")
                    return
                if kept_frame(index, info.fps, fps):
                    yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                index += 1
        finally:
            capture.release()

    return info, frames()
