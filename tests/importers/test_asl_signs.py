"""`asl-signs`: scanning train.csv, reading long-format parquets into exact streams, and the
reasons for what cannot be read."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from signcli.importers import get_format
from signcli.importers.base import ImportFormatError, SourceItem
from tests.importers.kaggle_samples import (
    make_points,
    split_streams,
    write_asl_signs,
    write_long_parquet,
)

FORMAT = get_format("asl-signs")
STREAM_SIZES = {"face": 468, "hand_l": 21, "hand_r": 21, "pose": 33}


def assert_streams_equal(actual, expected: dict[str, np.ndarray]) -> None:
    assert isinstance(actual, dict), actual
    assert sorted(actual) == sorted(expected)
    for stream, array in expected.items():
        assert actual[stream].dtype == np.float32
        assert actual[stream].flags.c_contiguous
        np.testing.assert_array_equal(actual[stream], array)  # NaN where NaN


def one_file(tmp_path: Path, frames, points, **kwargs) -> Path:
    path = tmp_path / "one.parquet"
    write_long_parquet(path, np.asarray(frames), points, **kwargs)
    return path


def read_one(path: Path):
    [result] = FORMAT.read([SourceItem(id="x", ref=str(path))])
    return result


def test_format_attributes() -> None:
    assert FORMAT.name == "asl-signs"
    assert FORMAT.units == "normalized"
    assert FORMAT.landmark_set.streams == STREAM_SIZES


def test_scan_lists_sequences_with_labels_signers_and_skips_missing_files(tmp_path: Path) -> None:
    sample = write_asl_signs(tmp_path, n_sequences=5)
    scan = FORMAT.scan(tmp_path)
    ids = [item.id for item in scan.items]
    assert ids == [*sample.expected, *(f"26734__{p.stem}" for p in sample.corrupt)]
    for item in scan.items[:5]:
        assert item.label == sample.labels[item.id]
        assert item.signer == sample.signers[item.id]
        assert Path(item.ref) == sample.paths[item.id]
        assert item.text is None and item.split is None
        assert pickle.loads(pickle.dumps(item)) == item  # workers receive items
    assert scan.items[3].label == "thank you"  # the label keeps its space; the id is digits
    assert scan.skipped == [(str(sample.missing[0]), "missing file (listed in train.csv line 7)")]


def test_read_gives_exact_streams_with_nan_and_frame_gaps(tmp_path: Path) -> None:
    sample = write_asl_signs(tmp_path, n_sequences=4, missing=0, corrupt=0)
    items = FORMAT.scan(tmp_path).items
    results = FORMAT.read(items)
    for item, result in zip(items, results, strict=True):
        assert_streams_equal(result, sample.expected[item.id])
        # one frame per frame number present, none for the gaps (sequence 1: frames 4, 7, 8, 9)
        assert result["pose"].shape[0] == len(sample.frames[item.id])
    assert sample.frames["28656__1000035569"] == [4, 7, 8, 9]
    assert np.isnan(results[0]["hand_l"][0]).all() and not np.isnan(results[0]["hand_l"][1]).any()
    assert np.isnan(results[0]["hand_r"][-1]).all()


def test_rows_in_any_order_give_frames_in_frame_order(tmp_path: Path) -> None:
    sample = write_asl_signs(tmp_path, n_sequences=4, missing=0, corrupt=0, shuffled=(1, 2))
    items = FORMAT.scan(tmp_path).items
    for item, result in zip(items, FORMAT.read(items), strict=True):
        assert_streams_equal(result, sample.expected[item.id])


def test_frames_written_backwards_are_sorted(tmp_path: Path) -> None:
    points = make_points(np.random.default_rng(1), 3, 0)
    path = one_file(tmp_path, [30, 20, 10], points)  # file order: frame 30 first
    assert_streams_equal(read_one(path), split_streams(points[::-1]))


def test_row_groups_and_a_categorical_type_column_read_the_same(tmp_path: Path) -> None:
    points = make_points(np.random.default_rng(4), 4, 1)
    path = one_file(tmp_path, [2, 3, 5, 6], points, row_group_size=500)  # 5 chunks
    assert_streams_equal(read_one(path), split_streams(points))
    table = pq.read_table(path)
    categorical = table.set_column(2, "type", table.column("type").dictionary_encode())
    pq.write_table(categorical, path, row_group_size=700)  # as pandas writes a category
    assert_streams_equal(read_one(path), split_streams(points))
    with_ints = table.set_column(2, "type", pa.array(np.zeros(table.num_rows, np.int8)))
    pq.write_table(with_ints, path)
    assert read_one(path) == f"{path}: column 'type' holds int8, expected part names"


def test_corrupt_and_vanished_parquets_are_one_line_reasons(tmp_path: Path) -> None:
    sample = write_asl_signs(tmp_path, n_sequences=2, missing=0, corrupt=1)
    items = FORMAT.scan(tmp_path).items
    sample.paths[items[1].id].unlink()  # removed between scan and read
    results = FORMAT.read(items)
    assert isinstance(results[0], dict)
    assert results[1] == f"{sample.paths[items[1].id]}: missing file"
    corrupt = results[2]
    assert corrupt.startswith(f"{sample.corrupt[0]}: unreadable parquet (ArrowInvalid: ")
    assert "\n" not in corrupt


def test_absent_rows_of_a_part_are_nan_for_that_part(tmp_path: Path) -> None:
    """Home-made exporters write only the parts MediaPipe returned: a frame without the left
    hand has 522 rows, not 543 with 21 NaN rows. The sequence is read, the hand NaN."""
    points = make_points(np.random.default_rng(7), 4, 0)  # left hand absent in frame 0,
    points[2, 489:522] = np.nan  # pose absent in frame 2, right hand in frame 3
    path = one_file(tmp_path, [10, 11, 12, 13], points, drop_missing_parts=True)
    assert pq.read_table(path).num_rows == 4 * 543 - 21 - 33 - 21  # the rows really are gone
    streams = read_one(path)
    assert_streams_equal(streams, split_streams(points))
    assert np.isnan(streams["hand_l"][0]).all() and not np.isnan(streams["hand_l"][1]).any()
    assert np.isnan(streams["pose"][2]).all() and not np.isnan(streams["pose"][3]).any()

    # rows in any order, some absent: the same
    path = one_file(tmp_path, [10, 11, 12, 13], points, drop_missing_parts=True,
                    shuffle=np.random.default_rng(0))  # fmt: skip
    assert_streams_equal(read_one(path), split_streams(points))


def test_index_option_names_another_index_csv(tmp_path: Path) -> None:
    sample = write_asl_signs(tmp_path / "src", missing=0, corrupt=0)
    (sample.root / "train.csv").rename(sample.root / "my_signs.csv")
    with pytest.raises(ImportFormatError, match="no train.csv"):
        FORMAT.scan(sample.root)
    scan = FORMAT.scan(sample.root, index="my_signs.csv")
    assert sorted(i.id for i in scan.items) == sorted(sample.expected)
    assert FORMAT.options == ("index",)


def test_wrong_landmark_counts_are_reasons(tmp_path: Path) -> None:
    points = make_points(np.random.default_rng(2), 2, 1)
    path = one_file(tmp_path, [5, 6], points)
    table = pq.read_table(path)

    doubled = pa.concat_tables([table, table.slice(0, 1)])  # face 0 of frame 5 twice
    pq.write_table(doubled, path)
    assert read_one(path).startswith(
        f"{path}: wrong landmark counts: frame 5 has 544 rows, some landmarks twice"
    )

    index = table.column("landmark_index").to_numpy().copy()
    index[468 + 3] = 21  # a left hand landmark 21
    pq.write_table(table.set_column(3, "landmark_index", pa.array(index)), path)
    assert read_one(path) == (
        f"{path}: wrong landmark counts: left_hand landmark_index 21 (a left_hand has 21 "
        "landmarks, 0..20)"
    )

    types = table.column("type").to_numpy(zero_copy_only=False).copy()
    types[0] = "lips"
    pq.write_table(table.set_column(2, "type", pa.array(types)), path)
    assert "unknown landmark type 'lips'" in read_one(path)


def test_infinite_values_and_empty_files_are_reasons(tmp_path: Path) -> None:
    points = make_points(np.random.default_rng(3), 3, 1)
    points[1, 470, 0] = np.inf  # frame 1, left hand landmark 2
    path = one_file(tmp_path, [4, 9, 10], points)
    assert read_one(path) == f"{path}: infinite value in frame 9 (left_hand landmark 2)"
    table = pq.read_table(path)
    pq.write_table(table.drop_columns(["x", "landmark_index"]), path)
    assert read_one(path) == (
        f"{path}: no column landmark_index, x (expected frame, type, landmark_index, x, y, z)"
    )
    pq.write_table(table.slice(0, 0), path)
    assert read_one(path) == f"{path}: no rows"


def test_read_never_raises_and_keeps_item_order(tmp_path: Path) -> None:
    sample = write_asl_signs(tmp_path, n_sequences=3, missing=0, corrupt=1)
    good = FORMAT.scan(tmp_path).items
    items = [good[3], good[0], SourceItem(id="gone", ref=str(tmp_path / "gone.parquet")), good[1]]
    results = FORMAT.read(items)
    assert isinstance(results[0], str) and isinstance(results[2], str)
    assert_streams_equal(results[1], sample.expected[good[0].id])
    assert_streams_equal(results[3], sample.expected[good[1].id])


def test_class_order_follows_the_index_map(tmp_path: Path) -> None:
    write_asl_signs(tmp_path, n_sequences=4, missing=0, corrupt=0)
    assert FORMAT.class_order(tmp_path) == ["thank you", "airplane", "after", "TV"]
    (tmp_path / "sign_to_prediction_index_map.json").unlink()
    assert FORMAT.class_order(tmp_path) is None


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "is not readable JSON"),
        ('{"TV": ' + "[" * 100_000, r"is not readable JSON \(nested too deeply\)"),  # tests/fuzz
        (json.dumps(["TV"]), "must be one object"),
        (json.dumps({"TV": 0, "after": 2}), "the indices must be 0..1, each once"),
        (json.dumps({"TV": 0, "after": 0}), "the indices must be 0..1, each once"),
    ],
)
def test_malformed_class_map_is_a_format_error(tmp_path: Path, content: str, message: str) -> None:
    write_asl_signs(tmp_path, n_sequences=2, missing=0, corrupt=0)
    (tmp_path / "sign_to_prediction_index_map.json").write_text(content)
    with pytest.raises(ImportFormatError, match=message):
        FORMAT.class_order(tmp_path)
    with pytest.raises(ImportFormatError, match=message):
        FORMAT.scan(tmp_path)


def test_scan_skips_duplicate_ids_empty_fields_and_signs_outside_the_map(tmp_path: Path) -> None:
    write_asl_signs(tmp_path, n_sequences=2, missing=0, corrupt=0, signs=("TV", "after"))
    csv = tmp_path / "train.csv"
    lines = csv.read_text().splitlines()
    rel = lines[1].split(",")[0]
    lines += [lines[1], f"{rel},26734,5,dog", f"{rel},,6,TV"]
    csv.write_text("\n".join(lines) + "\n")
    scan = FORMAT.scan(tmp_path)
    assert len(scan.items) == 2
    path = str(tmp_path / rel)
    assert scan.skipped == [
        (path, "id 26734__1000035562 already taken by train.csv line 2"),
        (path, "sign 'dog' is not in sign_to_prediction_index_map.json"),
        (f"{csv}:6", "empty participant_id"),
    ]


def test_scan_without_the_layout_is_a_format_error(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match=r"no train\.csv in .*asl-signs layout"):
        FORMAT.scan(tmp_path)
    with pytest.raises(ImportFormatError, match="is not a folder"):
        FORMAT.scan(tmp_path / "nothing")
    (tmp_path / "train.csv").write_text("path,file_id,sequence_id,participant_id,phrase\n")
    with pytest.raises(ImportFormatError, match="has no column sign"):
        FORMAT.scan(tmp_path)
    (tmp_path / "train.csv").write_text("path,participant_id,sequence_id,sign\n")
    with pytest.raises(ImportFormatError, match="lists no sequences"):
        FORMAT.scan(tmp_path)
    (tmp_path / "train.csv").write_text("path,participant_id,sequence_id,sign\na.parquet,1,2,TV\n")
    with pytest.raises(ImportFormatError, match="none of the 1 parquet files"):
        FORMAT.scan(tmp_path)


@pytest.mark.parametrize("rel", ["/etc/passwd", "../outside.parquet", "a/../../outside.parquet"])
def test_an_index_path_leaving_src_is_skipped_unread(tmp_path: Path, rel: str) -> None:
    """issue 23: train.csv's `path` was joined to SRC as given, so an absolute path or `..`
    made the import read (and name) files elsewhere."""
    src = tmp_path / "src"
    write_asl_signs(src, n_sequences=2)
    (tmp_path / "outside.parquet").write_bytes(b"not read")
    index = src / "train.csv"
    lines = index.read_text().splitlines()
    lines[1] = rel + lines[1][lines[1].index(",") :]
    index.write_text("\n".join(lines) + "\n")
    scan = FORMAT.scan(src)
    assert (f"{index}:2", f"path {rel!r} leaves SRC") in scan.skipped
    assert all(Path(item.ref).is_relative_to(src) for item in scan.items)


def test_a_long_sign_outside_the_map_is_quoted_short(tmp_path: Path) -> None:
    """issue 23: a reason quoted the index's value whole (errors quote a short excerpt)."""
    write_asl_signs(tmp_path, n_sequences=2, missing=0, corrupt=0, signs=("TV", "after"))
    csv = tmp_path / "train.csv"
    lines = csv.read_text().splitlines()
    rel = lines[1].split(",")[0]
    csv.write_text("\n".join([*lines, f"{rel},26734,5,{'SECRET' * 500}"]) + "\n")
    ((_, reason),) = FORMAT.scan(tmp_path).skipped
    assert reason.startswith("sign 'SECRETSECRET") and "(3,000 characters)" in reason
    assert len(reason) < 120
