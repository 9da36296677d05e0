"""`WeightAverage`: an exponential moving average of the model's weights (`training.ema`).

    average = WeightAverage(model, decay=0.997)
    average.update(model)          # after every optimizer step
    average.model                  # what validation scores and checkpoints hold as the model

torch's `AveragedModel` keeps the copy and counts the updates; the decay is warmed up as
timm's ModelEmaV3 does, min(decay, (1 + n) / (10 + n)) at the n-th update, so the average
of a short run is not dominated by its random start. Buffers (the input statistics) are
copied, not averaged. The first update copies the weights, so a model whose weights are
loaded after the average was made (`--init`) starts the average from them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel

WARMUP = 10  # n-th update: decay at most (1 + n) / (WARMUP + n)


class WeightAverage:
    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"an EMA decay is between 0 and 1, got {decay}")
        self.decay = decay
        self.averaged = AveragedModel(model, multi_avg_fn=self._lerp, use_buffers=False)
        self.averaged.eval()  # never trained: dropout off whatever the caller does

    @property
    def model(self) -> nn.Module:
        """The averaged copy of the model (same class, same state_dict keys)."""
        return self.averaged.module

    @property
    def updates(self) -> int:
        return int(self.averaged.n_averaged)

    def _lerp(self, averaged: list[Tensor], current: list[Tensor], updates: Tensor) -> None:
        n = float(updates)  # updates made before this one (>= 1: the first one copies)
        decay = min(self.decay, (1.0 + n) / (WARMUP + n))
        torch._foreach_lerp_(averaged, current, 1.0 - decay)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.averaged.update_parameters(model)

    def state_dict(self) -> dict[str, Any]:
        """The averaged weights (as the model's state_dict) and the update count."""
        return {"updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """The update count of `state_dict()` (the caller loads the averaged weights into
        `model`). ValueError for a count that is not an int >= 0."""
        updates = state.get("updates") if isinstance(state, dict) else None
        if not isinstance(updates, int) or isinstance(updates, bool) or updates < 0:
            raise ValueError(f"ema.updates: expected a count >= 0, got {updates!r}")
        self.averaged.n_averaged.fill_(updates)
