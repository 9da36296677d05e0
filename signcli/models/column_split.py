"""`ColumnSplit`: single-stream keypoints `x` split into body-part streams by a layout.

    split = ColumnSplit({"hand_l": (0, 63), "hand_r": (63, 126), "pose": (126, 156)}, {"x": 156})
    split({"x": x})        # {"hand_l": [B, T, 63], "hand_r": [B, T, 63], "pose": [B, T, 30]}

The first stage of a model trained with `--layout` (core/column_layout.py says what a layout
is): the model still takes `x` as stored, in training, eval and the ONNX export, and
what follows (normalisation, encoder) sees named streams. Without a layout it passes the
streams through.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from signcli.core.column_layout import REST, ColumnRange, layout_columns


class ColumnSplit(nn.Module):
    def __init__(
        self, layout: Mapping[str, ColumnRange] | None, input_dims: Mapping[str, int]
    ) -> None:
        """ValueError when the layout does not fit `input_dims` (one stream `x`, wide enough)."""
        super().__init__()
        self.layout = dict(layout) if layout else None
        self.input_dims = dict(input_dims)  # {stream: width} as stored
        self.output_dims = dict(input_dims)  # {stream: width} after the split
        if self.layout is None:
            return
        if list(input_dims) != [REST]:
            raise ValueError(
                f"a layout splits single-stream keypoints X [T, D]; this data has the streams "
                f"{', '.join(input_dims)}"
            )
        columns = layout_columns(self.layout, input_dims[REST])
        self.output_dims = {name: len(index) for name, index in columns.items()}
        for name, index in columns.items():  # not persistent: rebuilt from the settings
            self.register_buffer(f"columns_{name}", torch.from_numpy(index), persistent=False)

    def forward(self, streams: Mapping[str, Tensor]) -> Mapping[str, Tensor]:
        if self.layout is None:
            return streams
        x = streams[REST]  # [B, T, D]
        return {
            name: x.index_select(-1, getattr(self, f"columns_{name}")) for name in self.output_dims
        }

    def extra_repr(self) -> str:
        return f"layout={self.layout}"
