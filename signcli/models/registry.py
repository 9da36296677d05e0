"""Models by name: encoders register with `@register_model(name, count=...)`;
`build_encoder` builds one, `count_encoder` counts its parameters without building it.

Each model's entry in core/model_catalog.py (torch-free) names it and declares its own
options (a `ModelOptions` class, which the settings validate); a builder registers under an
entry's name, with the function that counts the parameters and buffers of what it builds
(beside its code; models/size.py adds the input stage). Both read the options typed:
`TransformerOptions.read(settings)`.

A registered builder takes the model settings and the input widths and returns an
`Encoder`. Models know no task: the run's model, the encoder with the heads of the task
`model.task` names, is built by signcli/tasks/model.py (`build_model`, `build_run_model`).
The tests iterate `MODEL_REGISTRY`, so a new model is tested for free.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping

from signcli.auto_size import resolve_auto_model
from signcli.core.errors import UsageError
from signcli.core.model_catalog import MODEL_CATALOG
from signcli.models.encoder import Encoder
from signcli.settings import ModelSettings

EncoderBuilder = Callable[[ModelSettings, Mapping[str, int]], Encoder]
# (model settings with sizes resolved, {stream: width} the encoder reads) ->
# ({part of the encoder: (parameters and buffers, the settings that size it)}, output width)
EncoderCounter = Callable[
    [ModelSettings, Mapping[str, int]], tuple[dict[str, tuple[int, str]], int]
]

MODEL_REGISTRY: dict[str, EncoderBuilder] = {}
MODEL_COUNTERS: dict[str, EncoderCounter] = {}


def register_model(
    name: str, *, count: EncoderCounter | None = None
) -> Callable[[EncoderBuilder], EncoderBuilder]:
    """Decorator: make the encoder builder available as `model.name = name`, with `count`,
    its parameter count from the settings (tests/models/test_model_size.py holds the two
    equal)."""

    def register(builder: EncoderBuilder) -> EncoderBuilder:
        if name in MODEL_REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        if name not in MODEL_CATALOG:  # the settings validate model.name against it
            raise ValueError(
                f"model {name!r} has no entry in core/model_catalog.py: add one declaring its options"
            )
        if count is None:  # the limits refuse a model too big before building it
            raise ValueError(f"model {name!r} is registered without count= (its parameter count)")
        MODEL_REGISTRY[name] = builder
        MODEL_COUNTERS[name] = count
        return builder

    return register


def build_encoder(settings: ModelSettings, input_dims: Mapping[str, int]) -> Encoder:
    """The encoder `settings.name` names, for inputs {stream: width D} (`auto` sizes left
    by a caller without data resolved first). UsageError naming an unknown model."""
    settings = resolve_auto_model(settings)
    builder = MODEL_REGISTRY.get(settings.name)
    if builder is None:
        names = sorted(MODEL_REGISTRY)
        close = difflib.get_close_matches(settings.name, names, n=1)
        hint = f"did you mean {close[0]}?" if close else f"registered models: {', '.join(names)}"
        raise UsageError(f"model.name: unknown model {settings.name!r}", hint=hint)
    return builder(settings, input_dims)
