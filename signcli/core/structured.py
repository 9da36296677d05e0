"""The structured-file reader: small YAML or JSON files (settings, rules, split files, a
run's config.json), read in bounded time and memory, every problem a UsageError naming the
file and line. Torch-free, on the ground floor: settings, metrics-check and the engine read
their files through it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from signcli.core.errors import UsageError
from signcli.core.files import open_input_or_refuse

MAX_FILE_BYTES = 1_000_000  # settings and rules files are a few kB
MAX_VALUES = 10_000  # values in such a file once its YAML aliases are expanded
MAX_NESTING = 32


def read_structured_file(path: Path, what: str, hint: str | None = None) -> Any:
    """The content of a small YAML or JSON file (JSON by its suffix; None when empty), for
    settings and rules files. Refused with a UsageError naming the file, in bounded time and
    memory: a file over MAX_FILE_BYTES, text that is not UTF-8, invalid syntax, nesting
    deeper than MAX_NESTING, and YAML aliases that refer to themselves or expand to more
    than MAX_VALUES values (nested anchors that multiply, the "billion laughs"); a FIFO or
    device, which would block or never end, before it is read (`open_input`); `hint` says
    where the path came from when it does not exist."""
    try:
        with open_input_or_refuse(path, what, hint=hint) as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise UsageError(
            f"{path}: larger than {MAX_FILE_BYTES // 1_000_000} MB, the most a {what} may be"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UsageError(
            f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x})",
            hint="save the file as UTF-8",
        ) from None
    try:
        data = _parse_structured(path, text)
    except RecursionError:
        data = None
        problem = f"nested more than {MAX_NESTING} levels deep"
    else:
        problem = _structure_problem(data)
    if problem is not None:
        raise UsageError(f"{path}: {problem}")
    return data


def _parse_structured(path: Path, text: str) -> Any:
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text) if text.strip() else None
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
        except ValueError as exc:  # valid syntax, but a number Python refuses to read
            raise UsageError(f"{path}: invalid JSON: {value_problem(exc)}") from None
    import yaml

    try:
        return yaml.load(text, Loader=_yaml_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"{where}: invalid YAML: {problem}") from None


_TOO_MANY_DIGITS = re.compile(r"value has (\d+) digits")


def value_problem(exc: Exception) -> str:
    """One line about a value a JSON or YAML parser could not turn into a number or date:
    the integer past Python's digit limit is said in words, not as advice to raise it."""
    too_long = _TOO_MANY_DIGITS.search(str(exc))
    if too_long is not None:
        return (
            f"a number of {int(too_long.group(1)):,} digits "
            f"(at most {sys.get_int_max_str_digits():,} are read)"
        )
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:160]


_LOADER: Any = None


def _yaml_loader() -> Any:
    """yaml.SafeLoader whose value errors are YAML errors at the value's line: PyYAML lets
    a constructor's own exception through for a scalar it matched but cannot build
    (`2020-13-45`: ValueError; an integer of 5,000 digits: ValueError; `!!bool x`: KeyError;
    `!!timestamp x`: AttributeError)."""
    global _LOADER
    if _LOADER is not None:
        return _LOADER
    import yaml

    class Loader(yaml.SafeLoader):
        def construct_object(self, node: Any, deep: bool = False) -> Any:
            try:
                return super().construct_object(node, deep=deep)
            except yaml.YAMLError:
                raise
            except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
                shown = repr(node.value) if isinstance(node.value, str) else "the value"
                shown = shown if len(shown) <= 40 else shown[:37] + "..."
                problem = f"cannot read {shown} as {str(node.tag).rsplit(':', 1)[-1]}"
                if isinstance(exc, (ValueError, OverflowError)):  # the others say nothing more
                    problem += f": {value_problem(exc)}"
                raise yaml.constructor.ConstructorError(
                    None, None, problem, node.start_mark
                ) from None

    _LOADER = Loader
    return Loader


def _structure_problem(data: Any) -> str | None:
    """Why parsed data is unsafe to use, or None. yaml.safe_load turns an alias into a
    reference to the anchored value, so a few lines can stand for billions of values (or
    for a value that contains itself) that anything walking the data (validation, error
    messages) would expand: count the values as expanded, and stop at MAX_VALUES."""
    budget = MAX_VALUES

    def walk(node: Any, where: str, depth: int, open_nodes: set[int]) -> str | None:
        nonlocal budget
        budget -= 1
        if budget < 0:
            return (
                f"more than {MAX_VALUES:,} values once its YAML aliases are expanded "
                "(anchors that multiply?); write the values out"
            )
        if isinstance(node, dict):
            children = [(f"{where}.{key}" if where else str(key), v) for key, v in node.items()]
        elif isinstance(node, list):
            children = [(f"{where}[{i}]", value) for i, value in enumerate(node)]
        else:
            return None
        if id(node) in open_nodes:
            return f"{where or 'the top level'}: a YAML alias refers to a value that holds it"
        if depth >= MAX_NESTING:
            return f"{where}: nested more than {MAX_NESTING} levels deep"
        open_nodes.add(id(node))
        for child_where, child in children:
            problem = walk(child, child_where, depth + 1, open_nodes)
            if problem is not None:
                return problem
        open_nodes.discard(id(node))
        return None

    return walk(data, "", 0, set())
