"""upgrade.py reads every kind of record an older signcli stored: one test per stored format,
each checked to rebuild the run as it was trained (and a current record to pass unchanged)."""

from __future__ import annotations

import pytest

from signcli.engine.state import TrainState
from signcli.settings import Settings
from signcli.upgrade import upgrade_stored_settings, upgrade_train_state


def _stored(**sections: dict) -> dict:
    """The settings a current run stores, with `sections` merged in."""
    stored = Settings().model_dump(mode="json")
    for name, values in sections.items():
        stored[name].update(values)
    return stored


def _drop(stored: dict, dotted: str) -> dict:
    section, key = dotted.split(".")
    del stored[section][key]
    return stored


def _load(stored: dict) -> Settings:
    return Settings.model_validate(upgrade_stored_settings(stored))


def test_a_current_record_is_read_unchanged() -> None:
    stored = _stored(model={"conv_kernel": 3}, training={"length_buckets": True})
    assert upgrade_stored_settings(stored) == stored


@pytest.mark.parametrize(
    ("key", "then"),
    [
        ("model.conv_kernel", 0),  # before the temporal convolution: attention blocks only
        ("training.length_buckets", False),  # before length buckets: the random order
        ("model.task", "classify"),  # before tasks
    ],
)
def test_a_run_from_before_a_key_gets_the_value_it_was_trained_with(key: str, then) -> None:
    settings = _load(_drop(_stored(), key))
    section, name = key.split(".")
    assert getattr(getattr(settings, section), name) == then
    if key != "model.task":  # classify is still the default task
        assert getattr(getattr(Settings(), section), name) != then  # not today's default


@pytest.mark.parametrize(("stored", "mode"), [(True, "memory"), (False, "off")])
def test_a_run_from_before_the_cache_modes(stored: bool, mode: str) -> None:
    assert _load(_stored(data={"cache": stored})).data.cache == mode


def test_a_classify_run_that_stored_a_text_metric_as_monitor() -> None:
    settings = _load(_stored(training={"monitor": "val_wer"}))
    assert settings.training.monitor == "val_gloss_top1"  # classify's own
    ctc = _load(_stored(model={"task": "ctc"}, training={"monitor": "val_wer"}))
    assert ctc.training.monitor == "val_wer"  # a task that produces it keeps it


@pytest.mark.parametrize(("batch_in_epoch", "correct"), [(0, 0), (3, None)])
def test_a_train_state_from_before_the_gloss_counter(batch_in_epoch: int, correct) -> None:
    stored = {"epoch": 2, "step": 10, "batch_in_epoch": batch_in_epoch, "epoch_samples": 12}
    assert upgrade_train_state(stored)["epoch_gloss_correct"] == correct
    state = TrainState()
    state.load_state_dict(stored)
    assert state.epoch_gloss_correct == correct and state.step == 10
    state.load_state_dict({**stored, "epoch_gloss_correct": 5})  # today's: as stored
    assert state.epoch_gloss_correct == 5
