"""model_size counts exactly what build_run_model builds, and refuses sizes above the limits
before anything is allocated."""

from __future__ import annotations

import itertools

import pytest
import torch

from signcli.core.limits import MAX_CLASSES, MAX_INPUT_DIM, MAX_PARAMETERS
from signcli.models import MODEL_REGISTRY
from signcli.settings import Settings
from signcli.tasks.model import build_run_model
from signcli.tasks.size import parameter_count, size_problems

STREAMS = {"face": 6, "hand_l": 9, "hand_r": 9, "pose": 6}
VARIANTS = [
    {"conv_kernel": 0},
    {"conv_kernel": 3, "pooling": "cls"},
    {"pooling": "max", "fusion": "sum"},
    {"fusion": "attention", "num_layers": 3},
]


def _settings(name: str, layout: dict | None = None, **model) -> Settings:
    small = dict(d_model=16, num_layers=2, num_heads=2, ff_dim=24, hidden_size=8, max_len=12)
    return Settings.model_validate(
        {"model": {"name": name, **small, **model}, "data": {"layout": layout, "normalize": False}}
    )


def _state_numel(model: torch.nn.Module) -> int:
    return sum(t.numel() for t in model.state_dict().values())


@pytest.mark.parametrize(
    "name, variant, num_cat", list(itertools.product(sorted(MODEL_REGISTRY), VARIANTS, (0, 3)))
)
def test_count_equals_the_built_model(name: str, variant: dict, num_cat: int) -> None:
    streams = STREAMS if name == "multistream" else {"x": 10}
    settings = _settings(name, **variant)
    model = build_run_model(settings, streams, {"num_gloss": 7, "num_cat": num_cat})
    assert parameter_count(settings, streams, {"num_gloss": 7, "num_cat": num_cat}) == _state_numel(
        model
    )


def test_count_with_a_column_layout() -> None:
    layout = {"hand_l": (0, 6), "pose": (9, 15)}  # columns 6..9 and 15..20 stay in x
    for name in ("transformer", "multistream"):
        settings = _settings(name, layout=layout)
        model = build_run_model(settings, {"x": 20}, {"num_gloss": 5})
        assert parameter_count(settings, {"x": 20}, {"num_gloss": 5}) == _state_numel(model)


def test_auto_sizes_are_counted_as_resolved() -> None:
    settings = Settings()
    model = build_run_model(settings, {"x": 12}, {"num_gloss": 4})
    assert parameter_count(settings, {"x": 12}, {"num_gloss": 4}) == _state_numel(model)


def test_a_huge_model_is_refused_naming_the_fields() -> None:
    settings = _settings("transformer", d_model=1_000_000, num_heads=8, ff_dim=4_000_000)
    problems = size_problems(settings, {"x": 10}, {"num_gloss": 7})
    assert len(problems) == 1
    assert "blocks" in problems[0] and "model.d_model=1000000" in problems[0]
    assert MAX_PARAMETERS.env in problems[0]


def test_the_limit_is_raised_by_its_environment_variable(monkeypatch) -> None:
    settings = _settings("transformer", d_model=4096, num_heads=8, ff_dim=16384, num_layers=16)
    assert size_problems(settings, {"x": 10}, {"num_gloss": 7})  # 3.2e9 parameters
    monkeypatch.setenv(MAX_PARAMETERS.env, "5e9")
    assert size_problems(settings, {"x": 10}, {"num_gloss": 7}) == []


def test_input_widths_and_class_counts_have_their_own_limits() -> None:
    settings = _settings("transformer")
    problems = size_problems(
        settings, {"x": MAX_INPUT_DIM.default + 1}, {"num_gloss": MAX_CLASSES.default + 1}
    )
    assert any("stream x" in p and MAX_INPUT_DIM.env in p for p in problems)
    assert any("model.num_gloss" in p and MAX_CLASSES.env in p for p in problems)


def test_a_bad_environment_value_is_a_usage_error(monkeypatch) -> None:
    from signcli.core.errors import UsageError

    monkeypatch.setenv(MAX_PARAMETERS.env, "lots")
    with pytest.raises(UsageError, match="SIGNCLI_MAX_PARAMETERS='lots'"):
        size_problems(_settings("transformer"), {"x": 10}, {"num_gloss": 7})


def test_build_run_model_refuses_before_allocating() -> None:
    from signcli.core.errors import UsageError

    settings = _settings("gru", hidden_size=10_000_000)
    with pytest.raises(UsageError, match="GRU layers"):
        build_run_model(settings, {"x": 10}, {"num_gloss": 7})  # would be 1.2e15 parameters
