"""`multistream`: face, hands and pose projected apart, fused per frame, then `transformer`.

    stream s -> FrameInput_s -> h_s [B, T, d]      (one projection per stream)
    fuse(h_s where stream s is present)            concat + Linear | sum | attention
             -> + learned positions -> the transformer's blocks -> LN -> [B, T, d_model]

A stream is absent in a frame when all its values are NaN (a hand out of frame). Its
contribution is masked: zeroed for `concat` and `sum`, left out of the softmax for
`attention`; a frame with every stream absent fuses to zero. With a single stream there
is nothing to fuse and the model is exactly `transformer` (same parameters, same
outputs): the stream's own missing indicator tells the blocks what is missing.

Its options are the transformer's and `model.fusion` (`MultistreamOptions` of its catalog
entry, core/model_catalog.py); its parameter count is `count_multistream`, below.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

import torch
from torch import Tensor, nn

from signcli.core.model_catalog import MultistreamOptions
from signcli.models.encoder import Encoder
from signcli.models.registry import register_model
from signcli.models.size import linear
from signcli.models.transformer import TransformerEncoder, count_transformer, transformer_options
from signcli.settings import ModelSettings

Fusion = Literal["concat", "sum", "attention"]


class StreamAttention(nn.Module):
    """Per frame, a learned query attends over the present streams: [B, T, S, d] -> [B, T, d]."""

    def __init__(self, dim: int, num_streams: int) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.randn(dim) * dim**-0.5)  # [d]
        self.kind = nn.Parameter(torch.zeros(num_streams, dim))  # [S, d] which stream it is
        self.key = nn.Linear(dim, dim)
        self.scale = 1.0 / math.sqrt(dim)

    def forward(self, h: Tensor, present: Tensor) -> Tensor:
        scores = (self.key(h + self.kind) @ self.query) * self.scale  # [B, T, S]
        scores = scores.masked_fill(~present, torch.finfo(scores.dtype).min)
        weights = scores.softmax(dim=-1) * present.to(h.dtype)  # all absent -> all 0
        return (weights.unsqueeze(-1) * h).sum(dim=-2)  # [B, T, d]


class MultiStreamEncoder(TransformerEncoder):
    """Streams {name: [B, T, D_name]} + mask [B, T] -> [B, T, d_model]."""

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
        fusion: Fusion = "concat",
    ) -> None:
        super().__init__(
            input_dims, d_model, num_layers, num_heads, ff_dim, dropout, max_len, conv_kernel
        )
        if fusion not in ("concat", "sum", "attention"):
            raise ValueError(f"unknown fusion {fusion!r}: expected concat, sum or attention")
        self.fusion = fusion
        S = len(self.stream_names)
        self.fuse: nn.Module | None = None
        if S > 1 and fusion == "concat":
            self.fuse = nn.Linear(S * d_model, d_model)
        elif S > 1 and fusion == "attention":
            self.fuse = StreamAttention(d_model, S)

    def embed_frames(self, streams: Mapping[str, Tensor], mask: Tensor) -> Tensor:
        """One vector per frame from the present streams: [B, T, d]."""
        if len(self.stream_names) == 1:
            name = self.stream_names[0]
            return self.inputs[name](streams[name], mask)
        h = torch.stack(
            [self.inputs[name](streams[name], mask) for name in self.stream_names], dim=-2
        )  # [B, T, S, d]
        present = torch.stack(
            [~torch.isnan(streams[name]).all(dim=-1) for name in self.stream_names], dim=-1
        ) & mask.unsqueeze(-1)  # [B, T, S]
        h = torch.where(present.unsqueeze(-1), h, torch.zeros_like(h))
        if self.fusion == "sum":
            return h.sum(dim=-2)
        if self.fusion == "concat":
            B, T = mask.shape
            fused = self.fuse(h.reshape(B, T, -1))  # type: ignore[misc]
            # the projection's bias alone would be a vector for frames with nothing present
            return torch.where(present.any(-1, keepdim=True), fused, torch.zeros_like(fused))
        return self.fuse(h, present)  # type: ignore[misc]


def count_multistream(
    model: ModelSettings, widths: Mapping[str, int]
) -> tuple[dict[str, tuple[int, str]], int]:
    """The transformer's positions and blocks, and the fusion of several streams."""
    parts, d = count_transformer(model, widths)
    streams, fusion = len(widths), MultistreamOptions.read(model).fusion
    if streams > 1 and fusion != "sum":
        fuse = (
            linear(streams * d, d)
            if fusion == "concat"
            else d + streams * d + linear(d, d)  # query, stream kinds, key
        )
        parts["stream fusion"] = (fuse, f"{streams} streams x model.d_model={d}")
    return parts, d


@register_model("multistream", count=count_multistream)
def build_multistream(settings: ModelSettings, input_dims: Mapping[str, int]) -> Encoder:
    fusion = MultistreamOptions.read(settings).fusion
    return MultiStreamEncoder(input_dims, **transformer_options(settings), fusion=fusion)
