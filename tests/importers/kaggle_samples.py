"""Tiny samples of the two Kaggle ASL layouts, written with pyarrow, and what importing them
must give: for the `asl-signs` and `asl-fingerspelling` reader tests, and for end-to-end
`signcli import` tests.

    write_asl_signs(root, ...)          -> KaggleSample   (SRC of format asl-signs)
    write_asl_fingerspelling(root, ...) -> KaggleSample   (SRC of format asl-fingerspelling)

Both write the files the way the competitions ship them (column names, dtypes, row order;
fingerspelling's `sequence_id` as the pandas index) with values exact in float32, frame
numbers that do not start at 0 and have gaps, and hands missing (NaN) in some frames. By
default each also lists one parquet that is not there and one that is not a parquet.
This module is not a test file; tests import it (tests/ is no package, so they put this
folder on sys.path first, as the benchmarks do with their siblings).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

# (Kaggle part, stream, landmarks) in file order: written out here rather than imported, so
# that the tests check the importers against an independent copy
PARTS = (("face", "face", 468), ("left_hand", "hand_l", 21), ("pose", "pose", 33), ("right_hand", "hand_r", 21))  # fmt: skip
LANDMARKS = 543
SIGNS = ("TV", "after", "airplane", "thank you")  # `thank you`: a label with a space
PHRASES = ("3 creekhouse", "scales/kuhaylah", "1383 william lanier", "988 franklin lane")


@dataclass
class KaggleSample:
    """A written SRC and what an importer must make of it."""

    root: Path
    expected: dict[str, dict[str, np.ndarray]]  # id -> {stream: [T, L, 3] float32}
    labels: dict[str, str | None] = field(default_factory=dict)  # id -> sign (None: no label)
    texts: dict[str, str | None] = field(default_factory=dict)  # id -> phrase
    signers: dict[str, str] = field(default_factory=dict)  # id -> participant id
    frames: dict[str, list[int]] = field(default_factory=dict)  # id -> frame numbers kept
    missing: list[Path] = field(default_factory=list)  # listed, not there
    corrupt: list[Path] = field(default_factory=list)  # listed, not a parquet
    paths: dict[str, Path] = field(default_factory=dict)  # id -> its parquet


def make_points(rng: np.random.Generator, T: int, sequence: int) -> np.ndarray:
    """[T, 543, 3] float32 in Kaggle part order, x and y in 0..1, z around 0; the left hand
    missing (NaN) in the first frame, the right hand in the last frame of even sequences,
    and face landmark 7 in every second frame (a single landmark, as in the real files)."""
    points = rng.random((T, LANDMARKS, 3), dtype=np.float32)
    points[..., 2] -= 0.5
    starts = np.cumsum([0] + [count for _, _, count in PARTS])
    left, right = slice(starts[1], starts[2]), slice(starts[3], starts[4])
    points[0, left] = np.nan
    if sequence % 2 == 0:
        points[-1, right] = np.nan
    points[::2, 7] = np.nan
    return points


def frame_numbers(T: int, sequence: int) -> np.ndarray:
    """T increasing frame numbers starting at 3 + sequence, with a gap of 3 after the first
    frame when the sequence is odd (frames 4, 7, 8, ...)."""
    numbers = 3 + sequence + np.arange(T)
    if sequence % 2 == 1:
        numbers[1:] += 2
    return numbers


def split_streams(points: np.ndarray) -> dict[str, np.ndarray]:
    """[T, 543, 3] -> {stream: [T, L, 3]} in the importers' stream names."""
    streams, start = {}, 0
    for _, stream, count in PARTS:
        streams[stream] = points[:, start : start + count].copy()
        start += count
    return streams


def write_long_parquet(
    path: Path,
    frames: np.ndarray,
    points: np.ndarray,
    *,
    shuffle: np.random.Generator | None = None,
    row_group_size: int | None = None,
    drop_missing_parts: bool = False,
) -> None:
    """One asl-signs sequence: [T] frame numbers and [T, 543, 3] points as 543 rows per frame
    (frame, row_id, type, landmark_index, x, y, z), in the competition's row order unless
    `shuffle` is given. Dtypes as in the real files: int16 frame and index, float64 coords.
    `row_group_size` splits the file into row groups (pyarrow then reads it in chunks).
    `drop_missing_parts` leaves out the rows of a part that is all NaN in a frame, as
    home-made exporters do (they write the landmarks MediaPipe returned, no NaN rows)."""
    T = len(frames)
    types = np.concatenate([[part] * count for part, _, count in PARTS])
    index = np.concatenate([np.arange(count) for _, _, count in PARTS])
    frame_col = np.repeat(np.asarray(frames, np.int16), LANDMARKS)
    type_col = np.tile(types, T)
    index_col = np.tile(index, T).astype(np.int16)
    flat = points.reshape(-1, 3).astype(np.float64)
    order = shuffle.permutation(len(frame_col)) if shuffle is not None else np.arange(len(flat))
    if drop_missing_parts:
        part_of = np.concatenate([[k] * count for k, (_, _, count) in enumerate(PARTS)])  # [543]
        absent = np.zeros((T, LANDMARKS), bool)
        for k in range(len(PARTS)):
            whole = np.isnan(points[:, part_of == k]).all(axis=(1, 2))  # [T]
            absent[:, part_of == k] = whole[:, None]
        order = order[~absent.reshape(-1)[order]]
    row_id = [f"{f}-{t}-{i}" for f, t, i in zip(frame_col, type_col, index_col, strict=True)]
    table = pa.table(
        {
            "frame": frame_col[order],
            "row_id": np.asarray(row_id)[order],
            "type": type_col[order],
            "landmark_index": index_col[order],
            "x": flat[order, 0],
            "y": flat[order, 1],
            "z": flat[order, 2],
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=row_group_size)


def write_asl_signs(
    root: Path,
    n_sequences: int = 4,
    *,
    participants: tuple[int, ...] = (26734, 28656),
    signs: tuple[str, ...] = SIGNS,
    seed: int = 0,
    missing: int = 1,
    corrupt: int = 1,
    class_map: bool = True,
    shuffled: tuple[int, ...] = (),
) -> KaggleSample:
    """SRC of format asl-signs: train.csv, train_landmark_files/<participant>/<sequence>.parquet
    and sign_to_prediction_index_map.json (indices in reverse alphabetical order, so that
    class order differs from sorting). Sequence i has 3 + i % 4 frames, sign i % len(signs),
    participant i % len(participants); the sequences in `shuffled` are written in a random
    row order. Then `missing` rows whose parquet does not exist and `corrupt` rows whose
    parquet holds text."""
    rng = np.random.default_rng(seed)
    sample = KaggleSample(root=root, expected={})
    rows = ["path,participant_id,sequence_id,sign"]
    for i in range(n_sequences):
        participant, sequence = participants[i % len(participants)], 1000035562 + 7 * i
        T = 3 + i % 4
        points = make_points(rng, T, i)
        frames = frame_numbers(T, i)
        rel = f"train_landmark_files/{participant}/{sequence}.parquet"
        shuffle = np.random.default_rng(seed + i) if i in shuffled else None
        write_long_parquet(root / rel, frames, points, shuffle=shuffle)
        sign = signs[i % len(signs)]
        rows.append(f"{rel},{participant},{sequence},{sign}")
        item_id = f"{participant}__{sequence}"
        sample.expected[item_id] = split_streams(points)
        sample.labels[item_id] = sign
        sample.signers[item_id] = str(participant)
        sample.frames[item_id] = frames.tolist()
        sample.paths[item_id] = root / rel
    for j in range(missing + corrupt):
        participant, sequence = participants[0], 2000000000 + j
        rel = f"train_landmark_files/{participant}/{sequence}.parquet"
        rows.append(f"{rel},{participant},{sequence},{signs[0]}")
        if j < missing:
            sample.missing.append(root / rel)
        else:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text("not a parquet file\n")
            sample.corrupt.append(root / rel)
    (root / "train.csv").write_text("\n".join(rows) + "\n")
    if class_map:
        ordered = sorted(signs, reverse=True)
        (root / "sign_to_prediction_index_map.json").write_text(
            json.dumps({sign: ordered.index(sign) for sign in sorted(signs)})
        )
    return sample


def coord_columns() -> list[str]:
    """The 1629 coordinate columns in the competition's file order: all x, then y, then z,
    parts in Kaggle order within each."""
    return [
        f"{coord}_{part}_{index}"
        for coord in "xyz"
        for part, _, count in PARTS
        for index in range(count)
    ]


def write_wide_parquet(
    path: Path,
    sequences: dict[int, tuple[np.ndarray, np.ndarray]],
    *,
    index: bool = True,
    row_group_size: int | None = None,
) -> None:
    """An asl-fingerspelling parquet: {sequence_id: ([T] frames, [T, 543, 3] points)} as one
    row per frame: `frame` (int16), the 1629 float32 coordinate columns, and `sequence_id`
    as the pandas index (`index`, as the competition's files have it) or a plain column."""
    frames = np.concatenate([f for f, _ in sequences.values()]).astype(np.int16)
    points = np.concatenate([p for _, p in sequences.values()])  # [rows, 543, 3]
    ids = np.concatenate([np.full(len(f), s, np.int64) for s, (f, _) in sequences.items()])
    columns = {"frame": frames}
    for k, coord in enumerate("xyz"):
        start = 0
        for part, _, count in PARTS:
            for i in range(count):
                columns[f"{coord}_{part}_{i}"] = points[:, start + i, k]
            start += count
    if index:
        import pandas as pd

        frame = pd.DataFrame(columns, index=pd.Index(ids, name="sequence_id"))
        table = pa.Table.from_pandas(frame, preserve_index=True)
    else:
        table = pa.table({"sequence_id": ids, **columns})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=row_group_size)


def write_asl_fingerspelling(
    root: Path,
    n_files: int = 2,
    sequences_per_file: int = 3,
    *,
    participants: tuple[int, ...] = (5, 105, 254),
    phrases: tuple[str, ...] = PHRASES,
    seed: int = 0,
    missing: int = 1,
    corrupt: int = 1,
    supplemental: bool = False,
    row_group_size: int | None = None,
) -> KaggleSample:
    """SRC of format asl-fingerspelling: train.csv and train_landmarks/<file_id>.parquet, each
    file holding `sequences_per_file` sequences (sequence k overall has 2 + k % 3 frames,
    phrase k % len(phrases), participant k % len(participants)). Then `missing` files that
    are listed (2 sequences each) but absent and `corrupt` listed files holding text; with
    `supplemental`, also supplemental_metadata.csv + supplemental_landmarks/ (one file of
    2 sequences)."""
    rng = np.random.default_rng(seed)
    sample = KaggleSample(root=root, expected={})
    k = 0
    header = "path,file_id,sequence_id,participant_id,phrase"

    def add_file(rows: list[str], folder: str, file_id: int, count: int) -> None:
        nonlocal k
        rel = f"{folder}/{file_id}.parquet"
        content = {}
        for _ in range(count):
            participant, sequence = participants[k % len(participants)], 1816796431 + 11 * k
            T = 2 + k % 3
            frames, points = frame_numbers(T, k), make_points(rng, T, k)
            content[sequence] = (frames, points)
            phrase = phrases[k % len(phrases)]
            rows.append(f"{rel},{file_id},{sequence},{participant},{phrase}")
            item_id = f"{participant}__{sequence}"
            sample.expected[item_id] = split_streams(points)
            sample.labels[item_id] = None
            sample.texts[item_id] = phrase
            sample.signers[item_id] = str(participant)
            sample.frames[item_id] = frames.tolist()
            sample.paths[item_id] = root / rel
            k += 1
        write_wide_parquet(root / rel, content, row_group_size=row_group_size)

    rows = [header]
    for f in range(n_files):
        add_file(rows, "train_landmarks", 5414471 + f, sequences_per_file)
    for j in range(missing + corrupt):
        file_id = 9000000 + j
        rel = f"train_landmarks/{file_id}.parquet"
        for s in range(2):
            rows.append(f"{rel},{file_id},{3000000000 + 10 * j + s},{participants[0]},{phrases[0]}")
        if j < missing:
            sample.missing.append(root / rel)
        else:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text("not a parquet file\n")
            sample.corrupt.append(root / rel)
    (root / "train.csv").write_text("\n".join(rows) + "\n")
    if supplemental:
        rows = [header]
        add_file(rows, "supplemental_landmarks", 33432165, 2)
        (root / "supplemental_metadata.csv").write_text("\n".join(rows) + "\n")
    return sample
