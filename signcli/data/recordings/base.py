"""What every recording reader gives, and the small helpers they share.

A reader (one module per source format in this package) turns ONE recording (a `.pose`
file, an OpenPose JSON folder, an asl-signs parquet, a folder of MediaPipe `.npy` frames
...) into streams: {stream: [T, L, 3] float32}, x, y, z per landmark, NaN where the
detector found nothing, 2-D sources with z = 0. `signcli import` (importers/) runs the
readers over a whole source tree; `signcli predict` (evaluation/) runs them on the
recordings it is given, then lays the streams out as the model's columns
(`recordings.frames_for_model`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

COORDS = 3  # x, y, z per landmark in every array a reader gives

Streams = dict[str, "np.ndarray"]  # stream -> [T, L, 3] float32, NaN = not detected


class SourceFormatError(Exception):
    """A source is not in the format asked for (no train.csv, no label folders, a library
    the format needs is missing ...): the message says what was expected where. `import`
    calls it ImportFormatError; the CLI maps it to exit 2."""


class NotedStreams(dict):
    """Streams (as `Streams`) plus `note`: what the reader decided for this sequence, kept
    in import-report.json (OpenPose: people per frame, the person taken)."""

    def __init__(self, streams: Streams, note: dict[str, Any]) -> None:
        super().__init__(streams)
        self.note = note


def empty_to_nan(points: np.ndarray) -> np.ndarray:
    """[T, L, C] with frames whose landmarks are all exactly 0 set to NaN: the way tools
    that save undetected parts as zeros (the MediaPipe tutorial, OpenPose) say "missing"."""
    import numpy as np

    blank = ~np.any(points != 0, axis=(1, 2))  # [T]
    points = points.astype(np.float32, copy=True)
    points[blank] = np.nan
    return points


def list_folder(folder: Path, suffix: str) -> tuple[list[Path], list[Path]]:
    """The sub-folders (sorted) and the files ending in `suffix` (any case) of `folder`;
    names starting with `.` (`.ipynb_checkpoints`, `.DS_Store`) left out. One `scandir`:
    no stat per file, which counts in trees of a million frames."""
    folders: list[Path] = []
    files: list[Path] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                folders.append(Path(entry.path))
            elif entry.name.lower().endswith(suffix) and entry.is_file():
                files.append(Path(entry.path))
    return sorted(folders), files
