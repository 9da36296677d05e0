"""`SignModel`: the input stage, one encoder, and the head(s) of the run's task.

    outputs = model(streams, mask)       # classify: {"gloss": [B, num_gloss], "cat": [B, num_cat]}
    features = model.forward_features(streams, mask)   # prepare -> encoder: [B, T, d]
    outputs = model.forward_head(features, mask)

The heads are the task's (tasks/base.py `Task.build_heads`): a ModuleDict of modules that
map features [B, T, d] and the mask to one output each.

Streams are the arrays as stored (landmarks with NaN). `prepare_inputs` turns them into
what the encoder reads: `split` cuts single-stream keypoints into body-part streams when
a column layout is set (models/column_split.py), then `normalize` puts the body-part streams
that the settings name in their own frames of reference (models/normalize.py), then
`features` adds each stream normalised per sample and its motion beside it
(models/sample_features.py). None of them has weights. `stream_names` (the stored
streams) fixes the order of the inputs of the ONNX export; `set_input_stats` loads the
per-feature mean/std the trainer fits, into buffers that travel with the state_dict and
the export.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from torch import Tensor, nn

from signcli.models.column_split import ColumnSplit
from signcli.models.encoder import Encoder
from signcli.models.normalize import StreamNormalizer
from signcli.models.sample_features import SampleFeatures


class SignModel(nn.Module):
    def __init__(
        self,
        encoder: Encoder,
        heads: nn.ModuleDict,
        *,
        normalize: Sequence[str] = (),
        split: ColumnSplit | None = None,
        features: SampleFeatures | None = None,
    ) -> None:
        """`split` and `features` default to passing the streams through; `features` must
        take the split's streams and give the encoder's widths."""
        super().__init__()
        self.split = split if split is not None else ColumnSplit(None, encoder.input_dims)
        self.features = features if features is not None else _raw_only(self.split.output_dims)
        if self.features.plan.keys() != self.split.output_dims.keys() or any(
            c.stored != self.split.output_dims[name] for name, c in self.features.plan.items()
        ):
            raise ValueError(
                f"the split gives {self.split.output_dims}, the input features take "
                f"{ {name: c.stored for name, c in self.features.plan.items()} }"
            )
        if self.features.output_dims != encoder.input_dims:
            raise ValueError(
                f"the input features give {self.features.output_dims}, the encoder takes "
                f"{encoder.input_dims}"
            )
        self.normalize = StreamNormalizer(normalize)
        self.encoder = encoder
        self.input_dims = dict(self.split.input_dims)
        self.stream_names = list(self.input_dims)
        self.head_names = list(heads)
        self.heads = heads

    def forward_features(self, streams: Mapping[str, Tensor], mask: Tensor) -> Tensor:
        """Raw streams {name: [B, T, D]} (NaN = missing) + mask [B, T] -> [B, T, d]."""
        missing = [name for name in self.stream_names if name not in streams]
        if missing:
            raise KeyError(
                f"missing input stream(s) {missing}; the model takes {self.stream_names}"
            )
        return self.encoder(self.prepare_inputs(streams, mask), mask)

    def prepare_inputs(self, streams: Mapping[str, Tensor], mask: Tensor) -> Mapping[str, Tensor]:
        """Stored streams {name: [B, T, D]} + mask [B, T] -> the encoder's streams: split by
        the layout, body parts normalised per frame, then the per-sample channels added."""
        return self.features(self.normalize(self.split(streams)), mask)

    def forward_head(
        self, features: Tensor, mask: Tensor, *head_inputs: Tensor
    ) -> dict[str, Tensor]:
        """Features [B, T, d] + mask [B, T] -> {head name: its output}. `head_inputs` go to
        every head after the mask (translate: the decoder's input tokens)."""
        return {name: head(features, mask, *head_inputs) for name, head in self.heads.items()}

    def forward(
        self, streams: Mapping[str, Tensor], mask: Tensor, *head_inputs: Tensor
    ) -> dict[str, Tensor]:
        """The whole model; a task whose heads read more than the features (translate's
        decoder reads the target tokens) passes them here, so that one call of the
        model (a DDP or compiled wrapper's too) computes every output."""
        return self.forward_head(self.forward_features(streams, mask), mask, *head_inputs)

    def set_input_stats(
        self, stats: Mapping[str, tuple[np.ndarray | Tensor, np.ndarray | Tensor]]
    ) -> None:
        """Per-stream (mean [D], std [D]) of the training data as the encoder sees it
        (after `normalize`), computed ignoring NaN; see `inputs.input_stats`."""
        unknown = sorted(set(stats) - set(self.encoder.stream_names))
        if unknown:
            raise KeyError(
                f"input stats for unknown stream(s) {unknown}; streams: {self.encoder.stream_names}"
            )
        for name, (mean, std) in stats.items():
            self.encoder.inputs[name].set_stats(mean, std)


def _raw_only(widths: Mapping[str, int]) -> SampleFeatures:
    """The input features of a model built without them: each stream as it is."""
    from signcli.models.channels import StreamChannels

    return SampleFeatures(
        {name: StreamChannels(width, 0, True, False, 0) for name, width in widths.items()}
    )
