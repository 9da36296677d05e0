"""Pooling reads real frames only, whatever the padding holds."""

from __future__ import annotations

import pytest
import torch

from signcli.models.heads import AttentionPool, ClassifierHead, masked_max, masked_mean


def _padded(pad: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Two rows of 4 frames [2, 4, 3]; the second has 2 real frames, then `pad`."""
    x = torch.arange(24, dtype=torch.float32).reshape(2, 4, 3)
    mask = torch.tensor([[True] * 4, [True, True, False, False]])
    return torch.where(mask[..., None], x, torch.full_like(x, pad)), mask


@pytest.mark.parametrize("pad", [0.0, 1e3, -1e3, float("nan"), float("inf")])
def test_masked_mean_and_max_ignore_padding(pad: float) -> None:
    x, mask = _padded(pad)
    torch.testing.assert_close(masked_mean(x, mask)[1], x[1, :2].mean(0))
    torch.testing.assert_close(masked_max(x, mask)[1], x[1, :2].amax(0))
    torch.testing.assert_close(masked_mean(x, mask)[0], x[0].mean(0))


@pytest.mark.parametrize("pad", [0.0, 1e3, float("nan")])
def test_cls_pooling_ignores_padding(pad: float) -> None:
    torch.manual_seed(0)
    pool = AttentionPool(3)
    x, mask = _padded(pad)
    with torch.no_grad():
        torch.testing.assert_close(pool(x, mask)[1:], pool(x[1:, :2], mask[1:, :2]))


@pytest.mark.parametrize("pooling", ["mean", "max", "cls"])
def test_classifier_head_shapes_and_padding(pooling: str) -> None:
    torch.manual_seed(0)
    head = ClassifierHead(3, 5, pooling, dropout=0.0).eval()
    x, mask = _padded(1e3)
    with torch.no_grad():
        logits = head(x, mask)
        alone = head(x[1:, :2], mask[1:, :2])
    assert logits.shape == (2, 5)
    torch.testing.assert_close(logits[1:], alone)


def test_unknown_pooling_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown pooling"):
        ClassifierHead(3, 5, "median")  # type: ignore[arg-type]
