"""Per-stream normalisation: each body part in its own frame of reference, per frame.

Arrays are `[T, L * 3]`, landmark-major (column 3 * landmark + c holds coordinate c of
x, y, z), as in `signcli.data.synthetic`. Each stream is moved and scaled by reference
landmarks of the same frame, so signer position, body size and camera distance drop out:

    hand_l, hand_r  minus the wrist (landmark 0), divided by the hand size: the 2-D
                    distance wrist -> middle-finger MCP (landmark 9), MediaPipe hand order
    pose            minus the point between the shoulders, divided by the shoulder width;
                    shoulders are landmarks 2, 3 of the 10-landmark upper body of
                    `synthetic.POSE_LANDMARKS`, or 11, 12 of MediaPipe's 33-landmark pose
    face            minus the mean of its landmarks, divided by its extent (the larger of
                    its x and y ranges)

NaN (not detected) stays NaN, and a frame whose reference landmarks are missing (or of
zero size) becomes all NaN: it cannot be placed, so the model sees it as missing.
Numpy only.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping

import numpy as np

COORDS = 3
STREAMS = ("face", "hand_l", "hand_r", "pose")
HAND_WRIST, HAND_MIDDLE_MCP = 0, 9  # MediaPipe hand landmarks
# pose landmark count -> (left shoulder, right shoulder)
POSE_SHOULDERS = {10: (2, 3), 33: (11, 12)}
MIN_SCALE = 1e-6  # a reference size below this cannot scale a frame


def _landmarks(array: np.ndarray, stream: str) -> np.ndarray:
    T, D = array.shape
    if D % COORDS:
        raise ValueError(f"{stream} has width {D}, not x, y, z per landmark (a multiple of 3)")
    return array.reshape(T, D // COORDS, COORDS).astype(np.float32, copy=True)


def _place(points: np.ndarray, centre: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(points [T, L, 3] - centre [T, 3]) / scale [T]; frames without a usable scale -> NaN."""
    bad = ~np.isfinite(scale) | (scale < MIN_SCALE)
    scale = np.where(bad, np.nan, scale)
    return (points - centre[:, None, :]) / scale[:, None, None]


def normalize_hand(array: np.ndarray) -> np.ndarray:
    """A hand [T, 21 * 3] relative to its wrist, in units of its size."""
    points = _landmarks(array, "hand")
    if points.shape[1] <= HAND_MIDDLE_MCP:
        raise ValueError(f"a hand needs 21 landmarks (MediaPipe order), got {points.shape[1]}")
    wrist = points[:, HAND_WRIST]  # [T, 3]
    size = np.linalg.norm(points[:, HAND_MIDDLE_MCP, :2] - wrist[:, :2], axis=-1)  # [T]
    return _place(points, wrist, size).reshape(array.shape)


def normalize_pose(array: np.ndarray) -> np.ndarray:
    """Pose [T, L * 3] centred between the shoulders, in units of shoulder width."""
    points = _landmarks(array, "pose")
    shoulders = POSE_SHOULDERS.get(points.shape[1])
    if shoulders is None:
        known = " or ".join(str(n) for n in POSE_SHOULDERS)
        raise ValueError(
            f"pose has {points.shape[1]} landmarks; shoulders are known for {known} landmarks"
        )
    left, right = points[:, shoulders[0]], points[:, shoulders[1]]  # [T, 3]
    width = np.linalg.norm(left[:, :2] - right[:, :2], axis=-1)  # [T]
    return _place(points, (left + right) / 2, width).reshape(array.shape)


def normalize_face(array: np.ndarray) -> np.ndarray:
    """Face [T, L * 3] centred on the mean of its landmarks, in units of its extent."""
    points = _landmarks(array, "face")
    with warnings.catch_warnings():  # all-NaN frames give NaN, as intended
        warnings.simplefilter("ignore", RuntimeWarning)
        centre = np.nanmean(points, axis=1)  # [T, 3]
        extent = np.nanmax(points[..., :2], axis=1) - np.nanmin(points[..., :2], axis=1)
        size = extent.max(axis=-1)  # [T]
    return _place(points, centre, size).reshape(array.shape)


NORMALIZERS = {
    "face": normalize_face,
    "hand_l": normalize_hand,
    "hand_r": normalize_hand,
    "pose": normalize_pose,
}


def normalize_streams(
    streams: Mapping[str, np.ndarray], which: Iterable[str] = STREAMS
) -> dict[str, np.ndarray]:
    """The streams with those named in `which` normalised (others passed through)."""
    chosen = set(which)
    return {
        name: NORMALIZERS[name](array) if name in chosen and name in NORMALIZERS else array
        for name, array in streams.items()
    }
