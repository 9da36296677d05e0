"""How big the model that some settings describe would be, counted before it is built.

`size_problems` checks a run's settings with its input widths and class counts against
the bounds of `core/limits.py`: every input width, both class counts, and the number of
parameters the model would have, which `parameter_count` computes from the settings
alone, with the formulas of the built-in models (models/transformer.py, gru.py,
multistream.py, heads.py, inputs.py, conv.py). tests/models/test_model_size.py holds them
equal to the parameters and buffers of the models as built, for every registered model,
so a change to a model that is not made here too fails a test. Torch-free: nothing is
allocated, so a checkpoint asking for terabytes is refused in microseconds.
"""

from __future__ import annotations

from collections.abc import Mapping

from signcli.auto_size import resolve_auto_model
from signcli.core.limits import MAX_CLASSES, MAX_INPUT_DIM, MAX_PARAMETERS, Limit, LimitExceeded
from signcli.settings import ModelSettings, Settings


def _linear(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def _norm(width: int) -> int:
    return 2 * width  # LayerNorm: weight and bias


def _frame_input(width: int, d: int) -> int:
    # value projection (with bias), missing-indicator projection (without), mean/std buffers
    return _linear(width, d) + _linear(width, d, bias=False) + 2 * width


def _transformer_layer(model: ModelSettings) -> int:
    d, ff, k = model.d_model, model.ff_dim, model.conv_kernel
    conv = 0
    if k > 0:  # TemporalConv: norm, Linear(d, 2d), depthwise Conv1d, norm, Linear(d, d)
        conv = _norm(d) + _linear(d, 2 * d) + (d * k + d) + _norm(d) + _linear(d, d)
    attention = _linear(d, 3 * d) + _linear(d, d)
    feed_forward = _linear(d, ff) + _linear(ff, d)
    return conv + _norm(d) + attention + _norm(d) + feed_forward


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


def parameter_parts(
    settings: Settings, input_dims: Mapping[str, int], num_gloss: int, num_cat: int = 0
) -> dict[str, tuple[int, str]]:
    """{part of the model: (parameters and buffers, the settings that size it)}."""
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
            layers + _norm(2 * h),
            f"model.num_layers={n} x model.hidden_size={h}",
        )
        out = 2 * h
    else:
        parts["positions"] = (model.max_len * d, f"model.max_len={model.max_len} x d_model={d}")
        parts["blocks"] = (
            model.num_layers * _transformer_layer(model) + _norm(d),
            f"model.num_layers={model.num_layers} x (model.d_model={d}, "
            f"model.ff_dim={model.ff_dim}, model.conv_kernel={model.conv_kernel})",
        )
        streams = len(widths)
        if model.name == "multistream" and streams > 1 and model.fusion != "sum":
            fuse = (
                _linear(streams * d, d)
                if model.fusion == "concat"
                else d + streams * d + _linear(d, d)  # query, stream kinds, key
            )
            parts["stream fusion"] = (fuse, f"{streams} streams x model.d_model={d}")
        out = d
    if model.task == "translate":
        parts.update(_translate_heads(model, out, num_gloss))
        return parts
    # the classify task's heads (tasks/classify.py); a task with other heads adds its own here
    pooling = 2 * _linear(out, out) + out if model.pooling == "cls" else 0
    heads = [("model.num_gloss", num_gloss)] + ([("model.num_cat", num_cat)] if num_cat else [])
    parts["heads"] = (
        sum(_norm(out) + pooling + _linear(out, count) for _, count in heads),
        " + ".join(f"{key}={count}" for key, count in heads) + f" x width {out}",
    )
    return parts


def _translate_heads(model: ModelSettings, d: int, vocab: int) -> dict[str, tuple[int, str]]:
    """tasks/translate.py: TextDecoder (tied embeddings; model.decoder_kwargs may set its
    num_layers, ff_dim, positions) and the joint CTC head. A user's decoder class counts
    as its embedding and output layer only, the least it holds (it is not built to count)."""
    kwargs = model.decoder_kwargs if isinstance(model.decoder_kwargs, dict) else {}
    embedding = vocab * d + vocab  # tied input/output matrix + output bias
    parts = {"decoder embedding": (embedding, f"model.num_gloss={vocab} (vocabulary) x d={d}")}
    if not model.decoder_class:
        layers = _int(kwargs.get("num_layers", 2))
        ff = _int(kwargs.get("ff_dim") or model.ff_dim or 4 * d)
        layer = 2 * 4 * _linear(d, d) + 3 * _norm(d) + _linear(d, ff) + _linear(ff, d)
        learned = model.max_target_len * d if kwargs.get("positions") == "learned" else 0
        parts["decoder blocks"] = (
            layers * layer + _norm(d) + learned,
            f"decoder num_layers={layers} x (d={d}, ff_dim={ff})",
        )
    if model.ctc_weight > 0:
        parts["ctc head"] = (_norm(d) + _linear(d, vocab), f"model.ctc_weight > 0: d={d} x {vocab}")
    return parts


def _int(value: object) -> int:
    """A size from decoder_kwargs (user input): a non-negative int, else 0 (the decoder's
    constructor reports the bad value)."""
    return value if isinstance(value, int) and value > 0 else 0


def parameter_count(
    settings: Settings, input_dims: Mapping[str, int], num_gloss: int, num_cat: int = 0
) -> int:
    """Parameters and buffers of the model `build_run_model` would build from these."""
    return sum(n for n, _ in parameter_parts(settings, input_dims, num_gloss, num_cat).values())


def size_problems(
    settings: Settings, input_dims: Mapping[str, int], num_gloss: int, num_cat: int = 0
) -> list[str]:
    """Why a model of these settings, input widths and class counts is too big to build
    (core/limits.py), one line each naming the field; empty when it is not."""
    problems = []
    for name, width in input_dims.items():
        problems += _over(MAX_INPUT_DIM, f"the input width of stream {name}", width)
    problems += _over(MAX_CLASSES, "model.num_gloss (gloss classes)", num_gloss)
    problems += _over(MAX_CLASSES, "model.num_cat (category classes)", num_cat)
    if problems:  # the count would be as wrong as these
        return problems
    parts = parameter_parts(settings, input_dims, num_gloss, num_cat)
    total = sum(n for n, _ in parts.values())
    if total > MAX_PARAMETERS.value():
        part, (count, sizes) = max(parts.items(), key=lambda item: item[1][0])
        problems.append(
            f"the model would have {total:,} parameters ({4 * total / 1e9:,.1f} GB as float32), "
            f"{count:,} of them in the {part} ({sizes}): {MAX_PARAMETERS.at_most()}"
        )
    return problems


def _over(limit: Limit, what: str, value: int) -> list[str]:
    try:
        limit.check(what, value)
    except LimitExceeded as exc:
        return [str(exc)]
    return []
