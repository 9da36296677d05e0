"""One asl-fingerspelling parquet (Kaggle's "ASL Fingerspelling Recognition"): the
sequences it holds, as streams.

Each parquet holds many sequences (about a thousand in the competition's files) in WIDE
format: one row per frame, `sequence_id` (the pandas index the files were written with,
stored as a column), `frame`, and one column per coordinate: `x_face_0 .. x_face_467, x_left_hand_0..20, x_pose_0..32, x_right_hand_0..20`,
the same for `y_` and `z_` (1629 in all), NaN where MediaPipe found nothing.

Frames: as in `asl-signs`, the frames present are kept in increasing `frame` order with
nothing inserted for gaps. A sequence with a frame twice, an infinite coordinate, or not in
its file cannot be read; a file without all 1629 coordinate columns cannot be read at all.

Reading streams the file in batches of `BATCH_ROWS` rows (a thousand sequences of ~150
frames are about 1 GB as float32) and keeps only the rows of the sequences asked for; when
only some of a file's sequences are asked for, row groups whose `sequence_id` range misses them all are not read.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from signcli.core.files import open_input
from signcli.data.recordings.base import COORDS, Streams
from signcli.data.recordings.kaggle import (
    KAGGLE_PARTS,
    LANDMARKS_PER_FRAME,
    finish,
    one_line,
)

SEQUENCE_COLUMN = "sequence_id"
FRAME_COLUMN = "frame"
COORD_NAMES = ("x", "y", "z")
COORD_COLUMN = re.compile(r"([xyz])_(face|left_hand|pose|right_hand)_(\d+)")
# the coordinate columns in output order: landmark-major, x y z within a landmark, so that
# a [rows, 1629] block of them reshapes to [rows, 543, 3]
COORD_COLUMNS = [
    f"{coord}_{part}_{index}"
    for part, _, count in KAGGLE_PARTS
    for index in range(count)
    for coord in COORD_NAMES
]
# rows per batch read: 4096 rows x 1629 float32 columns is about 27 MB
BATCH_ROWS = 4096


class UnreadableFile(Exception):
    """A parquet none of whose sequences can be read; the message is the reason."""


def read_file(path: Path, sequences: list[int]) -> dict[int, Streams | str]:
    """The streams of the given sequences of one parquet, or for each the reason it cannot
    be read (naming the file). Reads the file once."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # beyond float32 becomes inf: reported
            found = _read_sequences(path, sequences)
    except FileNotFoundError:
        return dict.fromkeys(sequences, f"{path}: missing file")
    except UnreadableFile as error:
        return dict.fromkeys(sequences, f"{path}: {error}")
    except Exception as error:  # noqa: BLE001 - any unreadable file is a reason, not a crash
        return dict.fromkeys(sequences, f"{path}: unreadable parquet ({one_line(error)})")
    return {
        sequence: (
            found[sequence]
            if isinstance(found.get(sequence), dict)
            else f"{path}: sequence_id {sequence}: {found.get(sequence) or 'not in this file'}"
        )
        for sequence in sequences
    }


def _read_sequences(path: Path, sequences: list[int]) -> dict[int, Streams | str]:
    """{sequence_id: streams or reason} for the sequences of `path` found in it."""
    import pyarrow.parquet as pq

    # a regular file (a FIFO named in the index would block the import); no size bound:
    # the file holds many sequences and only their row groups are read
    with open_input(path, "parquet file") as handle:
        return _read_sequences_from(pq.ParquetFile(handle), sequences)


def _read_sequences_from(parquet: Any, sequences: list[int]) -> dict[int, Streams | str]:
    import pyarrow as pa

    names = parquet.schema_arrow.names
    for required in (SEQUENCE_COLUMN, FRAME_COLUMN):
        if required not in names:
            raise UnreadableFile(f"no column {required!r} (found {len(names)} columns)")
    _check_coord_columns(names)
    wanted = np.array(sequences, np.int64)
    frames: dict[int, list[np.ndarray]] = defaultdict(list)  # sequence -> [rows] per batch
    points: dict[int, list[np.ndarray]] = defaultdict(list)  # sequence -> [rows, 1629]
    row_groups = _row_groups_holding(parquet, wanted)
    if not row_groups:  # (an empty list would read them all)
        return {}
    batches = parquet.iter_batches(
        batch_size=BATCH_ROWS,
        row_groups=row_groups,
        columns=[SEQUENCE_COLUMN, FRAME_COLUMN, *COORD_COLUMNS],
        use_threads=False,  # the import runs a process per core already
    )
    for batch in batches:
        sequence_ids = batch.column(SEQUENCE_COLUMN).to_numpy(zero_copy_only=False)
        keep = np.isin(sequence_ids, wanted)
        if not keep.any():
            continue
        if not keep.all():  # drop the other sequences' rows in one step, not per column
            batch = batch.filter(pa.array(keep))
            sequence_ids = sequence_ids[keep]
        frame = batch.column(FRAME_COLUMN).to_numpy(zero_copy_only=False)
        block = _coordinates(batch)  # [rows, 1629]
        # the rows of one sequence are usually one run; split the batch at id changes
        starts = np.flatnonzero(np.r_[True, sequence_ids[1:] != sequence_ids[:-1]])
        ends = np.r_[starts[1:], len(sequence_ids)]
        for start, end in zip(starts, ends, strict=True):
            sequence = int(sequence_ids[start])
            frames[sequence].append(frame[start:end])
            points[sequence].append(block[start:end])
    # popping frees each batch's block once its last sequence is assembled (peak: the
    # sequences asked for once, not twice)
    return {s: _assemble(frames.pop(s), points.pop(s)) for s in list(points)}


def _check_coord_columns(names: list[str]) -> None:
    """UnreadableFile unless the file has x/y/z columns for exactly the 543 landmarks."""
    found: dict[tuple[str, str], set[int]] = defaultdict(set)
    for name in names:
        match = COORD_COLUMN.fullmatch(name)
        if match:
            found[match[1], match[2]].add(int(match[3]))
    for part, _, count in KAGGLE_PARTS:
        for coord in COORD_NAMES:
            present = found[coord, part]
            if present == set(range(count)):
                continue
            absent = sorted(set(range(count)) - present)
            extra = sorted(present - set(range(count)))
            what = (
                f"no column {coord}_{part}_{absent[0]}"
                if absent
                else f"a column {coord}_{part}_{extra[0]}"
            )
            raise UnreadableFile(
                f"wrong landmark counts: {what} (expected {coord}_{part}_0..{count - 1}: "
                f"{count} {part} landmarks)"
            )


def _row_groups_holding(parquet, wanted: np.ndarray) -> list[int]:
    """The row groups whose sequence_id min..max (from the footer) may hold a wanted id."""
    metadata = parquet.metadata
    column = parquet.schema_arrow.get_field_index(SEQUENCE_COLUMN)
    groups = []
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(column).statistics
        if stats is None or not stats.has_min_max:
            groups.append(group)
        elif np.any((wanted >= stats.min) & (wanted <= stats.max)):
            groups.append(group)
    return groups


def _coordinates(batch) -> np.ndarray:
    """[rows, 1629] float32: the coordinate columns of a batch, in output order."""
    block = np.empty((batch.num_rows, len(COORD_COLUMNS)), np.float32)
    for j, name in enumerate(COORD_COLUMNS):
        block[:, j] = batch.column(name).to_numpy(zero_copy_only=False)  # nulls become NaN
    return block


def _assemble(frames: list[np.ndarray], points: list[np.ndarray]) -> Streams | str:
    """One sequence's rows (in pieces, as read) -> streams in frame order, or a reason."""
    frame = np.concatenate(frames) if len(frames) > 1 else frames[0]
    block = np.concatenate(points) if len(points) > 1 else points[0]
    if frame.dtype.kind == "f" and np.isnan(frame).any():
        return "empty frame values"
    if np.any(frame[1:] <= frame[:-1]):  # not already strictly increasing
        order = np.argsort(frame, kind="stable")
        frame, block = frame[order], block[order]
        doubled = np.flatnonzero(frame[1:] == frame[:-1])
        if doubled.size:
            return f"frame {frame[doubled[0]]} appears more than once"
    return finish(frame, block.reshape(-1, LANDMARKS_PER_FRAME, COORDS))


def sequence_ids(path: Path) -> list[int] | str:
    """The sequence ids one parquet holds, in file order, or why it cannot be read: what
    `predict` needs to read every sequence of a file."""
    import pyarrow.parquet as pq

    try:
        with open_input(path, "parquet file") as handle:  # a regular file, as read_file's
            column = pq.read_table(handle, columns=[SEQUENCE_COLUMN], use_threads=False)
    except Exception as error:  # noqa: BLE001 - any unreadable file is a reason, not a crash
        return f"{path}: unreadable parquet ({one_line(error)})"
    ids = column.column(SEQUENCE_COLUMN).to_numpy(zero_copy_only=False)
    return [int(i) for i in dict.fromkeys(ids.tolist())]
