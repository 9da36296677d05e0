"""`WeightAverage`: the warmed-up exponential moving average of the weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from signcli.engine.ema import WARMUP, WeightAverage


def test_the_average_follows_the_warmed_up_decay_and_copies_buffers() -> None:
    model = nn.BatchNorm1d(3)  # a parameter (weight) and buffers (running stats)
    average = WeightAverage(model, decay=0.5)
    expected = None
    for n in range(4):
        with torch.no_grad():
            model.weight.add_(1.0)
            model.running_mean.add_(2.0)
        average.update(model)
        current = model.weight.detach().clone()
        if expected is None:  # the first update copies
            expected = current
        else:
            decay = min(0.5, (1 + n) / (WARMUP + n))
            expected = decay * expected + (1 - decay) * current
        torch.testing.assert_close(average.model.weight, expected)
        assert torch.equal(average.model.running_mean, model.running_mean)
    assert average.updates == 4 and average.state_dict() == {"updates": 4}
    assert not average.model.training


def test_loading_restores_the_count_and_refuses_a_bad_one() -> None:
    average = WeightAverage(nn.Linear(2, 2), decay=0.9)
    average.load_state_dict({"updates": 7})
    assert average.updates == 7
    for bad in ({"updates": -1}, {"updates": "7"}, {}, {"updates": True}):
        with pytest.raises(ValueError, match="ema.updates"):
            average.load_state_dict(bad)
    with pytest.raises(ValueError, match="between 0 and 1"):
        WeightAverage(nn.Linear(2, 2), decay=1.0)
