"""The model of a run: the encoder `model.name` names (models/), with the heads of the task
`model.task` names (tasks/), the column layout, the stream normalisation and the per-sample
input channels (models/channels.py, models/sample_features.py).

    model = build_model(settings.model, {"x": 156}, {"num_gloss": 105, "num_cat": 10})
    model = build_run_model(settings, input_dims, task.head_sizes(settings.model))  # + limits
    logits = model(streams, mask)   # {"gloss": [B, 105], "cat": [B, 10]}

`sizes` are the counts that size the task's heads (`Task.head_sizes`; a run's labels.json
holds them too): classify's `num_gloss`, `num_cat`, the text tasks' `num_tokens`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from signcli.auto_size import resolve_auto_model
from signcli.core.errors import UsageError
from signcli.models import build_encoder
from signcli.models.channels import channel_plan
from signcli.models.classifier import SignModel
from signcli.models.column_split import ColumnSplit
from signcli.models.normalize import streams_to_normalize
from signcli.models.sample_features import SampleFeatures
from signcli.settings import ModelSettings, Settings
from signcli.tasks import build_task
from signcli.tasks.size import size_problems


def build_model(
    settings: ModelSettings,
    input_dims: Mapping[str, int],
    sizes: Mapping[str, Any],
    *,
    normalize: Sequence[str] = (),
    split: ColumnSplit | None = None,
    features: SampleFeatures | None = None,
) -> SignModel:
    """The encoder `settings.name` names, for inputs {stream: width D}, with the heads of
    the task `settings.task`, as big as `sizes` says; its input stage splits by
    `split` (a column layout), normalises the streams named in `normalize` and adds the
    per-sample channels of `features`."""
    settings = resolve_auto_model(settings)  # `auto` sizes left by a caller without data
    if features is not None:
        widths = features.output_dims
    else:
        widths = split.output_dims if split is not None else dict(input_dims)
    encoder = build_encoder(settings, widths)
    heads = build_task(settings.task).build_heads(encoder.out_dim, settings, sizes)
    return SignModel(encoder, heads, normalize=normalize, split=split, features=features)


def build_run_model(
    settings: Settings, input_dims: Mapping[str, int], sizes: Mapping[str, Any]
) -> SignModel:
    """The model of a run: `settings.model`, with the column layout, the normalisation and
    the per-sample input channels that `settings.data` asks for. UsageError when they do not fit the input widths, or
    when the model would be bigger than the limits allow (signcli/core/limits.py)."""
    problems = size_problems(settings, input_dims, sizes)
    if problems:
        raise UsageError(
            "\n".join(problems), hint="check the model settings and the data's widths and classes"
        )
    data = settings.data
    try:
        split = ColumnSplit(data.layout, input_dims)
    except ValueError as exc:
        raise UsageError(
            f"data.layout: {exc}",
            hint="a layout names column ranges of X [T, D], e.g. "
            "--layout hand_l=0:63,hand_r=63:126,pose=126:156",
        ) from None
    try:
        normalize = streams_to_normalize(data.normalize, data.normalize_streams, split.output_dims)
    except ValueError as exc:
        raise UsageError(
            f"data.normalize: cannot normalise: {exc}",
            hint="pass --no-normalize, or list the streams to normalise in data.normalize_streams",
        ) from None
    try:
        plan = channel_plan(data, split.output_dims)
    except ValueError as exc:
        raise UsageError(
            str(exc), hint="data.coords and data.joints say what the columns of X are"
        ) from None
    return build_model(
        settings.model,
        input_dims,
        sizes,
        normalize=normalize,
        split=split,
        features=SampleFeatures(plan),
    )
