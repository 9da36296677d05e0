"""data/recordings/read.py: what a path is, and a recording laid out as a model's columns,
or refused naming what does not fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from signcli.core.errors import UsageError
from signcli.data.landmarks import MEDIAPIPE_HOLISTIC, OPENPOSE_BODY25_HANDS
from signcli.data.recordings.read import (
    Recording,
    frames_for_model,
    read_recordings,
    recording_format,
)

HANDS = {"hand_l": [0, 63], "hand_r": [63, 126]}
HOLISTIC = MEDIAPIPE_HOLISTIC.name


def recording(**streams: np.ndarray) -> Recording:
    return Recording("clip", Path("clip.pose"), "pose", MEDIAPIPE_HOLISTIC, streams)


def points(T: int, L: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((T, L, 3), dtype=np.float32)


def test_streams_in_layout_order_flattened_per_landmark() -> None:
    left, right = points(4, 21, 0), points(4, 21, 1)
    layout = {"hand_r": [63, 126], "hand_l": [0, 63]}  # any key order: columns decide
    X = frames_for_model(
        recording(hand_r=right, hand_l=left, pose=points(4, 33)),
        landmark_set=HOLISTIC,
        layout=layout,
        width=126,
    )
    np.testing.assert_array_equal(X[:, :63], left.reshape(4, 63))
    np.testing.assert_array_equal(X[:, 63:], right.reshape(4, 63))


def test_a_stream_the_recording_lacks_is_not_detected() -> None:
    X = frames_for_model(recording(hand_l=points(3, 21)), landmark_set=HOLISTIC, layout=HANDS)
    assert X.shape == (3, 126)
    assert np.isnan(X[:, 63:]).all() and not np.isnan(X[:, :63]).any()


def test_kept_landmarks_and_the_468_of_a_refined_face() -> None:
    face = points(2, 478)
    X = frames_for_model(
        recording(face=face), landmark_set=HOLISTIC, layout={"face": [0, 1404]}, width=1404
    )
    np.testing.assert_array_equal(X, face[:, :468].reshape(2, -1))
    lips = [61, 185, 40]
    X = frames_for_model(
        recording(face=face),
        landmark_set=HOLISTIC,
        layout={"face": [0, 9]},
        stream_landmarks={"face": lips},
    )
    np.testing.assert_array_equal(X, face[:, lips].reshape(2, -1))


@pytest.mark.parametrize(
    ("clip", "settings", "message"),
    [
        (
            Recording("v", Path("v"), "openpose", OPENPOSE_BODY25_HANDS, {"pose": points(2, 25)}),
            {"landmark_set": HOLISTIC, "layout": HANDS},
            "gives openpose-body25-hands keypoints, but the model was trained on "
            "mediapipe-holistic",
        ),
        (
            recording(hand_l=points(2, 21)),
            {"landmark_set": None, "layout": None},
            "no landmark set",
        ),
        (
            recording(hand_l=points(2, 20)),
            {"landmark_set": HOLISTIC, "layout": HANDS},
            "its hand_l has 20 landmarks (60 columns), the model's hand_l columns take 21 (63)",
        ),
        (
            recording(hand_l=points(2, 21)),
            {"landmark_set": HOLISTIC, "layout": HANDS, "width": 130},
            "its streams make 126 columns (hand_l, hand_r), the model takes 130",
        ),
        (
            recording(hand_l=points(2, 21)),
            {"landmark_set": HOLISTIC, "layout": {"hand_l": [3, 66]}},
            "leaves columns 0:3 to no stream",
        ),
    ],
)
def test_a_recording_that_does_not_fit_is_refused_naming_the_mismatch(
    clip: Recording, settings: dict, message: str
) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        frames_for_model(clip, **settings)


def test_what_a_path_is(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    np.save(frames / "0.npy", np.ones(258))
    arrays = tmp_path / "arrays"
    arrays.mkdir()
    np.save(arrays / "a.npy", np.ones((3, 258)))
    video = tmp_path / "video"
    video.mkdir()
    (video / "v_000000000000_keypoints.json").write_text('{"people": []}')
    (tmp_path / "x.pose").write_bytes(b"")
    (tmp_path / "x.parquet").write_bytes(b"")
    assert recording_format(frames) == "mp-folders"  # one recording
    assert recording_format(arrays) is None  # a folder of recordings, not one
    assert recording_format(arrays / "a.npy") == "mp-folders"
    assert recording_format(video) == "openpose"
    assert recording_format(tmp_path / "x.pose") == "pose"
    assert recording_format(tmp_path / "x.parquet") == "asl-signs"
    assert recording_format(tmp_path / "missing.pose") is None


def test_unreadable_recordings_give_a_reason_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "x.parquet").write_text("not a parquet\n")
    np.save(tmp_path / "one_frame.npy", np.ones(258))
    reason = read_recordings(tmp_path / "x.parquet")
    assert isinstance(reason, str)
    assert reason.startswith(f"{tmp_path / 'x.parquet'}: unreadable parquet (")
    reason = read_recordings(tmp_path / "one_frame.npy")
    assert isinstance(reason, str) and reason.startswith(str(tmp_path / "one_frame.npy"))
    assert "expected a [T, W] array per sequence" in reason
