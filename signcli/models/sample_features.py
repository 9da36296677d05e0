"""`SampleFeatures`: per-sample normalised and motion channels beside the raw ones.

    features = SampleFeatures(channel_plan(settings.data, {"x": 6}))
    features({"x": x}, mask)        # {"x": [B, T, 18]}: raw | normalised | velocity

The last stage before the encoder (after the column split and the body-part normaliser),
for any skeleton, known landmark set or not (models/channels.py says which stream
gets what). Per sample, over its real frames only (the mask), ignoring NaN:

    normalised, coords known   the joints [T, J, C] minus their mean point over the clip,
                               divided by their RMS distance from it: where the signer
                               stands and how big they appear drop out
    normalised, coords unknown each channel minus its mean over the clip, divided by its
                               standard deviation over the clip (as classical time-series
                               methods do); a channel constant over the clip is only centred
    velocity                   x[t] - x[t-1] (0 at the first frame), of the normalised
                               channels when there are some, else of the raw ones
    acceleration               the same difference of the velocity

The raw channels stay beside them, so what absolute positions carry is kept. NaN (a joint
not detected) stays NaN (FrameInput turns it into 0 plus its missing indicator), and so
does every value of a clip with no real frame. Padding frames are never read by the
statistics, and a real frame's velocity reads only real frames (padding follows them), so
padding cannot change a real frame's channels. No weights; only masked sums, `where`,
slicing and arithmetic, so it exports to ONNX with symbolic batch and time.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from signcli.models.channels import StreamChannels

MIN_SCALE = 1e-6  # a spread below this cannot scale a clip: it is only centred


def _masked_mean(values: Tensor, real: Tensor, dims: tuple[int, ...]) -> Tensor:
    """Mean of `values` over `dims` where `real`; NaN where nothing is real."""
    total = torch.where(real, values, torch.zeros_like(values)).sum(dims)
    return total / real.to(values.dtype).sum(dims)


def _safe_scale(scale: Tensor) -> Tensor:
    """A spread to divide by: 1 where it is tiny or undefined (the clip is only centred)."""
    usable = torch.isfinite(scale) & (scale > MIN_SCALE)
    return torch.where(usable, scale, torch.ones_like(scale))


def normalize_joints(x: Tensor, mask: Tensor, coords: int) -> Tensor:
    """[B, T, J * C] joints (C coordinates each) -> centred on their mean point over the
    real frames, in units of their RMS distance from it."""
    B, T, D = x.shape
    points = x.reshape(B, T, D // coords, coords)  # [B, T, J, C]
    real = mask[:, :, None, None] & ~torch.isnan(points)  # [B, T, J, C]
    centre = _masked_mean(points, real, (1, 2))  # [B, C]
    centred = points - centre[:, None, None, :]  # [B, T, J, C]
    spread = _masked_mean(centred.square(), real, (1, 2)).sum(-1).sqrt()  # [B]
    return (centred / _safe_scale(spread)[:, None, None, None]).reshape(B, T, D)


def normalize_channels(x: Tensor, mask: Tensor) -> Tensor:
    """[B, T, D] -> each channel centred and scaled over the real frames of its clip."""
    real = mask[:, :, None] & ~torch.isnan(x)  # [B, T, D]
    centred = x - _masked_mean(x, real, (1,))[:, None, :]
    std = _masked_mean(centred.square(), real, (1,)).sqrt()  # [B, D]
    return centred / _safe_scale(std)[:, None, :]


def difference(x: Tensor) -> Tensor:
    """[B, T, D] -> x[t] - x[t-1], 0 at t = 0."""
    previous = torch.cat([x[:, :1], x[:, :-1]], dim=1)
    return x - previous


class SampleFeatures(nn.Module):
    """Streams {name: [B, T, D]} + mask [B, T] -> {name: [B, T, D * groups]}."""

    def __init__(self, plan: Mapping[str, StreamChannels]) -> None:
        super().__init__()
        self.plan = dict(plan)
        self.output_dims = {name: channels.width for name, channels in self.plan.items()}

    @property
    def passes_through(self) -> bool:
        """True when every stream is its raw channels only (runs from before this stage)."""
        return all(c.raw and not c.normalized and not c.motion for c in self.plan.values())

    def forward(self, streams: Mapping[str, Tensor], mask: Tensor) -> dict[str, Tensor]:
        if self.passes_through:
            return dict(streams)
        return {name: self.stream(name, x, mask) for name, x in streams.items()}

    def stream(self, name: str, x: Tensor, mask: Tensor) -> Tensor:
        channels = self.plan[name]
        groups = [x] if channels.raw else []
        moving = x
        if channels.normalized:
            if channels.coords:
                moving = normalize_joints(x, mask, channels.coords)
            else:
                moving = normalize_channels(x, mask)
            groups.append(moving)
        for _ in range(channels.motion):
            moving = difference(moving)
            groups.append(moving)
        return groups[0] if len(groups) == 1 else torch.cat(groups, dim=-1)

    def extra_repr(self) -> str:
        return ", ".join(
            f"{name}: {c.stored} x (raw={c.raw}, normalized={c.normalized}, coords={c.coords}, "
            f"motion={c.motion})"
            for name, c in self.plan.items()
        )
