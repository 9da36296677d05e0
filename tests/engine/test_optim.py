"""Optimizer groups, the lr schedule as a function of the step, and the head loss."""

from __future__ import annotations

import math

import pytest
import torch

from signcli.engine.optim import LRSchedule, build_optimizer
from signcli.settings import OptimSettings
from signcli.tasks.classify import HeadLoss


def _schedule(**kwargs) -> LRSchedule:
    model = torch.nn.Linear(2, 2)
    optim = OptimSettings(**kwargs)
    return LRSchedule(build_optimizer(model, optim), optim, steps_per_epoch=10, total_steps=100)


def test_no_weight_decay_on_biases_and_norms() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    groups = build_optimizer(model, OptimSettings(weight_decay=0.3)).param_groups
    assert groups[0]["weight_decay"] == 0.3 and len(groups[0]["params"]) == 1  # Linear.weight
    assert groups[1]["weight_decay"] == 0.0 and len(groups[1]["params"]) == 3
    assert isinstance(build_optimizer(model, OptimSettings(optimizer="sgd")), torch.optim.SGD)


def test_warmup_then_cosine_to_min_lr() -> None:
    s = _schedule(lr=1.0, warmup_steps=10, scheduler="cosine", min_lr=0.1)
    assert s.lr_at(0) == pytest.approx(0.1) and s.lr_at(9) == pytest.approx(1.0)
    assert s.lr_at(10) == pytest.approx(1.0)
    assert s.lr_at(55) == pytest.approx(0.1 + 0.9 * 0.5)
    assert s.lr_at(100) == pytest.approx(0.1) and s.lr_at(500) == pytest.approx(0.1)


def test_steplr_decays_per_epochs() -> None:
    s = _schedule(lr=1.0, scheduler="steplr", step_size=2, gamma=0.5)
    assert [s.lr_at(step) for step in (0, 19, 20, 40)] == [1.0, 1.0, 0.5, 0.25]


def test_plateau_cuts_after_patience_and_keeps_state() -> None:
    s = _schedule(lr=1.0, scheduler="plateau", plateau_patience=1, plateau_factor=0.5)
    for value in (0.5, 0.4, 0.4):  # improve, worse, worse -> cut
        s.epoch_end(value)
    assert s.lr_at(0) == pytest.approx(0.5)
    restored = _schedule(lr=1.0, scheduler="plateau", plateau_patience=1, plateau_factor=0.5)
    restored.load_state_dict(s.state_dict())
    assert restored.lr_at(0) == pytest.approx(0.5)


def test_none_schedule_and_apply_sets_optimizer_lr() -> None:
    s = _schedule(lr=0.3, scheduler="none")
    assert s.apply(57) == 0.3 and s.optimizer.param_groups[1]["lr"] == 0.3


def test_head_loss_weights_category() -> None:
    logits = {"gloss": torch.zeros(2, 4), "cat": torch.zeros(2, 3)}
    targets = {"gloss": torch.tensor([0, 1]), "cat": torch.tensor([2, 0])}
    loss = HeadLoss(OptimSettings(label_smoothing=0.0, cat_loss_weight=0.5))(logits, targets)
    assert float(loss) == pytest.approx(math.log(4) + 0.5 * math.log(3))
