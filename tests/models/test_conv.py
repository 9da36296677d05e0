"""TemporalConv: each frame sees its neighbours, never padding; conv_kernel 0 adds none."""

from __future__ import annotations

import pytest
import torch

from signcli.models.conv import TemporalConv
from signcli.settings import ModelSettings
from signcli.tasks.model import build_model


def _block(kernel: int = 3) -> TemporalConv:
    torch.manual_seed(0)
    return TemporalConv(8, kernel, dropout=0.0).eval()


def test_a_frame_sees_its_neighbours_within_the_kernel_only() -> None:
    block, x = _block(kernel=3), torch.randn(1, 9, 8)
    mask = torch.ones(1, 9, dtype=torch.bool)
    changed = x.clone()
    changed[0, 6] += 1.0
    delta = (block(changed, mask) - block(x, mask)).abs().sum(-1)[0]  # [T]
    assert delta[5] > 0 and delta[6] > 0 and delta[7] > 0  # frame 6 and its neighbours
    assert torch.all(delta[:5] == 0) and delta[8] == 0


def test_padding_never_reaches_real_frames_and_stays_zero() -> None:
    block, x = _block(), torch.randn(2, 6, 8)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    garbage = x.clone()
    garbage[1, 4:] = 1e4
    out, out_garbage = block(x, mask), block(garbage, mask)
    torch.testing.assert_close(out[1, :4], out_garbage[1, :4])
    assert torch.all(out_garbage[1, 4:] == 0)


def test_even_kernels_are_refused() -> None:
    with pytest.raises(ValueError, match="odd"):
        TemporalConv(8, 4, dropout=0.0)


@pytest.mark.parametrize(("kernel", "convs"), [(0, 0), (5, 2)])
def test_conv_kernel_places_one_block_before_each_attention_block(kernel, convs) -> None:
    settings = ModelSettings(d_model=16, num_layers=2, num_heads=2, conv_kernel=kernel)
    model = build_model(settings, {"x": 6}, {"num_gloss": 3})
    found = sum(isinstance(m, TemporalConv) for m in model.modules())
    assert found == convs
