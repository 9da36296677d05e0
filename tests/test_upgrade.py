"""upgrade.py reads every kind of record an older signcli stored: one test per stored format,
each checked to rebuild the run as it was trained (and a current record to pass unchanged)."""

from __future__ import annotations

import pytest

from signcli.core.task_specs import task_spec
from signcli.engine.state import TrainState
from signcli.settings import Settings
from signcli.upgrade import upgrade_stored_labels, upgrade_stored_settings, upgrade_train_state


def _stored(**sections: dict) -> dict:
    """The settings a current run stores, with `sections` merged in."""
    stored = Settings().model_dump(mode="json")
    stored["data"]["coords"] = "none"  # a run stores what auto resolved to
    for name, values in sections.items():
        stored[name].update(values)
    return stored


def _drop(stored: dict, dotted: str) -> dict:
    *sections, key = dotted.split(".")
    node = stored
    for section in sections:
        node = node[section]
    del node[key]
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
        ("data.motion", "off"),  # before motion channels (auto adds velocity now)
        ("data.augment.position_p", 0.0),  # before the position transform
        ("data.raw_channels", True),  # before auto left them out of small sets of joints
        ("data.augment.position_rotate", 0.0),  # before position turned the joints
    ],
)
def test_a_run_from_before_a_key_gets_the_value_it_was_trained_with(key: str, then) -> None:
    settings = _load(_drop(_stored(), key))

    def value(root: object) -> object:
        for name in key.split("."):
            root = getattr(root, name)
        return root

    assert value(settings) == then
    if key != "model.task":  # classify is still the default task
        assert value(Settings()) != then  # not today's default


def test_a_run_from_before_the_coords_guess_keeps_its_columns_unknown() -> None:
    # auto without joints was "unknown columns" then; today a run would guess them
    assert _load(_stored(data={"coords": "auto"})).data.coords == "none"
    joints = _load(_stored(data={"coords": "auto", "joints": 25})).data
    assert (joints.coords, joints.joints) == ("auto", 25)  # resolved from the joints, as then
    assert _load(_stored(data={"coords": "xyz"})).data.coords == "xyz"


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


def test_a_text_run_that_stored_its_vocabulary_as_num_gloss() -> None:
    """Runs of ctc and translate from before model.num_tokens kept the tokenizer's size in
    model.num_gloss (and 0 in num_cat): read as num_tokens, with no class counts."""
    for task in ("ctc", "translate"):
        old = _drop(
            _stored(model={"task": task, "num_gloss": 37, "num_cat": 0}), "model.num_tokens"
        )
        settings = _load(old)
        assert settings.model.num_tokens == 37
        assert settings.model.num_gloss is None and settings.model.num_cat is None
        monitor = task_spec(task).default_monitor
        current = _stored(model={"task": task, "num_tokens": 37}, training={"monitor": monitor})
        assert upgrade_stored_settings(current) == current
    classify = _drop(_stored(model={"num_gloss": 37, "num_cat": 4}), "model.num_tokens")
    assert _load(classify).model.num_gloss == 37  # classes stay classes
    assert _load(classify).model.num_tokens is None


def test_text_labels_that_stored_the_vocabulary_as_num_gloss() -> None:
    old = {"num_gloss": 37, "num_cat": 0, "gloss_names": {}, "cat_names": {}, "tokenizer": "{}"}
    upgraded = upgrade_stored_labels(old, "ctc")
    assert upgraded == {"num_tokens": 37, "gloss_names": {}, "cat_names": {}, "tokenizer": "{}"}
    assert old["num_gloss"] == 37  # the stored record is left as it was
    current = {"num_tokens": 37, "tokenizer": "{}"}
    assert upgrade_stored_labels(current, "translate") == current
    classes = {"num_gloss": 5, "num_cat": 2, "gloss_names": {"0": "a"}, "cat_names": {}}
    assert upgrade_stored_labels(classes, "classify") == classes


def test_a_ctc_checkpoint_from_before_num_tokens_loads(tmp_path) -> None:
    """The whole path: an old-format ctc checkpoint (settings and labels with the
    vocabulary in num_gloss) rebuilds its model, sized by num_tokens, and loads strictly."""
    import torch

    from signcli.engine import checkpoint as ckpt
    from signcli.engine.restore import load_model_from_checkpoint
    from signcli.tasks.model import build_run_model
    from signcli.text.tokenizer import TextTokenizer

    tokenizer = TextTokenizer.train(["a b c", "b c d", "c d e"], "word")
    vocab = tokenizer.vocab_size
    settings = Settings.model_validate(
        _stored(model={"task": "ctc", "num_tokens": vocab, "d_model": 16, "num_layers": 1,
                       "num_heads": 2, "ff_dim": 32, "dropout": 0.0},
                training={"monitor": "val_wer"})
    )  # fmt: skip
    model = build_run_model(settings, {"x": 6}, {"num_tokens": vocab})
    old_settings = settings.model_dump(mode="json")
    old_settings["model"].update(num_gloss=vocab, num_cat=0)
    del old_settings["model"]["num_tokens"]
    path = tmp_path / "best.pt"
    ckpt.save_checkpoint(
        path,
        {
            ckpt.SETTINGS_KEY: old_settings,
            ckpt.LABELS_KEY: {"num_gloss": vocab, "num_cat": 0, "gloss_names": {},
                              "cat_names": {}, "tokenizer": tokenizer.to_json()},
            ckpt.INPUTS_KEY: {"x": 6},
            ckpt.MODEL_KEY: model.state_dict(),
        },
    )  # fmt: skip
    restored = load_model_from_checkpoint(path)
    assert restored.settings.model.num_tokens == vocab and restored.labels["num_tokens"] == vocab
    assert restored.settings.model.num_gloss is None and "num_gloss" not in restored.labels
    state = restored.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


# Every model's options, as runs stored them before models declared their own: each run's
# model section held all of them (`auto` sizes resolved), whichever model it trained.
EVERY_OPTION = {"num_heads": 4, "ff_dim": 256, "conv_kernel": 5, "hidden_size": 96}
EVERY_OPTION |= {"fusion": "concat"}
OWN = {
    "transformer": {"num_heads", "ff_dim", "conv_kernel"},
    "gru": {"hidden_size"},
    "multistream": {"num_heads", "ff_dim", "conv_kernel", "fusion"},
}


@pytest.mark.parametrize("name", sorted(OWN))
def test_a_run_that_stored_every_models_options(name: str) -> None:
    from signcli.settings import ModelSettings

    old = _stored(model={"name": name, "d_model": 128, **EVERY_OPTION})
    settings = _load(old)
    kept = {k: v for k, v in settings.model.model_dump().items() if k in EVERY_OPTION}
    assert kept == {k: EVERY_OPTION[k] for k in OWN[name]}  # its own, as stored
    assert settings.model.unused_options() == []  # nothing the user never set is reported
    current = settings.model_dump(mode="json")
    assert upgrade_stored_settings(current) == current
    # read as stored, the other models' options would be reported as set and ignored
    assert ModelSettings(**old["model"]).unused_options()


def test_a_gru_translate_run_keeps_the_heads_its_decoder_read() -> None:
    """translate's decoder takes num_heads and ff_dim whichever model encodes (the task
    reads them): a gru translate run keeps the stored ones, and one without them gets what
    `auto` gave before models declared their options."""
    from signcli.settings import ModelSettings
    from signcli.tasks.translate import encoder_attention_shape

    model = {"name": "gru", "task": "translate", "d_model": 64, **EVERY_OPTION}
    old = _stored(model={**model, "num_heads": 2, "ff_dim": 96})
    settings = _load(old)
    assert "fusion" not in settings.model.model_dump()
    assert encoder_attention_shape(settings.model) == (2, 96)
    assert encoder_attention_shape(ModelSettings(name="gru", task="translate", d_model=64)) == (
        2,
        128,
    )  # what `auto` made of num_heads and ff_dim at d_model 64


def test_a_gru_checkpoint_that_stored_every_models_options_loads(tmp_path) -> None:
    """The whole path: a gru checkpoint whose settings hold every model's options rebuilds
    its model and loads strictly."""
    import torch

    from signcli.engine import checkpoint as ckpt
    from signcli.engine.restore import load_model_from_checkpoint
    from signcli.tasks.model import build_run_model

    small = {"name": "gru", "d_model": 16, "num_layers": 1, "dropout": 0.0, "num_gloss": 3}
    settings = _load(_stored(model={**small, "hidden_size": 8}))
    model = build_run_model(settings, {"x": 6}, {"num_gloss": 3})
    old_settings = settings.model_dump(mode="json")
    old_settings["model"].update({**EVERY_OPTION, "hidden_size": 8})
    path = tmp_path / "best.pt"
    ckpt.save_checkpoint(
        path,
        {
            ckpt.SETTINGS_KEY: old_settings,
            ckpt.LABELS_KEY: {"num_gloss": 3, "num_cat": 0, "gloss_names": {}, "cat_names": {}},
            ckpt.INPUTS_KEY: {"x": 6},
            ckpt.MODEL_KEY: model.state_dict(),
        },
    )
    restored = load_model_from_checkpoint(path)
    assert restored.settings.model == settings.model
    state = restored.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
