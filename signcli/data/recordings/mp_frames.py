"""One sequence of MediaPipe Holistic keypoints saved as `.npy`, as tutorials and home-made
extractors save them: a folder of one 1-D vector per frame (`<sequence>/<frame>.npy`, the
"action detection" tutorial), or one [T, W] array (`<sequence>.npy`). `signcli import
mp-folders` reads trees of them (importers/mp_folders.py), `signcli predict` one sequence.

Each vector concatenates some MediaPipe Holistic parts, the tutorial's
`extract_keypoints` order by default (pose, face, left hand, right hand):

    pose  33 x 3 (x, y, z) or 33 x 4 (+ visibility)
    face  468 x 3, or 478 x 3 (refine_face_landmarks: 10 iris points more)
    hand  21 x 3 each (hand_l, hand_r)

`LAYOUTS` lists every combination recognised from the width W alone: both hands or
neither, values per landmark as the tutorial (pose x 4, the rest x 3), all x 3, or all x 4
(543 x 4 = 2172). 1662 (pose 4 + face + hands), 258 (pose 4 + hands), 1629 (543 x 3), 225
(pose 3 + hands), 126 (hands), 1530 (face + hands) ... are among them. A width that fits a
single hand (63: one MediaPipe Hands hand) or no combination at all needs `--parts`, the
parts in file order (`hand_r`; `pose:4,face,hand_l,hand_r`; `:4` = four values a
landmark); without it the sequence is skipped naming its width and the known widths.

Values beyond x, y, z (visibility, presence) are dropped: scores, not coordinates. The
tutorial saves a part the detector missed as zeros, so a frame whose block of one part is
all zeros becomes NaN for that part; NaN in a file is kept (not detected); inf is an error.
Frames sort by the number in their name (`2.npy` before `10.npy`). Coordinates are
MediaPipe's image-relative 0..1 (z relative to the hips / wrist).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import numpy as np

from signcli.core.files import open_input
from signcli.core.limits import MAX_SAMPLE_BYTES
from signcli.data.landmarks import MEDIAPIPE_HOLISTIC
from signcli.data.recordings.base import (
    COORDS,
    SourceFormatError,
    Streams,
    empty_to_nan,
    list_folder,
)

FRAME_SUFFIX = ".npy"
HOLISTIC_ORDER = ("pose", "face", "hand_l", "hand_r")  # the tutorial's extract_keypoints
FACE_COUNTS = (468, 478)  # the mesh, and the mesh with refined irises
EXTRA_VALUES = 4  # x, y, z + visibility (pose) or presence
# an .npy header is at most a few hundred bytes; a longer one is no keypoint file
HEADER_LIMIT = 65536

Part = tuple[str, int, int]  # (stream, landmarks, values per landmark)
Layout = tuple[Part, ...]  # the parts of one vector, in file order


def _layouts() -> dict[int, Layout]:
    """Width -> parts, for every combination recognised without `--parts`."""
    candidates: set[Layout] = set()
    for pose, face, hands in product((0, 3, 4), (0, *FACE_COUNTS), (False, True)):
        present = [("pose", 33)] if pose else []
        present += [("face", face)] if face else []
        present += [("hand_l", 21), ("hand_r", 21)] if hands else []
        if not present:
            continue
        tutorial = tuple((s, n, pose if s == "pose" else COORDS) for s, n in present)
        candidates.add(tutorial)
        candidates.add(tuple((s, n, COORDS) for s, n in present))
        candidates.add(tuple((s, n, EXTRA_VALUES) for s, n in present))
    by_width: dict[int, list[Layout]] = {}
    for layout in candidates:
        by_width.setdefault(layout_width(layout), []).append(layout)
    clashes = {w: v for w, v in by_width.items() if len(v) > 1}
    if clashes:  # a programming error: the table must say one thing per width
        raise AssertionError(f"widths with several layouts: {clashes}")
    return {width: layouts[0] for width, layouts in sorted(by_width.items())}


def layout_width(layout: Iterable[Part]) -> int:
    return sum(count * values for _, count, values in layout)


def describe(layout: Layout) -> str:
    """`pose 33x4 + face 468x3 + hand_l 21x3` for messages and the docs."""
    return " + ".join(f"{s} {n}x{v}" for s, n, v in layout)


LAYOUTS: dict[int, Layout] = _layouts()
WIDTHS_TEXT = ", ".join(str(w) for w in LAYOUTS)


def parse_parts(text: str) -> list[tuple[str, int | None, int]]:
    """`--parts` -> [(stream, landmarks or None for the face (468 or 478, from the width),
    values per landmark)]; SourceFormatError naming the bad part."""
    parts: list[tuple[str, int | None, int]] = []
    for token in (t.strip() for t in text.split(",")):
        name, _, values_text = token.partition(":")
        if name not in HOLISTIC_ORDER:
            raise SourceFormatError(
                f"--parts {text}: {name!r} is not a part (parts: {', '.join(HOLISTIC_ORDER)}, "
                "each optionally with :4 for x, y, z + visibility)"
            )
        if values_text not in ("", "3", "4"):
            raise SourceFormatError(f"--parts {text}: {token!r}: values per landmark are 3 or 4")
        if any(p[0] == name for p in parts):
            raise SourceFormatError(f"--parts {text}: {name} is named twice")
        count = None if name == "face" else MEDIAPIPE_HOLISTIC.streams[name]
        parts.append((name, count, int(values_text or COORDS)))
    return parts


def layout_for_parts(parts: list[tuple[str, int | None, int]], width: int) -> Layout | str:
    """The layout `--parts` gives a vector of `width` values, or why it does not fit."""
    fixed = sum(n * v for _, n, v in parts if n is not None)
    face = [v for s, n, v in parts if n is None]
    if face:
        for count in FACE_COUNTS:
            if fixed + count * face[0] == width:
                return tuple((s, count if n is None else n, v) for s, n, v in parts)
        widths = " or ".join(str(fixed + c * face[0]) for c in FACE_COUNTS)
    elif fixed == width:
        return tuple((s, n, v) for s, n, v in parts if n is not None)
    else:
        widths = str(fixed)
    return f"{width} values, but --parts says {widths}"


def layout_problem(width: int) -> str:
    """Why a width has no layout without `--parts`."""
    singles = [
        (s, n, v)
        for s, n, v in (("hand_l", 21, 3), ("hand_r", 21, 3))
        if width in (n * v, n * EXTRA_VALUES)
    ]
    if singles:
        return (
            f"{width} values: one hand (21 x {width // 21}), which one is not in the file; "
            "say it with --parts hand_r (or hand_l)"
        )
    return (
        f"{width} values is no combination of MediaPipe Holistic parts known without "
        f"--parts (widths known: {WIDTHS_TEXT}); give the parts in file order with --parts, "
        "e.g. --parts pose:4,face,hand_l,hand_r"
    )


@dataclass(frozen=True)
class MpRef:
    """Where a sequence is and how its vectors split (an import item's `ref`: `read` needs
    no scan state, workers get this)."""

    path: str  # a sequence folder (per-frame files) or a [T, W] .npy
    per_frame: bool
    layout: Layout
    face: int | None = None  # face landmarks to keep (468 when the source mixes 468 / 478)


def listing(folder: Path) -> tuple[list[Path], list[Path]]:
    return list_folder(folder, FRAME_SUFFIX)


def natural_key(name: str) -> tuple:
    """Sort key that orders the digit runs of `name` as numbers: `2` < `10`, `f2` < `f10`."""
    return tuple(
        (0, int(part), part) if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", name)
        if part
    )


def frame_files(folder: Path) -> list[Path]:
    """The `.npy` frames of one sequence folder, in frame order."""
    return sorted(listing(folder)[1], key=lambda p: natural_key(p.stem))


def npy_shape(path: Path) -> tuple[int, ...] | str:
    """The shape an `.npy` header declares, or why it cannot be read (no values read)."""
    try:
        with open_input(path, ".npy file", limit=MAX_SAMPLE_BYTES) as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, _, _ = np.lib.format.read_array_header_1_0(
                    handle, max_header_size=HEADER_LIMIT
                )
            else:
                shape, _, _ = np.lib.format.read_array_header_2_0(
                    handle, max_header_size=HEADER_LIMIT
                )
    except Exception as error:  # noqa: BLE001 - any unreadable header is a reason
        return f"{path}: unreadable .npy ({_reason(error)})"
    return tuple(int(n) for n in shape)


def _reason(error: BaseException) -> str:
    """An error as one short line: numpy's header errors quote the header, which a hostile
    file fills with whatever it likes."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:160]}{'...' if len(text) > 160 else ''}"


def layout_of(
    per_frame: bool,
    shape: tuple[int, ...] | str,
    chosen: list[tuple[str, int | None, int]] | None,
) -> Layout | str:
    """The layout of one sequence from the shape of its first file, or why there is none."""
    if isinstance(shape, str):
        return shape
    expected = 1 if per_frame else 2
    if len(shape) != expected:
        what = "a 1-D vector per frame" if per_frame else "a [T, W] array per sequence"
        hint = (
            " (a [T, W] array belongs in SRC/<label>/<sequence>.npy)"
            if per_frame and len(shape) == 2
            else " (per-frame vectors belong in SRC/<label>/<sequence>/<frame>.npy)"
            if not per_frame and len(shape) == 1
            else ""
        )
        return f"array of shape {list(shape)}, expected {what}{hint}"
    width = shape[-1]
    if chosen is not None:
        return layout_for_parts(chosen, width)
    return LAYOUTS.get(width) or layout_problem(width)


def read_sequence(ref: MpRef) -> Streams | str:
    """The streams of one sequence, or why it cannot be read (naming the file)."""
    path = Path(ref.path)
    width = layout_width(ref.layout)
    if ref.per_frame:
        frames = frame_files(path)
        if not frames:
            return f"{path}: no .npy frames"
        vectors = []
        for frame in frames:
            vector = _load(frame)
            if isinstance(vector, str):
                return vector
            if vector.ndim != 1 or vector.shape[0] != width:
                return (
                    f"{frame}: array of shape {list(vector.shape)}, but {frames[0].name} has "
                    f"{width} values ({describe(ref.layout)})"
                )
            vectors.append(vector)
        stacked = np.stack(vectors).astype(np.float32)  # [T, W]
        names = frames
    else:
        array = _load(path)
        if isinstance(array, str):
            return array
        if array.ndim != 2 or array.shape[1] != width:
            return f"{path}: array of shape {list(array.shape)}, expected [T, {width}]"
        if array.shape[0] == 0:
            return f"{path}: no frames"
        stacked = array.astype(np.float32)
        names = [path] * len(stacked)
    infinite = np.isinf(stacked).any(axis=1)
    if infinite.any():
        t = int(np.argmax(infinite))
        where = f"{names[t]}" if ref.per_frame else f"{path}: frame {t}"
        return f"{where}: infinite value (or one beyond float32 range)"
    streams: Streams = {}
    start = 0
    for stream, count, values in ref.layout:
        block = stacked[:, start : start + count * values].reshape(len(stacked), count, values)
        start += count * values
        if stream == "face" and ref.face is not None:
            block = block[:, : ref.face]
        streams[stream] = np.ascontiguousarray(empty_to_nan(block)[..., :COORDS])
    return {s: streams[s] for s in MEDIAPIPE_HOLISTIC.streams if s in streams}


def _load(path: Path) -> np.ndarray | str:
    try:
        # a regular file within MAX_SAMPLE_BYTES whose header fits its size, before any read
        with open_input(path, ".npy file", limit=MAX_SAMPLE_BYTES) as handle:
            _check_declared_size(handle)
            array = np.load(handle, allow_pickle=False)
    except Exception as error:  # any unreadable file is a reason for this item, not a crash
        return f"{path}: unreadable .npy ({_reason(error)})"
    if array.dtype.kind not in "fiu":
        return f"{path}: {array.dtype} array, expected numbers"
    return array


def _check_declared_size(handle) -> None:
    """ValueError when the `.npy` header of `handle` declares more values than the file
    holds (numpy would allocate what the header says before reading: a 100-byte file could
    ask for terabytes). The handle comes back at its start."""
    import os

    version = np.lib.format.read_magic(handle)
    reader = (
        np.lib.format.read_array_header_1_0
        if version == (1, 0)
        else np.lib.format.read_array_header_2_0
    )
    shape, _, dtype = reader(handle, max_header_size=HEADER_LIMIT)
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    stored = os.fstat(handle.fileno()).st_size - handle.tell()
    handle.seek(0)
    if declared > stored:
        raise ValueError(
            f"its header declares {declared:,} bytes of values, the file holds {stored:,}"
        )
