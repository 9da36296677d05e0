"""A new model is its own file, its registration and its test: a toy model with an option of
its own, declared and registered here the way docs/architecture.md ("Where things go") says,
is validated by the settings, listed by `signcli settings`, built and counted, without a
line of settings.py knowing it."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
import torch
from pydantic import Field
from torch import Tensor, nn

from signcli.core import model_catalog
from signcli.core.errors import SettingsError
from signcli.core.model_catalog import ModelEntry, ModelOptions
from signcli.models import registry
from signcli.models.encoder import Encoder
from signcli.models.inputs import FrameInput
from signcli.models.registry import register_model
from signcli.models.size import linear
from signcli.reference import settings_docs
from signcli.settings import ModelSettings, load_settings
from signcli.tasks.model import build_run_model
from signcli.tasks.size import parameter_count


class ToyOptions(ModelOptions):
    width: int = Field(4, ge=1)
    """Width of the toy's one hidden layer."""


class ToyEncoder(Encoder):
    """Streams -> the sum of their projections -> Linear(d, width) -> [B, T, width]."""

    def __init__(self, input_dims: Mapping[str, int], d_model: int, width: int) -> None:
        super().__init__(input_dims, width)
        for name, dim in self.input_dims.items():
            self.inputs[name] = FrameInput(dim, d_model)
        self.hidden = nn.Linear(d_model, width)

    def forward(self, streams: Mapping[str, Tensor], mask: Tensor) -> Tensor:
        x = sum(self.inputs[name](streams[name], mask) for name in self.stream_names)
        return self.hidden(x)


def count_toy(model: ModelSettings, widths: Mapping[str, int]) -> tuple[dict, int]:
    width = ToyOptions.read(model).width
    return {"hidden": (linear(model.d_model, width), f"model.width={width}")}, width


def build_toy(settings: ModelSettings, input_dims: Mapping[str, int]) -> Encoder:
    return ToyEncoder(input_dims, settings.d_model, ToyOptions.read(settings).width)


@pytest.fixture
def toy_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registered for one test: its catalog entry (with its options) and its builder."""
    monkeypatch.setitem(model_catalog.MODEL_CATALOG, "toy", ModelEntry("toy", "a toy", ToyOptions))
    monkeypatch.setattr(registry, "MODEL_REGISTRY", dict(registry.MODEL_REGISTRY))
    monkeypatch.setattr(registry, "MODEL_COUNTERS", dict(registry.MODEL_COUNTERS))
    register_model("toy", count=count_toy)(build_toy)


SMALL = ("model.name=toy", "model.d_model=8", "model.num_layers=1", "model.dropout=0")


def test_its_option_is_a_setting_validated_by_its_class(toy_model: None) -> None:
    settings = load_settings(overrides=[*SMALL, "model.width=3"])
    assert settings.model.width == 3  # typed by ToyOptions: "3" was a string
    stored = settings.model.model_dump()
    assert stored["width"] == 3 and "num_heads" not in stored  # config.json: its own options
    assert ModelSettings(name="toy").width == 4  # its default
    with pytest.raises(SettingsError) as raised:
        load_settings(overrides=[*SMALL, "model.width=0", "model.widht=2"])
    problems = raised.value.problems
    assert any(p.startswith("model.width: expected greater than or equal to 1") for p in problems)
    assert (
        "model.widht: not an option of model toy (did you mean model.width?) "
        "(its own options: width)" in problems
    )


def test_its_option_is_listed_with_its_docstring(toy_model: None) -> None:
    (doc,) = [d for d in settings_docs() if d.key == "model.width"]
    assert (doc.type, doc.default) == ("int ≥ 1", "4")
    assert doc.description == "toy: width of the toy's one hidden layer."


def test_it_builds_and_counts_from_its_options(toy_model: None) -> None:
    settings = load_settings(overrides=[*SMALL, "model.width=5", "data.motion=off"])
    sizes = {"num_gloss": 3, "num_cat": 0}
    model = build_run_model(settings, {"x": 6}, sizes)
    assert model.encoder.hidden.out_features == 5
    built = sum(t.numel() for t in model.state_dict().values())
    assert parameter_count(settings, {"x": 6}, sizes) == built
    logits = model({"x": torch.randn(2, 4, 6)}, torch.ones(2, 4, dtype=torch.bool))
    assert logits["gloss"].shape == (2, 3)
