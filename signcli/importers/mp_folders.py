"""`mp-folders`: `.npy` trees of MediaPipe Holistic keypoints, as tutorials and home-made
extractors save them.

    SRC/<label>/<sequence>/<frame>.npy    one 1-D vector per frame (the "action detection"
                                          tutorial), or
    SRC/<label>/<sequence>.npy            one [T, W] array per sequence

A label folder may hold both. Each sequence is read by data/recordings/mp_frames.py (the
parts of a vector from its width or `--parts`, zeros as not detected), which `signcli
predict` uses for a single sequence too.

Sequences whose vectors lack a part (a 258-wide tree has no face) get NaN for it when
other sequences of the source have it; a face of 478 points keeps all 478 unless some
sequence has 468, then every face keeps the 468. Frames sort by the number in their name
(`2.npy` before `10.npy`). Coordinates are MediaPipe's image-relative 0..1 (z relative to
the hips / wrist).

`scan` reads the header of one `.npy` per sequence (its width), never the values. Names
starting with `.` (`.ipynb_checkpoints`, which Jupyter leaves in folders it touches) are
ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from signcli.data.recordings.mp_frames import (
    Layout,
    MpRef,
    describe,
    frame_files,
    layout_of,
    listing,
    natural_key,
    npy_shape,
    parse_parts,
    read_sequence,
)
from signcli.importers.base import (
    MEDIAPIPE_HOLISTIC,
    ImportFormatError,
    Scan,
    SourceItem,
    Streams,
    safe_id,
)


def _subfolders(folder: Path) -> list[Path]:
    return listing(folder)[0]


class MpFolders:
    """`.npy` trees of MediaPipe Holistic vectors: per frame or per sequence."""

    name = "mp-folders"
    landmark_set = MEDIAPIPE_HOLISTIC
    units = "normalized"
    description = (
        "MediaPipe .npy trees: SRC/<label>/<sequence>/<frame>.npy or SRC/<label>/<sequence>.npy "
        "(any combination of Holistic parts)"
    )
    options = ("parts",)

    def scan(self, src: Path, parts: str | None = None) -> Scan:
        src = Path(src)
        if not src.is_dir():
            raise ImportFormatError(
                f"{src} is not a folder (expected SRC/<label>/<sequence>/<frame>.npy or "
                "SRC/<label>/<sequence>.npy)"
            )
        chosen = parse_parts(parts) if parts else None
        found, skipped = _find_sequences(src)
        if not found:
            raise ImportFormatError(_not_this_format(src))
        laid_out: list[tuple[_Found, Layout]] = []
        for sequence in found:
            layout = layout_of(sequence.per_frame, sequence.shape, chosen)
            if isinstance(layout, str):
                named = sequence.per_frame and not isinstance(sequence.shape, str)
                skipped.append(
                    (str(sequence.path), f"{sequence.first.name}: {layout}" if named else layout)
                )
            else:
                laid_out.append((sequence, layout))
        if not laid_out:
            raise ImportFormatError(_nothing_splits(src, found, skipped))
        layouts = [layout for _, layout in laid_out]
        streams, face, notes = _streams_of(layouts)
        items = [
            SourceItem(
                id=sequence.id,
                ref=MpRef(str(sequence.path), sequence.per_frame, layout, face),
                label=sequence.path.parent.name,
            )
            for sequence, layout in laid_out
        ]
        return Scan(items=items, skipped=skipped, streams=streams, notes=notes)

    def read(self, items: Sequence[SourceItem]) -> list[Streams | str]:
        return [read_sequence(item.ref) for item in items]


@dataclass(frozen=True)
class _Found:
    """A sequence of SRC before its layout is known."""

    id: str
    path: Path  # a sequence folder or a [T, W] file
    per_frame: bool
    first: Path  # its first .npy file
    shape: tuple[int, ...] | str  # that file's shape, or why its header does not read


def _find_sequences(src: Path) -> tuple[list[_Found], list[tuple[str, str]]]:
    """The sequences under SRC's label folders (with the shape of each one's first file),
    and what was skipped there with the reason."""
    found: list[_Found] = []
    skipped: list[tuple[str, str]] = []
    seen: dict[str, Path] = {}
    for label_dir in _subfolders(src):
        sequences, files = listing(label_dir)
        if not sequences and not files:
            skipped.append(
                (str(label_dir), "no sequence folders or .npy files in this label folder")
            )
            continue
        entries = [(d, True) for d in sequences]
        entries += [(f, False) for f in sorted(files, key=lambda p: natural_key(p.stem))]
        for path, per_frame in entries:
            frames = frame_files(path) if per_frame else [path]
            if not frames:
                skipped.append((str(path), "no .npy frames"))
                continue
            item_id = safe_id(label_dir.name, path.name if per_frame else path.stem)
            if item_id in seen:
                skipped.append((str(path), f"its id {item_id} is already taken by {seen[item_id]}"))
                continue
            seen[item_id] = path
            found.append(_Found(item_id, path, per_frame, frames[0], npy_shape(frames[0])))
    return found, skipped


def _streams_of(layouts: list[Layout]) -> tuple[dict[str, int], int | None, list[str]]:
    """The streams of the import (each part any sequence has), the face landmarks every
    sequence keeps when faces of 468 and 478 points mix (else None), and notes."""
    counts: dict[str, set[int]] = {}
    for layout in layouts:
        for stream, count, _ in layout:
            counts.setdefault(stream, set()).add(count)
    streams = {s: min(counts[s]) for s in MEDIAPIPE_HOLISTIC.streams if s in counts}
    notes = []
    face = None
    if len(counts.get("face", ())) > 1:
        face = min(counts["face"])
        notes.append(f"some faces have 478 points and some 468: every face keeps the first {face}")
    kinds = sorted({describe(layout) for layout in layouts})
    if len(kinds) > 1:
        notes.append("vectors of several layouts: " + "; ".join(kinds) + " (absent parts are NaN)")
    return streams, face, notes


def _nothing_splits(src: Path, found: list[_Found], skipped: list[tuple[str, str]]) -> str:
    """Why no sequence of SRC could be given a layout."""
    single_frames = [
        f for f in found if not f.per_frame and not isinstance(f.shape, str) and len(f.shape) == 1
    ]
    if len(single_frames) == len(found):
        return (
            f"no <label>/<sequence>/<frame>.npy folders under {src} (the .npy files in "
            "SRC/<folder>/ are single frames: one folder level is missing)"
        )
    first = dict(skipped)[str(found[0].path)]
    return (
        f"none of the {len(found)} sequences under {src} can be split into parts "
        f"(first: {found[0].path}: {first})"
    )


def _not_this_format(src: Path) -> str:
    """Why SRC has no sequences: the expected layout, and what was found instead."""
    message = (
        f"no <label>/<sequence>/<frame>.npy folders or <label>/<sequence>.npy files under {src}"
    )
    if any(frame_files(src)):
        return message + " (the .npy files are directly in SRC: pass the folder above the labels)"
    return message


FORMAT = MpFolders()
