"""Per-stream normalisation in the model: reference frames, invariance to place and size,
NaN kept, widths checked before training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from signcli.data.synthetic import keypoint_streams, make_samples
from signcli.models.normalize import (
    StreamNormalizer,
    normalize_face,
    normalize_hand,
    normalize_pose,
    streams_to_normalize,
)


@pytest.fixture(scope="module")
def streams() -> dict[str, torch.Tensor]:
    arrays = keypoint_streams(make_samples(1, num_gloss=2, seed=3)[0])
    return {name: torch.from_numpy(array) for name, array in arrays.items()}


def moved(x: torch.Tensor, scale: float, shift: tuple[float, float, float]) -> torch.Tensor:
    """The same landmarks seen closer (scale) and elsewhere (shift), all coordinates."""
    return (x.unflatten(-1, (-1, 3)) * scale + torch.tensor(shift)).flatten(-2)


@pytest.mark.parametrize(
    ("stream", "normalize"),
    [("hand_r", normalize_hand), ("hand_l", normalize_hand), ("pose", normalize_pose),
     ("face", normalize_face)],
)  # fmt: skip
def test_invariant_to_position_and_size(streams, stream: str, normalize) -> None:
    x = streams[stream]
    a, b = normalize(x), normalize(moved(x, 1.7, (0.2, -0.1, 0.05)))
    torch.testing.assert_close(a, b, atol=1e-4, rtol=0, equal_nan=True)
    assert not (torch.isnan(x) & ~torch.isnan(a)).any()  # NaN stays NaN
    assert torch.isfinite(a[~torch.isnan(a)]).all()
    batched = normalize(torch.stack([x, moved(x, 0.5, (0.1, 0.1, 0.0))]))  # [B, T, D]
    torch.testing.assert_close(batched[0], a, equal_nan=True)


def test_hand_reference_is_wrist_and_size_is_wrist_to_middle_mcp() -> None:
    hand = torch.zeros(2, 21, 3)
    hand[:, :, 0] = torch.arange(21) * 0.01 + 0.3  # landmarks along x
    hand[1] = float("nan")  # frame 1: hand not detected
    out = normalize_hand(hand.reshape(2, 63)).reshape(2, 21, 3)
    torch.testing.assert_close(out[0, 0], torch.zeros(3))
    assert out[0, 9, 0].item() == pytest.approx(1.0)
    assert torch.isnan(out[1]).all()


def test_pose_centred_between_shoulders_in_shoulder_widths() -> None:
    pose = torch.randn(3, 10, 3, generator=torch.Generator().manual_seed(0))
    pose[:, 2] = torch.tensor([1.0, 2.0, 0.5])  # left shoulder
    pose[:, 3] = torch.tensor([3.0, 2.0, 0.5])  # right shoulder
    out = normalize_pose(pose.reshape(3, 30)).reshape(3, 10, 3)
    torch.testing.assert_close(out[:, 2], torch.tensor([[-0.5, 0.0, 0.0]] * 3))
    torch.testing.assert_close(out[:, 3], torch.tensor([[0.5, 0.0, 0.0]] * 3))
    mediapipe = torch.randn(2, 33 * 3)
    mediapipe[:, 33:36] = torch.tensor([0.4, 0.5, 0.0])  # landmark 11, left shoulder
    mediapipe[:, 36:39] = torch.tensor([0.6, 0.5, 0.0])  # landmark 12, right shoulder
    out = normalize_pose(mediapipe).reshape(2, 33, 3)
    torch.testing.assert_close(out[:, 11, :2], torch.tensor([[-0.5, 0.0]] * 2))


def test_face_centred_with_unit_extent(streams) -> None:
    out = normalize_face(streams["face"]).reshape(len(streams["face"]), -1, 3).numpy()
    rows = ~np.isnan(out).any(axis=(1, 2))
    assert rows.sum() > len(rows) // 2
    extent = np.nanmax(out[rows, :, :2], 1) - np.nanmin(out[rows, :, :2], 1)
    np.testing.assert_allclose(extent.max(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(out[rows].mean(1), 0.0, atol=1e-5)


def test_face_ignores_missing_landmarks_and_a_frame_without_any_is_missing() -> None:
    face = torch.tensor([[0.0, 0.0, 0.0, 2.0, 0.0, 0.0] + [float("nan")] * 3] * 2)
    face[1] = float("nan")
    out = normalize_face(face).reshape(2, 3, 3)
    torch.testing.assert_close(out[0, :2, 0], torch.tensor([-0.5, 0.5]))
    assert torch.isnan(out[0, 2]).all() and torch.isnan(out[1]).all()


def test_frames_without_a_reference_become_missing() -> None:
    hand = torch.ones(2, 63)
    hand[0, :3] = float("nan")  # wrist lost: the frame cannot be placed
    hand[1] = 0.5  # every landmark at one point: zero size
    assert torch.isnan(normalize_hand(hand)).all()


def test_normalizer_touches_only_the_streams_it_names(streams) -> None:
    out = StreamNormalizer(["pose"])(streams)
    assert out["hand_r"] is streams["hand_r"]
    assert not torch.equal(torch.nan_to_num(out["pose"]), torch.nan_to_num(streams["pose"]))


def test_streams_to_normalize_selects_and_checks_widths() -> None:
    dims = {"x": 7, "face": 24, "hand_l": 63, "pose": 30}
    assert streams_to_normalize(True, ["face", "hand_l", "hand_r", "pose"], dims) == [
        "face", "hand_l", "pose"
    ]  # fmt: skip
    assert streams_to_normalize(True, ["pose"], dims) == ["pose"]
    assert streams_to_normalize(False, ["pose"], dims) == []
    with pytest.raises(ValueError, match="multiple of 3"):
        streams_to_normalize(True, ["face"], {"face": 5})
    with pytest.raises(ValueError, match="a hand needs 21"):
        streams_to_normalize(True, ["hand_r"], {"hand_r": 60})
    with pytest.raises(ValueError, match="shoulders are known for 10, 23, 25 or 33"):
        streams_to_normalize(True, ["pose"], {"pose": 36})


def test_a_stream_that_cannot_be_normalised_is_a_usage_error_naming_it() -> None:
    from signcli.core.errors import UsageError
    from signcli.settings import load_settings
    from signcli.tasks.model import build_run_model

    settings = load_settings(flags={"model.name": "multistream"})
    with pytest.raises(UsageError, match="pose has 12 landmarks") as info:
        build_run_model(settings, {"hand_r": 63, "pose": 36}, {"num_gloss": 3})
    assert "--no-normalize" in (info.value.hint or "")
    model = build_run_model(settings, {"hand_r": 63, "pose": 30}, {"num_gloss": 3})
    assert model.normalize.streams == ["hand_r", "pose"]
