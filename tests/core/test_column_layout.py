"""Column layouts of single-stream keypoints: parsing, checks, split and join."""

from __future__ import annotations

import numpy as np
import pytest

from signcli.core.column_layout import (
    EXAMPLE,
    check_layout,
    join_columns,
    layout_columns,
    parse_layout,
    split_columns,
)


def test_parse_the_example_and_report_malformed_entries() -> None:
    assert parse_layout(EXAMPLE) == {"hand_l": (0, 63), "hand_r": (63, 126), "pose": (126, 156)}
    assert parse_layout(" pose = 0:30 , ") == {"pose": (0, 30)}
    for bad, message in [
        ("hand_l:0-63", "not STREAM=START:STOP"),
        ("", "no column ranges"),
        ("pose=0:30,pose=30:60", "given twice"),
        ("pose=-3:30", "not STREAM"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_layout(bad)  # fmt: skip


def test_check_names_alignment_and_overlap() -> None:
    assert check_layout(parse_layout(EXAMPLE)) == []
    problems = check_layout({"hand_l": (0, 62), "hand_r": (60, 126), "knee": (9, 3)})
    assert any("whole landmarks" in p for p in problems)
    assert any("hand_l and hand_r overlap (columns 60..61)" in p for p in problems)
    assert any("'knee' is not a stream" in p for p in problems)
    assert any("knee=9:3 is empty" in p for p in problems)


def test_columns_in_stream_order_with_the_rest_as_x() -> None:
    columns = layout_columns({"pose": (6, 12), "hand_l": (0, 3)}, 15)
    assert list(columns) == ["hand_l", "pose", "x"]
    np.testing.assert_array_equal(columns["x"], [3, 4, 5, 12, 13, 14])
    assert "x" not in layout_columns({"hand_l": (0, 6)}, 6)
    with pytest.raises(ValueError, match=r"does not fit arrays 9 columns wide \(pose ends at 12\)"):
        layout_columns({"pose": (6, 12)}, 9)


def test_split_then_join_gives_the_array_back_nan_included() -> None:
    array = np.random.default_rng(0).normal(size=(5, 15)).astype(np.float32)
    array[2, 4] = np.nan
    columns = layout_columns({"pose": (6, 12), "hand_l": (0, 3)}, 15)
    streams = split_columns(array, columns)
    assert {k: v.shape for k, v in streams.items()} == {
        "hand_l": (5, 3), "pose": (5, 6), "x": (5, 6)
    }  # fmt: skip
    np.testing.assert_array_equal(join_columns(streams, columns, 15), array)
