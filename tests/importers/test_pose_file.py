"""The `pose` import format: .pose files of pose-format, MediaPipe Holistic and OpenPose
headers, labelled and flat layouts, missing points, damaged files and wrong SRC."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

from signcli.importers import get_format
from signcli.importers.base import (
    COCO_WHOLEBODY,
    MEDIAPIPE_HOLISTIC,
    OPENPOSE_BODY25_HANDS,
    ImportFormatError,
)
from signcli.importers.pose_file import FORMAT, PoseFileFormat
from tests.importers.pose_samples import (
    ALPHAPOSE133,
    MEDIAPIPE,
    OPENPOSE,
    REDUCED_FACE_INDEX,
    REDUCED_POINT_NAMES,
    REDUCED_POSE_INDEX,
    REFINED_FACE,
    STREAM_COMPONENTS,
    WHOLEBODY,
    PoseSample,
    write_pose_file,
    write_pose_tree,
)

# the `pose` extra (part of `dev`); the modules above import pose_format lazily
pytest.importorskip("pose_format")


def expected_stream(sample: PoseSample, kind: str, stream: str, count: int) -> np.ndarray:
    """[T, count, 3] of the first person as the reader should give it."""
    first, _ = sample.offsets[STREAM_COMPONENTS[kind][stream]]
    values = sample.data[:, 0, first : first + count]
    out = np.zeros((*values.shape[:2], 3), dtype=np.float32)
    out[..., : values.shape[-1]] = values
    if kind == MEDIAPIPE and values.shape[-1] == 3 and sample.width > 1:
        out[..., 2] *= sample.width  # MediaPipe's z is on the scale of x before it was scaled
    out[sample.confidence[:, 0, first : first + count] == 0] = np.nan
    return out


def test_registered_as_pose() -> None:
    assert get_format("pose") is FORMAT and FORMAT.name == "pose"


def test_mediapipe_labelled_layout(tmp_path: Path) -> None:
    samples = write_pose_tree(tmp_path, MEDIAPIPE, labels=("hello", "thank you"), per_label=2)
    fmt = PoseFileFormat()
    scan = fmt.scan(tmp_path)

    assert fmt.landmark_set is MEDIAPIPE_HOLISTIC and fmt.units == "pixels"
    assert scan.skipped == []
    assert [(i.id, i.label) for i in scan.items] == [
        ("hello__hello_0", "hello"),
        ("hello__hello_1", "hello"),
        ("thank_you__thank_you_0", "thank you"),
        ("thank_you__thank_you_1", "thank you"),
    ]
    results = fmt.read(scan.items)
    for sample, streams in zip(samples, results, strict=True):
        assert isinstance(streams, dict)
        assert set(streams) == {"pose", "face", "hand_l", "hand_r"}
        for stream, count in MEDIAPIPE_HOLISTIC.streams.items():
            assert streams[stream].shape == (4, count, 3) and streams[stream].dtype == np.float32
            np.testing.assert_array_equal(
                streams[stream], expected_stream(sample, MEDIAPIPE, stream, count)
            )


def test_refined_face_keeps_first_468(tmp_path: Path) -> None:
    sample = write_pose_file(tmp_path / "a" / "x.pose", MEDIAPIPE, face_points=REFINED_FACE)
    fmt = PoseFileFormat()
    [streams] = fmt.read(fmt.scan(tmp_path).items)
    assert streams["face"].shape == (4, 468, 3)
    np.testing.assert_array_equal(streams["face"], expected_stream(sample, MEDIAPIPE, "face", 468))


def test_openpose_flat_layout_2d_gets_z_zero(tmp_path: Path) -> None:
    samples = write_pose_tree(tmp_path, OPENPOSE, flat=True, per_label=1)
    fmt = PoseFileFormat()
    scan = fmt.scan(tmp_path)

    assert fmt.landmark_set is OPENPOSE_BODY25_HANDS
    assert [(i.id, i.label) for i in scan.items] == [("hello_0", None), ("thanks_0", None)]
    for sample, streams in zip(samples, fmt.read(scan.items), strict=True):
        assert {s: a.shape[1] for s, a in streams.items()} == OPENPOSE_BODY25_HANDS.streams
        for stream, count in OPENPOSE_BODY25_HANDS.streams.items():
            assert np.all(streams[stream][..., 2] == 0)
            np.testing.assert_array_equal(
                streams[stream], expected_stream(sample, OPENPOSE, stream, count)
            )


def test_masked_point_is_nan(tmp_path: Path) -> None:
    missing = [(1, "RIGHT_HAND_LANDMARKS", 5), (2, "POSE_LANDMARKS", 0)]
    write_pose_file(tmp_path / "a" / "x.pose", MEDIAPIPE, missing=missing)
    fmt = PoseFileFormat()
    [streams] = fmt.read(fmt.scan(tmp_path).items)

    assert np.all(np.isnan(streams["hand_r"][1, 5])) and np.all(np.isnan(streams["pose"][2, 0]))
    assert np.isnan(streams["hand_r"]).sum() == 3 and np.isnan(streams["pose"]).sum() == 3
    assert not np.isnan(streams["face"]).any() and not np.isnan(streams["hand_l"]).any()


def test_first_person_only(tmp_path: Path) -> None:
    sample = write_pose_file(tmp_path / "a" / "x.pose", OPENPOSE, people=2)
    fmt = PoseFileFormat()
    [streams] = fmt.read(fmt.scan(tmp_path).items)
    np.testing.assert_array_equal(streams["pose"], expected_stream(sample, OPENPOSE, "pose", 25))


def test_normalized_units_from_a_unit_header(tmp_path: Path) -> None:
    write_pose_tree(tmp_path, MEDIAPIPE, width=1, height=1, per_label=1)
    fmt = PoseFileFormat()
    fmt.scan(tmp_path)
    assert fmt.units == "normalized"


def test_damaged_files_give_a_reason_naming_them(tmp_path: Path) -> None:
    write_pose_tree(tmp_path, MEDIAPIPE, per_label=1)
    (tmp_path / "hello" / "garbage.pose").write_bytes(b"\x00\x01not a pose file" * 3)
    good = (tmp_path / "hello" / "hello_0.pose").read_bytes()
    (tmp_path / "thanks" / "truncated.pose").write_bytes(good[: len(good) - 1000])
    fmt = PoseFileFormat()
    scan = fmt.scan(tmp_path)
    results = dict(zip([i.id for i in scan.items], fmt.read(scan.items), strict=True))

    assert isinstance(results["hello__hello_0"], dict)
    assert isinstance(results["thanks__thanks_0"], dict)
    for sample_id, name in (("hello__garbage", "garbage.pose"), ("thanks__truncated", "truncated")):
        reason = results[sample_id]
        assert isinstance(reason, str) and name in reason and "\n" not in reason


def test_first_file_damaged_still_detects_from_the_next(tmp_path: Path) -> None:
    write_pose_tree(tmp_path, OPENPOSE, labels=("b",), per_label=1)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "broken.pose").write_bytes(b"junk")
    fmt = PoseFileFormat()
    scan = fmt.scan(tmp_path)
    assert fmt.landmark_set is OPENPOSE_BODY25_HANDS
    reason, streams = fmt.read(scan.items)
    assert "broken.pose" in reason and isinstance(streams, dict)


def test_reduced_holistic_is_placed_by_point_name(tmp_path: Path) -> None:
    """pose-format's reduce_holistic keeps 8 body points and 128 face contour points; each
    lands on its MediaPipe landmark, the others are NaN, and the scan says which are held."""
    sample = write_pose_file(
        tmp_path / "a" / "r.pose",
        MEDIAPIPE,
        point_names=REDUCED_POINT_NAMES,
        missing=[(1, "POSE_LANDMARKS", 2)],
    )
    fmt = PoseFileFormat()
    scan = fmt.scan(tmp_path)
    assert scan.landmark_set is MEDIAPIPE_HOLISTIC
    # the face is written as its 128 points; the pose keeps 33 (the normalisation finds the
    # shoulders by the pose's landmark count), NaN but for the 8
    assert scan.kept == {"face": tuple(REDUCED_FACE_INDEX)}
    assert scan.streams == MEDIAPIPE_HOLISTIC.streams
    assert "1 face 128/468, pose 8/33" in scan.notes[0]
    [streams] = fmt.read(scan.items)
    first, _ = sample.offsets["POSE_LANDMARKS"]
    pose = streams["pose"]
    assert pose.shape == (4, 33, 3)
    written = sample.data[:, 0, first : first + 8].copy()  # [T, 8, 3] as written
    written[..., 2] *= sample.width  # MediaPipe's z, scaled like x
    written[sample.confidence[:, 0, first : first + 8] == 0] = np.nan
    np.testing.assert_array_equal(pose[:, REDUCED_POSE_INDEX], written)
    assert np.isnan(pose[1, 13]).all()  # LEFT_ELBOW, the third point, masked in frame 1
    others = [i for i in range(33) if i not in REDUCED_POSE_INDEX]
    assert np.isnan(pose[:, others]).all()
    face_first, _ = sample.offsets["FACE_LANDMARKS"]
    np.testing.assert_array_equal(
        streams["face"][:, REDUCED_FACE_INDEX, :2],
        sample.data[:, 0, face_first : face_first + 128, :2],
    )


def test_full_reduced_and_hands_only_files_import_together(tmp_path: Path) -> None:
    """One landmark set, three shapes of file: the streams are the union, what a file lacks
    is NaN, and no landmark is left out because one file lacks it."""
    write_pose_file(tmp_path / "a" / "full.pose", MEDIAPIPE, seed=1)
    write_pose_file(tmp_path / "a" / "reduced.pose", MEDIAPIPE, point_names=REDUCED_POINT_NAMES)
    hands = write_pose_file(
        tmp_path / "b" / "hands.pose",
        MEDIAPIPE,
        names=["LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS"],
    )
    fmt = PoseFileFormat()
    scan = fmt.scan(tmp_path)
    assert scan.kept == {} and scan.streams == MEDIAPIPE_HOLISTIC.streams
    assert "1 face 128/468, pose 8/33, 1 full, 1 hands only" in scan.notes[0]
    full, reduced, hands_only = fmt.read(scan.items)
    assert not np.isnan(full["face"]).any()
    assert set(hands_only) == {"hand_l", "hand_r"}  # the run fills pose and face with NaN
    np.testing.assert_array_equal(
        hands_only["hand_r"], expected_stream(hands, MEDIAPIPE, "hand_r", 21)
    )
    assert np.isnan(reduced["pose"][:, 0]).all() and not np.isnan(reduced["pose"][:, 11]).any()


@pytest.mark.parametrize("kind", [WHOLEBODY, ALPHAPOSE133])
def test_wholebody_files_of_mmpose_openpifpaf_and_alphapose(tmp_path: Path, kind: str) -> None:
    samples = write_pose_tree(tmp_path, kind, per_label=1)
    fmt = PoseFileFormat()
    scan = fmt.scan(tmp_path)
    assert scan.landmark_set is COCO_WHOLEBODY and fmt.landmark_set is COCO_WHOLEBODY
    for sample, streams in zip(samples, fmt.read(scan.items), strict=True):
        assert {s: a.shape[1] for s, a in streams.items()} == COCO_WHOLEBODY.streams
        for stream, count in COCO_WHOLEBODY.streams.items():
            np.testing.assert_array_equal(
                streams[stream], expected_stream(sample, kind, stream, count)
            )


def test_files_of_several_estimators_are_refused_naming_each(tmp_path: Path) -> None:
    write_pose_file(tmp_path / "a" / "a.pose", MEDIAPIPE)
    write_pose_file(tmp_path / "a" / "b.pose", OPENPOSE)
    write_pose_file(tmp_path / "a" / "c.pose", WHOLEBODY)
    write_pose_file(tmp_path / "b" / "d.pose", MEDIAPIPE, seed=3)
    write_pose_file(tmp_path / "b" / "e.pose", MEDIAPIPE, width=1, height=1)
    with pytest.raises(ImportFormatError) as error:
        PoseFileFormat().scan(tmp_path)
    message = str(error.value)
    assert "cannot be imported as one set of streams" in message
    assert (
        "MediaPipe Holistic (mediapipe-holistic, pixels): 2 files (a/a.pose, b/d.pose)" in message
    )
    assert "OpenPose (openpose-body25-hands, pixels): 1 files (a/b.pose)" in message
    assert "(coco-wholebody, pixels): 1 files (a/c.pose)" in message
    assert "(mediapipe-holistic, normalized): 1 files (b/e.pose)" in message


def test_read_needs_no_scan_state(tmp_path: Path) -> None:
    """Workers get pickled items and a fresh FORMAT: the item says what to expect."""
    write_pose_tree(tmp_path, OPENPOSE, per_label=1)
    items = pickle.loads(pickle.dumps(PoseFileFormat().scan(tmp_path).items))
    fresh = PoseFileFormat()  # landmark_set still the MediaPipe default
    assert all(isinstance(r, dict) and r["face"].shape[1] == 70 for r in fresh.read(items))


def test_hidden_nested_and_duplicate_files(tmp_path: Path) -> None:
    write_pose_tree(tmp_path, MEDIAPIPE, labels=("a",), per_label=1)
    write_pose_file(tmp_path / "a" / "deep" / "x.pose", MEDIAPIPE)
    (tmp_path / "a" / "._a_0.pose").write_bytes(b"AppleDouble")
    write_pose_file(tmp_path / ".cache" / "y.pose", MEDIAPIPE)
    write_pose_file(tmp_path / "a" / "a 0.pose", MEDIAPIPE)  # same id as a_0.pose
    scan = PoseFileFormat().scan(tmp_path)

    assert [i.id for i in scan.items] == ["a__a_0"]
    reasons = dict(scan.skipped)
    assert "deeper" in reasons[str(tmp_path / "a" / "deep" / "x.pose")]
    assert "a__a_0" in reasons[str(tmp_path / "a" / "a_0.pose")]
    assert len(reasons) == 2


def test_a_tree_deeper_than_the_limit_is_a_skip_not_a_recursion_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """issue 23: SRC/<label>/ holding 2,000 nested folders was a RecursionError (rglob
    recurses); the walk is iterative and stops at SIGNCLI_MAX_FOLDER_DEPTH, named a skip."""
    write_pose_tree(tmp_path, MEDIAPIPE, labels=("a",), per_label=1)
    deep = tmp_path / "a"
    for _ in range(6):
        deep = deep / "d"
    write_pose_file(deep / "x.pose", MEDIAPIPE)
    monkeypatch.setenv("SIGNCLI_MAX_FOLDER_DEPTH", "3")
    scan = PoseFileFormat().scan(tmp_path)
    assert [i.id for i in scan.items] == ["a__a_0"]
    [(where, reason)] = scan.skipped
    assert where == str(tmp_path / "a" / "d" / "d" / "d") and "more than 3 levels deep" in reason


@pytest.mark.parametrize("case", ["missing", "file", "empty", "mixed", "unknown", "all-broken"])
def test_wrong_src_is_an_import_format_error(tmp_path: Path, case: str) -> None:
    src = tmp_path / "src"
    if case == "file":
        src.write_text("x")
    elif case == "empty":
        (src / "hello").mkdir(parents=True)
        (src / "hello" / "a.npy").write_bytes(b"")
    elif case == "mixed":
        write_pose_tree(src, MEDIAPIPE, per_label=1)
        write_pose_file(src / "loose.pose", MEDIAPIPE)
    elif case == "unknown":
        from pose_format import Pose
        from pose_format.numpy import NumPyPoseBody

        from tests.importers.pose_samples import pose_header

        header = pose_header([("BODY_133", 133)], dims=2)
        body = NumPyPoseBody(25.0, np.ones((2, 1, 133, 2), np.float32), np.ones((2, 1, 133)))
        src.mkdir()
        with (src / "alphapose.pose").open("wb") as f:
            Pose(header, body).write(f)
    elif case == "all-broken":
        src.mkdir()
        (src / "a.pose").write_bytes(b"junk")
    with pytest.raises(ImportFormatError, match="src"):
        PoseFileFormat().scan(src)


def test_missing_library_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_pose_tree(tmp_path, MEDIAPIPE, per_label=1)
    monkeypatch.setitem(sys.modules, "pose_format", None)  # import raises ImportError
    with pytest.raises(ImportFormatError, match=r"pip install 'signcli\[pose\]'"):
        PoseFileFormat().scan(tmp_path)
