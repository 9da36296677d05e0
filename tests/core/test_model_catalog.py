"""model_catalog: one entry per registered model, naming the options it reads."""

from __future__ import annotations

import pytest

from signcli.core.model_catalog import MODEL_CATALOG, SHARED_OPTIONS
from signcli.models import MODEL_REGISTRY, register_model
from signcli.settings import ModelSettings


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
