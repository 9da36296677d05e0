"""Settings-backed defaults in `--help`.

Flags whose value is a setting default to None, so that a config file can set them
(docs/architecture.md, "Settings"); typer would show no default for them. A command
registered with `settings_command(keys)` shows `[default: ...]` for each such option,
read from the `Settings` field defaults when its help is drawn: the defaults live in one
place and cannot drift, and pydantic is imported only for that help, never for
`signcli --help` or a command that runs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from typer import core


def setting_default(dotted: str) -> Any:
    """The settings model's default of a dotted key, e.g. `optim.lr` -> 0.001, as default
    settings hold it (training.monitor: the default task's metric)."""
    from signcli.settings import setting_default as default_of

    return default_of(dotted)


def format_default(value: Any) -> str | bool | None:
    """A default as `--help` shows it: None (nothing to show), a bool (typer names the
    flag, e.g. `no-tensorboard`), small floats as 1e-3, anything else as text."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, float):
        from signcli.reference import format_number  # the docs write numbers the same way

        return format_number(value)
    return str(value)


def shown_defaults(keys: Mapping[str, str]) -> dict[str, str | bool]:
    """{parameter name: default as shown} for options mapped to settings keys; options
    whose setting defaults to None (e.g. "from the labels") are left out."""
    shown = {name: format_default(setting_default(key)) for name, key in keys.items()}
    return {name: value for name, value in shown.items() if value is not None}


def settings_command(keys: Mapping[str, str]) -> type[core.TyperCommand]:
    """A command class (for `app.command(cls=...)`) whose help shows the settings
    defaults of the options in `keys` ({parameter name: dotted settings key})."""

    class SettingsDefaultsCommand(core.TyperCommand):
        setting_keys = dict(keys)

        def format_help(self, ctx: Any, formatter: Any) -> None:
            with _defaults_shown(self):
                super().format_help(ctx, formatter)

        def shown_params(self) -> list[Any]:
            """The parameters as the help draws them: copies of those that carry their
            settings default (the documentation's command reference reads these too)."""
            shown = shown_defaults(self.setting_keys)
            return [_with_default(p, shown[p.name]) if p.name in shown else p for p in self.params]

    return SettingsDefaultsCommand


@contextmanager
def _defaults_shown(command: Any) -> Iterator[None]:
    """Swap in the parameters that carry their settings default, for the time the help is
    drawn only: the parsed defaults stay None (= not given)."""
    original = command.params
    command.params = command.shown_params()
    try:
        yield
    finally:
        command.params = original


def _with_default(param: Any, value: str | bool) -> Any:
    clone = copy.copy(param)
    clone.default = value
    clone.show_default = True
    return clone
