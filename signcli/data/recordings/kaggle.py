"""What the two Kaggle ASL formats (`asl-signs`, `asl-fingerspelling`) share.

Both come from Google's Kaggle competitions, MediaPipe Holistic landmarks saved by the same
pipeline: the parts are called `face`, `left_hand`, `pose`, `right_hand` (always stored in
that order, 543 landmarks per frame), x and y image-relative 0..1, NaN where a part was not
detected. Both index their parquet files with a `train.csv` in SRC. This module holds the
part table and the
last step of every conversion (the finite check and the split into streams). Reading the
competitions' `train.csv` indexes is the importers' (importers/_kaggle.py).
"""

from __future__ import annotations

from itertools import accumulate
from typing import TYPE_CHECKING

from signcli.data.recordings.base import Streams

if TYPE_CHECKING:
    import numpy as np

# (Kaggle's name for the part, our stream, landmarks), in the order the Kaggle files store them
KAGGLE_PARTS: tuple[tuple[str, str, int], ...] = (
    ("face", "face", 468),
    ("left_hand", "hand_l", 21),
    ("pose", "pose", 33),
    ("right_hand", "hand_r", 21),
)
LANDMARKS_PER_FRAME = sum(count for _, _, count in KAGGLE_PARTS)  # 543
# Kaggle part -> (first landmark in a 543-landmark frame, landmark count)
_COUNTS = [count for _, _, count in KAGGLE_PARTS]
PART_SPANS: dict[str, tuple[int, int]] = {
    part: (start, count)
    for (part, _, count), start in zip(
        KAGGLE_PARTS, accumulate(_COUNTS[:-1], initial=0), strict=True
    )
}
PARTS_TEXT = ", ".join(f"{count} {part}" for part, _, count in KAGGLE_PARTS)


def one_line(error: BaseException) -> str:
    """An exception as one short line: its type, then the first line of its message."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def finish(frames: np.ndarray, points: np.ndarray) -> Streams | str:
    """[T, 543, 3] float32 in Kaggle part order (with the [T] source frame numbers, for the
    message) -> {stream: [T, L, 3]} (contiguous copies), or why not: no frames, or an
    infinite value (NaN is kept: not detected)."""
    import numpy as np

    if points.shape[0] == 0:
        return "no frames"
    infinite = np.isinf(points)
    if infinite.any():
        row, landmark, _ = np.argwhere(infinite)[0]
        part, index = _landmark_name(int(landmark))
        return f"infinite value in frame {frames[row]} ({part} landmark {index})"
    streams: Streams = {}
    for part, stream, count in KAGGLE_PARTS:
        start = PART_SPANS[part][0]
        streams[stream] = np.ascontiguousarray(points[:, start : start + count])
    return streams


def _landmark_name(landmark: int) -> tuple[str, int]:
    """Landmark 0..542 of a Kaggle frame -> (part, index within the part)."""
    for part, (start, count) in PART_SPANS.items():
        if start <= landmark < start + count:
            return part, landmark - start
    raise ValueError(landmark)
