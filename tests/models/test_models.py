"""Every registered model: shapes, gradients, padding invariance, variable T, NaN input.

The tests iterate MODEL_REGISTRY, so a newly registered model is tested for free; a model
that needs named streams lists them in INPUT_DIMS.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from signcli.core.errors import UsageError
from signcli.core.model_catalog import MODEL_CATALOG
from signcli.models import MODEL_REGISTRY
from signcli.models.classifier import SignModel
from signcli.settings import ModelSettings
from signcli.tasks.model import build_model

MODELS = sorted(MODEL_REGISTRY)
INPUT_DIMS: dict[str, dict[str, int]] = {  # model name -> streams it needs; default {"x": 10}
    "multistream": {"face": 6, "hand_l": 9, "hand_r": 9, "pose": 6},
}
NUM_GLOSS, NUM_CAT = 7, 3


def _settings(name: str, **overrides) -> ModelSettings:
    small = dict(d_model=32, num_layers=2, num_heads=4, ff_dim=48, hidden_size=16, max_len=16)
    return ModelSettings(name=name, **{"dropout": 0.0, **small, **overrides})


def _model(name: str, num_cat: int = NUM_CAT, **overrides) -> SignModel:
    torch.manual_seed(0)
    dims = INPUT_DIMS.get(name, {"x": 10})
    return build_model(
        _settings(name, **overrides), dims, {"num_gloss": NUM_GLOSS, "num_cat": num_cat}
    )


def _inputs(model: SignModel, lengths: list[int], seed: int = 0, pad: float = 0.0):
    """Streams [B, T, D] with some landmarks NaN, padded with `pad`, and the mask [B, T]."""
    generator = torch.Generator().manual_seed(seed)
    B, T = len(lengths), max(lengths)
    mask = torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]  # [B, T]
    streams = {}
    for name, D in model.input_dims.items():
        x = torch.randn(B, T, D, generator=generator)
        x[:, min(1, T - 1), : D // 2] = float("nan")  # a hand not detected in frame 1
        streams[name] = torch.where(mask[..., None], x, torch.full_like(x, pad))
    return streams, mask


def test_registry_names_are_settings_names() -> None:
    assert {"transformer", "gru"} <= set(MODEL_REGISTRY)
    assert set(MODEL_REGISTRY) <= set(MODEL_CATALOG)


def test_unknown_model_suggests_closest() -> None:
    settings = ModelSettings().model_copy(update={"name": "transfomer"})
    with pytest.raises(UsageError, match="did you mean transformer"):
        build_model(settings, {"x": 10}, {"num_gloss": NUM_GLOSS, "num_cat": 0})


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("num_cat", [NUM_CAT, 0])
def test_forward_shapes(name: str, num_cat: int) -> None:
    model = _model(name, num_cat)
    streams, mask = _inputs(model, [6, 4])
    logits = model(streams, mask)
    expected = {"gloss": (2, NUM_GLOSS), **({"cat": (2, num_cat)} if num_cat else {})}
    assert {k: tuple(v.shape) for k, v in logits.items()} == expected
    assert model.head_names == list(expected)
    features = model.forward_features(streams, mask)
    assert features.shape[:2] == (2, 6)
    assert model.forward_head(features, mask).keys() == logits.keys()


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("pooling", ["mean", "max", "cls"])
def test_every_parameter_gets_a_gradient(name: str, pooling: str) -> None:
    model = _model(name, pooling=pooling).train()
    streams, mask = _inputs(model, [8, 5, 3])
    logits = model(streams, mask)
    loss = F.cross_entropy(logits["gloss"], torch.tensor([0, 1, 2])) + F.cross_entropy(
        logits["cat"], torch.tensor([0, 1, 2])
    )
    assert torch.isfinite(loss)
    loss.backward()
    dead = [
        n
        for n, p in model.named_parameters()
        if p.requires_grad and (p.grad is None or not bool(p.grad.abs().sum() > 0))
    ]
    assert not dead, f"no gradient for: {', '.join(dead)}"


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("pad", [0.0, 1e3, float("nan"), float("inf")])
@pytest.mark.parametrize("pooling", ["mean", "max", "cls"])
def test_padding_does_not_change_logits(name: str, pad: float, pooling: str) -> None:
    model = _model(name, pooling=pooling).eval()
    streams, mask = _inputs(model, [12, 5], pad=pad)
    with torch.no_grad():
        batched = model(streams, mask)
        alone = model({k: v[1:, :5] for k, v in streams.items()}, mask[1:, :5])
    for head in batched:
        torch.testing.assert_close(batched[head][1:], alone[head], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", MODELS)
def test_variable_length(name: str) -> None:
    model = _model(name).eval()
    for T in (1, 2, 12):
        streams, mask = _inputs(model, [T, 1])
        with torch.no_grad():
            logits = model(streams, mask)
        assert logits["gloss"].shape == (2, NUM_GLOSS)
        assert all(torch.isfinite(v).all() for v in logits.values())


@pytest.mark.parametrize("name", MODELS)
def test_missing_landmarks_differ_from_landmarks_at_origin(name: str) -> None:
    model = _model(name).eval()
    streams, mask = _inputs(model, [6])
    zeros = {k: torch.nan_to_num(v, nan=0.0) for k, v in streams.items()}
    with torch.no_grad():
        missing, at_origin = model(streams, mask)["gloss"], model(zeros, mask)["gloss"]
    assert torch.isfinite(missing).all()
    assert not torch.allclose(missing, at_origin)


@pytest.mark.parametrize("name", MODELS)
def test_input_stats_are_buffers_of_the_state_dict(name: str) -> None:
    model = _model(name).eval()
    streams, mask = _inputs(model, [4])
    with torch.no_grad():
        before = model(streams, mask)["gloss"]
    stats = {
        k: (np.full(D, 0.5, np.float32), np.full(D, 2.0, np.float32))
        for k, D in model.input_dims.items()
    }
    model.set_input_stats(stats)
    with torch.no_grad():
        after = model(streams, mask)["gloss"]
    assert not torch.allclose(before, after)
    state = model.state_dict()
    rebuilt = _model(name)
    rebuilt.load_state_dict(state)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.eval()(streams, mask)["gloss"], after)


def test_input_stats_sanitise_nan_and_constant_columns() -> None:
    model = _model("transformer")
    mean = np.array([np.nan] + [1.0] * 9, np.float32)
    std = np.array([np.nan, 0.0] + [2.0] * 8, np.float32)
    model.set_input_stats({"x": (mean, std)})
    stage = model.encoder.inputs["x"]
    assert stage.mean[0] == 0 and stage.std[0] == 1 and stage.std[1] == 1
    with pytest.raises(KeyError, match="unknown stream"):
        model.set_input_stats({"y": (mean, std)})
