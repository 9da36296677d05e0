"""`gru`: a bidirectional GRU over per-frame CNN features [B, T, 2048] (IV3-GRU).

    frames -> FrameInput (standardise, NaN -> 0 + indicator) -> [B, T, d_model]
           -> num_layers x [forward GRU | backward GRU] -> LN -> [B, T, 2 * hidden_size]

Each layer runs two unidirectional GRUs. The backward one reads every sequence reversed
*within its own length* (a gather with a per-sample index), so it starts at the last
real frame and never reads padding: a sample gives the same output alone as padded in a
batch. Unlike pack_padded_sequence this is plain tensor code that exports to ONNX with a
dynamic batch and time. The mask must mark a prefix of each row (real frames first).

Its option (`model.hidden_size`) is `GRUOptions` of its catalog entry
(core/model_catalog.py); its parameter count is `count_gru`, below.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from signcli.core.model_catalog import GRUOptions
from signcli.models.encoder import Encoder
from signcli.models.inputs import FrameInput
from signcli.models.registry import register_model
from signcli.models.size import norm
from signcli.settings import ModelSettings


def reverse_index(mask: Tensor) -> Tensor:
    """Index [B, T] that reverses each row's real frames and leaves its padding in place.

    Row b with length L maps t -> L - 1 - t for t < L and t -> t after; applying it
    twice is the identity, so the same index also undoes the reversal.
    """
    T = mask.shape[1]
    lengths = mask.sum(dim=1, keepdim=True)  # [B, 1]
    t = torch.arange(T, device=mask.device).unsqueeze(0)  # [1, T]
    return torch.where(t < lengths, lengths - 1 - t, t)  # [B, T]


def reverse_frames(x: Tensor, index: Tensor) -> Tensor:
    """x [B, T, C] with the frames of each row permuted by index [B, T]."""
    return x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


class BiGRULayer(nn.Module):
    """[B, T, in_dim] -> [B, T, 2 * hidden]: forward and within-length backward GRU."""

    def __init__(self, in_dim: int, hidden: int) -> None:
        super().__init__()
        self.forward_gru = nn.GRU(in_dim, hidden, batch_first=True)
        self.backward_gru = nn.GRU(in_dim, hidden, batch_first=True)

    def forward(self, x: Tensor, index: Tensor) -> Tensor:
        ahead, _ = self.forward_gru(x)  # [B, T, H]; real frames never see the padding after them
        behind, _ = self.backward_gru(reverse_frames(x, index))
        return torch.cat([ahead, reverse_frames(behind, index)], dim=-1)  # [B, T, 2H]


class GRUEncoder(Encoder):
    """Streams {name: [B, T, D]} + mask [B, T] -> [B, T, 2 * hidden_size].

    Several streams are projected separately and summed (a projection of their
    concatenation).
    """

    def __init__(
        self,
        input_dims: Mapping[str, int],
        d_model: int,
        hidden_size: int,
        num_layers: int,
        dropout: float,
    ) -> None:
        super().__init__(input_dims, 2 * hidden_size)
        for name, dim in self.input_dims.items():
            self.inputs[name] = FrameInput(dim, d_model)
        self.dropout = nn.Dropout(dropout)
        widths = [d_model] + [2 * hidden_size] * (num_layers - 1)
        self.layers = nn.ModuleList(BiGRULayer(width, hidden_size) for width in widths)
        self.norm = nn.LayerNorm(2 * hidden_size)

    def forward(self, streams: Mapping[str, Tensor], mask: Tensor) -> Tensor:
        index = reverse_index(mask)  # [B, T]
        x = sum(self.inputs[name](streams[name], mask) for name in self.stream_names)
        for layer in self.layers:
            x = layer(self.dropout(x), index)
        return self.norm(x)


def _gru_layer_count(n_in: int, hidden: int) -> int:
    # a forward and a backward nn.GRU: 3 gates of input and hidden weights, two biases
    return 2 * (3 * hidden * (n_in + hidden) + 2 * 3 * hidden)


def count_gru(
    model: ModelSettings, widths: Mapping[str, int]
) -> tuple[dict[str, tuple[int, str]], int]:
    """GRUEncoder's layers and final norm (the input stage: models/size.py)."""
    h, n = GRUOptions.read(model).hidden_size, model.num_layers
    layers = _gru_layer_count(model.d_model, h) + (n - 1) * _gru_layer_count(2 * h, h)
    sizes = f"model.num_layers={n} x model.hidden_size={h}"
    return {"GRU layers": (layers + norm(2 * h), sizes)}, 2 * h


@register_model("gru", count=count_gru)
def build_gru(settings: ModelSettings, input_dims: Mapping[str, int]) -> Encoder:
    return GRUEncoder(
        input_dims,
        d_model=settings.d_model,
        hidden_size=GRUOptions.read(settings).hidden_size,
        num_layers=settings.num_layers,
        dropout=settings.dropout,
    )
