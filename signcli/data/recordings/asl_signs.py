"""One asl-signs parquet (Kaggle's "Isolated Sign Language Recognition") as streams.

Each parquet is one sequence in LONG format: one row
per landmark per frame, columns `frame, row_id, type, landmark_index, x, y, z`, `type` one
of face (468) / left_hand (21) / pose (33) / right_hand (21), 543 rows per frame, NaN where
MediaPipe found nothing. Only `frame, type, landmark_index, x, y, z` are read (`row_id`
repeats the other three as text). Home-made exporters often leave out the rows of a part
that was not detected instead of writing NaN rows: absent rows are NaN too.

Frames: the `frame` values of a file need not start at 0 and may have gaps (the real files
start wherever the clip was cut). The frames present are kept, in increasing `frame`
order, and nothing is inserted for the gaps: T is the number of distinct `frame` values.
Every frame holds each of the 543 landmarks at most once (absent or NaN: not detected); a
file with a landmark twice in a frame, or an infinite coordinate, is an item that cannot be
read.

Speed (the real set has 94,477 files): one file is read with pyarrow into numpy and turned
from long to wide with one vectorised step. The files the competition ships are written in
a fixed row order (frame, then face/left_hand/pose/right_hand, then landmark_index), so the
usual case is a check of that order and a reshape; any other order (or absent rows) goes
through a scatter by (frame, landmark) that also finds doubled rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from signcli.core.errors import excerpt
from signcli.core.files import open_input
from signcli.core.limits import MAX_SAMPLE_BYTES
from signcli.data.recordings.base import COORDS, Streams
from signcli.data.recordings.kaggle import (
    LANDMARKS_PER_FRAME,
    PART_SPANS,
    PARTS_TEXT,
    finish,
    one_line,
)

# the parquet columns read (row_id, a string per row, is never needed)
READ_COLUMNS = ["frame", "type", "landmark_index", "x", "y", "z"]
COORD_COLUMNS = ("x", "y", "z")
# every landmark of a frame, numbered 0..542 in Kaggle part order
_FRAME_LANDMARKS = np.arange(LANDMARKS_PER_FRAME)


class UnreadableSequence(Exception):
    """One parquet that cannot become a sequence; the message is the reason (one line)."""


def read_sequence(path: Path) -> Streams | str:
    """The streams of one parquet, or the reason it cannot be read (naming the file)."""
    import pyarrow.parquet as pq

    try:
        # one thread: the import runs a process per core already; read_dictionary gives
        # `type` as 4 strings + codes instead of a string per row
        # a regular file within MAX_SAMPLE_BYTES: a FIFO listed in the index would block
        with open_input(path, "parquet file", limit=MAX_SAMPLE_BYTES) as handle:
            table = pq.ParquetFile(handle, read_dictionary=["type"]).read(
                columns=READ_COLUMNS, use_threads=False
            )
    except FileNotFoundError:
        return f"{path}: missing file"
    except Exception as error:  # noqa: BLE001 - any unreadable file is a reason, not a crash
        return f"{path}: unreadable parquet ({one_line(error)})"
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # beyond float32 becomes inf: reported
            result = finish(*long_to_wide(table))
    except UnreadableSequence as error:
        return f"{path}: {error}"
    except Exception as error:  # noqa: BLE001 - an odd column type, say
        return f"{path}: {one_line(error)}"
    return result if isinstance(result, dict) else f"{path}: {result}"


def long_to_wide(table) -> tuple[np.ndarray, np.ndarray]:
    """A long-format table (frame, type, landmark_index, x, y, z) -> the [T] frame numbers
    in increasing order and [T, 543, 3] float32 points; UnreadableSequence when the rows are
    not each landmark of each frame exactly once."""
    absent = [c for c in READ_COLUMNS if c not in table.column_names]  # read() skips them
    if absent:
        raise UnreadableSequence(
            f"no column {', '.join(absent)} (expected {', '.join(READ_COLUMNS)})"
        )
    n_rows = table.num_rows
    if n_rows == 0:
        raise UnreadableSequence("no rows")
    for name in ("frame", "type", "landmark_index"):
        if table.column(name).null_count:
            raise UnreadableSequence(f"empty values in column {name!r}")
    landmark = _landmark_numbers(table)  # [N] 0..542
    frame = table.column("frame").to_numpy()  # [N]

    if _in_file_order(frame, landmark):  # the competition's own files: a reshape
        points = np.empty((n_rows, COORDS), np.float32)
        for k, name in enumerate(COORD_COLUMNS):
            points[:, k] = table.column(name).to_numpy()
        return frame[::LANDMARKS_PER_FRAME], points.reshape(-1, LANDMARKS_PER_FRAME, COORDS)

    frame_values, frame_row = np.unique(frame, return_inverse=True)  # sorted frames, [N]
    slot = frame_row.reshape(-1) * LANDMARKS_PER_FRAME + landmark  # [N] place in [T * 543]
    filled = np.bincount(slot, minlength=len(frame_values) * LANDMARKS_PER_FRAME)
    if filled.max() > 1:  # absent rows are fine (not detected), a landmark twice is not
        bad = int(np.flatnonzero(filled > 1)[0] // LANDMARKS_PER_FRAME)
        count = int(filled[bad * LANDMARKS_PER_FRAME : (bad + 1) * LANDMARKS_PER_FRAME].sum())
        raise UnreadableSequence(
            f"wrong landmark counts: frame {frame_values[bad]} has {count} rows, some "
            f"landmarks twice; expected each of {LANDMARKS_PER_FRAME} ({PARTS_TEXT}) at most once"
        )
    points = np.full((len(frame_values) * LANDMARKS_PER_FRAME, COORDS), np.nan, np.float32)
    for k, name in enumerate(COORD_COLUMNS):
        points[slot, k] = table.column(name).to_numpy()
    return frame_values, points.reshape(-1, LANDMARKS_PER_FRAME, COORDS)


def _landmark_numbers(table) -> np.ndarray:
    """[N] each row's landmark as 0..542 in Kaggle part order (part start + landmark_index);
    UnreadableSequence for an unknown part or an index outside the part."""
    import pyarrow as pa

    column = table.column("type")
    if not pa.types.is_dictionary(column.type):
        raise UnreadableSequence(f"column 'type' holds {column.type}, expected part names")
    starts, counts = [], []
    for chunk in column.chunks:  # each chunk has its own dictionary of part names
        names = chunk.dictionary.to_pylist()
        unknown = [n for n in names if n not in PART_SPANS]
        if unknown:
            raise UnreadableSequence(
                f"unknown landmark type {excerpt(unknown[0])} (expected {', '.join(PART_SPANS)})"
            )
        codes = chunk.indices.to_numpy()
        starts.append(np.array([PART_SPANS[n][0] for n in names], np.int64)[codes])
        counts.append(np.array([PART_SPANS[n][1] for n in names], np.int64)[codes])
    start = np.concatenate(starts) if len(starts) != 1 else starts[0]
    count = np.concatenate(counts) if len(counts) != 1 else counts[0]
    index = table.column("landmark_index").to_numpy().astype(np.int64, copy=False)
    outside = (index < 0) | (index >= count)
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        part = next(p for p, (s, _) in PART_SPANS.items() if s == start[row])
        raise UnreadableSequence(
            f"wrong landmark counts: {part} landmark_index {index[row]} "
            f"(a {part} has {count[row]} landmarks, 0..{count[row] - 1})"
        )
    return start + index


def _in_file_order(frame: np.ndarray, landmark: np.ndarray) -> bool:
    """Whether the rows are whole frames of 543 landmarks in Kaggle order, frames strictly
    increasing: then [N] reshapes to [T, 543] as it is."""
    if landmark.shape[0] % LANDMARKS_PER_FRAME:
        return False
    by_frame = landmark.reshape(-1, LANDMARKS_PER_FRAME)
    if not np.array_equal(by_frame, np.broadcast_to(_FRAME_LANDMARKS, by_frame.shape)):
        return False
    frames = frame.reshape(-1, LANDMARKS_PER_FRAME)
    return bool(np.all(frames == frames[:, :1]) and np.all(np.diff(frames[:, 0]) > 0))
