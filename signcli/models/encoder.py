"""What `SignModel` needs of an encoder: streams + mask in, `[B, T, out_dim]` out.

An encoder owns one `FrameInput` per stream in `self.inputs` (keyed by stream name), so
the model can load the input statistics the trainer fits, and states `out_dim`, the
width the heads are built for. Everything else (projection, mixing, sequence model) is
the encoder's own business.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn


class Encoder(nn.Module):
    """Base class: subclasses fill `self.inputs` and implement `forward`."""

    def __init__(self, input_dims: Mapping[str, int], out_dim: int) -> None:
        super().__init__()
        self.input_dims = dict(input_dims)
        self.stream_names = list(input_dims)
        self.out_dim = out_dim
        self.inputs = nn.ModuleDict()  # {stream name: FrameInput}

    def forward(self, streams: Mapping[str, Tensor], mask: Tensor) -> Tensor:
        """Streams {name: [B, T, D]} (NaN = missing) and mask [B, T] -> [B, T, out_dim]."""
        raise NotImplementedError
