"""`TemporalConv`: a residual block that mixes each frame with its neighbours in time.

    x -> LN -> Linear(d, 2d) -> GLU -> depthwise Conv1d(k) over T -> LN -> SiLU -> Linear
      -> dropout -> + x                                                      [B, T, d]

Attention sees every frame at once but has no notion of "the frame before"; a sign's
local motion (a hand closing, a short movement) is what a small temporal convolution
picks up cheaply, and it needs little data to learn. Interleaving such blocks with the
attention blocks is what the strongest keypoint recognisers of the Kaggle isolated-sign
competition did. Depthwise (one filter per channel) keeps it light: k * d weights.

Padding frames are zeroed before the convolution, so a real frame next to the end of
its clip sees zeros (as at the start), never another clip's padding garbage; padding
frames' outputs are zeroed again, so the block keeps `TransformerEncoder`'s contract.
LayerNorm rather than BatchNorm: the result of a sample never depends on its batch (or
on how much padding the batch has), and eval, training and ONNX agree.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class TemporalConv(nn.Module):
    """Residual depthwise temporal convolution: [B, T, d] + mask [B, T] -> [B, T, d]."""

    def __init__(self, dim: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive (got {kernel_size})")
        self.norm = nn.LayerNorm(dim)
        self.expand = nn.Linear(dim, 2 * dim)
        self.depthwise = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.conv_norm = nn.LayerNorm(dim)
        self.project = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        keep = mask.unsqueeze(-1)  # [B, T, 1]
        h = F.glu(self.expand(self.norm(x)), dim=-1)  # [B, T, d]
        h = torch.where(keep, h, torch.zeros_like(h))
        h = self.depthwise(h.transpose(1, 2)).transpose(1, 2)  # [B, T, d]
        h = self.project(F.silu(self.conv_norm(h)))
        out = x + self.dropout(h)
        return torch.where(keep, out, torch.zeros_like(out))
