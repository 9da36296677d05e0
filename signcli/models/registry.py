"""Models by name: encoders register with `@register_model(name)`; `build_model` builds one.

Each model's entry in model_catalog.py (torch-free) names it and the options it reads;
a builder registers under an entry's name.

A registered builder takes the model settings and the input widths and returns an
`Encoder`; `build_model` adds the heads of the task `model.task` names (tasks/) and the
stream normalisation, `build_run_model` does it from a run's whole settings. The tests iterate `MODEL_REGISTRY`, so a new
model is tested for free.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence

from signcli.auto_size import resolve_auto_model
from signcli.errors import UsageError
from signcli.input_channels import channel_plan
from signcli.model_catalog import MODEL_CATALOG
from signcli.model_size import size_problems
from signcli.models.classifier import SignModel
from signcli.models.column_split import ColumnSplit
from signcli.models.encoder import Encoder
from signcli.models.normalize import streams_to_normalize
from signcli.models.sample_features import SampleFeatures
from signcli.settings import ModelSettings, Settings
from signcli.tasks import build_task

EncoderBuilder = Callable[[ModelSettings, Mapping[str, int]], Encoder]

MODEL_REGISTRY: dict[str, EncoderBuilder] = {}


def register_model(name: str) -> Callable[[EncoderBuilder], EncoderBuilder]:
    """Decorator: make the encoder builder available as `model.name = name`."""

    def register(builder: EncoderBuilder) -> EncoderBuilder:
        if name in MODEL_REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        if name not in MODEL_CATALOG:  # the settings validate model.name against it
            raise ValueError(
                f"model {name!r} has no entry in model_catalog.py: add one naming its options"
            )
        MODEL_REGISTRY[name] = builder
        return builder

    return register


def build_model(
    settings: ModelSettings,
    input_dims: Mapping[str, int],
    num_gloss: int,
    num_cat: int = 0,
    *,
    normalize: Sequence[str] = (),
    split: ColumnSplit | None = None,
    features: SampleFeatures | None = None,
) -> SignModel:
    """The encoder `settings.name` names, for inputs {stream: width D}, with the heads of
    the task `settings.task` (classify: for these class counts); its input stage splits by
    `split` (a column layout), normalises the streams named in `normalize` and adds the
    per-sample channels of `features`."""
    settings = resolve_auto_model(settings)  # `auto` sizes left by a caller without data
    builder = MODEL_REGISTRY.get(settings.name)
    if builder is None:
        names = sorted(MODEL_REGISTRY)
        close = difflib.get_close_matches(settings.name, names, n=1)
        hint = f"did you mean {close[0]}?" if close else f"registered models: {', '.join(names)}"
        raise UsageError(f"model.name: unknown model {settings.name!r}", hint=hint)
    if features is not None:
        widths = features.output_dims
    else:
        widths = split.output_dims if split is not None else dict(input_dims)
    encoder = builder(settings, widths)
    heads = build_task(settings.task).build_heads(
        encoder.out_dim, settings, {"num_gloss": num_gloss, "num_cat": num_cat}
    )
    return SignModel(encoder, heads, normalize=normalize, split=split, features=features)


def build_run_model(
    settings: Settings, input_dims: Mapping[str, int], num_gloss: int, num_cat: int = 0
) -> SignModel:
    """The model of a run: `settings.model`, with the column layout, the normalisation and
    the per-sample input channels that `settings.data` asks for. UsageError when they do not fit the input widths, or
    when the model would be bigger than the limits allow (signcli/limits.py)."""
    problems = size_problems(settings, input_dims, num_gloss, num_cat)
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
        num_gloss,
        num_cat,
        normalize=normalize,
        split=split,
        features=SampleFeatures(plan),
    )
