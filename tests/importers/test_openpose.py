"""The `openpose` reader: folders of OpenPose per-frame JSON, labelled or flat."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from signcli.importers import get_format
from signcli.importers.base import OPENPOSE_BODY25_HANDS, ImportFormatError
from signcli.importers.openpose import FORMAT
from tests.importers.samples import openpose_person, write_openpose, write_openpose_video

STREAMS = ["face", "hand_l", "hand_r", "pose"]


def expected(parts: np.ndarray) -> np.ndarray:
    """[T, L, 3] x, y, confidence as written -> what the reader returns: x, y, z = 0."""
    out = parts.astype(np.float32).copy()
    out[..., 2] = 0
    return out


def body(cx: float, cy: float, scale: float, swing: float = 0.0) -> dict[str, np.ndarray]:
    """A person facing the camera: neck at (cx, cy), its size ~ `scale` pixels; `swing`
    moves both hands (wrists and hand keypoints) sideways by that many pixels."""
    grid = np.linspace(-0.5, 0.5, 25)
    pose = np.stack([cx + grid * scale, cy + np.abs(grid) * scale, np.full(25, 0.9)], axis=1)
    pose[1, :2] = cx, cy  # neck
    wrists = {"hand_r": 4, "hand_l": 7}
    parts = {"pose": pose}
    for hand, wrist in wrists.items():
        side = -1 if hand == "hand_r" else 1
        pose[wrist, :2] = cx + side * 0.3 * scale + swing, cy + 0.5 * scale
        offsets = np.linspace(0, 0.1, 21) * scale
        parts[hand] = np.stack(
            [pose[wrist, 0] + offsets, pose[wrist, 1] - offsets, np.full(21, 0.8)], axis=1
        )
    face = np.linspace(-0.1, 0.1, 70) * scale
    parts["face"] = np.stack([cx + face, cy - 0.3 * scale + face, np.full(70, 0.7)], axis=1)
    return parts


def read_one(src: Path):
    scan = FORMAT.scan(src)
    assert len(scan.items) == 1, scan
    return FORMAT.read(scan.items)[0]


def test_registered_with_its_landmark_set() -> None:
    fmt = get_format("openpose")
    assert fmt is FORMAT
    assert fmt.name == "openpose"
    assert fmt.landmark_set is OPENPOSE_BODY25_HANDS
    assert fmt.units == "pixels"


def test_labelled_layout(tmp_path: Path) -> None:
    written = write_openpose(tmp_path, labels=("hello", "thank you"), videos=2, frames=3)
    scan = FORMAT.scan(tmp_path)
    assert [(i.id, i.label) for i in scan.items] == [
        ("hello__hello_0", "hello"),
        ("hello__hello_1", "hello"),
        ("thank_you__thank_you_0", "thank you"),
        ("thank_you__thank_you_1", "thank you"),
    ]
    assert scan.skipped == []
    for item, streams in zip(scan.items, FORMAT.read(scan.items), strict=True):
        assert isinstance(streams, dict)
        assert list(streams) == STREAMS
        parts = written[(item.label, Path(item.ref.path).name)]
        for name in STREAMS:
            assert streams[name].dtype == np.float32
            assert streams[name].shape == (3, OPENPOSE_BODY25_HANDS.streams[name], 3)
            np.testing.assert_array_equal(streams[name], expected(parts[name]))


def test_flat_layout_has_no_labels(tmp_path: Path) -> None:
    written = write_openpose(tmp_path, labels=("a", "b"), videos=1, frames=2, flat=True)
    scan = FORMAT.scan(tmp_path)
    assert [(i.id, i.label, Path(i.ref.path)) for i in scan.items] == [
        ("a_0", None, tmp_path / "a_0"),
        ("b_0", None, tmp_path / "b_0"),
    ]
    streams = FORMAT.read(scan.items[1:])[0]
    np.testing.assert_array_equal(streams["hand_l"], expected(written[(None, "b_0")]["hand_l"]))


def test_confidence_zero_is_nan(tmp_path: Path) -> None:
    parts = body(300, 300, 200)
    parts["pose"][8] = [0.0, 0.0, 0.0]  # mid hip not found (OpenPose writes 0, 0, 0)
    parts["hand_l"][:, 2] = 0.0  # whole left hand not found, coordinates left in
    write_openpose_video(tmp_path / "a" / "v", [[openpose_person(parts)]])
    streams = read_one(tmp_path)
    assert np.isnan(streams["pose"][0, 8]).all()
    assert np.isnan(streams["hand_l"]).all()
    assert not np.isnan(np.delete(streams["pose"][0], 8, axis=0)).any()
    np.testing.assert_array_equal(streams["pose"][0, 1], [300, 300, 0])


def test_frames_sort_by_the_last_number_in_their_name(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "07070"  # the video's own number must not be the sort key
    folder.mkdir(parents=True)
    for t in (0, 1, 2, 10, 11):
        person = openpose_person(body(100 + t, 300, 200))
        (folder / f"07070_{t}_keypoints.json").write_text(json.dumps({"people": [person]}))
    (folder / "meta.json").write_text("{}")  # not a frame: *_keypoints.json are preferred
    streams = read_one(tmp_path)
    np.testing.assert_array_equal(streams["pose"][:, 1, 0], [100, 101, 102, 110, 111])


def test_a_frame_without_people_is_nan_and_a_video_without_any_is_refused(
    tmp_path: Path,
) -> None:
    write_openpose_video(tmp_path / "a" / "some", [[openpose_person(body(300, 300, 200))], []])
    write_openpose_video(tmp_path / "a" / "none", [[], []])
    scan = FORMAT.scan(tmp_path)
    none, some = FORMAT.read(scan.items)  # sorted: none, some
    assert none == f"{tmp_path / 'a' / 'none'}: no person detected in any of its 2 frames"
    assert isinstance(some, dict)
    for array in some.values():
        assert not np.isnan(array[0]).any()
        assert np.isnan(array[1]).all()


def test_a_part_never_extracted_is_no_stream(tmp_path: Path) -> None:
    write_openpose(tmp_path, labels=("a",), videos=1, frames=2, face=False)
    streams = read_one(tmp_path)
    assert list(streams) == ["hand_l", "hand_r", "pose"]


def test_the_signer_is_the_one_whose_hands_move(tmp_path: Path) -> None:
    """A static bystander with a bigger body box stands beside the signer; the JSON lists
    them in either order. In frame 3 the signer is not detected but a third person is, far
    away: that frame is NaN, not the bystander or the newcomer."""
    rng = np.random.default_rng(0)
    frames, signer_parts = [], []
    for t in range(8):
        signer = body(300, 300, 200, swing=60 * np.sin(t))
        bystander = body(900, 350, 450)
        bystander["pose"][:, :2] += rng.uniform(-1, 1, size=(25, 2))  # detector jitter
        people = [openpose_person(bystander), openpose_person(signer)]
        if t % 2:
            people.reverse()
        if t == 3:  # the signer is lost; someone else appears, far from where it was
            people = [openpose_person(bystander), openpose_person(body(1500, 300, 200))]
        frames.append(people)
        signer_parts.append(signer)
    write_openpose_video(tmp_path / "a" / "v", frames)
    streams = read_one(tmp_path)
    for name in STREAMS:
        want = expected(np.stack([p[name] for p in signer_parts]))
        want[3] = np.nan  # the signer is missing there: not the bystander
        np.testing.assert_array_equal(streams[name], want)


def test_with_nobody_moving_the_biggest_person_is_chosen(tmp_path: Path) -> None:
    small, big = body(300, 300, 100), body(900, 350, 400)
    write_openpose_video(tmp_path / "a" / "v", [[openpose_person(small), openpose_person(big)]])
    streams = read_one(tmp_path)
    np.testing.assert_array_equal(streams["pose"][0], expected(big["pose"]))


def test_coco18_pose_is_refused(tmp_path: Path) -> None:
    person = openpose_person(body(300, 300, 200))
    person["pose_keypoints_2d"] = person["pose_keypoints_2d"][: 18 * 3]
    folder = tmp_path / "a" / "v"
    paths = write_openpose_video(folder, [[openpose_person(body(300, 300, 200))], [person]])
    reason = read_one(tmp_path)
    assert reason == (
        f"{paths[1]}: pose_keypoints_2d has 18 keypoints (a COCO-18 model); "
        "this format reads BODY_25 (25)"
    )


def test_bad_items_give_a_reason_naming_the_file(tmp_path: Path) -> None:
    good = openpose_person(body(300, 300, 200))
    write_openpose_video(tmp_path / "a" / "good", [[good]])
    corrupt = write_openpose_video(tmp_path / "a" / "corrupt", [[good], [good]])
    corrupt[1].write_text('{"people": [')
    nopeople = write_openpose_video(tmp_path / "a" / "nopeople", [[good]])
    nopeople[0].write_text('{"version": 1.3}')
    short = dict(good, hand_left_keypoints_2d=good["hand_left_keypoints_2d"][:60])
    hand = write_openpose_video(tmp_path / "a" / "hand", [[short]])
    nan = dict(good, face_keypoints_2d=[float("nan")] * 210)
    nonfinite = write_openpose_video(tmp_path / "a" / "nonfinite", [[nan]])
    # found by tests/fuzz: json's RecursionError escaped and ended the whole import
    deep = write_openpose_video(tmp_path / "a" / "deep", [[good]])
    deep[0].write_text('{"people": ' + "[" * 100_000)
    # found by tests/fuzz: numpy's OverflowError escaped too
    big = dict(good, pose_keypoints_2d=[10**400] + good["pose_keypoints_2d"][1:])
    huge = write_openpose_video(tmp_path / "a" / "huge", [[big]])
    scan = FORMAT.scan(tmp_path)
    results = dict(
        zip((Path(i.ref.path).name for i in scan.items), FORMAT.read(scan.items), strict=True)
    )
    assert isinstance(results.pop("good"), dict)
    assert all(isinstance(r, str) and "\n" not in r for r in results.values())
    assert results["corrupt"].startswith(f"{corrupt[1]}: unreadable JSON")
    assert results["nopeople"] == f'{nopeople[0]}: no "people" list (not OpenPose keypoints JSON)'
    assert results["hand"] == (
        f"{hand[0]}: hand_left_keypoints_2d has 60 values, expected 63 "
        "(21 keypoints x (x, y, confidence))"
    )
    assert results["nonfinite"] == f"{nonfinite[0]}: face_keypoints_2d has a non-finite value"
    assert results["deep"] == f"{deep[0]}: unreadable JSON (nested too deeply)"
    assert results["huge"] == f"{huge[0]}: pose_keypoints_2d has a number beyond what a float holds"


def test_empty_folders_are_skipped_with_a_reason(tmp_path: Path) -> None:
    write_openpose(tmp_path, labels=("a",), videos=1, frames=1)
    (tmp_path / "a" / "empty").mkdir()
    (tmp_path / "b").mkdir()
    scan = FORMAT.scan(tmp_path)
    assert [i.id for i in scan.items] == ["a__a_0"]
    assert scan.skipped == [
        (str(tmp_path / "a" / "empty"), "no .json frames in this video folder"),
        (str(tmp_path / "b"), "no video folders in this label folder"),
    ]

    flat = tmp_path / "flat"
    write_openpose(flat, labels=("a",), videos=1, frames=1, flat=True)
    (flat / "empty").mkdir()
    scan = FORMAT.scan(flat)
    assert [i.id for i in scan.items] == ["a_0"]
    assert scan.skipped == [(str(flat / "empty"), "no .json frames in this video folder")]


@pytest.mark.parametrize("layout", ["empty", "json_in_src", "mixed", "not_a_folder"])
def test_a_src_that_is_not_the_format_is_refused(tmp_path: Path, layout: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    frame = [[openpose_person(body(300, 300, 200))]]
    match = r"<label>/<video>/\*_keypoints.json or SRC/<video>/\*_keypoints.json"
    if layout == "json_in_src":
        write_openpose_video(src, frame)
        match = "directly in SRC"
    elif layout == "mixed":
        write_openpose_video(src / "video", frame)
        write_openpose_video(src / "label" / "video", frame)
        match = "mixes two layouts"
    elif layout == "not_a_folder":
        src = tmp_path / "missing"
    with pytest.raises(ImportFormatError, match=match):
        FORMAT.scan(src)


def test_a_passer_by_is_not_the_signer(tmp_path: Path) -> None:
    """Someone walking through moves far (hands and all) but not their hands relative to
    their body; the signer stands still and moves only the hands, a little."""
    frames, signer_parts = [], []
    for t in range(10):
        signer = body(300, 300, 200, swing=10 * (t % 2))
        walker = body(700 + 40 * t, 320, 220)
        frames.append([openpose_person(walker), openpose_person(signer)])
        signer_parts.append(signer)
    write_openpose_video(tmp_path / "a" / "v", frames)
    streams = read_one(tmp_path)
    want = expected(np.stack([p["hand_r"] for p in signer_parts]))
    np.testing.assert_array_equal(streams["hand_r"], want)


def test_one_person_per_frame_is_kept_through_a_jump(tmp_path: Path) -> None:
    """A detector glitch that puts the only person far away for a frame does not split it."""
    centres = [300, 300, 900, 300]
    write_openpose_video(
        tmp_path / "a" / "v", [[openpose_person(body(x, 300, 200))] for x in centres]
    )
    streams = read_one(tmp_path)
    np.testing.assert_array_equal(streams["pose"][:, 1, 0], centres)
