"""`transformer`: a pre-norm transformer encoder over keypoint frames [B, T, D].

Its options (`model.num_heads`, `model.ff_dim`, `model.conv_kernel`) are
`TransformerOptions` of its catalog entry (core/model_catalog.py, torch-free, so settings
validate them); its parameter count is `count_transformer`, below.

    frames -> FrameInput (standardise, NaN -> 0 + indicator) -> + learned positions
           -> num_layers x [TemporalConv (when conv_kernel > 0),
                            x + attn(LN(x)), x + ff(LN(x))] -> LN -> [B, T, d_model]

The blocks are written out with `scaled_dot_product_attention` and a boolean mask built
from `mask`, instead of nn.TransformerEncoder, whose fast path and nested tensors can
freeze the sequence length into an exported graph. Padding keys are never attended to;
padding queries compute values that the heads ignore.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from signcli.core.model_catalog import TransformerOptions
from signcli.models.conv import TemporalConv
from signcli.models.encoder import Encoder
from signcli.models.inputs import FrameInput
from signcli.models.registry import register_model
from signcli.models.size import linear, norm
from signcli.settings import ModelSettings


class SelfAttention(nn.Module):
    """Multi-head self-attention over the real frames: [B, T, d] -> [B, T, d]."""

    def __init__(self, dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=-1)  # 3 x [B, T, C]
        q, k, v = (t.reshape(B, T, self.num_heads, -1).transpose(1, 2) for t in (q, k, v))
        keys = mask[:, None, None, :]  # [B, 1, 1, T]: every query sees the real keys only
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=keys, dropout_p=self.dropout if self.training else 0.0
        )  # [B, H, T, C / H]
        return self.out(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(LN(x)), then x + ff(LN(x))."""

    def __init__(self, dim: int, num_heads: int, ff_dim: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, num_heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(
            nn.Linear(dim, ff_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff_dim, dim)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = x + self.dropout(self.attn(self.norm1(x), mask))
        return x + self.dropout(self.ff(self.norm2(x)))


class TransformerEncoder(Encoder):
    """Streams {name: [B, T, D]} + mask [B, T] -> [B, T, d_model].

    Several streams are projected separately and summed (a projection of their
    concatenation). Sequences must not be longer than max_len frames: the data loader
    resamples longer ones.
    """

    def __init__(
        self,
        input_dims: Mapping[str, int],
        d_model: int,
        num_layers: int,
        num_heads: int,
        ff_dim: int,
        dropout: float,
        max_len: int,
        conv_kernel: int = 0,
    ) -> None:
        super().__init__(input_dims, d_model)
        for name, dim in self.input_dims.items():
            self.inputs[name] = FrameInput(dim, d_model)
        self.position = nn.Parameter(torch.randn(max_len, d_model) * 0.02)  # [max_len, d]
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList()
        for _ in range(num_layers):  # local motion first, then the whole clip
            if conv_kernel > 0:
                self.blocks.append(TemporalConv(d_model, conv_kernel, dropout))
            self.blocks.append(Block(d_model, num_heads, ff_dim, dropout))
        self.norm = nn.LayerNorm(d_model)

    def embed_frames(self, streams: Mapping[str, Tensor], mask: Tensor) -> Tensor:
        """Streams -> per-frame features [B, T, d]: the sum of each stream's projection
        (subclasses fuse differently, e.g. multistream)."""
        return sum(self.inputs[name](streams[name], mask) for name in self.stream_names)

    def forward(self, streams: Mapping[str, Tensor], mask: Tensor) -> Tensor:
        T = mask.shape[1]
        x = self.dropout(self.embed_frames(streams, mask) + self.position[:T])  # [B, T, d]
        for block in self.blocks:
            x = block(x, mask)
        return self.norm(x)


def transformer_options(settings: ModelSettings) -> dict:
    """The keyword arguments of TransformerEncoder (and its subclasses) from settings: the
    sizes every model shares, and its own options (TransformerOptions)."""
    options = TransformerOptions.read(settings)
    return {
        "d_model": settings.d_model,
        "num_layers": settings.num_layers,
        "num_heads": options.num_heads,
        "ff_dim": options.ff_dim,
        "dropout": settings.dropout,
        "max_len": settings.max_len,
        "conv_kernel": options.conv_kernel,
    }


def transformer_layer_count(model: ModelSettings) -> int:
    """Parameters of one entry of `num_layers`: a TemporalConv (with conv_kernel) and a Block."""
    options = TransformerOptions.read(model)
    d, ff, k = model.d_model, options.ff_dim, options.conv_kernel
    conv = 0
    if k > 0:  # TemporalConv: norm, Linear(d, 2d), depthwise Conv1d, norm, Linear(d, d)
        conv = norm(d) + linear(d, 2 * d) + (d * k + d) + norm(d) + linear(d, d)
    attention = linear(d, 3 * d) + linear(d, d)
    feed_forward = linear(d, ff) + linear(ff, d)
    return conv + norm(d) + attention + norm(d) + feed_forward


def count_transformer(
    model: ModelSettings, widths: Mapping[str, int]
) -> tuple[dict[str, tuple[int, str]], int]:
    """TransformerEncoder's positions and blocks (the input stage: models/size.py)."""
    d, options = model.d_model, TransformerOptions.read(model)
    parts = {
        "positions": (model.max_len * d, f"model.max_len={model.max_len} x d_model={d}"),
        "blocks": (
            model.num_layers * transformer_layer_count(model) + norm(d),
            f"model.num_layers={model.num_layers} x (model.d_model={d}, "
            f"model.ff_dim={options.ff_dim}, model.conv_kernel={options.conv_kernel})",
        ),
    }
    return parts, d


@register_model("transformer", count=count_transformer)
def build_transformer(settings: ModelSettings, input_dims: Mapping[str, int]) -> Encoder:
    return TransformerEncoder(input_dims, **transformer_options(settings))
