"""model_catalog: one entry per registered model, declaring the options it reads."""

from __future__ import annotations

import pytest

from signcli.core.errors import SettingsError
from signcli.core.model_catalog import MODEL_CATALOG, SHARED_OPTIONS, ModelEntry, all_options
from signcli.models import MODEL_REGISTRY, register_model, registry
from signcli.models.size import encoder_parts, frame_input
from signcli.settings import ModelSettings, Settings, load_settings


def test_every_registered_model_has_an_entry_and_every_entry_a_model() -> None:
    assert set(MODEL_REGISTRY) == set(MODEL_CATALOG)


def test_the_shared_options_are_the_model_section_and_no_model_shadows_one() -> None:
    assert set(SHARED_OPTIONS) == set(ModelSettings.model_fields)
    for entry in MODEL_CATALOG.values():
        assert not set(entry.options.model_fields) & set(SHARED_OPTIONS), entry.name
        for name, field in entry.options.model_fields.items():  # `signcli settings` says it
            assert field.description, f"{entry.name}: model.{name} has no docstring"


def test_the_model_section_holds_the_options_of_its_model_with_their_defaults() -> None:
    assert ModelSettings().model_dump().items() >= {"num_heads": "auto", "conv_kernel": 5}.items()
    gru = ModelSettings(name="gru").model_dump()
    assert gru["hidden_size"] == 256 and not {"num_heads", "fusion", "conv_kernel"} & set(gru)
    multistream = ModelSettings(name="multistream", fusion="sum")
    assert multistream.fusion == "sum" and multistream.conv_kernel == 5
    assert all_options() == ["num_heads", "ff_dim", "conv_kernel", "hidden_size", "fusion"]


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["model.hiden_size=8", "model.name=gru"], "model.hiden_size: not an option of model gru "
         "(did you mean model.hidden_size?) (its own options: hidden_size)"),
        (["model.hidden_size=4", "model.name=gru"], "model.hidden_size: expected greater than or"),
        (["model.conv_kernel=4"], "model.conv_kernel: must be odd"),
        (["model.num_heads=3", "model.d_model=16"], "model.num_heads: must divide model.d_model=16"),
        # an option of another model is still checked, by the model declaring it
        (["model.fusion=mean"], "model.fusion: expected 'concat', 'sum' or 'attention'"),
        (["model.num_heads=3", "model.d_model=16", "model.name=gru"], "model.num_heads: must"),
    ],
)  # fmt: skip
def test_an_option_is_checked_by_the_model_declaring_it(overrides: list, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(overrides=[*overrides, "optim.lr=fast"])
    assert message in str(raised.value)
    assert "optim.lr" in str(raised.value)  # every problem comes back together


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
    # translate's decoder reads the heads and ff_dim whichever model encodes
    assert ModelSettings(name="gru", task="translate", num_heads=2).unused_options() == []


def test_a_model_without_its_parameter_count_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MODEL_CATALOG, "toy", ModelEntry("toy", "a toy"))
    with pytest.raises(ValueError, match="without count="):
        register_model("toy")(lambda settings, dims: None)
    assert "toy" not in MODEL_REGISTRY


def test_the_size_of_a_new_model_is_its_own_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new model is its file (builder and count), its catalog entry and its test: the
    parameter count asks the model, not a branch on its name."""
    monkeypatch.setitem(MODEL_CATALOG, "toy", ModelEntry("toy", "a toy"))
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
