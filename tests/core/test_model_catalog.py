"""model_catalog: one entry per registered model, naming the options it reads."""

from __future__ import annotations

import pytest

from signcli.core.model_catalog import MODEL_CATALOG, SHARED_OPTIONS, ModelEntry
from signcli.models import MODEL_REGISTRY, register_model, registry
from signcli.models.size import encoder_parts, frame_input
from signcli.settings import ModelSettings, Settings


def test_every_registered_model_has_an_entry_and_every_entry_a_model() -> None:
    assert set(MODEL_REGISTRY) == set(MODEL_CATALOG)


def test_entries_name_settings_that_exist() -> None:
    fields = set(ModelSettings.model_fields)
    assert set(SHARED_OPTIONS) <= fields
    for entry in MODEL_CATALOG.values():
        assert set(entry.options) <= fields, entry.name
    # every option is read by some model: none is left over for nobody
    read = set(SHARED_OPTIONS).union(*(e.options for e in MODEL_CATALOG.values()))
    assert read == fields


def test_a_model_without_an_entry_is_refused() -> None:
    with pytest.raises(ValueError, match="no entry in core/model_catalog.py"):
        register_model("not-in-the-catalog")(lambda settings, dims: None)


def test_an_option_the_model_does_not_read_is_said() -> None:
    assert ModelSettings().unused_options() == []
    assert ModelSettings(name="multistream", fusion="attention").unused_options() == []
    (warning,) = ModelSettings(fusion="attention").unused_options()
    assert warning.startswith("model.fusion = 'attention' is ignored: model transformer")
    (warning,) = ModelSettings(name="gru", conv_kernel=3).unused_options()
    assert "model.conv_kernel" in warning and "hidden_size" in warning


def test_a_model_without_its_parameter_count_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MODEL_CATALOG, "toy", ModelEntry("toy", "a toy", ()))
    with pytest.raises(ValueError, match="without count="):
        register_model("toy")(lambda settings, dims: None)
    assert "toy" not in MODEL_REGISTRY


def test_the_size_of_a_new_model_is_its_own_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new model is its file (builder and count), its catalog entry and its test: the
    parameter count asks the model, not a branch on its name."""
    monkeypatch.setitem(MODEL_CATALOG, "toy", ModelEntry("toy", "a toy", ()))
    monkeypatch.setattr(registry, "MODEL_REGISTRY", dict(registry.MODEL_REGISTRY))
    monkeypatch.setattr(registry, "MODEL_COUNTERS", dict(registry.MODEL_COUNTERS))

    def count_toy(model: ModelSettings, widths: dict) -> tuple[dict, int]:
        return {"toy layers": (1234, f"model.d_model={model.d_model}")}, 7

    register_model("toy", count=count_toy)(lambda settings, dims: None)
    settings = Settings.model_validate({"model": {"name": "toy", "d_model": 8, "num_layers": 1}})
    parts, out = encoder_parts(settings, {"x": 3})
    assert out == 7 and parts["toy layers"] == (1234, "model.d_model=8")
    # 3 columns of unknown meaning reach the encoder as raw + velocity (data.motion auto)
    assert parts["input projections"][0] == frame_input(6, 8)
