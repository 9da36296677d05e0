"""The first stage of every encoder: raw landmarks (NaN = not detected) to model features.

`FrameInput` standardises each feature with buffers fitted on the training data, puts 0
where a landmark is missing and adds a projection of the missing indicator, so the model
can tell a hand out of frame from a hand at the mean position. Padding frames come out as
zeros whatever they held, so no garbage (even Inf) can leak into later stages. Everything
here is per frame and built from `torch.isnan` / `torch.where`, so the ONNX export takes
raw landmarks with NaN.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor, nn

MIN_STD = 1e-6  # features with a smaller spread (constant columns) are only centred


def input_stats(frames: Mapping[str, Tensor]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-feature (mean [D], std [D]) of frames {stream: [N, D]}, ignoring NaN (missing);
    `FrameInput.set_stats` turns the NaN of columns missing throughout into 0 and 1."""
    stats = {}
    for name, x in frames.items():
        array = x.detach().cpu().numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # columns that are NaN throughout
            stats[name] = (np.nanmean(array, axis=0), np.nanstd(array, axis=0))
    return stats


class FrameInput(nn.Module):
    """[B, T, in_dim] raw frames (NaN allowed) + mask [B, T] -> [B, T, out_dim]."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.in_dim = in_dim
        self.out_dim = out_dim
        self.register_buffer("mean", torch.zeros(in_dim))  # [D], fitted by set_stats
        self.register_buffer("std", torch.ones(in_dim))  # [D]
        self.value = nn.Linear(in_dim, out_dim)
        # no bias: a frame with nothing missing gets exactly value(x)
        self.missing = nn.Linear(in_dim, out_dim, bias=False)

    @torch.no_grad()
    def set_stats(self, mean: np.ndarray | Tensor, std: np.ndarray | Tensor) -> None:
        """Per-feature mean and std [in_dim]; NaN mean becomes 0, NaN or tiny std becomes 1."""
        mean = torch.as_tensor(np.asarray(mean, dtype=np.float32)).reshape(-1)
        std = torch.as_tensor(np.asarray(std, dtype=np.float32)).reshape(-1)
        if mean.numel() != self.in_dim or std.numel() != self.in_dim:
            raise ValueError(
                f"input stats have {mean.numel()} means and {std.numel()} stds, "
                f"expected {self.in_dim} each"
            )
        mean = torch.nan_to_num(mean, nan=0.0, posinf=0.0, neginf=0.0)
        std = torch.where(torch.isfinite(std) & (std > MIN_STD), std, torch.ones_like(std))
        self.mean.copy_(mean)
        self.std.copy_(std)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        missing = torch.isnan(x)  # [B, T, D]
        x = torch.where(missing, torch.zeros_like(x), (x - self.mean) / self.std)
        h = self.value(x) + self.missing(missing.to(x.dtype))  # [B, T, out_dim]
        return torch.where(mask.unsqueeze(-1), h, torch.zeros_like(h))
