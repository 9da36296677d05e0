"""Per-stream normalisation: reference frames, invariance to place and size, NaN kept."""

from __future__ import annotations

import numpy as np
import pytest

from signcli.data.normalize import (
    normalize_face,
    normalize_hand,
    normalize_pose,
    normalize_streams,
)
from signcli.data.synthetic import keypoint_streams, make_samples


@pytest.fixture(scope="module")
def streams() -> dict[str, np.ndarray]:
    return keypoint_streams(make_samples(1, num_gloss=2, seed=3)[0])


def moved(array: np.ndarray, scale: float, shift: tuple[float, float, float]) -> np.ndarray:
    """The same landmarks seen closer (scale) and elsewhere (shift), all coordinates."""
    T, D = array.shape
    points = array.reshape(T, D // 3, 3) * scale + np.asarray(shift, np.float32)
    return points.reshape(T, D).astype(np.float32)


@pytest.mark.parametrize(
    ("stream", "normalize"),
    [("hand_r", normalize_hand), ("hand_l", normalize_hand), ("pose", normalize_pose),
     ("face", normalize_face)],
)  # fmt: skip
def test_invariant_to_position_and_size(streams, stream: str, normalize) -> None:
    array = streams[stream]
    a, b = normalize(array), normalize(moved(array, 1.7, (0.2, -0.1, 0.05)))
    np.testing.assert_allclose(a, b, atol=1e-4, equal_nan=True)
    assert not (np.isnan(array) & ~np.isnan(a)).any()  # NaN stays NaN


def test_hand_reference_is_wrist_and_size_is_wrist_to_middle_mcp() -> None:
    hand = np.zeros((2, 21, 3), np.float32)
    hand[:, :, 0] = np.arange(21)[None] * 0.01 + 0.3  # landmarks along x
    hand[1] = np.nan  # frame 1: hand not detected
    out = normalize_hand(hand.reshape(2, 63)).reshape(2, 21, 3)
    assert np.allclose(out[0, 0], 0.0) and np.isclose(out[0, 9, 0], 1.0)
    assert np.isnan(out[1]).all()


def test_pose_centred_between_shoulders_in_shoulder_widths() -> None:
    pose = np.random.default_rng(0).normal(size=(3, 10, 3)).astype(np.float32)
    pose[:, 2] = [1.0, 2.0, 0.5]  # left shoulder
    pose[:, 3] = [3.0, 2.0, 0.5]  # right shoulder
    out = normalize_pose(pose.reshape(3, 30)).reshape(3, 10, 3)
    np.testing.assert_allclose(out[:, 2], [[-0.5, 0, 0]] * 3, atol=1e-6)
    np.testing.assert_allclose(out[:, 3], [[0.5, 0, 0]] * 3, atol=1e-6)
    mediapipe = np.random.default_rng(1).normal(size=(2, 33 * 3)).astype(np.float32)
    assert normalize_pose(mediapipe).shape == (2, 99)
    with pytest.raises(ValueError, match="shoulders are known"):
        normalize_pose(np.zeros((2, 12), np.float32))


def test_face_centred_with_unit_extent(streams) -> None:
    out = normalize_face(streams["face"]).reshape(len(streams["face"]), -1, 3)
    rows = ~np.isnan(out).any(axis=(1, 2))
    extent = np.nanmax(out[rows, :, :2], 1) - np.nanmin(out[rows, :, :2], 1)
    np.testing.assert_allclose(extent.max(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(out[rows].mean(1), 0.0, atol=1e-5)


def test_frames_without_a_reference_become_missing() -> None:
    hand = np.ones((2, 63), np.float32)
    hand[0, :3] = np.nan  # wrist lost: the frame cannot be placed
    hand[1] = 0.5  # every landmark at one point: zero size
    assert np.isnan(normalize_hand(hand)).all()


def test_normalize_streams_picks_streams_and_rejects_bad_widths(streams) -> None:
    out = normalize_streams(streams, ["pose"])
    assert out["hand_r"] is streams["hand_r"]
    assert not np.array_equal(out["pose"], streams["pose"], equal_nan=True)
    with pytest.raises(ValueError, match="multiple of 3"):
        normalize_streams({"face": np.zeros((2, 5), np.float32)})
