"""`mp-folders`: the per-frame `.npy` tree of the MediaPipe Holistic "action detection" tutorial.

    SRC/<label>/<sequence>/<frame>.npy

Each frame is a 1-D vector, the tutorial's `extract_keypoints` concatenated in this order:

    1662 = pose 33 x (x, y, z, visibility) + face 468 x 3 + left hand 21 x 3 + right hand 21 x 3
     258 = pose 33 x (x, y, z, visibility)              + left hand 21 x 3 + right hand 21 x 3

Visibility is dropped (it is a score, not a coordinate). The tutorial saves a part the
detector missed as zeros, so a frame whose block of one part is all zeros becomes NaN for
that part. A 258-wide source has no face, and its items no `face` stream. Frames sort by
the number in their name (`2.npy` before `10.npy`). Coordinates are MediaPipe's
image-relative 0..1 (z relative to the hips / wrist); NaN in a file is kept (not detected),
inf is an error.

Names starting with `.` (`.ipynb_checkpoints`, which Jupyter leaves in folders it touches)
are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from signcli.importers.base import (
    COORDS,
    MEDIAPIPE_HOLISTIC,
    ImportFormatError,
    Scan,
    SourceItem,
    Streams,
    empty_to_nan,
    list_folder,
    safe_id,
)

FRAME_SUFFIX = ".npy"
POSE_VALUES = 4  # x, y, z, visibility per pose landmark
POSE_WIDTH = 33 * POSE_VALUES  # 132
FACE_WIDTH = 468 * COORDS  # 1404
HAND_WIDTH = 21 * COORDS  # 63

# frame width -> the parts in file order, as (stream, values per landmark)
LAYOUTS: dict[int, list[tuple[str, int]]] = {
    POSE_WIDTH + FACE_WIDTH + 2 * HAND_WIDTH: [
        ("pose", POSE_VALUES), ("face", COORDS), ("hand_l", COORDS), ("hand_r", COORDS)
    ],
    POSE_WIDTH + 2 * HAND_WIDTH: [("pose", POSE_VALUES), ("hand_l", COORDS), ("hand_r", COORDS)],
}  # fmt: skip
WIDTHS_TEXT = "1662 (pose+face+hands) or 258 (pose+hands)"


def _listing(folder: Path) -> tuple[list[Path], list[Path]]:
    return list_folder(folder, FRAME_SUFFIX)


def _subfolders(folder: Path) -> list[Path]:
    return _listing(folder)[0]


def natural_key(name: str) -> tuple:
    """Sort key that orders the digit runs of `name` as numbers: `2` < `10`, `f2` < `f10`."""
    return tuple(
        (0, int(part), part) if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", name)
        if part
    )


def frame_files(folder: Path) -> list[Path]:
    """The `.npy` frames of one sequence folder, in frame order."""
    return sorted(_listing(folder)[1], key=lambda p: natural_key(p.stem))


class MpFolders:
    """The MediaPipe tutorial's `<label>/<sequence>/<frame>.npy` folders."""

    name = "mp-folders"
    landmark_set = MEDIAPIPE_HOLISTIC
    units = "normalized"
    description = (
        "MediaPipe tutorial folders: SRC/<label>/<sequence>/<frame>.npy (1662 or 258 values)"
    )

    def scan(self, src: Path) -> Scan:
        src = Path(src)
        if not src.is_dir():
            raise ImportFormatError(
                f"{src} is not a folder (expected SRC/<label>/<sequence>/<frame>.npy)"
            )
        items: list[SourceItem] = []
        skipped: list[tuple[str, str]] = []
        seen: dict[str, Path] = {}
        for label_dir in _subfolders(src):
            sequences = _subfolders(label_dir)
            if not sequences:
                skipped.append((str(label_dir), "no sequence folders in this label folder"))
                continue
            for seq_dir in sequences:
                if not frame_files(seq_dir):
                    skipped.append((str(seq_dir), "no .npy frames"))
                    continue
                item_id = safe_id(label_dir.name, seq_dir.name)
                if item_id in seen:
                    reason = f"its id {item_id} is already taken by {seen[item_id]}"
                    skipped.append((str(seq_dir), reason))
                    continue
                seen[item_id] = seq_dir
                items.append(SourceItem(id=item_id, ref=seq_dir, label=label_dir.name))
        if not items:
            raise ImportFormatError(_not_this_format(src))
        return Scan(items=items, skipped=skipped)

    def read(self, items: Sequence[SourceItem]) -> list[Streams | str]:
        return [read_sequence(Path(item.ref)) for item in items]


def _not_this_format(src: Path) -> str:
    """Why SRC has no sequences: the expected layout, and what was found instead."""
    message = f"no <label>/<sequence>/<frame>.npy folders under {src}"
    if any(frame_files(src)):
        return message + " (the .npy files are directly in SRC: pass the folder above the labels)"
    if any(frame_files(d) for d in _subfolders(src)):
        return message + " (the .npy files are in SRC/<folder>/: one folder level is missing)"
    return message


def read_sequence(folder: Path) -> Streams | str:
    """The streams of one sequence folder, or why it cannot be read (naming the file)."""
    frames = frame_files(folder)
    if not frames:
        return f"{folder}: no .npy frames"
    vectors = []
    for path in frames:
        try:
            vector = np.load(path, allow_pickle=False)
        except Exception as error:  # any unreadable file is a reason for this item, not a crash
            return f"{path}: unreadable .npy ({type(error).__name__}: {error})".replace("\n", " ")
        if vector.ndim != 1 or vector.dtype.kind not in "fiu":
            return f"{path}: {vector.dtype} array of shape {vector.shape}, expected a 1-D vector of {WIDTHS_TEXT} numbers"
        if vector.shape[0] not in LAYOUTS:
            return f"{path}: {vector.shape[0]} values, expected {WIDTHS_TEXT}"
        if vectors and vector.shape[0] != vectors[0].shape[0]:
            return (
                f"{path}: {vector.shape[0]} values, but {frames[0].name} has {vectors[0].shape[0]}"
            )
        vectors.append(vector)
    stacked = np.stack(vectors).astype(np.float32)  # [T, W]
    infinite = np.isinf(stacked).any(axis=1)
    if infinite.any():
        return f"{frames[int(np.argmax(infinite))]}: infinite value (or one beyond float32 range)"
    streams: Streams = {}
    start = 0
    for stream, values in LAYOUTS[stacked.shape[1]]:
        count = MEDIAPIPE_HOLISTIC.streams[stream]
        block = stacked[:, start : start + count * values].reshape(len(frames), count, values)
        start += count * values
        streams[stream] = np.ascontiguousarray(empty_to_nan(block)[..., :COORDS])
    return {s: streams[s] for s in MEDIAPIPE_HOLISTIC.streams if s in streams}


FORMAT = MpFolders()
