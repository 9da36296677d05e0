"""The reference pages of the documentation site, generated from the code so they cannot drift.

- `settings_docs()`: every settings key with its type, default and description, read from the
  pydantic `Settings` model and its field docstrings (a `signcli settings` listing can print
  the same rows); `settings_markdown()` is its page.
- `commands_markdown(root)`: every command's usage, arguments and options, read from the
  click commands Typer builds for the app (the objects `--help` draws), with the settings
  default of each option that sets a setting (cli/_defaults.py).
- `exit_codes_markdown()`: the exit codes of signcli/core/errors.py and the errors behind each.

`docs/_hooks/reference_pages.py` calls these when `mkdocs build` runs. Torch-free, and it
imports nothing from `cli/`: the app is handed in, so that a command may list the settings
with `settings_docs()` without an import cycle.
"""

from __future__ import annotations

import json
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from signcli.core import errors
from signcli.settings import ModelSettings, Settings

# What each exit code means; errors.py names the codes, the error classes say when each is used.
EXIT_MEANINGS = {
    errors.EXIT_OK: "success",
    errors.EXIT_NO: 'the command ran and the answer is "no": invalid data found, smoke failed, '
    "a metric check failed, training diverged",
    errors.EXIT_USAGE: "the command could not run: bad usage or settings, missing or unreadable "
    "input",
    errors.EXIT_INTERRUPTED: "interrupted (Ctrl-C, SIGTERM); `last.pt` was saved and the "
    "message says how to resume",
}


@dataclass(frozen=True)
class SettingDoc:
    """One settings key as the reference lists it."""

    key: str  # dotted, e.g. optim.lr
    type: str  # e.g. "float > 0", "int ≥ 1 or auto", "one of: auto, off, memory, mmap"
    default: str  # as a config file would write it; "" when unset (None)
    description: str  # the field's docstring, on one line


def settings_sections(model: type[BaseModel] = Settings, prefix: str = "") -> list[tuple[str, str]]:
    """[(section key, its docstring on one line)], nested sections included (`data.augment`)."""
    sections = []
    for name, field in model.model_fields.items():
        section = _section_model(field.annotation)
        if section is None:
            continue
        key = f"{prefix}{name}"
        sections.append((key, _one_line(section.__doc__ or field.description or "")))
        sections.extend(settings_sections(section, f"{key}."))
    return sections


def settings_docs(model: type[BaseModel] = Settings, prefix: str = "") -> list[SettingDoc]:
    """Every settings key (not the sections themselves), in the model's order."""
    defaults = Settings()
    docs = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        section = _section_model(field.annotation)
        if section is not None:
            docs.extend(settings_docs(section, f"{key}."))
            continue
        docs.append(
            SettingDoc(
                key=key,
                type=describe_type(field.annotation, field.metadata),
                default=format_value(_default_of(defaults, key)),
                description=_one_line(field.description or ""),
            )
        )
    if model is ModelSettings:
        docs.extend(_model_option_docs(prefix))
    return docs


def _model_option_docs(prefix: str) -> list[SettingDoc]:
    """The models' own options (core/model_catalog.py), each once, saying which models read it."""
    from signcli.core.model_catalog import all_options, option_default, option_field
    from signcli.settings import setting_description

    docs = []
    for name in all_options():
        field = option_field(name)
        assert field is not None  # all_options names declared options only
        docs.append(
            SettingDoc(
                key=f"{prefix}{name}",
                type=describe_type(field.annotation, field.metadata),
                default=format_value(option_default(name)),
                description=setting_description(f"{prefix}{name}"),
            )
        )
    return docs


def settings_markdown() -> str:
    """The settings reference page: one table per section."""
    docs = settings_docs()
    lines = [
        "# Settings reference",
        "",
        "Every key of the settings model, generated from `signcli/settings.py` when the site is",
        "built. Set a key in a `--config` file (YAML or JSON, nested by section), with its",
        "command-line flag, or with `--set section.key=value`; later sources win:",
        "defaults < `--config` < flags < `--set`. [Training and settings](../training.md)",
        "explains how they combine; `auto` values are resolved when a run starts and written",
        "to `WORK_DIR/config.json`.",
        "",
        "An empty default means the key is unset: the run takes the value from the data (for",
        "example the class counts from the labels) or does without.",
    ]
    for section, doc in settings_sections():
        rows = [d for d in docs if d.key.rsplit(".", 1)[0] == section]
        lines += ["", f"## `{section}`", "", _escape(doc), ""]
        lines += ["| key | type | default | description |", "|---|---|---|---|"]
        for row in rows:
            default = f"`{row.default}`" if row.default else ""
            cells = [f"`{row.key}`", _escape(row.type), default, _escape(row.description)]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        if section == "model":
            lines += _models_and_tasks()
    return "\n".join(lines) + "\n"


def _models_and_tasks() -> list[str]:
    """What `model.name` and `model.task` choose between (core/model_catalog.py, core/task_specs.py)."""
    from signcli.core.model_catalog import MODEL_CATALOG, SHARED_OPTIONS
    from signcli.core.task_specs import LOOP_KEYS, TASKS

    lines = ["", "### Models", "", "Options every model takes: "]
    lines[-1] += ", ".join(f"`model.{o}`" for o in SHARED_OPTIONS) + "; each also reads its own:"
    lines += ["", "| model (`model.name`) | what it is | its own options |", "|---|---|---|"]
    for entry in MODEL_CATALOG.values():
        options = ", ".join(f"`model.{o}`" for o in entry.options.model_fields)
        lines.append(f"| `{entry.name}` | {_cell(_escape(entry.summary))} | {options} |")
    lines += ["", "### Tasks", ""]
    lines.append(
        "The metrics each task's runs write to `metrics.jsonl`, besides "
        + ", ".join(f"`{key}`" for key in LOOP_KEYS)
        + "; `training.monitor` and `metrics-check` rules may name any of them "
        "(↑ higher is better, ↓ lower is better)."
    )
    lines += [
        "",
        "| task (`model.task`) | learns | metrics | default monitor |",
        "|---|---|---|---|",
    ]
    for spec in TASKS.values():
        metrics = "; ".join(
            f"`{m.name}` {'↓' if m.mode == 'min' else '↑'} {_escape(m.doc)}"
            for m in spec.all_metrics
        )
        row = [f"`{spec.name}`", _escape(spec.summary), metrics, f"`{spec.default_monitor}`"]
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return lines


def commands_markdown(root: Any) -> str:
    """The command reference page: a summary table, then each command's usage and options.
    `root` is the app's click group: `typer.main.get_command(signcli.cli.app)`."""
    import typer

    root_ctx = typer.Context(root, info_name="signcli")
    commands = root.commands  # type: ignore[attr-defined]
    lines = [
        "# Command reference",
        "",
        "Generated from the command-line app (`signcli/cli/`) when the site is built: the same",
        "text as `signcli COMMAND --help`. A default shown for an option that sets a setting is",
        "the settings model's; a `--config` file or `--set` may change it",
        "([settings reference](settings.md)). [Exit codes](exit-codes.md) are the same for",
        "every command.",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    for name, command in commands.items():
        summary = _one_line(_unescape(command.help or "").split("\n\n")[0])
        lines.append(f"| [`signcli {name}`](#{_anchor(name)}) | {_cell(_escape(summary))} |")
    lines += ["", "## Global options", "", "`signcli [GLOBAL OPTIONS] COMMAND ...`", ""]
    lines += _options_table(root, root_ctx)
    for name, command in commands.items():
        ctx = typer.Context(command, info_name=name, parent=root_ctx)
        arguments = [p for p in command.get_params(ctx) if not _is_option(p)]
        usage = ["signcli", name, "[OPTIONS]"]
        usage += [_argument_name(p) if p.required else f"[{_argument_name(p)}]" for p in arguments]
        lines += ["", f"## {name}", "", f"`{' '.join(usage)}`", ""]
        lines += _help_blocks(command.help or "")
        if arguments:
            lines += ["", "| argument | description |", "|---|---|"]
            for param in arguments:
                _, help_text = param.get_help_record(ctx) or ("", "")
                help_text = _escape(_unescape(help_text))
                lines.append(f"| `{_argument_name(param)}` | {_cell(help_text)} |")
        lines += [""] + _options_table(command, ctx)
    return "\n".join(lines) + "\n"


def exit_codes_markdown() -> str:
    """The exit codes page: each code, and the errors (errors.py) that end a command with it."""
    by_code: dict[int, list[type[errors.SigncliError]]] = {}
    for error in _error_classes():
        by_code.setdefault(error.exit_code, []).append(error)
    lines = [
        "# Exit codes",
        "",
        "Every command ends with one of these codes (generated from `signcli/core/errors.py`).",
        "Errors are one or two lines on stderr naming the file, field or flag at fault;",
        "`signcli --debug COMMAND ...` shows the traceback instead. Any other crash exits 2.",
        "",
        "| code | meaning |",
        "|---|---|",
    ]
    lines += [f"| {code} | {_escape(meaning)} |" for code, meaning in sorted(EXIT_MEANINGS.items())]
    lines += ["", "## The errors behind them", "", "| error | exit | when |", "|---|---|---|"]
    for code in sorted(by_code):
        for error in by_code[code]:
            doc = _one_line(error.__doc__ or "")
            lines.append(f"| `{error.__name__}` | {code} | {_cell(_escape(doc))} |")
    return "\n".join(lines) + "\n"


# --- settings: types and values ------------------------------------------------------------


def describe_type(annotation: Any, metadata: list[Any] = ()) -> str:  # type: ignore[assignment]
    """A reader's name for a settings type: `float > 0`, `int ≥ 8 or auto`, `path`,
    `one of: mean, max, cls`, `mapping of stream → float`. None is left out (unset is
    shown by an empty default)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        return describe_type(base, [*metadata, *_constraints_of(extra)])
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        literals = [a for a in options if typing.get_origin(a) is typing.Literal]
        if literals and len(literals) < len(options):  # int ≥ 8 | Literal["auto"]
            others = [describe_type(a, metadata) for a in options if a not in literals]
            words = [str(v) for lit in literals for v in typing.get_args(lit)]
            return " or ".join([*others, *words])
        return " or ".join(describe_type(a, metadata) for a in options)
    if origin is typing.Literal:
        values = [str(v) for v in typing.get_args(annotation)]
        return values[0] if len(values) == 1 else "one of: " + ", ".join(values)
    if origin is dict:
        key, value = typing.get_args(annotation)
        return f"mapping of {_element(key)} → {_element(value)}"
    if origin in (list, tuple):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        if origin is tuple:
            return "[" + ", ".join(describe_type(a) for a in args) + "]"
        return f"list of {_element(args[0])}"
    name = {bool: "bool", int: "int", float: "float", str: "text", Path: "path"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )
    if annotation is Any:
        name = "any"
    bounds = _bounds(metadata)
    return f"{name} {bounds}" if bounds else name


def format_value(value: Any) -> str:
    """A default as a config file writes it: 1e-3, true, [face, hand_l], {} ; "" for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str)
    return str(value)


def format_number(value: float) -> str:
    """1e-3 rather than 0.001; 0.05 and 1.0 as written (as `--help` shows defaults too)."""
    if value != 0 and abs(value) < 0.01:
        mantissa, exponent = f"{value:e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return repr(value)


def _element(annotation: Any) -> str:
    """A type inside a container: the stream names read as `stream`."""
    if typing.get_origin(annotation) is typing.Literal and set(typing.get_args(annotation)) >= {
        "hand_l",
        "hand_r",
    }:
        return "stream"
    return describe_type(annotation)


def _constraints_of(extra: list[Any]) -> list[Any]:
    """The annotated-types constraints inside `Annotated[int, Field(ge=8)]`."""
    found = []
    for item in extra:
        found.extend(getattr(item, "metadata", None) or [item])
    return found


def _bounds(metadata: list[Any]) -> str:
    symbols = (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"))
    parts = []
    for item in metadata:
        for attribute, symbol in symbols:
            bound = getattr(item, attribute, None)
            if bound is not None:
                parts.append(f"{symbol} {bound:g}")
    return ", ".join(parts)


def _section_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _default_of(settings: Settings, key: str) -> Any:
    value: Any = settings
    for part in key.split("."):
        value = getattr(value, part)
    return value


# --- commands: the parameters of the click commands Typer builds -----------------------------


def _options_table(command: Any, ctx: Any) -> list[str]:
    """Tables of a command's options, one per help panel, in the order `--help` shows them,
    with the defaults `--help` shows (a setting's default for options that set one)."""
    setting_keys = getattr(command, "setting_keys", {})
    # a settings command (cli/_defaults.py) hands out its parameters with their defaults
    params = list(command.shown_params() if setting_keys else command.params)
    params += [command.get_help_option(ctx)] if command.get_help_option(ctx) else []
    panels: dict[str, list[tuple[Any, str, str]]] = {}
    for param in params:
        record = param.get_help_record(ctx) if _is_option(param) else None
        if record is not None:  # None: a hidden option
            panel = getattr(param, "rich_help_panel", None) or "Options"
            panels.setdefault(panel, []).append((param, *record))
    lines: list[str] = []
    for panel, rows in panels.items():
        if len(panels) > 1:
            lines += ["", f"**{panel}**", ""]
        lines += ["| option | default | description |", "|---|---|---|"]
        for param, names, help_text in rows:
            help_text, default = _split_default(_unescape(help_text))
            help_text = _escape(help_text)
            key = setting_keys.get(param.name)
            if key:
                link = f"[`{key}`](settings.md#{_anchor(key.rsplit('.', 1)[0])})"
                help_text = f"{help_text} Setting: {link}."
            default = f"`{default}`" if default else ""
            lines.append(f"| `{names}` | {_cell(default)} | {_cell(help_text)} |")
    return lines


_DEFAULT = re.compile(r"\s*\[default: (.*?)\]")


def _split_default(help_text: str) -> tuple[str, str]:
    """("help without its [default: X]", "X") as `--help` writes it."""
    matches = list(_DEFAULT.finditer(help_text))
    if not matches:
        return help_text, ""
    match = matches[-1]  # typer appends its own after the text
    default, _, bounds = match[1].partition("; ")  # "20; x>=1": the range stays in the text
    rest = (
        help_text[: match.start()] + (f" [{bounds}]" if bounds else "") + help_text[match.end() :]
    )
    return rest, default


def _is_option(param: Any) -> bool:
    return bool(getattr(param, "opts", None)) and param.opts[0].startswith("-")


def _argument_name(param: Any) -> str:
    return (param.metavar or param.name.upper()).strip("[]")


def _help_blocks(text: str) -> list[str]:
    """A command's help as markdown: paragraphs as text, indented lines as a code block."""
    lines: list[str] = []
    for paragraph in _unescape(text).split("\n\n"):
        prose: list[str] = []
        code: list[str] = []
        for line in paragraph.splitlines():
            if line.startswith(" ") and line.strip():
                if prose:
                    lines += [_escape(" ".join(prose)), ""]
                    prose = []
                code.append(line)
                continue
            if code:
                lines += ["```text", *code, "```", ""]
                code = []
            prose.append(line.strip())
        if prose:
            lines += [_escape(" ".join(prose)), ""]
        if code:
            lines += ["```text", *code, "```", ""]
    return lines


# --- markdown ---------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _unescape(text: str) -> str:
    """Typer's rich markup escapes `[` as `\\[`; the site shows the plain text."""
    return text.replace("\\[", "[")


_CODE_SPAN = re.compile(r"(`[^`]*`)")


def _escape(text: str) -> str:
    """Markdown-safe text: outside code spans, `<id>` is not an HTML tag and `*` and `_` are
    not emphasis; code spans stay as written."""
    parts = _CODE_SPAN.split(text)
    for i in range(0, len(parts), 2):
        part = parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        parts[i] = re.sub(r"([*_\\])", r"\\\1", part)
    return "".join(parts)


def _cell(text: str) -> str:
    """Text inside a table cell: one line, and `|` does not end the cell."""
    return _one_line(text).replace("|", "\\|")


def _anchor(title: str) -> str:
    """The id the site gives a heading (the toc extension's slug of its text)."""
    return re.sub(r"[^\w-]", "", title.lower().replace(" ", "-").replace(".", ""))


def _error_classes() -> list[type[errors.SigncliError]]:
    """The error classes of errors.py, base class first (a command's own subclasses, e.g. an
    import's interrupt, take their code from these)."""
    found = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.SigncliError)
    ]
    return sorted(found, key=lambda cls: len(cls.__mro__))
