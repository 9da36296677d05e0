"""A model trained with a column layout takes `x` as stored and sees body-part streams."""

from __future__ import annotations

import pytest
import torch

from signcli.core.errors import UsageError
from signcli.data.synthetic import STREAM_COLUMNS, make_samples
from signcli.models.normalize import normalize_hand, normalize_pose
from signcli.settings import load_settings
from signcli.tasks.model import build_run_model

LAYOUT = "hand_l=0:63,hand_r=63:126,pose=126:156"  # synthetic.STREAM_COLUMNS
SMALL = ["model.d_model=16", "model.num_layers=1", "model.num_heads=2", "model.ff_dim=32",
         "model.max_len=32", "model.dropout=0"]  # fmt: skip
RAW = ["data.motion=off", "data.sample_normalize=false"]  # the split alone (test_sample_features)


def run_settings(name: str = "transformer", *more: str):
    return load_settings(
        overrides=[f"model.name={name}", f"data.layout={LAYOUT}", *SMALL, *RAW, *more]
    )


def keypoints(B: int = 2) -> torch.Tensor:
    samples = make_samples(B, num_gloss=2, seed=1, min_len=12, max_len=12)
    return torch.stack([torch.from_numpy(s.x) for s in samples])  # [B, 12, 156]


def test_the_model_splits_x_and_normalises_each_part() -> None:
    model = build_run_model(run_settings(), {"x": 156}, {"num_gloss": 3})
    assert model.stream_names == ["x"] and model.input_dims == {"x": 156}
    assert model.encoder.input_dims == {"hand_l": 63, "hand_r": 63, "pose": 30}
    x = keypoints()
    prepared = model.prepare_inputs({"x": x}, torch.ones(x.shape[:2], dtype=torch.bool))
    for name, columns in STREAM_COLUMNS.items():
        normalize = normalize_pose if name == "pose" else normalize_hand
        torch.testing.assert_close(prepared[name], normalize(x[..., columns]), equal_nan=True)
    logits = model({"x": x}, torch.ones(2, 12, dtype=torch.bool))
    assert logits["gloss"].shape == (2, 3) and torch.isfinite(logits["gloss"]).all()


def test_uncovered_columns_stay_as_x_and_multistream_fuses_the_parts() -> None:
    settings = load_settings(overrides=["model.name=multistream", "data.layout=pose=126:156",
                                        *SMALL, *RAW])  # fmt: skip
    model = build_run_model(settings, {"x": 156}, {"num_gloss": 3})
    assert model.encoder.input_dims == {"pose": 30, "x": 126}
    assert model.normalize.streams == ["pose"]
    logits = model({"x": keypoints()}, torch.ones(2, 12, dtype=torch.bool))
    assert torch.isfinite(logits["gloss"]).all()


def test_a_layout_that_does_not_fit_the_data_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="does not fit arrays 150 columns wide"):
        build_run_model(run_settings(), {"x": 150}, {"num_gloss": 3})
    with pytest.raises(UsageError, match="single-stream keypoints"):
        build_run_model(run_settings("multistream"), {"hand_l": 63, "pose": 30}, {"num_gloss": 3})
