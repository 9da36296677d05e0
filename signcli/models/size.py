"""How many parameters the encoder and input stage of a model would have, counted from the
settings alone: the formulas of the common layers (linear, norm, the input stage of
models/inputs.py) are here, each model counts its own encoder beside its code (the
`count=` of its `register_model`), the heads are counted by the run's task
(`Task.head_parameter_parts`) and the whole by tasks/size.py. tests/models/
test_model_size.py holds the sum equal to the parameters and buffers of the models as
built, for every registered model. Nothing is allocated.
"""

from __future__ import annotations

from collections.abc import Mapping

from signcli.auto_size import resolve_auto_model
from signcli.models.channels import channel_plan
from signcli.settings import Settings


def linear(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def norm(width: int) -> int:
    return 2 * width  # LayerNorm: weight and bias


def frame_input(width: int, d: int) -> int:
    # value projection (with bias), missing-indicator projection (without), mean/std buffers
    return linear(width, d) + linear(width, d, bias=False) + 2 * width


def encoder_widths(settings: Settings, input_dims: Mapping[str, int]) -> dict[str, int]:
    """{stream: width} of what the encoder reads: the stored streams, or the body-part
    streams of `data.layout` (and `x`, the columns no range covers), with the per-sample
    channels beside each (models/channels.py)."""
    layout = settings.data.layout
    if not layout or list(input_dims) != ["x"]:
        return _with_channels(settings, dict(input_dims))
    width = input_dims["x"]
    covered = [(start, min(stop, width)) for start, stop in layout.values()]
    widths = {name: stop - start for name, (start, stop) in zip(layout, covered, strict=True)}
    rest = width - sum(stop - start for start, stop in covered if stop > start)
    return _with_channels(settings, {**widths, **({"x": rest} if rest > 0 else {})})


def _with_channels(settings: Settings, widths: dict[str, int]) -> dict[str, int]:
    """The widths after the per-sample input channels (models/channels.py); as split when
    data.coords / data.joints do not fit (build_run_model reports that)."""
    try:
        plan = channel_plan(settings.data, widths)
    except ValueError:
        return widths
    return {name: channels.width for name, channels in plan.items()}


def encoder_parts(
    settings: Settings, input_dims: Mapping[str, int]
) -> tuple[dict[str, tuple[int, str]], int]:
    """({part of the model: (parameters and buffers, the settings that size it)}, the width
    of the encoder's output) for the input stage and the encoder."""
    from signcli.models.registry import MODEL_COUNTERS

    model = resolve_auto_model(settings.model)
    d = model.d_model
    widths = encoder_widths(settings, input_dims)
    inputs = sum(frame_input(width, d) for width in widths.values())
    parts: dict[str, tuple[int, str]] = {
        "input projections": (inputs, f"input widths {dict(widths)} x model.d_model={d}"),
    }
    encoder, out = MODEL_COUNTERS[model.name](model, widths)
    return {**parts, **encoder}, out
