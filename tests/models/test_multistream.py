"""`multistream`: fusion modes, absent streams masked, one stream = `transformer`.

Shapes, gradients and padding are covered for every registered model by test_models.py.
"""

from __future__ import annotations

import pytest
import torch

from signcli.models.multistream import MultiStreamEncoder
from signcli.settings import ModelSettings
from signcli.tasks.model import build_model

DIMS = {"face": 6, "hand_l": 9, "hand_r": 9, "pose": 6}
FUSIONS = ["concat", "sum", "attention"]


def settings(**overrides) -> ModelSettings:
    small = dict(d_model=16, num_layers=1, num_heads=2, ff_dim=32, max_len=16, dropout=0.0)
    return ModelSettings(**{"name": "multistream", **small, **overrides})


def inputs(dims=DIMS, B: int = 2, T: int = 6, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    streams = {k: torch.randn(B, T, D, generator=generator) for k, D in dims.items()}
    return streams, torch.ones(B, T, dtype=torch.bool)


def encoder(fusion: str, dims=DIMS) -> MultiStreamEncoder:
    torch.manual_seed(0)
    model = build_model(settings(fusion=fusion), dims, {"num_gloss": 4})
    return model.encoder.eval()  # type: ignore[return-value]


@pytest.mark.parametrize("fusion", FUSIONS)
def test_fusion_modes_give_features(fusion: str) -> None:
    streams, mask = inputs()
    with torch.no_grad():
        out = encoder(fusion)(streams, mask)
    assert out.shape == (2, 6, 16) and torch.isfinite(out).all()


def test_fusion_modes_differ_and_bad_mode_is_refused() -> None:
    streams, mask = inputs()
    with torch.no_grad():
        fused = [encoder(f).embed_frames(streams, mask) for f in FUSIONS]
    assert not torch.allclose(fused[0], fused[1]) and not torch.allclose(fused[1], fused[2])
    with pytest.raises(ValueError, match="unknown fusion"):
        MultiStreamEncoder(DIMS, 16, 1, 2, 32, 0.0, 16, fusion="max")  # type: ignore[arg-type]


@pytest.mark.parametrize("fusion", FUSIONS)
def test_absent_stream_contributes_nothing(fusion: str) -> None:
    """In a frame where hand_l is all NaN, the fused vector does not depend on hand_l's
    projection at all (garbage weights change nothing) and equals the fusion of the
    other streams with hand_l's contribution removed."""
    model = encoder(fusion)
    streams, mask = inputs()
    streams["hand_l"][0, 2] = float("nan")  # hand_l out of frame in frame 2 of sample 0
    with torch.no_grad():
        before = model.embed_frames(streams, mask)
        for p in model.inputs["hand_l"].parameters():
            p.mul_(1e3).add_(7.0)
        after = model.embed_frames(streams, mask)
    torch.testing.assert_close(after[0, 2], before[0, 2])
    assert not torch.allclose(after[0, 3], before[0, 3])  # present there: it does count

    with torch.no_grad():
        h = {k: model.inputs[k](v, mask)[0, 2] for k, v in streams.items() if k != "hand_l"}
        if fusion == "sum":
            expected = sum(h.values())
        elif fusion == "concat":
            parts = [h.get(k, torch.zeros(16)) for k in model.stream_names]
            expected = model.fuse(torch.cat(parts))
        else:
            names = list(h)
            stacked = torch.stack([h[k] for k in names])  # [S - 1, d]
            kind = model.fuse.kind[[model.stream_names.index(k) for k in names]]
            scores = model.fuse.key(stacked + kind) @ model.fuse.query * model.fuse.scale
            expected = (scores.softmax(0)[:, None] * stacked).sum(0)
    torch.testing.assert_close(after[0, 2], expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("fusion", FUSIONS)
def test_frame_with_every_stream_absent_fuses_to_zero(fusion: str) -> None:
    streams, mask = inputs()
    for x in streams.values():
        x[1, 4] = float("nan")
    with torch.no_grad():
        fused = encoder(fusion).embed_frames(streams, mask)
    assert torch.equal(fused[1, 4], torch.zeros(16))
    assert torch.isfinite(fused).all()


@pytest.mark.parametrize("fusion", FUSIONS)
def test_single_stream_is_the_transformer(fusion: str) -> None:
    dims = {"x": 10}
    multi = build_model(settings(fusion=fusion), dims, {"num_gloss": 4, "num_cat": 2}).eval()
    plain = build_model(settings(name="transformer"), dims, {"num_gloss": 4, "num_cat": 2}).eval()
    assert multi.state_dict().keys() == plain.state_dict().keys()
    plain.load_state_dict(multi.state_dict())
    streams, mask = inputs(dims, T=7)
    streams["x"][0, 1] = float("nan")  # a whole frame missing: the stream's own indicator
    mask[1, 5:] = False
    with torch.no_grad():
        a, b = multi(streams, mask), plain(streams, mask)
    for head in a:
        torch.testing.assert_close(a[head], b[head])
