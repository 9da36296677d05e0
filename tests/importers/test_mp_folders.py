"""The `mp-folders` reader: the MediaPipe tutorial's <label>/<sequence>/<frame>.npy tree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from signcli.importers import get_format
from signcli.importers.base import MEDIAPIPE_HOLISTIC, ImportFormatError
from signcli.importers.mp_folders import FORMAT
from tests.importers.samples import (
    MP_WIDTH,
    MP_WIDTH_NO_FACE,
    mp_vector,
    write_mp_folders,
    write_mp_sequence,
)


def expected_1662(vectors: np.ndarray) -> dict[str, np.ndarray]:
    """The tutorial's 1662-wide frames split by hand (independently of the reader)."""
    T = len(vectors)
    return {
        "face": vectors[:, 132:1536].reshape(T, 468, 3),
        "hand_l": vectors[:, 1536:1599].reshape(T, 21, 3),
        "hand_r": vectors[:, 1599:1662].reshape(T, 21, 3),
        "pose": vectors[:, :132].reshape(T, 33, 4)[..., :3],
    }


def read_one(folder: Path):
    scan = FORMAT.scan(folder)
    assert len(scan.items) == 1
    return FORMAT.read(scan.items)[0]


def test_registered_with_its_landmark_set() -> None:
    fmt = get_format("mp-folders")
    assert fmt is FORMAT
    assert fmt.name == "mp-folders"
    assert fmt.landmark_set is MEDIAPIPE_HOLISTIC
    assert fmt.units == "normalized"


def test_scan_lists_label_and_sequence_folders(tmp_path: Path) -> None:
    write_mp_folders(tmp_path, labels=("hello", "thank you"), sequences=2, frames=3)
    scan = FORMAT.scan(tmp_path)
    assert [(i.id, i.label, i.signer) for i in scan.items] == [
        ("hello__0", "hello", None),
        ("hello__1", "hello", None),
        ("thank_you__0", "thank you", None),
        ("thank_you__1", "thank you", None),
    ]
    assert Path(scan.items[2].ref.path) == tmp_path / "thank you" / "0"
    assert scan.items[2].ref.per_frame
    assert scan.skipped == []


def test_read_splits_the_1662_vector_and_drops_visibility(tmp_path: Path) -> None:
    written = write_mp_folders(tmp_path, labels=("a", "b"), sequences=2, frames=3)
    scan = FORMAT.scan(tmp_path)
    results = FORMAT.read(scan.items)
    assert len(results) == 4
    for item, streams in zip(scan.items, results, strict=True):
        assert isinstance(streams, dict)
        expected = expected_1662(written[(item.label, Path(item.ref.path).name)])
        assert list(streams) == ["face", "hand_l", "hand_r", "pose"]
        for name, array in streams.items():
            assert array.dtype == np.float32
            assert array.shape == (3, MEDIAPIPE_HOLISTIC.streams[name], 3)
            np.testing.assert_array_equal(array, expected[name].astype(np.float32))


def test_visibility_is_not_read_as_a_coordinate(tmp_path: Path) -> None:
    pose = np.zeros((33, 4))
    pose[:, :3] = 0.5
    pose[:, 3] = 0.99  # visibility
    vector = mp_vector(pose, np.full((468, 3), 0.2), np.full((21, 3), 0.3), np.full((21, 3), 0.4))
    write_mp_sequence(tmp_path / "a" / "0", [vector])
    streams = read_one(tmp_path)
    assert streams["pose"].shape == (1, 33, 3)
    assert np.all(streams["pose"] == 0.5)
    assert np.all(streams["face"] == np.float32(0.2))
    assert np.all(streams["hand_l"] == np.float32(0.3))
    assert np.all(streams["hand_r"] == np.float32(0.4))


def test_frames_sort_numerically(tmp_path: Path) -> None:
    # frame t holds the value t + 1 everywhere: 0, 1, 2, ..., 10, 11 (not 0, 1, 10, 11, 2 ...)
    vectors = [np.full(MP_WIDTH, t + 1.0) for t in range(12)]
    write_mp_sequence(tmp_path / "a" / "0", vectors)
    streams = read_one(tmp_path)
    np.testing.assert_array_equal(streams["hand_r"][:, 0, 0], np.arange(1, 13, dtype=np.float32))


def test_an_all_zero_part_is_nan_for_that_frame_only(tmp_path: Path) -> None:
    vectors = np.full((3, MP_WIDTH), 0.5)
    vectors[0, 1536:1599] = 0  # frame 0: no left hand
    vectors[1, 132:1536] = 0  # frame 1: no face
    vectors[2, :132] = 0  # frame 2: no pose (visibility zero too)
    vectors[2, 1599] = 0  # one zero coordinate of a detected hand stays 0
    write_mp_sequence(tmp_path / "a" / "0", vectors)
    streams = read_one(tmp_path)
    missing = {name: np.isnan(array).all(axis=(1, 2)).tolist() for name, array in streams.items()}
    assert missing == {
        "face": [False, True, False],
        "hand_l": [True, False, False],
        "hand_r": [False, False, False],
        "pose": [False, False, True],
    }
    # nothing else became NaN, and the lone zero is kept
    assert sum(int(np.isnan(a).sum()) for a in streams.values()) == (21 + 468 + 33) * 3
    assert streams["hand_r"][2, 0, 0] == 0


def test_258_wide_has_no_face_stream(tmp_path: Path) -> None:
    written = write_mp_folders(tmp_path, labels=("a",), sequences=1, frames=4, width=258)
    streams = read_one(tmp_path)
    vectors = written[("a", "0")]
    assert list(streams) == ["hand_l", "hand_r", "pose"]
    np.testing.assert_array_equal(
        streams["pose"], vectors[:, :132].reshape(4, 33, 4)[..., :3].astype(np.float32)
    )
    np.testing.assert_array_equal(
        streams["hand_l"], vectors[:, 132:195].reshape(4, 21, 3).astype(np.float32)
    )
    np.testing.assert_array_equal(
        streams["hand_r"], vectors[:, 195:258].reshape(4, 21, 3).astype(np.float32)
    )


def test_empty_sequence_and_label_folders_are_skipped_with_a_reason(tmp_path: Path) -> None:
    write_mp_folders(tmp_path, labels=("a",), sequences=1, frames=2)
    (tmp_path / "a" / "empty").mkdir()
    (tmp_path / "a" / "notes").mkdir()
    (tmp_path / "a" / "notes" / "readme.txt").write_text("not a frame")
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / ".ipynb_checkpoints").mkdir()  # Jupyter's: ignored, not reported
    scan = FORMAT.scan(tmp_path)
    assert [i.id for i in scan.items] == ["a__0"]
    assert scan.skipped == [
        (str(tmp_path / "a" / "empty"), "no .npy frames"),
        (str(tmp_path / "a" / "notes"), "no .npy frames"),
        (str(tmp_path / "b"), "no sequence folders or .npy files in this label folder"),
    ]


def test_ids_that_collide_after_cleaning_are_skipped(tmp_path: Path) -> None:
    write_mp_sequence(tmp_path / "a b" / "0", [np.full(MP_WIDTH, 0.5)])
    write_mp_sequence(tmp_path / "a_b" / "0", [np.full(MP_WIDTH, 0.5)])
    scan = FORMAT.scan(tmp_path)
    assert [i.id for i in scan.items] == ["a_b__0"]
    assert scan.skipped[0][0] == str(tmp_path / "a_b" / "0")
    assert "a_b__0" in scan.skipped[0][1] and "a b" in scan.skipped[0][1]


def test_bad_items_give_a_reason_naming_the_file(tmp_path: Path) -> None:
    good = np.full(MP_WIDTH, 0.5)
    write_mp_sequence(tmp_path / "a" / "good", [good, good])
    write_mp_sequence(tmp_path / "a" / "mixed", [good, np.full(MP_WIDTH_NO_FACE, 0.5)])
    write_mp_sequence(tmp_path / "a" / "width", [np.full(100, 0.5)])
    write_mp_sequence(tmp_path / "a" / "shape", [np.full((2, 831), 0.5)])
    inf = good.copy()
    inf[7] = np.inf
    write_mp_sequence(tmp_path / "a" / "inf", [good, inf])
    write_mp_sequence(tmp_path / "a" / "corrupt", [good])
    (tmp_path / "a" / "corrupt" / "1.npy").write_bytes(b"\x93NUMPY garbage")
    scan = FORMAT.scan(tmp_path)
    results = dict(
        zip((Path(i.ref.path).name for i in scan.items), FORMAT.read(scan.items), strict=True)
    )
    assert isinstance(results.pop("good"), dict)
    for name, reason in results.items():
        assert isinstance(reason, str), name
        assert "\n" not in reason
    seq = tmp_path / "a"
    assert results["mixed"].startswith(
        f"{seq / 'mixed' / '1.npy'}: array of shape [258], but 0.npy has 1662 values"
    )
    assert results["inf"].startswith(f"{seq / 'inf' / '1.npy'}: infinite value")
    assert results["corrupt"].startswith(f"{seq / 'corrupt' / '1.npy'}: unreadable .npy")
    # a width or shape the scan can tell from the first file's header: skipped there
    skipped = dict(scan.skipped)
    assert skipped[str(seq / "width")].startswith(
        "0.npy: 100 values is no combination of MediaPipe Holistic parts known without --parts "
        "(widths known: 99, 126, 132"
    )
    assert skipped[str(seq / "shape")] == (
        "0.npy: array of shape [2, 831], expected a 1-D vector per frame "
        "(a [T, W] array belongs in SRC/<label>/<sequence>.npy)"
    )


def test_nan_in_a_file_is_kept_as_not_detected(tmp_path: Path) -> None:
    vector = np.full(MP_WIDTH, 0.5)
    vector[132] = np.nan  # face landmark 0, x
    write_mp_sequence(tmp_path / "a" / "0", [vector])
    streams = read_one(tmp_path)
    assert np.isnan(streams["face"][0, 0, 0]) and streams["face"][0, 0, 1] == 0.5


@pytest.mark.parametrize("layout", ["empty", "files_in_src", "one_level", "not_a_folder"])
def test_a_src_that_is_not_the_format_is_refused(tmp_path: Path, layout: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    hint = ""
    if layout == "files_in_src":
        write_mp_sequence(src, [np.full(MP_WIDTH, 0.5)])
        hint = "directly in SRC"
    elif layout == "one_level":
        write_mp_sequence(src / "a", [np.full(MP_WIDTH, 0.5)])
        hint = "one folder level is missing"
    elif layout == "not_a_folder":
        src = tmp_path / "missing"
    with pytest.raises(ImportFormatError, match="<label>/<sequence>/<frame>.npy") as error:
        FORMAT.scan(src)
    assert hint in str(error.value)
