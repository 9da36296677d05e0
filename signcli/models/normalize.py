"""Per-stream normalisation, inside the model: each body part in its own frame of reference.

Streams are `[..., L * 3]`, landmark-major (column 3 * landmark + c holds coordinate c of
x, y, z), as in `signcli.data.synthetic`. Each frame of a stream is moved and scaled by
reference landmarks of the same frame, so signer position, body size and camera distance
drop out:

    hand_l, hand_r  minus the wrist (landmark 0), divided by the hand size: the 2-D
                    distance wrist -> middle-finger MCP (landmark 9), MediaPipe hand order
    pose            minus the point between the shoulders, divided by the shoulder width;
                    shoulders are landmarks 2, 3 of the 10-landmark upper body of
                    `synthetic.POSE_LANDMARKS`, 11, 12 of MediaPipe's 33-landmark pose,
                    5, 2 of OpenPose's BODY_25, or 5, 6 of COCO-WholeBody's 23-point body
    face            minus the mean of its landmarks, divided by its extent (the larger of
                    its x and y ranges)

NaN (not detected) stays NaN, and a frame whose reference landmarks are missing (or of
zero size) becomes all NaN: it cannot be placed, so the model sees it as missing.

It lives in the model, not the data loader, so that augmentation acts on the scene as
filmed (a mirror or rotation of the image) and the exported ONNX model takes raw
landmarks, as a real-time demo gets them from the detector. Only `torch.isnan`,
`torch.where` and arithmetic, so it exports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

COORDS = 3
HAND_WRIST, HAND_MIDDLE_MCP, HAND_LANDMARKS = 0, 9, 21  # MediaPipe hand landmarks
# pose landmark count -> (left shoulder, right shoulder)
# synthetic, COCO-WholeBody's body (MMPose, OpenPifPaf), OpenPose BODY_25, MediaPipe
POSE_SHOULDERS = {10: (2, 3), 23: (5, 6), 25: (5, 2), 33: (11, 12)}
MIN_SCALE = 1e-6  # a reference size below this cannot scale a frame
KIND_OF_STREAM = {"face": "face", "hand_l": "hand", "hand_r": "hand", "pose": "pose"}


def _landmarks(x: Tensor) -> Tensor:
    """[..., L * 3] -> [..., L, 3]."""
    return x.unflatten(-1, (x.shape[-1] // COORDS, COORDS))


def _place(points: Tensor, centre: Tensor, scale: Tensor) -> Tensor:
    """(points [..., L, 3] - centre [..., 3]) / scale [...] -> [..., L * 3]; frames
    without a usable scale become NaN."""
    bad = ~torch.isfinite(scale) | (scale < MIN_SCALE)
    scale = torch.where(bad, torch.full_like(scale, float("nan")), scale)
    return ((points - centre.unsqueeze(-2)) / scale[..., None, None]).flatten(-2)


def _distance_2d(a: Tensor, b: Tensor) -> Tensor:
    """x, y distance of points [..., 3] -> [...]."""
    return (a[..., :2] - b[..., :2]).square().sum(-1).sqrt()


def normalize_hand(x: Tensor) -> Tensor:
    """A hand [..., 21 * 3] relative to its wrist, in units of its size."""
    points = _landmarks(x)
    wrist = points[..., HAND_WRIST, :]  # [..., 3]
    return _place(points, wrist, _distance_2d(points[..., HAND_MIDDLE_MCP, :], wrist))


def normalize_pose(x: Tensor) -> Tensor:
    """Pose [..., L * 3] centred between the shoulders, in units of shoulder width."""
    points = _landmarks(x)
    left_index, right_index = POSE_SHOULDERS[points.shape[-2]]
    left, right = points[..., left_index, :], points[..., right_index, :]  # [..., 3]
    return _place(points, (left + right) / 2, _distance_2d(left, right))


def normalize_face(x: Tensor) -> Tensor:
    """Face [..., L * 3] centred on the mean of its landmarks, in units of its extent."""
    points = _landmarks(x)
    missing = torch.isnan(points)
    count = (~missing).sum(-2).to(points.dtype)  # [..., 3]; 0 -> centre NaN, as intended
    centre = torch.where(missing, torch.zeros_like(points), points).sum(-2) / count
    xy, xy_missing = points[..., :2], missing[..., :2]
    top = torch.where(xy_missing, torch.full_like(xy, float("-inf")), xy).amax(-2)
    bottom = torch.where(xy_missing, torch.full_like(xy, float("inf")), xy).amin(-2)
    return _place(points, centre, (top - bottom).amax(-1))  # all missing: -inf -> NaN


NORMALIZERS: dict[str, Callable[[Tensor], Tensor]] = {
    "hand": normalize_hand,
    "pose": normalize_pose,
    "face": normalize_face,
}


def check_width(stream: str, width: int) -> str | None:
    """Why `stream` of `width` columns cannot be normalised, or None when it can."""
    kind = KIND_OF_STREAM[stream]
    if width % COORDS:
        return f"{stream} has width {width}, not x, y, z per landmark (a multiple of 3)"
    landmarks = width // COORDS
    if kind == "hand" and landmarks != HAND_LANDMARKS:
        return f"{stream} has {landmarks} landmarks; a hand needs 21 (MediaPipe hand order)"
    if kind == "pose" and landmarks not in POSE_SHOULDERS:
        *most, last = (str(n) for n in POSE_SHOULDERS)
        known = f"{', '.join(most)} or {last}"
        return f"pose has {landmarks} landmarks; shoulders are known for {known} landmarks"
    if kind == "face" and landmarks < 2:
        return f"face has {landmarks} landmark; its extent needs at least 2"
    return None


class StreamNormalizer(nn.Module):
    """Streams {name: [B, T, D]} -> the same, with the named streams normalised.

    No parameters or buffers: the streams it acts on come from the settings, so a
    checkpoint rebuilds it from its stored settings.
    """

    def __init__(self, streams: Sequence[str]) -> None:
        super().__init__()
        self.streams = list(streams)

    def forward(self, streams: Mapping[str, Tensor]) -> dict[str, Tensor]:
        return {
            name: NORMALIZERS[KIND_OF_STREAM[name]](x) if name in self.streams else x
            for name, x in streams.items()
        }

    def extra_repr(self) -> str:
        return f"streams={self.streams}"


def streams_to_normalize(
    enabled: bool, chosen: Sequence[str], input_dims: Mapping[str, int]
) -> list[str]:
    """The streams of `input_dims` that `data.normalize` / `data.normalize_streams` select.

    ValueError names the stream when its width does not fit its reference landmarks.
    """
    if not enabled:
        return []
    names = [name for name in input_dims if name in chosen and name in KIND_OF_STREAM]
    for name in names:
        problem = check_width(name, input_dims[name])
        if problem is not None:
            raise ValueError(problem)
    return names
