"""What `--help` tells a new user: the settings model's default of every option that sets a
setting, though those options default to None (= not given, so that a config file can set
them); what the progress line's `*` means; the rules of metrics-check, with an example that
is a valid rules file."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer import rich_utils
from typer.testing import CliRunner

import signcli.settings
from signcli.cli import app
from signcli.cli import eval as eval_command
from signcli.cli import metrics_check as metrics_check_command
from signcli.cli import train as train_command
from signcli.core.model_catalog import all_options
from signcli.metrics.rules import load_rules
from signcli.settings import Settings, setting_default

runner = CliRunner()
DEFAULT = re.compile(r"\[default: ([^\]]*)\]")


def help_rows(command: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """{option name (each of its names): its row of `signcli COMMAND --help`}, drawn wide
    enough that no row wraps."""
    monkeypatch.setattr(rich_utils, "MAX_WIDTH", 400)
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    rows = {}
    for line in result.output.splitlines():
        match = re.match(r"│\s+(--[\w,-]+)", line)
        if match:
            for name in match[1].split(","):
                rows[name] = line
    return rows


def settings_default(dotted: str) -> Any:
    return setting_default(dotted)  # a model's option (--fusion): its model's default


def option_name(param: str) -> str:
    return "--" + param.replace("_", "-")


def assert_shows(row: str, param: str, default: Any) -> None:
    shown = DEFAULT.findall(row)
    if default is None:  # e.g. "from the labels": said in the help text, no [default: ]
        assert not shown, row
        return
    assert len(shown) == 1, f"{option_name(param)} shows no default: {row}"
    if isinstance(default, bool):  # typer names the flag: pin-memory, no-tensorboard
        flag = param.replace("_", "-")
        assert shown[0] == (flag if default else f"no-{flag}"), row
    elif isinstance(default, int | float):
        assert float(shown[0]) == default, row
    else:
        assert shown[0] == str(default), row


def test_train_help_shows_the_settings_default_of_every_setting_option(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = help_rows("train", monkeypatch)
    for param, dotted in train_command.SETTING_OF_OPTION.items():
        assert_shows(rows[option_name(param)], param, settings_default(dotted))
    # a few as a new user reads them
    assert "[default: 1e-3]" in rows["--lr"]
    assert "[default: auto]" in rows["--epochs"] and "[default: auto]" in rows["--batch-size"]
    assert "[default: auto]" in rows["--device"]


def test_every_train_option_named_like_a_setting_is_mapped_to_it() -> None:
    fields = {
        name: f"{section}.{name}"
        for section, field in Settings.model_fields.items()
        for name in field.annotation.model_fields  # type: ignore[union-attr]
    }
    fields.update({name: f"model.{name}" for name in all_options()})  # the models' own
    command = typer.main.get_command(app).commands["train"]  # type: ignore[attr-defined]
    options = {p.name for p in command.params} - {"augment"}  # --no-augment: every data.augment
    for name in options & set(fields):
        assert train_command.SETTING_OF_OPTION.get(name) == fields[name], name


def test_options_reach_their_settings(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    captured = {}

    def capture(config, flags, overrides):  # noqa: ANN001, ANN202 - load_settings' stand-in
        captured.update(flags)
        raise KeyboardInterrupt  # stop before any data is read

    monkeypatch.setattr(signcli.settings, "load_settings", capture)
    args = ["train", "gru", "--lr", "0.5", "--epochs", "3", "--no-tensorboard", "--patience", "4"]
    result = runner.invoke(app, [*args, "--work-dir", str(tmp_path / "run")])
    assert result.exit_code == 130, result.output
    assert captured["optim.lr"] == 0.5 and captured["training.epochs"] == 3
    assert captured["training.tensorboard"] is False and captured["training.early_stop"] == 4
    assert captured["model.name"] == "gru" and captured["training.work_dir"].endswith("run")
    assert captured["data.num_workers"] is None  # not given: a config file may set it


def test_help_leaves_the_parsed_defaults_none() -> None:
    command = typer.main.get_command(app).commands["train"]  # type: ignore[attr-defined]
    params = list(command.params)
    with pytest.raises(SystemExit):
        command.main(["--help"], prog_name="signcli train")
    assert command.params == params  # the same objects: the help drew copies
    assert next(p for p in command.params if p.name == "lr").default is None


def test_eval_help_shows_the_device_default(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = help_rows("eval", monkeypatch)
    for param, dotted in eval_command.SETTING_OF_OPTION.items():
        assert_shows(rows[option_name(param)], param, settings_default(dotted))


def test_train_help_says_what_the_star_means(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rich_utils, "MAX_WIDTH", 400)
    text = " ".join(runner.invoke(app, ["train", "--help"]).output.split())
    assert "a `*` at the end marks a new best of --monitor" in text


def test_metrics_check_help_explains_the_rules_with_an_example(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rich_utils, "MAX_WIDTH", 400)
    result = runner.invoke(app, ["metrics-check", "--help"])
    assert result.exit_code == 0, result.output
    for words in ("at: last", "at: best", "at: min, max", "at: epoch:N", "`min` and/or `max`",
                  "decreases: true", "increases: true", "--rtol", "Example rules file"):  # fmt: skip
        assert words in result.output, words


def test_the_example_of_metrics_check_help_is_a_valid_rules_file(tmp_path) -> None:
    doc = metrics_check_command.metrics_check.__doc__ or ""
    example = doc.split("Example rules file")[1].split("\n", 1)[1]
    path = tmp_path / "rules.yaml"
    path.write_text(example)
    rules = load_rules(path)
    assert {rule.name for rule in rules} >= {"val_gloss_top1 at best", "train_loss decreases"}
