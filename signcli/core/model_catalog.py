"""The models signcli can build, torch-free: each model's entry names it and the options
it reads beyond the ones every model shares.

Settings validate `model.name` against these entries (without importing torch), and a
run warns about an option set for a model that does not read it (`--fusion` with a
transformer) instead of ignoring it silently. The settings keep every option as a flat key
of `model` (config.json of runs written before stays loadable); which model reads which is
said here, once. A model's code registers its builder under its entry's name
(models/registry.py `register_model`, refused without an entry).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from signcli.core.errors import did_you_mean

# read by every model, or by the task's heads
SHARED_OPTIONS = ("task", "name", "num_gloss", "num_cat", "num_tokens", "d_model", "num_layers")
SHARED_OPTIONS += ("dropout", "max_len", "pooling")
# the translate task's, read for every encoder (tasks/translate.py)
SHARED_OPTIONS += ("max_target_len", "decoder_class", "decoder_kwargs", "ctc_weight")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    summary: str  # what it reads and how, for help texts and errors
    options: tuple[str, ...]  # its own options beyond SHARED_OPTIONS (ModelSettings keys)


MODEL_CATALOG: dict[str, ModelEntry] = {
    entry.name: entry
    for entry in (
        ModelEntry(
            "transformer",
            "keypoints: temporal convolution and attention blocks",
            ("num_heads", "ff_dim", "conv_kernel"),
        ),
        ModelEntry("gru", "CNN features: bidirectional GRU layers", ("hidden_size",)),
        ModelEntry(
            "multistream",
            "face/hands/pose streams fused per frame, then the transformer's blocks",
            ("num_heads", "ff_dim", "conv_kernel", "fusion"),
        ),
    )
}


def model_entry(name: str) -> ModelEntry:
    """The entry of model `name`; ValueError naming the closest and all models otherwise."""
    entry = MODEL_CATALOG.get(name)
    if entry is None:
        hint = did_you_mean(name, MODEL_CATALOG)
        raise ValueError(f"unknown model {name!r}{hint}; models: {', '.join(MODEL_CATALOG)}")
    return entry


def unused_options(name: str, values: dict[str, Any], defaults: dict[str, Any]) -> list[str]:
    """Options of `values` (a model section) that model `name` does not read but that are
    set to something else than their default, one line each."""
    entry = MODEL_CATALOG.get(name)
    if entry is None:
        return []
    reads = {*SHARED_OPTIONS, *entry.options}
    return [
        f"model.{key} = {value!r} is ignored: model {name} does not read it "
        f"(its own options: {', '.join(entry.options)})"
        for key, value in values.items()
        if key not in reads and key in defaults and value != defaults[key]
    ]
