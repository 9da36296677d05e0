"""`signcli settings` lists every key from the settings model, and `train` builds the flags
that set one setting each from the same fields: names, types, aliases, help at 80 columns."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import signcli.settings
from signcli.cli import app
from signcli.cli import train as train_command
from signcli.settings import settings_keys

runner = CliRunner()


def test_settings_lists_every_key_with_type_default_and_description() -> None:
    result = runner.invoke(app, ["settings", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["key"]: row for row in json.loads(result.output)}
    sections = {"data", "model", "optim", "training", "text", "data.augment"}
    assert set(rows) == set(settings_keys()) - sections
    assert rows["optim.lr"] == {
        "key": "optim.lr",
        "type": "float > 0",
        "default": "1e-3",
        "description": "Peak learning rate.",
    }
    assert rows["model.d_model"]["type"] == "int ≥ 8 or auto"
    assert rows["data.cache"]["type"] == "one of: auto, off, memory, mmap"
    assert rows["model.num_gloss"]["default"] == ""  # unset: from the labels
    assert all(row["description"] for row in rows.values())


def test_settings_prefix_and_an_unknown_prefix() -> None:
    result = runner.invoke(app, ["settings", "data.augment.mirror"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("data.augment.mirror_p  (float ≥ 0, ≤ 1) = 0.0\n")
    assert "horizontal mirror" in result.output
    result = runner.invoke(app, ["settings", "optimm"])
    assert result.exit_code == 2
    assert "no setting starts with 'optimm'" in result.output


def test_train_help_points_to_settings_and_fits_80_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = runner.invoke(app, ["train", "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    assert "`signcli settings`" in " ".join(result.output.split())
    assert max(len(line) for line in result.output.splitlines()) <= 80
    assert "…" not in result.output  # no name, metavar or word cut off
    for name in train_command.SETTING_OF_OPTION:
        assert f"--{name.replace('_', '-')} " in result.output, name


@pytest.mark.parametrize(
    ("args", "key", "value"),
    [
        (["--num-workers", "3"], "data.num_workers", "3"),  # pydantic types it (int or auto)
        (["--no-pin-memory"], "data.pin_memory", False),
        (["--patience", "4"], "training.early_stop", 4),
        (["--tokenizer", "tok.json"], "text.tokenizer_file", "tok.json"),
        (["--cache", "mmap"], "data.cache", "mmap"),
        (["--d-model", "64"], "model.d_model", "64"),  # pydantic types it (int or auto)
        (["--features-train", "feats"], "data.key", "X2048"),
        (["--amp"], "training.precision", "amp"),
    ],
)
def test_generated_flags_reach_their_settings(
    monkeypatch: pytest.MonkeyPatch, args: list[str], key: str, value: object
) -> None:
    captured = {}

    def capture(config, flags, overrides):  # noqa: ANN001, ANN202 - load_settings' stand-in
        captured.update(flags)
        raise KeyboardInterrupt  # stop before any data is read

    monkeypatch.setattr(signcli.settings, "load_settings", capture)
    result = runner.invoke(app, ["train", "gru", *args])
    assert result.exit_code == 130, result.output
    shown = captured[key]
    assert (str(shown) if key == "text.tokenizer_file" else shown) == value


def test_a_generated_flag_checks_its_type() -> None:
    result = runner.invoke(app, ["train", "gru", "--prefetch-factor", "many"])
    assert result.exit_code == 2
    assert "--prefetch-factor" in result.output
    # int or auto: the settings type it, and name the setting
    result = runner.invoke(app, ["train", "gru", "--num-workers", "many"])
    assert result.exit_code == 2
    assert "data.num_workers" in result.output and "auto" in result.output
