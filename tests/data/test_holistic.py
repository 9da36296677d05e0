"""MediaPipe Holistic on the real signing video: which hand is which, NaN for what is not
found, and the same keypoints whatever the worker ran before."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mediapipe", reason='needs mediapipe: pip install -e ".[extract]"')

from signcli.data.holistic import VideoKeypoints, extract_video  # noqa: E402
from tests.extract.videos import REAL_VIDEO, write_mirrored, write_no_person  # noqa: E402

pytestmark = pytest.mark.slow  # runs MediaPipe

# MediaPipe Pose: 15 left wrist, 16 right wrist, 11 left shoulder, 12 right shoulder
LEFT_WRIST, RIGHT_WRIST, LEFT_SHOULDER, RIGHT_SHOULDER = 15, 16, 11, 12


@pytest.fixture(scope="module")
def real() -> VideoKeypoints:
    return extract_video(REAL_VIDEO, fps=10)


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory) -> VideoKeypoints:
    return extract_video(write_mirrored(tmp_path_factory.mktemp("m") / "mirrored.avi"), fps=10)


def _found(points: np.ndarray) -> np.ndarray:
    """[T] whether the part was found in each frame."""
    return ~np.isnan(points[:, 0, 0])


def test_streams_have_the_landmark_sets_shapes_in_pixels(real):
    assert {s: a.shape for s, a in real.streams.items()} == {
        "face": (20, 468, 3), "hand_l": (20, 21, 3), "hand_r": (20, 21, 3), "pose": (20, 33, 3)
    }  # fmt: skip
    assert real.fps == 10 and (real.width, real.height) == (540, 720)
    pose = real.streams["pose"]
    assert _found(pose).all() and _found(real.streams["face"]).all()
    # pixels: the shoulders lie inside the 540 x 720 frame, far beyond MediaPipe's 0..1
    shoulders = pose[:, [LEFT_SHOULDER, RIGHT_SHOULDER], :2]
    assert np.all((shoulders > 1) & (shoulders < [540, 720]))


def test_the_signers_right_hand_is_hand_r_and_a_missing_hand_is_nan_not_zero(real):
    """The signer faces the camera and signs with the right hand (on the image's left half);
    the left hand stays out of the frame. Holistic names hands after the pose's wrists, from
    the signer's point of view."""
    pose, right, left = real.streams["pose"], real.streams["hand_r"], real.streams["hand_l"]
    assert np.nanmean(pose[:, RIGHT_SHOULDER, 0]) < 270 < np.nanmean(pose[:, LEFT_SHOULDER, 0])
    seen = _found(right)
    assert seen.sum() >= 3, "the right hand is visible in several frames"
    to_right = np.linalg.norm(right[seen, 0, :2] - pose[seen, RIGHT_WRIST, :2], axis=1)
    to_left = np.linalg.norm(right[seen, 0, :2] - pose[seen, LEFT_WRIST, :2], axis=1)
    assert np.all(to_right < 60) and np.all(to_left > 300)  # pixels
    assert not _found(left).any()
    assert np.isnan(left).all() and not (left == 0).any()
    assert real.found_frames() == {"face": 20, "hand_l": 0, "hand_r": int(seen.sum()), "pose": 20}


def test_mirroring_the_video_moves_the_hand_to_hand_l(real, mirrored):
    """Flipped left-right, the same signing is done by a left hand: it lands in hand_l, in
    about the frames hand_r had it, near the mirrored x (tracking and smoothing differ a
    little on the flipped image; the other side of the frame is 300 pixels away)."""
    assert not _found(mirrored.streams["hand_r"]).any()
    right, left = _found(real.streams["hand_r"]), _found(mirrored.streams["hand_l"])
    assert abs(int(right.sum()) - int(left.sum())) <= 2
    both = right & left
    wrist_x = real.streams["hand_r"][both, 0, 0]
    mirrored_x = mirrored.streams["hand_l"][both, 0, 0]
    assert np.allclose(540 - wrist_x, mirrored_x, atol=45)


def test_a_video_gives_the_same_keypoints_after_another_one(real, tmp_path):
    """Tracking is reset per video: a worker's earlier videos do not change a later one's."""
    extract_video(write_no_person(tmp_path / "empty.avi"))
    again = extract_video(REAL_VIDEO, fps=10)
    for stream, array in real.streams.items():
        assert np.array_equal(array, again.streams[stream], equal_nan=True), stream


def test_nobody_in_the_video_gives_all_nan(tmp_path):
    nobody = extract_video(write_no_person(tmp_path / "empty.avi"))
    assert nobody.frames == 12 and set(nobody.found_frames().values()) == {0}
    assert all(np.isnan(a).all() for a in nobody.streams.values())
