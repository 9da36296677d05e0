"""`asl-fingerspelling`: scanning train.csv (+ the supplemental set), reading wide parquets of
many sequences into exact streams, one file read per group, and the reasons for what
cannot be read."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from signcli.data.recordings import asl_fingerspelling
from signcli.importers import get_format
from signcli.importers.base import ImportFormatError, SourceItem
from tests.importers.kaggle_samples import (
    frame_numbers,
    make_points,
    split_streams,
    write_asl_fingerspelling,
    write_wide_parquet,
)

pytestmark = pytest.mark.slow  # reads parquet files of every shape: the full lane runs it

FORMAT = get_format("asl-fingerspelling")


def assert_streams_equal(actual, expected: dict[str, np.ndarray]) -> None:
    assert isinstance(actual, dict), actual
    assert sorted(actual) == sorted(expected)
    for stream, array in expected.items():
        assert actual[stream].dtype == np.float32
        assert actual[stream].flags.c_contiguous
        np.testing.assert_array_equal(actual[stream], array)  # NaN where NaN


def sequences(seed: int, *ids: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """{sequence_id: (frames, points)}: sequence k has 2 + k frames."""
    rng = np.random.default_rng(seed)
    return {s: (frame_numbers(2 + k, k), make_points(rng, 2 + k, k)) for k, s in enumerate(ids)}


def items_of(path: Path, *ids: int) -> list[SourceItem]:
    return [SourceItem(id=str(s), ref=(str(path), s), group=str(path)) for s in ids]


def test_format_attributes() -> None:
    assert FORMAT.name == "asl-fingerspelling"
    assert FORMAT.units == "normalized"
    assert FORMAT.landmark_set.streams == {"face": 468, "hand_l": 21, "hand_r": 21, "pose": 33}


def test_scan_lists_phrases_signers_groups_and_skips_missing_files(tmp_path: Path) -> None:
    sample = write_asl_fingerspelling(tmp_path)
    scan = FORMAT.scan(tmp_path)
    assert [item.id for item in scan.items[:6]] == list(sample.expected)
    for item in scan.items[:6]:
        assert item.text == sample.texts[item.id]
        assert item.signer == sample.signers[item.id]
        assert item.label is None
        assert item.group == str(sample.paths[item.id])
        assert item.ref == (str(sample.paths[item.id]), int(item.id.split("__")[1]))
        assert pickle.loads(pickle.dumps(item)) == item  # workers receive items
    assert scan.items[1].text == "scales/kuhaylah"  # a phrase keeps its characters
    assert [item.group for item in scan.items[6:]] == [str(sample.corrupt[0])] * 2
    missing = str(sample.missing[0])
    assert scan.skipped == [
        (missing, "missing file (sequence 3000000000, train.csv line 8)"),
        (missing, "missing file (sequence 3000000001, train.csv line 9)"),
    ]


def test_read_gives_exact_streams_and_reasons_per_file(tmp_path: Path) -> None:
    sample = write_asl_fingerspelling(tmp_path)
    items = FORMAT.scan(tmp_path).items
    results = FORMAT.read(items)
    for item, result in zip(items[:6], results[:6], strict=True):
        assert_streams_equal(result, sample.expected[item.id])
        assert result["face"].shape[0] == len(sample.frames[item.id])  # gaps: no frames added
    assert sample.frames["105__1816796442"] == [4, 7, 8]
    corrupt = f"{sample.corrupt[0]}: unreadable parquet (ArrowInvalid: "
    assert all(r.startswith(corrupt) and "\n" not in r for r in results[6:])


def test_supplemental_set_is_imported_when_present(tmp_path: Path) -> None:
    sample = write_asl_fingerspelling(tmp_path, missing=0, corrupt=0, supplemental=True)
    items = FORMAT.scan(tmp_path).items
    assert len(items) == 8
    assert {item.group for item in items[6:]} == {
        str(tmp_path / "supplemental_landmarks/33432165.parquet")
    }
    for item, result in zip(items, FORMAT.read(items), strict=True):
        assert_streams_equal(result, sample.expected[item.id])


def test_some_items_of_a_file_in_any_order(tmp_path: Path) -> None:
    sample = write_asl_fingerspelling(
        tmp_path, n_files=2, sequences_per_file=4, missing=0, corrupt=0
    )
    items = FORMAT.scan(tmp_path).items
    chosen = [items[5], items[2], items[6]]  # two files, interleaved, one item twice
    results = FORMAT.read([*chosen, items[2]])
    for item, result in zip([*chosen, items[2]], results, strict=True):
        assert_streams_equal(result, sample.expected[item.id])


def test_row_groups_without_the_wanted_sequences_are_not_read(tmp_path: Path) -> None:
    content = sequences(0, 10, 20, 30)  # 2, 3 and 4 frames: rows 0-1, 2-4, 5-8
    path = tmp_path / "f.parquet"
    write_wide_parquet(path, content, row_group_size=3)  # groups: rows 0-2, 3-5, 6-8
    parquet = pq.ParquetFile(path)
    assert asl_fingerspelling._row_groups_holding(parquet, np.array([20])) == [0, 1]
    assert asl_fingerspelling._row_groups_holding(parquet, np.array([30])) == [1, 2]
    assert asl_fingerspelling._row_groups_holding(parquet, np.array([40])) == []
    results = FORMAT.read(items_of(path, 30, 20, 40))
    assert_streams_equal(results[0], split_streams(content[30][1]))
    assert_streams_equal(results[1], split_streams(content[20][1]))
    assert results[2] == f"{path}: sequence_id 40: not in this file"
    assert FORMAT.read(items_of(path, 40)) == [f"{path}: sequence_id 40: not in this file"]


def test_sequence_id_as_plain_column_and_rows_across_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(asl_fingerspelling, "BATCH_ROWS", 2)  # each sequence in 1-3 batches
    content = sequences(1, 7, 8, 9)
    path = tmp_path / "f.parquet"
    write_wide_parquet(path, content, index=False)
    for s, result in zip(content, FORMAT.read(items_of(path, 7, 8, 9)), strict=True):
        assert_streams_equal(result, split_streams(content[s][1]))


def test_frames_out_of_order_are_sorted_and_a_doubled_frame_is_a_reason(tmp_path: Path) -> None:
    content = sequences(2, 1, 2)
    frames, points = content[2]  # 3 frames
    content[2] = (frames[::-1].copy(), points)
    content[3] = (np.array([5, 6, 5]), points)
    path = tmp_path / "f.parquet"
    write_wide_parquet(path, content)
    ordered, doubled, absent = FORMAT.read(items_of(path, 2, 3, 4))
    assert_streams_equal(ordered, split_streams(points[::-1]))
    assert doubled == f"{path}: sequence_id 3: frame 5 appears more than once"
    assert absent == f"{path}: sequence_id 4: not in this file"


def test_an_infinite_value_spoils_only_its_sequence(tmp_path: Path) -> None:
    content = sequences(3, 1, 2)
    content[2][1][1, 540, 2] = -np.inf  # frame 1 of sequence 2: right hand landmark 18
    path = tmp_path / "f.parquet"
    write_wide_parquet(path, content)
    good, bad = FORMAT.read(items_of(path, 1, 2))
    assert_streams_equal(good, split_streams(content[1][1]))
    frame = content[2][0][1]
    assert bad == f"{path}: sequence_id 2: infinite value in frame {frame} (right_hand landmark 18)"


def test_wrong_coordinate_columns_spoil_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "f.parquet"
    write_wide_parquet(path, sequences(4, 1, 2))
    table = pq.read_table(path)
    pq.write_table(table.drop_columns(["y_pose_32"]), path)
    reason = f"{path}: wrong landmark counts: no column y_pose_32 (expected y_pose_0..32: 33 pose landmarks)"
    assert FORMAT.read(items_of(path, 1, 2)) == [reason, reason]

    pq.write_table(table.append_column("x_left_hand_21", pa.array(np.zeros(5, np.float32))), path)
    assert FORMAT.read(items_of(path, 1)) == [
        f"{path}: wrong landmark counts: a column x_left_hand_21 (expected x_left_hand_0..20: "
        "21 left_hand landmarks)"
    ]
    pq.write_table(table.drop_columns(["frame"]), path)
    assert FORMAT.read(items_of(path, 1)) == [f"{path}: no column 'frame' (found 1630 columns)"]
    path.unlink()
    assert FORMAT.read(items_of(path, 1)) == [f"{path}: missing file"]


def test_scan_skips_bad_rows(tmp_path: Path) -> None:
    write_asl_fingerspelling(tmp_path, n_files=1, sequences_per_file=2, missing=0, corrupt=0)
    csv = tmp_path / "train.csv"
    lines = csv.read_text().splitlines()
    rel = lines[1].split(",")[0]
    lines += [lines[1], f"{rel},1,abc,5,hello", f"{rel},1,,5,hello"]
    csv.write_text("\n".join(lines) + "\n")
    scan = FORMAT.scan(tmp_path)
    assert len(scan.items) == 2
    path = str(tmp_path / rel)
    assert scan.skipped == [
        (path, "id 5__1816796431 of train.csv line 4 already taken by train.csv line 2"),
        (path, "sequence_id 'abc' in train.csv line 5 is not an integer"),
        (f"{csv}:6", "empty path, sequence_id or participant_id"),
    ]


def test_scan_without_the_layout_is_a_format_error(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match=r"no train\.csv in .*asl-fingerspelling layout"):
        FORMAT.scan(tmp_path)
    (tmp_path / "train.csv").write_text("path,participant_id,sequence_id,sign\n")
    with pytest.raises(ImportFormatError, match="has no column file_id, phrase"):
        FORMAT.scan(tmp_path)
    (tmp_path / "train.csv").write_text("path,file_id,sequence_id,participant_id,phrase\n")
    with pytest.raises(ImportFormatError, match="lists no sequences"):
        FORMAT.scan(tmp_path)
    (tmp_path / "train.csv").write_text(
        "path,file_id,sequence_id,participant_id,phrase\ntrain_landmarks/1.parquet,1,2,3,hi\n"
    )
    with pytest.raises(ImportFormatError, match="none of the parquet files"):
        FORMAT.scan(tmp_path)
