"""How many parameters the encoder and input stage of a model would have, counted from the
settings alone with the formulas of the built-in models (models/transformer.py, gru.py,
multistream.py, inputs.py, conv.py); the heads are counted by the run's task
(`Task.head_parameter_parts`) and the whole by tasks/size.py. tests/models/
test_model_size.py holds the sum equal to the parameters and buffers of the models as
built, for every registered model. Torch-free: nothing is allocated.
"""

from __future__ import annotations

from collections.abc import Mapping

from signcli.auto_size import resolve_auto_model
from signcli.settings import ModelSettings, Settings


def linear(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def norm(width: int) -> int:
    return 2 * width  # LayerNorm: weight and bias


def _frame_input(width: int, d: int) -> int:
    # value projection (with bias), missing-indicator projection (without), mean/std buffers
    return linear(width, d) + linear(width, d, bias=False) + 2 * width


def _transformer_layer(model: ModelSettings) -> int:
    d, ff, k = model.d_model, model.ff_dim, model.conv_kernel
    conv = 0
    if k > 0:  # TemporalConv: norm, Linear(d, 2d), depthwise Conv1d, norm, Linear(d, d)
        conv = norm(d) + linear(d, 2 * d) + (d * k + d) + norm(d) + linear(d, d)
    attention = linear(d, 3 * d) + linear(d, d)
    feed_forward = linear(d, ff) + linear(ff, d)
    return conv + norm(d) + attention + norm(d) + feed_forward


def _gru_layer(n_in: int, hidden: int) -> int:
    # a forward and a backward nn.GRU: 3 gates of input and hidden weights, two biases
    return 2 * (3 * hidden * (n_in + hidden) + 2 * 3 * hidden)


def encoder_widths(settings: Settings, input_dims: Mapping[str, int]) -> dict[str, int]:
    """{stream: width} of what the encoder reads: the stored streams, or the body-part
    streams of `data.layout` (and `x`, the columns no range covers)."""
    layout = settings.data.layout
    if not layout or list(input_dims) != ["x"]:
        return dict(input_dims)
    width = input_dims["x"]
    covered = [(start, min(stop, width)) for start, stop in layout.values()]
    widths = {name: stop - start for name, (start, stop) in zip(layout, covered, strict=True)}
    rest = width - sum(stop - start for start, stop in covered if stop > start)
    return {**widths, **({"x": rest} if rest > 0 else {})}


def encoder_parts(
    settings: Settings, input_dims: Mapping[str, int]
) -> tuple[dict[str, tuple[int, str]], int]:
    """({part of the model: (parameters and buffers, the settings that size it)}, the width
    of the encoder's output) for the input stage and the encoder."""
    model = resolve_auto_model(settings.model)
    d = model.d_model
    widths = encoder_widths(settings, input_dims)
    inputs = sum(_frame_input(width, d) for width in widths.values())
    parts: dict[str, tuple[int, str]] = {
        "input projections": (inputs, f"input widths {dict(widths)} x model.d_model={d}"),
    }
    if model.name == "gru":
        h, n = model.hidden_size, model.num_layers
        layers = _gru_layer(d, h) + (n - 1) * _gru_layer(2 * h, h)
        parts["GRU layers"] = (
            layers + norm(2 * h),
            f"model.num_layers={n} x model.hidden_size={h}",
        )
        out = 2 * h
    else:
        parts["positions"] = (model.max_len * d, f"model.max_len={model.max_len} x d_model={d}")
        parts["blocks"] = (
            model.num_layers * _transformer_layer(model) + norm(d),
            f"model.num_layers={model.num_layers} x (model.d_model={d}, "
            f"model.ff_dim={model.ff_dim}, model.conv_kernel={model.conv_kernel})",
        )
        streams = len(widths)
        if model.name == "multistream" and streams > 1 and model.fusion != "sum":
            fuse = (
                linear(streams * d, d)
                if model.fusion == "concat"
                else d + streams * d + linear(d, d)  # query, stream kinds, key
            )
            parts["stream fusion"] = (fuse, f"{streams} streams x model.d_model={d}")
        out = d
    return parts, out
