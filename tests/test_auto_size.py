"""`auto` model size and epochs: tiers by training-set size, explicit values kept, and the
resolved numbers recorded in config.json so resume and eval rebuild the same model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signcli.auto_size import (
    BATCH_SIZE,
    MAX_EPOCHS,
    MIN_BATCH_SIZE,
    MIN_EPOCHS,
    MIN_STEPS,
    auto_batch_size,
    auto_epochs,
    auto_size,
    resolve_auto_model,
    resolve_auto_settings,
)
from signcli.core.errors import SettingsError
from signcli.engine.trainer import Trainer
from signcli.settings import ModelSettings, load_settings
from signcli.upgrade import upgrade_stored_settings


@pytest.mark.parametrize(
    ("samples", "d_model", "num_layers", "dropout"),
    [(180, 128, 2, 0.3), (1_999, 128, 2, 0.3), (3_493, 128, 3, 0.2), (90_000, 256, 4, 0.1)],
)
def test_model_size_grows_with_the_training_set(samples, d_model, num_layers, dropout) -> None:
    size = auto_size(samples)
    assert (size["d_model"], size["num_layers"], size["dropout"]) == (d_model, num_layers, dropout)
    assert size["num_heads"] == d_model // 32 and size["ff_dim"] == 2 * d_model


def test_ema_auto_averages_over_a_tenth_of_the_steps_and_off_stays_off() -> None:
    ema = resolve_auto_settings(load_settings(overrides=["training.ema=auto"]), 563)
    assert ema.training.ema == 0.99667  # 18 steps x 167 epochs: averaged over ~300
    assert resolve_auto_settings(load_settings(), 563).training.ema == "off"


def test_epochs_make_enough_steps_within_bounds() -> None:
    assert auto_epochs(563, 32) == 167  # 18 batches an epoch -> 3,006 steps
    assert auto_epochs(3_493, 32) == MIN_EPOCHS  # 110 batches: 30 epochs are 3,300 steps
    assert auto_epochs(40, 32) == MAX_EPOCHS
    assert auto_epochs(563, 32, accumulate=2) == MAX_EPOCHS  # 9 steps an epoch


def test_batch_size_shrinks_only_for_sets_too_small_for_enough_steps() -> None:
    assert auto_batch_size(563) == BATCH_SIZE  # 18 batches an epoch reach 3,000 steps
    assert auto_batch_size(161) == 11  # batch 32: 6 an epoch, 1,200 steps in 200 epochs
    assert auto_batch_size(40) == MIN_BATCH_SIZE  # nothing reaches them: not below 8
    assert auto_batch_size(40, minimum=16) == 16  # a global batch for 16 processes
    for samples in range(MIN_BATCH_SIZE * 15, 600):
        batch = auto_batch_size(samples)
        steps = -(-samples // batch) * MAX_EPOCHS
        assert steps >= MIN_STEPS, samples  # the batch makes the steps in MAX_EPOCHS
        assert batch == BATCH_SIZE or -(-samples // (batch + 1)) * MAX_EPOCHS < MIN_STEPS


def test_resolved_batch_size_sets_the_epochs_and_an_explicit_one_is_kept() -> None:
    settings = resolve_auto_settings(load_settings(), 161)
    assert (settings.training.batch_size, settings.training.epochs) == (11, MAX_EPOCHS)
    explicit = resolve_auto_settings(load_settings(overrides=["training.batch_size=32"]), 161)
    assert (explicit.training.batch_size, explicit.training.epochs) == (32, MAX_EPOCHS)


def test_explicit_values_are_kept_and_a_width_brings_its_heads() -> None:
    model = resolve_auto_model(ModelSettings(d_model=64, dropout=0.05), 500)
    assert (model.d_model, model.num_heads, model.ff_dim, model.dropout) == (64, 2, 128, 0.05)
    assert model.num_layers == 2
    assert resolve_auto_model(ModelSettings(d_model=48), 500).num_heads == 8  # 48 % 32 != 0


def test_explicit_heads_that_do_not_divide_the_auto_width_are_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="model.num_heads: 3 must divide model.d_model"):
        resolve_auto_model(ModelSettings(num_heads=3), 500)


def test_resolved_settings_have_no_auto_left() -> None:
    settings = resolve_auto_settings(load_settings(), 563)
    model = settings.model
    sizes = (model.d_model, model.num_layers, model.num_heads, model.ff_dim, model.dropout)
    assert sizes == (128, 2, 4, 256, 0.3) and settings.training.epochs == 167
    assert settings.training.batch_size == 32


def test_auto_and_bad_values_give_one_line_each() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(overrides=["model.dropout=1.5", "model.d_model=wide", "training.epochs=0"])
    assert info.value.problems == [
        "model.d_model: expected a valid integer, unable to parse string as an integer, "
        "or auto (got 'wide')",
        "model.dropout: expected less than 1, or auto (got '1.5')",
        "training.epochs: expected greater than or equal to 1, or auto (got '0')",
    ]
    assert load_settings(overrides=["model.d_model=auto"]).model.d_model == "auto"


def test_trainer_records_the_resolved_sizes(make_npz_dataset, tmp_path: Path) -> None:
    root = make_npz_dataset(n=8)
    settings = load_settings(
        flags={
            "data.train_dir": root / "train",
            "data.train_labels": root / "train_labels.csv",
            "training.work_dir": tmp_path / "run",
            "training.epochs": 1,
        }
    )
    trainer = Trainer(settings)
    trainer.fit()
    stored = json.loads((tmp_path / "run" / "config.json").read_text())
    assert stored["model"]["d_model"] == 128 and stored["model"]["num_layers"] == 2
    assert stored["model"]["dropout"] == 0.3 and stored["training"]["epochs"] == 1
    assert stored["training"]["batch_size"] == MIN_BATCH_SIZE  # 8 samples


def test_stored_settings_without_a_newer_key_keep_the_old_behaviour() -> None:
    stored = {"model": {"name": "transformer", "d_model": 64}, "training": {"epochs": 3}}
    upgraded = upgrade_stored_settings(stored)
    assert upgraded["model"]["conv_kernel"] == 0  # trained before TemporalConv existed
    assert upgraded["training"]["length_buckets"] is False  # and before length buckets
    assert "conv_kernel" not in stored["model"]  # the caller's dict is left alone
    assert upgrade_stored_settings({"model": {"conv_kernel": 5}})["model"]["conv_kernel"] == 5
