"""What the two Kaggle ASL formats (`asl-signs`, `asl-fingerspelling`) share.

Both come from Google's Kaggle competitions, MediaPipe Holistic landmarks saved by the same
pipeline: the parts are called `face`, `left_hand`, `pose`, `right_hand` (always stored in
that order, 543 landmarks per frame), x and y image-relative 0..1, NaN where a part was not
detected. Both index their parquet files with a `train.csv` in SRC. This module holds the
part table, the reading of that index, the existence check of the files it lists, and the
last step of every conversion (the finite check and the split into streams).
"""

from __future__ import annotations

import csv
import os
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING

from signcli.core.errors import excerpt
from signcli.core.files import FileTooLarge, NotARegularFile, open_table
from signcli.importers.base import ImportFormatError, Streams

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


def read_index(src: Path, name: str, required: tuple[str, ...], what: str) -> list[dict[str, str]]:
    """The rows of `SRC/name` (a CSV with a header) as dicts; ImportFormatError when SRC is
    not a folder, the CSV is missing or unreadable, or lacks one of the `required` columns.
    `what` names the expected layout in those messages."""
    if not src.is_dir():
        raise ImportFormatError(f"{src} is not a folder (expected {what})")
    path = src / name
    if not path.exists():  # a FIFO or folder there is named as such by open_table
        raise ImportFormatError(f"no {name} in {src} (expected {what})")
    try:
        # a regular file within the table bounds, checked before a row is parsed
        with open_table(path, "index CSV", "r", newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            missing = [c for c in required if c not in columns]
            if missing:
                raise ImportFormatError(
                    f"{path} has no column {', '.join(missing)} "
                    f"(expected columns {', '.join(required)}; found {excerpt(', '.join(columns)) if columns else 'none'})"
                )
            return list(reader)
    except (NotARegularFile, FileTooLarge):  # named as such (exit 2)
        raise
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ImportFormatError(f"{path} is not a readable CSV ({one_line(error)})") from error


def listed_path(src: Path, rel: str) -> Path | None:
    """`src / rel`, a file an index CSV lists, or None when `rel` leaves SRC (absolute, or
    through `..`): an index may be anyone's, and must not make the import read (and name in
    its report) files elsewhere, `/proc/self/environ` or another user's data. Links inside
    SRC are the user's own arrangement and are followed."""
    normal = os.path.normpath(rel.replace("\\", "/"))
    if os.path.isabs(normal) or normal == ".." or normal.startswith("../") or "\0" in rel:
        return None
    return src / normal


class FileLister:
    """Whether files exist, listing each folder once (94k `stat`s become a few hundred
    `listdir`s, which matters on network drives)."""

    def __init__(self) -> None:
        self._folders: dict[str, frozenset[str]] = {}

    def exists(self, path: Path) -> bool:
        folder = str(path.parent)
        names = self._folders.get(folder)
        if names is None:
            try:
                names = frozenset(os.listdir(folder))
            except OSError:
                names = frozenset()
            self._folders[folder] = names
        return path.name in names


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
