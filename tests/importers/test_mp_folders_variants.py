"""`mp-folders` beyond the tutorial's 1662: the widths real trees save (every combination of
Holistic parts), `--parts`, per-sequence [T, W] files, and the refusals naming a width.

The vectors are built here part by part from an explicit list, independent of the reader's
own table, the way the extractors people publish concatenate them (`np.concatenate([pose,
face, lh, rh])`, with or without visibility, with or without the face or the pose).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from signcli.data.recordings.mp_frames import LAYOUTS
from signcli.importers.base import ImportFormatError
from signcli.importers.mp_folders import FORMAT
from tests.importers.samples import write_mp_sequence

LANDMARKS = {"pose": 33, "face": 468, "hand_l": 21, "hand_r": 21}


def build(
    parts: list[tuple[str, int, int]], frames: int = 3, seed: int = 0
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """[T, W] float64 of `parts` (stream, landmarks, values) in that order, values in 0.1..1,
    and the streams a reader must give: x, y, z of each part, float32."""
    rng = np.random.default_rng(seed)
    blocks, expected = [], {}
    for stream, count, values in parts:
        block = rng.uniform(0.1, 1.0, size=(frames, count, values))
        blocks.append(block.reshape(frames, -1))
        expected[stream] = block[..., :3].astype(np.float32)
    return np.concatenate(blocks, axis=1), expected


def read_all(src: Path, **options):
    scan = FORMAT.scan(src, **options)
    return scan, FORMAT.read(scan.items)


REAL_WIDTHS = {  # what public trees save, each as its extractor concatenates it
    2172: [("pose", 33, 4), ("face", 468, 4), ("hand_l", 21, 4), ("hand_r", 21, 4)],
    1662: [("pose", 33, 4), ("face", 468, 3), ("hand_l", 21, 3), ("hand_r", 21, 3)],
    1629: [("pose", 33, 3), ("face", 468, 3), ("hand_l", 21, 3), ("hand_r", 21, 3)],
    1692: [("pose", 33, 4), ("face", 478, 3), ("hand_l", 21, 3), ("hand_r", 21, 3)],
    1530: [("face", 468, 3), ("hand_l", 21, 3), ("hand_r", 21, 3)],
    258: [("pose", 33, 4), ("hand_l", 21, 3), ("hand_r", 21, 3)],
    225: [("pose", 33, 3), ("hand_l", 21, 3), ("hand_r", 21, 3)],
    132: [("pose", 33, 4)],
    126: [("hand_l", 21, 3), ("hand_r", 21, 3)],
}


@pytest.mark.parametrize("width", sorted(REAL_WIDTHS))
def test_each_real_width_is_split_by_its_parts(tmp_path: Path, width: int) -> None:
    vectors, expected = build(REAL_WIDTHS[width])
    assert vectors.shape[1] == width
    write_mp_sequence(tmp_path / "hello" / "0", vectors)
    scan, [streams] = read_all(tmp_path)
    assert scan.skipped == []
    assert scan.streams == {s: a.shape[1] for s, a in expected.items()}
    assert set(streams) == set(expected)
    for name, array in expected.items():
        np.testing.assert_array_equal(streams[name], array)


def test_the_width_table_is_unambiguous_and_covers_the_issue_widths() -> None:
    for width, layout in LAYOUTS.items():
        assert sum(n * v for _, n, v in layout) == width
        hands = {s for s, _, _ in layout} & {"hand_l", "hand_r"}
        assert len(hands) != 1  # one hand alone is never guessed
    assert {2172, 1662, 1629, 258, 225, 126, 1530} <= set(LAYOUTS)
    assert 63 not in LAYOUTS


def test_one_hand_needs_parts_and_then_lands_on_that_side(tmp_path: Path) -> None:
    vectors, expected = build([("hand_r", 21, 3)], frames=4)
    write_mp_sequence(tmp_path / "a" / "0", vectors)
    with pytest.raises(ImportFormatError, match="--parts hand_r"):
        FORMAT.scan(tmp_path)
    scan, [streams] = read_all(tmp_path, parts="hand_r")
    assert list(streams) == ["hand_r"]
    np.testing.assert_array_equal(streams["hand_r"], expected["hand_r"])


def test_parts_give_another_order(tmp_path: Path) -> None:
    """The Kaggle order (face, left hand, pose, right hand) at 543 x 3 = 1629: without
    --parts 1629 is read as the tutorial's order; --parts says the file's."""
    parts = [("face", 468, 3), ("hand_l", 21, 3), ("pose", 33, 3), ("hand_r", 21, 3)]
    vectors, expected = build(parts)
    write_mp_sequence(tmp_path / "a" / "0", vectors)
    _, [streams] = read_all(tmp_path, parts="face,hand_l,pose,hand_r")
    for name, array in expected.items():
        np.testing.assert_array_equal(streams[name], array)


def test_parts_that_do_not_fit_the_width_are_a_reason(tmp_path: Path) -> None:
    vectors, _ = build(REAL_WIDTHS[1662])
    write_mp_sequence(tmp_path / "a" / "0", vectors)
    with pytest.raises(ImportFormatError, match="1662 values, but --parts says 1536 or 1566"):
        FORMAT.scan(tmp_path, parts="pose:4,face")
    with pytest.raises(ImportFormatError, match="'nose' is not a part"):
        FORMAT.scan(tmp_path, parts="nose")
    with pytest.raises(ImportFormatError, match="values per landmark are 3 or 4"):
        FORMAT.scan(tmp_path, parts="pose:5")


def test_an_unknown_width_is_refused_naming_it_and_the_known_widths(tmp_path: Path) -> None:
    write_mp_sequence(tmp_path / "a" / "0", np.full((2, 1000), 0.5))
    with pytest.raises(ImportFormatError) as error:
        FORMAT.scan(tmp_path)
    message = str(error.value)
    assert "1000 values is no combination of MediaPipe Holistic parts" in message
    assert "widths known: 99, 126, 132" in message and "2172" in message
    assert "--parts" in message


def test_per_sequence_arrays_beside_per_frame_folders(tmp_path: Path) -> None:
    """SRC/<label>/<sequence>.npy [T, W] files, mixed with the tutorial's folders."""
    seq, expected = build(REAL_WIDTHS[1662], frames=5, seed=1)
    seq[2, 132 + 1404 : 132 + 1404 + 63] = 0  # left hand not detected in frame 2
    expected["hand_l"][2] = np.nan
    np.save(tmp_path / "x.npy", seq)
    (tmp_path / "hello").mkdir()
    (tmp_path / "x.npy").rename(tmp_path / "hello" / "clip7.npy")
    frames, expected_frames = build(REAL_WIDTHS[1662], frames=2, seed=2)
    write_mp_sequence(tmp_path / "hello" / "0", frames)
    scan, results = read_all(tmp_path)
    by_id = dict(zip((i.id for i in scan.items), results, strict=True))
    assert sorted(by_id) == ["hello__0", "hello__clip7"]
    for name, array in expected.items():
        np.testing.assert_array_equal(by_id["hello__clip7"][name], array)
        np.testing.assert_array_equal(by_id["hello__0"][name], expected_frames[name])


def test_a_per_sequence_file_of_the_wrong_rank_is_skipped_with_a_reason(tmp_path: Path) -> None:
    good, _ = build(REAL_WIDTHS[258])
    (tmp_path / "a").mkdir()
    np.save(tmp_path / "a" / "good.npy", good)
    np.save(tmp_path / "a" / "cube.npy", np.zeros((2, 3, 258)))
    scan = FORMAT.scan(tmp_path)
    assert [i.id for i in scan.items] == ["a__good"]
    assert scan.skipped == [
        (
            str(tmp_path / "a" / "cube.npy"),
            "array of shape [2, 3, 258], expected a [T, W] array per sequence",
        )
    ]


def test_sequences_of_several_widths_give_every_stream(tmp_path: Path) -> None:
    """A tree where some sequences were saved without the face: all are read, the face
    stream exists, NaN for the sequences without one."""
    with_face, expected = build(REAL_WIDTHS[1662])
    without_face, expected_nf = build(REAL_WIDTHS[258], seed=3)
    write_mp_sequence(tmp_path / "a" / "0", with_face)
    write_mp_sequence(tmp_path / "a" / "1", without_face)
    scan, (first, second) = read_all(tmp_path)
    assert scan.streams == LANDMARKS
    assert "several layouts" in scan.notes[0]
    assert "face" in first and "face" not in second  # the run fills it with NaN
    np.testing.assert_array_equal(second["hand_r"], expected_nf["hand_r"])


def test_faces_of_468_and_478_points_keep_468(tmp_path: Path) -> None:
    refined, expected = build(REAL_WIDTHS[1692])
    plain, _ = build(REAL_WIDTHS[1662], seed=4)
    write_mp_sequence(tmp_path / "a" / "0", refined)
    write_mp_sequence(tmp_path / "a" / "1", plain)
    scan, (first, second) = read_all(tmp_path)
    assert scan.streams["face"] == 468 and "keeps the first 468" in scan.notes[0]
    assert first["face"].shape == second["face"].shape == (3, 468, 3)
    np.testing.assert_array_equal(first["face"], expected["face"][:, :468])
