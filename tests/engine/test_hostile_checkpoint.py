"""A stranger's checkpoint cannot exhaust the machine: the settings, widths and class counts
stored in it are validated as a user's settings are, and within signcli/core/limits.py, before
any model is built; entries of the wrong shape are a CheckpointError naming the key."""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from signcli.core.errors import CheckpointError, SettingsError, UsageError
from signcli.core.limits import MAX_CLASSES, MAX_LAYERS, MAX_PARAMETERS
from signcli.engine import checkpoint as ckpt
from signcli.engine import restore
from signcli.settings import Settings


def _payload(**model: Any) -> dict[str, Any]:
    settings = Settings().model_dump(mode="json")
    settings["model"].update(
        {"d_model": 16, "num_layers": 1, "num_heads": 2, "ff_dim": 16, "dropout": 0.0}
    )
    settings["model"].update(model)
    return {
        ckpt.SETTINGS_KEY: settings,
        ckpt.LABELS_KEY: {"num_gloss": 3, "num_cat": 0, "gloss_names": {}, "cat_names": {}},
        ckpt.INPUTS_KEY: {"x": 6},
        ckpt.MODEL_KEY: {},
    }


def _write(tmp_path: Path, payload: dict[str, Any], name: str = "evil.pt") -> Path:
    path = tmp_path / name
    ckpt.save_checkpoint(path, payload)
    return path


@pytest.fixture
def never_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a model is built: a refusal must come before any allocation."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a model was built from a hostile checkpoint")

    monkeypatch.setattr(restore, "build_run_model", refuse)


HOSTILE_SIZES = [
    # (what the file stores, the field the error names)
    ({"model": {"d_model": 1_000_000, "ff_dim": 1_000_000}}, "model.d_model=1000000"),
    ({"model": {"num_layers": 10**9}}, "model.num_layers"),
    ({"model": {"num_heads": 1024, "d_model": 1024}}, "model.num_heads"),
    ({"model": {"max_len": 10**12}}, "model.max_len"),
    ({"model": {"name": "gru", "hidden_size": 10**8}}, "model.hidden_size=100000000"),
    ({"model": {"conv_kernel": 10**9 + 1}}, "model.conv_kernel"),
    ({"model": {"num_gloss": 10**12}}, "model.num_gloss"),
    ({"labels": {"num_gloss": 10**12}}, "model.num_gloss"),
    ({"labels": {"num_gloss": 3, "num_cat": 5 * 10**6}}, "model.num_cat"),
    ({"input_dims": {"x": 10**12}}, "stream x"),
    ({"input_dims": {"face": 10**9, "pose": 6}}, "stream face"),
]


@pytest.mark.parametrize("change, field", HOSTILE_SIZES)
def test_sizes_from_the_file_are_refused_before_building(
    tmp_path: Path, never_build: None, change: dict[str, Any], field: str
) -> None:
    payload = _payload(**change.get("model", {}))
    if "labels" in change:
        payload[ckpt.LABELS_KEY].update(change["labels"])
    if "input_dims" in change:
        payload[ckpt.INPUTS_KEY] = change["input_dims"]
    path = _write(tmp_path, payload)
    start = time.perf_counter()
    with pytest.raises(CheckpointError) as caught:
        restore.load_model_from_checkpoint(path)
    assert time.perf_counter() - start < 5
    message = str(caught.value)
    assert str(path) in message and field in message
    assert "SIGNCLI_MAX_" in message  # says which limit, and how to raise it
    assert caught.value.exit_code == 2


def test_a_limit_is_raised_for_a_checkpoint_the_user_trusts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, _payload(num_layers=MAX_LAYERS.default + 1, d_model=8, num_heads=1))
    with pytest.raises(CheckpointError, match="model.num_layers"):
        restore.load_model_from_checkpoint(path)
    monkeypatch.setenv(MAX_LAYERS.env, str(MAX_LAYERS.default + 1))
    # now the settings pass; the (empty) weights are what does not fit
    with pytest.raises(CheckpointError, match="weights do not fit"):
        restore.load_model_from_checkpoint(path)


@pytest.mark.slow
def test_the_bounds_hold_in_a_process_with_little_memory(tmp_path: Path) -> None:
    """End to end, in a subprocess whose address space is capped at 3 GiB beyond what
    importing torch maps: the refusal needs no memory."""
    import subprocess
    import sys

    path = _write(tmp_path, _payload(d_model=2**20, num_heads=8, ff_dim=2**22, max_len=4096))
    code = f"""
import resource, sys
from signcli.engine.restore import load_model_from_checkpoint
from signcli.core.errors import CheckpointError
used = int(open('/proc/self/statm').read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (used + 3 * 1024**3, resource.RLIM_INFINITY))
try:
    load_model_from_checkpoint({str(path)!r})
except CheckpointError as exc:
    print(exc)
    sys.exit(0)
sys.exit(1)
"""
    env = {**os.environ, "PYTHONPATH": str(Path(restore.__file__).parents[2])}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert MAX_PARAMETERS.env in result.stdout


def test_settings_within_the_limits_are_not_built_for_weights_that_cannot_fill_them(
    tmp_path: Path, never_build: None
) -> None:
    """Found by tests/fuzz: a file of 3 kB whose settings describe 400 million parameters
    (within the limits) made eval allocate 1.6 GB and spend seconds building the model
    before finding that its weights (none) do not fit."""
    payload = _payload(d_model=2048, num_layers=8, ff_dim=8192, num_heads=8)
    path = _write(tmp_path, payload)
    assert path.stat().st_size < 10_000
    with pytest.raises(CheckpointError) as caught:
        restore.load_model_from_checkpoint(path)
    message = str(caught.value)
    assert str(path) in message and "weights do not fit the model" in message
    assert "and its weights hold 0 values; the model is not built" in message
    # a zero-stride tensor claiming a billion values holds one
    payload[ckpt.MODEL_KEY] = {"w": torch.zeros(1).expand(10**9)}
    message = r"model\.w: a tensor of shape \(1000000000,\) over 1 stored value\(s\)"
    with pytest.raises(CheckpointError, match=message):
        restore.load_model_from_checkpoint(_write(tmp_path, payload, "strided.pt"))
    assert ckpt.stored_values(payload[ckpt.MODEL_KEY]) == 1


def test_a_small_model_with_wrong_weights_still_names_the_keys(tmp_path: Path) -> None:
    # below the slack the model is built, so that each key that does not fit is named
    path = _write(tmp_path, _payload())
    with pytest.raises(CheckpointError, match="weights do not fit the model: missing key"):
        restore.load_model_from_checkpoint(path)


BAD_SHAPES = [
    # (key, stored value, words the message must hold)
    (ckpt.SETTINGS_KEY, ["model", "data"], "settings: expected a mapping of sections"),
    (ckpt.SETTINGS_KEY, {"model": "big"}, "stored setting model: expected a valid dictionary"),
    (ckpt.SETTINGS_KEY, {"model": {"d_model": "wide"}}, "model.d_model"),
    (ckpt.SETTINGS_KEY, {"optim": {"lr": [1, 2]}}, "optim.lr"),
    (ckpt.INPUTS_KEY, [6], "input_dims: expected {stream: width}"),
    (ckpt.INPUTS_KEY, {}, "input_dims: expected {stream: width}"),
    (ckpt.INPUTS_KEY, {"x": "6"}, "input_dims.x: expected a width >= 1, got '6'"),
    (ckpt.INPUTS_KEY, {"x": 0}, "input_dims.x: expected a width >= 1, got 0"),
    (ckpt.INPUTS_KEY, {"x": True}, "input_dims.x"),
    (ckpt.INPUTS_KEY, {f"s{i}": 2 for i in range(1000)}, "unknown stream 's0'"),
    (ckpt.LABELS_KEY, [3, 0], "labels: expected a mapping"),
    (ckpt.LABELS_KEY, {"num_gloss": "3"}, "labels.num_gloss: expected a class count"),
    (ckpt.LABELS_KEY, {"num_gloss": 3, "num_cat": -1}, "labels.num_cat"),
    (ckpt.LABELS_KEY, {"num_gloss": 3, "gloss_names": ["a"]}, "labels.gloss_names"),
    (ckpt.LABELS_KEY, {"num_gloss": 3, "gloss_names": {"one": "a"}}, "labels.gloss_names"),
    (ckpt.LABELS_KEY, {"num_gloss": 3, "cat_names": {"0": 5}}, "labels.cat_names"),
    (ckpt.MODEL_KEY, [torch.zeros(1)], "model: expected {name: tensor}"),
    (ckpt.MODEL_KEY, {"w": [1.0]}, "model: expected {name: tensor}"),
    (ckpt.FORMAT_KEY, torch.ones(2), "format version a tensor of shape (2,)"),
]


@pytest.mark.parametrize("key, value, words", BAD_SHAPES)
def test_entries_of_the_wrong_shape_name_the_key(
    tmp_path: Path, never_build: None, key: str, value: Any, words: str
) -> None:
    payload = {**_payload(), ckpt.FORMAT_KEY: ckpt.FORMAT_VERSION, key: value}
    path = tmp_path / "odd.pt"
    torch.save(payload, path)  # as is: save_checkpoint would set the format version
    with pytest.raises(CheckpointError) as caught:
        restore.load_model_from_checkpoint(path)
    assert str(path) in str(caught.value) and words in str(caught.value)


def test_a_missing_entry_is_named(tmp_path: Path) -> None:
    payload = _payload()
    del payload[ckpt.INPUTS_KEY]
    path = tmp_path / "partial.pt"
    torch.save({**payload, ckpt.FORMAT_KEY: 1}, path)
    with pytest.raises(CheckpointError, match=r"missing input_dims;"):
        ckpt.load_checkpoint(path)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "best.pt"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="is a FIFO, not a regular file"):
        ckpt.load_checkpoint(fifo)


def test_resume_refuses_a_run_whose_config_asks_for_too_much(tmp_path: Path) -> None:
    from signcli.engine.recipes import resume_run

    settings = _payload(num_layers=10**9)[ckpt.SETTINGS_KEY]
    (tmp_path / "config.json").write_text(json.dumps(settings))
    with pytest.raises(SettingsError, match=f"model.num_layers: .*{MAX_LAYERS.env}"):
        resume_run(tmp_path)


def test_class_counts_at_the_limit_are_not_refused_by_the_settings() -> None:
    settings = Settings.model_validate({"model": {"num_gloss": MAX_CLASSES.default}})
    assert settings.model.num_gloss == MAX_CLASSES.default


def test_a_recompressed_checkpoint_that_inflates_is_refused_unread(tmp_path: Path) -> None:
    """torch.load inflates a compressed record whole: a 50 kB file could hold 48 MiB (or,
    with zip64, terabytes). torch.save never compresses, so the zip directory tells."""
    import zipfile

    honest = _write(tmp_path, {**_payload(), "big": torch.zeros(12 * 1024**2)}, "honest.pt")
    bomb = tmp_path / "bomb.pt"
    with zipfile.ZipFile(honest) as source, zipfile.ZipFile(bomb, "w") as out:
        for info in source.infolist():
            out.writestr(info.filename, source.read(info), compress_type=zipfile.ZIP_DEFLATED)
    assert bomb.stat().st_size < honest.stat().st_size / 100
    with pytest.raises(CheckpointError, match="once decompressed.*refused unread"):
        ckpt.load_checkpoint(bomb)
    ckpt.load_checkpoint(honest)  # the same records stored, as torch.save writes them


def _numpy_key(payload: dict[str, Any], value: int) -> None:
    payload[ckpt.RNG_KEY]["numpy"][1][0] = value


RESUME_DAMAGE = [
    # (change to last.pt's payload, words of the message)
    # found by tests/fuzz: numpy refuses -1 as a uint32 with OverflowError, which escaped
    (lambda p: _numpy_key(p, -1), "cannot restore the run's state from it (OverflowError"),
    # found by the long fuzz run: numpy materialised the 10**10 keys it claims (37 GiB)
    (
        lambda p: p[ckpt.RNG_KEY]["numpy"].__setitem__(1, torch.zeros(1).expand(10**5, 10**5)),
        "rng.numpy[1]: a tensor of shape (100000, 100000) over 1 stored value(s)",
    ),
    (lambda p: p[ckpt.STATE_KEY].update(best_metric=10**400), "train_state.best_metric"),
    (lambda p: p[ckpt.SCHEDULER_KEY].update(plateau_best=-(10**400)), "scheduler.plateau_best"),
    (lambda p: p.pop(ckpt.OPTIMIZER_KEY), "missing optimizer, which resume needs"),
    (lambda p: p.update({ckpt.STATE_KEY: [1, 2]}), "train_state: expected a mapping"),
    (lambda p: p[ckpt.STATE_KEY].update(epoch="many"), "train_state.epoch: expected a count"),
    (lambda p: p[ckpt.STATE_KEY].update(step=-5), "train_state.step"),
    (lambda p: p.update({ckpt.RNG_KEY: {"python": 3}}), "cannot restore the run's state"),
    (lambda p: p.update({ckpt.OPTIMIZER_KEY: {"state": {}}}), "optimizer: expected {state:"),
    # found by tests/fuzz: each of these crashed resume with an "unexpected" error (most in
    # the first training step) or, for the strided tensor, tried to allocate 20 GB
    (lambda p: p[ckpt.OPTIMIZER_KEY].update(state=None), "optimizer: expected {state:"),
    (
        lambda p: p[ckpt.OPTIMIZER_KEY]["state"][0].pop("exp_avg"),
        "optimizer.state.0: expected ['exp_avg', 'exp_avg_sq', 'step'], found ['exp_avg_sq', 'step']",
    ),
    (
        lambda p: p[ckpt.OPTIMIZER_KEY]["state"][0].update(
            exp_avg=torch.zeros(1).expand(10**5, 10**5)
        ),
        "optimizer.state.0.exp_avg: a tensor of shape (100000, 100000) over 1 stored value(s)",
    ),
    (
        lambda p: p[ckpt.OPTIMIZER_KEY]["state"][0].update(exp_avg=torch.zeros(3)),
        "optimizer.state.0.exp_avg: expected shape",
    ),
    (
        lambda p: p[ckpt.OPTIMIZER_KEY]["state"].update({99: {}}),
        "optimizer.state: 99 is no parameter",
    ),
    (
        lambda p: p[ckpt.SCHEDULER_KEY].update(plateau_scale="x"),
        "scheduler.plateau_scale: expected a factor",
    ),
    (
        lambda p: p[ckpt.SCHEDULER_KEY].update(plateau_bad=None),
        "scheduler.plateau_bad: expected a count",
    ),
    (
        lambda p: p[ckpt.STATE_KEY].update(epoch=1.5),
        "train_state.epoch: expected a count >= 0, got 1.5",
    ),
    (
        lambda p: p[ckpt.STATE_KEY].update(best_metric="high"),
        "train_state.best_metric: expected a finite number",
    ),
    (
        lambda p: p[ckpt.STATE_KEY].update(batch_in_epoch=10**6),
        "train_state.batch_in_epoch is 1,000,000, but an epoch",
    ),
    (lambda p: p.update({ckpt.HOOKS_KEY: [1]}), "hooks: expected {hook: state mapping}"),
    (
        lambda p: p.update({ckpt.HOOKS_KEY: {"metrics_log": None}}),
        "hooks: expected {hook: state mapping}",
    ),
    (
        lambda p: p[ckpt.HOOKS_KEY].update(metrics_log={"last_record": {"epoch": "x"}}),
        "metric epoch must be a number",
    ),
]


@pytest.mark.slow
def test_resume_from_a_damaged_last_checkpoint_names_it(make_npz_dataset, tmp_path: Path) -> None:
    from signcli.engine.recipes import resume_run, start_run
    from signcli.settings import load_settings

    root = make_npz_dataset(n=8, T=4, D=6)
    work = tmp_path / "run"
    settings = load_settings(
        overrides=[
            f"data.dataset={root}",
            "model.d_model=8",
            "model.num_layers=1",
            "model.num_heads=1",
            "model.ff_dim=8",
            "training.epochs=1",
            f"training.work_dir={work}",
            "training.device=cpu",
        ]
    )
    start_run(settings)
    good = torch.load(work / "last.pt", weights_only=True)
    for damage, words in RESUME_DAMAGE:
        payload = copy.deepcopy(good)
        damage(payload)
        torch.save(payload, work / "last.pt")
        with pytest.raises(CheckpointError) as caught:
            resume_run(work, epochs=2)
        assert str(work / "last.pt") in str(caught.value) and words in str(caught.value), words


def test_resume_does_not_build_a_model_its_last_checkpoint_cannot_fill(
    make_npz_dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by tests/fuzz: config.json and last.pt describing a model of hundreds of
    millions of parameters, with no weights, were built in full before the strict load
    failed."""
    from signcli.engine import recipes
    from signcli.engine.recipes import resume_run, start_run
    from signcli.settings import load_settings

    root = make_npz_dataset(n=8, T=4, D=6)
    work = tmp_path / "run"
    start_run(
        load_settings(
            overrides=[
                f"data.dataset={root}",
                *("model.d_model=8", "model.num_layers=1", "model.num_heads=1"),
                *("model.ff_dim=8", "training.epochs=1", f"training.work_dir={work}"),
                "training.device=cpu",
            ]
        )
    )
    big = {"d_model": 2048, "num_layers": 8, "ff_dim": 8192, "num_heads": 8}
    config = json.loads((work / "config.json").read_text())
    config["model"].update(big)
    (work / "config.json").write_text(json.dumps(config))
    payload = torch.load(work / "last.pt", weights_only=True)
    payload[ckpt.SETTINGS_KEY]["model"].update(big)
    torch.save(payload, work / "last.pt")

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a Trainer was built for weights that cannot fill its model")

    monkeypatch.setattr(recipes, "Trainer", refuse)
    with pytest.raises(
        CheckpointError, match=r"last\.pt: weights do not fit the model: .* not built"
    ):
        resume_run(work, epochs=2)


def test_options_stored_in_the_optimizer_state_do_not_override_the_settings(
    make_npz_dataset, tmp_path: Path
) -> None:
    """Found by tests/fuzz: `amsgrad: true` stored in last.pt's param groups made the first
    step look for state that was never kept (unexpected KeyError). The options come from
    the settings, as when the run started."""
    from signcli.engine.recipes import resume_run, start_run
    from signcli.settings import load_settings

    root = make_npz_dataset(n=8, T=4, D=6)
    work = tmp_path / "run"
    start_run(
        load_settings(
            overrides=[
                f"data.dataset={root}",
                *("model.d_model=8", "model.num_layers=1", "model.num_heads=1"),
                *("model.ff_dim=8", "training.epochs=1", f"training.work_dir={work}"),
                "training.device=cpu",
            ]
        )
    )
    payload = torch.load(work / "last.pt", weights_only=True)
    for group in payload[ckpt.OPTIMIZER_KEY]["param_groups"]:
        group.update(amsgrad=True, lr="fast", weight_decay=None)
    torch.save(payload, work / "last.pt")
    result = resume_run(work, epochs=2)
    assert result.trainer.state.epoch == 2
    assert not result.trainer.optimizer.param_groups[0]["amsgrad"]


@pytest.mark.parametrize(
    ("text", "words"),
    [  # found by tests/fuzz: "unexpected TypeError" (dict([None])) and "ValueError"
        (
            "[null]",
            "config.json: expected a mapping of sections (data, model, optim, training), got list",
        ),
        ('{"model": ' + "9" * 5000 + "}", "config.json: invalid JSON: a number of 5,000 digits"),
        ("[" * 100_000, "config.json: nested more than 32 levels deep"),
    ],
)
def test_a_config_json_that_is_not_settings_names_the_file(
    tmp_path: Path, text: str, words: str
) -> None:
    from signcli.engine.recipes import resume_run

    (tmp_path / "config.json").write_text(text)
    with pytest.raises(UsageError) as caught:
        resume_run(tmp_path)
    assert words in str(caught.value)


def test_a_config_json_beyond_the_limits_names_the_file(tmp_path):
    import json

    from signcli.core.errors import SettingsError
    from signcli.engine.recipes import resume_run

    (tmp_path / "config.json").write_text(json.dumps({"model": {"max_len": 10**9}}))
    with pytest.raises(SettingsError, match=r"config\.json: model\.max_len"):
        resume_run(tmp_path)


@pytest.mark.parametrize("text", ["[]", '"x"', "null", "3"])
def test_a_config_json_that_is_not_an_object_is_refused(tmp_path, text):
    from signcli.core.errors import UsageError
    from signcli.engine.recipes import resume_run

    (tmp_path / "config.json").write_text(text)
    with pytest.raises(UsageError, match="expected a mapping of sections"):
        resume_run(tmp_path)
