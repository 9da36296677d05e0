"""Flags generated from the settings model.

A command declares the flags people type as parameters and names the other settings it
offers as flags by their dotted keys; each of those becomes an option whose name is the key's
last part (`data.num_workers` -> `--num-workers`, a bool `--x/--no-x`), whose type, help and
shown default are the settings field's, so no help text is written twice. The options are
built when the command first parses or draws its help (the settings model is imported then,
never for `signcli --help`), with Typer's own machinery: a stand-in function whose signature
declares them, turned into a click command by `typer.main.get_command`.

What such an option parses does not reach the command's function as a parameter: the
function takes `ctx: typer.Context` and reads `setting_flags(ctx)`, {dotted key: value, None
when not given, so that a config file may set it}.
"""

from __future__ import annotations

import copy
import inspect
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer import core

_META_KEY = "signcli.setting_flags"


def setting_flags(ctx: typer.Context) -> dict[str, Any]:
    """{dotted settings key: the value its generated flag parsed, None when not given}."""
    return dict(ctx.meta.get(_META_KEY, {}))


def option_name(dotted: str) -> str:
    """The parameter name of a key's generated flag: its last part (`optim.lr` -> lr)."""
    return dotted.rsplit(".", 1)[-1]


def setting_options_command(
    typed: Mapping[str, str],
    generated: Mapping[str, Sequence[str]],
    aliases: Mapping[str, Sequence[str]],
) -> type[core.TyperCommand]:
    """A command class (for `app.command(cls=...)`) that adds the `generated` flags
    ({help panel: dotted keys}, with `aliases` {dotted key: extra flag names}) to the typed
    parameters, and whose help shows the settings default of every option that sets a
    setting (`typed`: {parameter name: dotted key}, and the generated ones), lists an
    option's aliases in its help rather than beside its name (so names fit 80 columns), and
    joins the lines of each paragraph of the docstring."""
    from signcli.cli._defaults import _with_default, shown_defaults

    class SettingOptionsCommand(core.TyperCommand):
        setting_keys = {
            **typed,
            **{option_name(key): key for keys in generated.values() for key in keys},
        }

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.help = _join_paragraph_lines(self.help)
            self._generated: list[Any] | None = None
            self._compact: list[Any] | None = None

        def generated_params(self) -> list[Any]:
            if self._generated is None:
                self._generated = generated_options(generated, aliases)
            return self._generated

        def get_params(self, ctx: Any) -> list[Any]:
            if self._compact is not None:
                return self._compact
            declared = super().get_params(ctx)  # the parameters, then --help
            n = len(self.params)
            return [*declared[:n], *self.generated_params(), *declared[n:]]

        def shown_params(self) -> list[Any]:
            """Every parameter, generated ones included, with its settings default (the
            documentation's command reference reads these too)."""
            shown = shown_defaults(self.setting_keys)
            params = [*self.params, *self.generated_params()]
            return [_with_default(p, shown[p.name]) if p.name in shown else p for p in params]

        def invoke(self, ctx: Any) -> Any:
            names = {option_name(key): key for keys in generated.values() for key in keys}
            ctx.meta[_META_KEY] = {key: ctx.params.pop(name, None) for name, key in names.items()}
            return super().invoke(ctx)

        def format_help(self, ctx: Any, formatter: Any) -> None:
            rest = super().get_params(ctx)[len(self.params) :]  # --help
            self._compact = [_compact(p) for p in [*self.shown_params(), *rest]]
            try:  # copies, for the time the help is drawn only
                super().format_help(ctx, formatter)
            finally:
                self._compact = None

    return SettingOptionsCommand


def generated_options(
    generated: Mapping[str, Sequence[str]], aliases: Mapping[str, Sequence[str]]
) -> list[Any]:
    """The click options of `generated` ({help panel: dotted keys}), as Typer builds them
    from a function whose keyword-only parameters are `Annotated[type | None, typer.Option]`."""
    parameters = [
        inspect.Parameter(
            option_name(key),
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=_annotated_option(key, panel, aliases.get(key, ())),
        )
        for panel, keys in generated.items()
        for key in keys
    ]

    def stand_in(**_: Any) -> None: ...

    stand_in.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    stand_in.__annotations__ = {p.name: p.annotation for p in parameters}
    app = typer.Typer(add_completion=False)
    app.command()(stand_in)
    return list(typer.main.get_command(app).params)


def _annotated_option(key: str, panel: str, aliases: Sequence[str]) -> Any:
    from rich.markup import escape

    from signcli.settings import setting_description

    field = _setting_field(key)
    kind, metavar = _flag_type(field.annotation)
    flag = "--" + option_name(key).replace("_", "-")
    names = [f"{flag}/--no-{flag[2:]}"] if kind is bool else [flag]
    option = typer.Option(
        *names,
        *aliases,
        help=escape(_first_sentence(setting_description(key))),
        metavar=metavar,
        rich_help_panel=panel,
        show_default=False,
    )
    return Annotated[kind | None, option]


def _setting_field(dotted: str) -> Any:
    """The pydantic field of a dotted settings key, e.g. `data.num_workers` (a model's
    option, e.g. `model.fusion`, as the model declaring it has it)."""
    from signcli.settings import setting_field

    field = setting_field(dotted)
    if field is None:
        raise KeyError(f"no setting {dotted}")
    return field


def _flag_type(annotation: Any) -> tuple[type, str | None]:
    """The type a flag parses (bool, int, float, str or Path; text that the settings model
    types otherwise) and, for text that is one of a few words, a metavar naming them
    (`auto|off|memory|mmap`, `int|auto`)."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    options = [
        typing.get_args(a)[0] if typing.get_origin(a) is Annotated else a
        for a in (typing.get_args(annotation) if union else [annotation])
        if a is not type(None)
    ]
    if len(options) == 1 and options[0] in (bool, int, float, str, Path):
        return options[0], None
    words = []
    for option in options:
        if typing.get_origin(option) is typing.Literal:
            words += [str(value) for value in typing.get_args(option)]
        elif option in (int, float):
            words.append(option.__name__)
        else:  # a mapping or a list, given as text the settings parse (layout, JSON)
            return str, None
    return str, "|".join(words)


def _first_sentence(text: str) -> str:
    """The first sentence of a field docstring, on one line: the flag's help
    (`signcli settings` has the rest)."""
    flat = re.sub(r"\s+", " ", text).strip()
    return re.split(r"(?<!e\.g\.)(?<!i\.e\.)(?<=\.)\s+", flat, maxsplit=1)[0]


def _compact(param: Any) -> Any:
    """A copy of a parameter whose names fit in 80 columns: its first long name (and short
    names) only, its other long names and its `--no-` form named at the end of its help."""
    clone = copy.copy(param)
    long_names = [name for name in param.opts if name.startswith("--")]
    notes = []
    if len(long_names) > 1:
        clone.opts = [long_names[0], *(n for n in param.opts if not n.startswith("--"))]
        notes.append(f"Also {', '.join(long_names[1:])}.")
    if param.secondary_opts:
        if isinstance(clone.default, bool) and clone.show_default:  # as typer names it
            clone.default = (param.opts if clone.default else param.secondary_opts)[0][2:]
        if param.secondary_opts[0] not in (param.help or ""):
            notes.append(f"Off: {', '.join(param.secondary_opts)}.")
        clone.secondary_opts = []
    if notes:
        clone.help = " ".join([param.help or "", *notes]).strip()
    return clone


def _join_paragraph_lines(text: str | None) -> str | None:
    """A docstring's paragraphs, each on one line: the help wraps them to the terminal."""
    if text is None:
        return None
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)
