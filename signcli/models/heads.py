"""Heads: pool encoder features over the real frames, then map them to one target's logits.

Heads know no encoder: they take features [B, T, d] and the mask [B, T] (True = real
frame). Every pooling reads real frames only, with `torch.where` rather than a product,
so that whatever the padding holds (zeros, garbage, even Inf) cannot reach the logits.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

Pooling = Literal["mean", "max", "cls"]


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean over the real frames: [B, T, d], [B, T] -> [B, d]."""
    keep = mask.unsqueeze(-1)  # [B, T, 1]
    total = torch.where(keep, x, torch.zeros_like(x)).sum(dim=1)  # [B, d]
    count = mask.sum(dim=1, keepdim=True).clamp(min=1).to(x.dtype)  # [B, 1]
    return total / count


def masked_max(x: Tensor, mask: Tensor) -> Tensor:
    """Maximum over the real frames: [B, T, d], [B, T] -> [B, d]."""
    lowest = torch.full_like(x, torch.finfo(x.dtype).min)
    return torch.where(mask.unsqueeze(-1), x, lowest).amax(dim=1)


class AttentionPool(nn.Module):
    """`cls` pooling: a learned query attends over the real frames (one head)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.randn(dim) * dim**-0.5)  # [d]
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.scale = 1.0 / math.sqrt(dim)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = torch.where(mask.unsqueeze(-1), x, torch.zeros_like(x))  # padding -> 0
        scores = (self.key(x) @ self.query) * self.scale  # [B, T]
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        weights = scores.softmax(dim=1)  # [B, T], 0 on padding
        return (weights.unsqueeze(-1) * self.value(x)).sum(dim=1)  # [B, d]


class ClassifierHead(nn.Module):
    """Features [B, T, in_dim] + mask [B, T] -> logits [B, num_classes]."""

    def __init__(
        self, in_dim: int, num_classes: int, pooling: Pooling = "mean", dropout: float = 0.0
    ) -> None:
        super().__init__()
        if pooling not in ("mean", "max", "cls"):
            raise ValueError(f"unknown pooling {pooling!r}: expected mean, max or cls")
        self.pooling = pooling
        self.attention = AttentionPool(in_dim) if pooling == "cls" else None
        self.norm = nn.LayerNorm(in_dim)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_dim, num_classes)

    def pool(self, x: Tensor, mask: Tensor) -> Tensor:
        """[B, T, in_dim] -> [B, in_dim] over the real frames."""
        if self.attention is not None:
            return self.attention(x, mask)
        return masked_max(x, mask) if self.pooling == "max" else masked_mean(x, mask)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        return self.fc(self.dropout(self.norm(self.pool(x, mask))))
