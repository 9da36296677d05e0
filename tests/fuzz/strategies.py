"""Hypothesis strategies shared by the fuzz tests: CSV text, plain data (what JSON and YAML
hold), and the same data written as JSON or YAML text, well-formed or not."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

from hypothesis import strategies as st

# numbers that have broken parsers before: past int64, past float, negative zero, NaN and
# the infinities
ODD_NUMBERS = [
    0, -1, 1, 2, 3, 2**31, 2**63, 2**64, -(2**63) - 1, 10**20, 10**400,
    0.5, -0.0, 1e-320, 1e300, 1.5, math.inf, -math.inf, math.nan,
]  # fmt: skip
# Strings that to_json and to_yaml write as themselves unquoted: an integer of 5,000 digits,
# past Python's int-from-text limit (4,300), and brackets nested past the interpreter's
# recursion limit. Short names, so that hypothesis prints examples (and strategies) short.
HUGE = "<huge integer>"
DEEP = "<deep brackets>"
RAW = {HUGE: "9" * 5000, DEEP: "[" * 100_000}
ODD_STRINGS = [HUGE, DEEP,
    "", " ", "auto", "none", "null", "~", "true", "NaN", "inf", "-inf", "1e400", "1e-400",
    "0x10", "1_000", "99999999999999999999", "[", "{", "]", "[[", "{}", "[]",
    "a,b", "a=b", "\x00", "\\", "\n", "~/x", "../x", "/", ".", "é", "\u202e", "\ud7ff",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(ODD_NUMBERS),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(ODD_STRINGS),
    st.sampled_from([HUGE, DEEP]),  # often enough that the suite's few examples meet them
)


def plain_data(
    keys: st.SearchStrategy[str] | None = None, max_leaves: int = 12
) -> st.SearchStrategy[Any]:
    """What a JSON or YAML file holds: mappings (with `keys` as their keys, mostly), lists,
    and scalars, nested a few levels."""
    keys = st.text(max_size=10) if keys is None else keys | st.text(max_size=6)
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5)
        ),
        max_leaves=max_leaves,
    )


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if value in RAW:
        return RAW[value]
    return json.dumps(unmark(value))  # a double-quoted YAML string


def to_yaml(value: Any, indent: int = 0) -> str:
    """`value` as block-style YAML (written here: yaml.safe_dump refuses nothing we need)."""
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        text = ""
        for key, child in value.items():
            name = json.dumps(str(key))
            if isinstance(child, (dict, list)) and child:
                text += f"{pad}{name}:\n" + to_yaml(child, indent + 2)
            else:
                text += f"{pad}{name}: {to_yaml(child).strip()}\n"
        return text
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        text = ""
        for child in value:
            if isinstance(child, (dict, list)) and child:
                inner = to_yaml(child, indent + 2).lstrip()
                text += f"{pad}- {inner}"
            else:
                text += f"{pad}- {to_yaml(child).strip()}\n"
        return text
    return pad + _yaml_scalar(value) + "\n"


def to_json(value: Any) -> str:
    """`value` as JSON, NaN and the infinities as Python writes them, HUGE and DEEP raw."""
    text = json.dumps(value, default=str)
    for name, raw in RAW.items():
        text = text.replace(json.dumps(name), raw)
    return unmark(text)


def unmark(text: str) -> str:
    """`text` with HUGE and DEEP written out (inside a string, where they stay strings)."""
    for name, raw in RAW.items():
        text = text.replace(name, raw)
    return text


@st.composite
def mangled(draw: st.DrawFn, text: str) -> str:
    """`text` with a few characters cut, inserted or replaced (syntax errors, odd tokens)."""
    chars = list(text)
    for _ in range(draw(st.integers(0, 3))):
        if not chars:
            break
        where = draw(st.integers(0, len(chars) - 1))
        action = draw(st.sampled_from(["cut", "insert", "replace", "truncate"]))
        piece = draw(st.sampled_from(list("{}[]:,'\"&*!|>-#%@`\t\n\\ ")) | st.text(max_size=2))
        if action == "cut":
            del chars[where]
        elif action == "insert":
            chars.insert(where, piece)
        elif action == "replace":
            chars[where] = piece
        else:
            del chars[where:]
    return "".join(chars)


def document(
    keys: st.SearchStrategy[str] | None = None, json_only: bool = False
) -> st.SearchStrategy[str]:
    """A JSON or YAML document of plain data, sometimes mangled, sometimes random text."""
    data = plain_data(keys)
    writers = [to_json] if json_only else [to_json, to_yaml]

    @st.composite
    def build(draw: st.DrawFn) -> str:
        text = draw(st.sampled_from(writers))(draw(data))
        if draw(st.integers(0, 3)) == 0:
            text = draw(mangled(text))
        return text

    return build() | st.text(max_size=80)


# CSV text -------------------------------------------------------------------------------

CSV_CELLS = [
    "0", "1", "2", "-1", "", " ", "nan", "NaN", "inf", "-inf", "1e400", "1.5", "1.0", "0x10",
    "1_000", "99999999999999999999", "18446744073709551615", "9223372036854775808",
    "3000000000", "999999", "1000000", " 1 ", "s0", "s0.npz", "s1", "S1.NPZ", "s2", '"', '""',
    '"a,b"', '"a\nb"', "\\", "#", "\x00", "é", "signer1", "None",
]  # fmt: skip
CSV_COLUMNS = [
    "file", "gloss", "cat", "occluded", "id", "video_id", "gloss_name", "cat_name", "signer",
    "FILE", " gloss ", "file.1", "", "texto", "text", "ID", "Texto", "Gloss",
]  # fmt: skip


@st.composite
def csv_text(
    draw: st.DrawFn, columns: list[str] = CSV_COLUMNS, cells: list[str] = CSV_CELLS
) -> str:
    """A CSV file: a header of (mostly) known columns and rows of odd cells, with a random
    separator, line ending, quoting and ragged rows."""
    sep = draw(st.sampled_from([",", ",", ";", "\t", ", "]))
    end = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
    cell = st.sampled_from(cells) | st.integers(-(2**70), 2**70).map(str) | st.text(max_size=6)
    header = draw(st.lists(st.sampled_from(columns) | st.text(max_size=5), min_size=0, max_size=6))
    rows = draw(st.lists(st.lists(cell, max_size=7), max_size=8))
    text = end.join(sep.join(row) for row in [header, *rows])
    if draw(st.booleans()):
        text += end
    if draw(st.integers(0, 8)) == 0:
        text = "\ufeff" + text
    return text


csv_bytes = st.one_of(
    csv_text().map(lambda t: t.encode("utf-8", errors="surrogatepass")),
    csv_text().map(lambda t: t.encode("utf-16")),
    csv_text().map(lambda t: t.encode("latin-1", errors="replace")),
    st.binary(max_size=200),
)


# settings -------------------------------------------------------------------------------


def _keys() -> list[str]:
    from signcli.settings import settings_keys

    return settings_keys()


KEYS = _keys()
SECTIONS = sorted({key.split(".")[0] for key in KEYS})
LEAVES = sorted({key.rsplit(".", 1)[-1] for key in KEYS})
# values that pass a field's own type, so the checks behind it (validators, layout, limits,
# the dataset root) are reached too
PLAUSIBLE = [
    "auto", 8, 16, 1, 0, 3, 0.5, 1e-3, True, False, None, "transformer", "gru", "multistream",
    "cosine", "plateau", "adamw", "sgd", "val_loss", "val_gloss_top1", "bf16", "amp", "cpu",
    "cuda", "mean", "cls", "attention", "X", "signer", "hand_l=0:63,pose=63:162",
    "hand_l=0:62", "face=3:0", {"hand_l": [0, 63]}, {"pose": [0, 10**20]},
    {"hand_l": [[0, 1], [2, 3]]}, {"face": [0, 1, 2]}, ["face", "pose"], ["mouth"],
    {"face": 0.5}, {"hand_r": 2.0}, "runs/x", "", 129, 10**9, 2**63, 257, 10001, 1024, 4096, 65536,
    "data", ".", "..", "/", "~",
]  # fmt: skip

# copies: a sampled dict must not be edited in place by the next key set inside it
setting_values = st.sampled_from(PLAUSIBLE).map(copy.deepcopy) | scalars | plain_data(max_leaves=4)


@st.composite
def settings_data(draw: st.DrawFn) -> Any:
    """A settings document: real dotted keys (and near misses) with plausible or random
    values, nested into sections; now and then a section that is not a mapping."""
    document: dict[str, Any] = {}
    for _ in range(draw(st.integers(0, 6))):
        key = draw(st.sampled_from(KEYS) | st.sampled_from(SECTIONS) | st.text(max_size=8))
        parts = key.split(".")
        node = document
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = draw(setting_values)
    if draw(st.integers(0, 5)) == 0:
        return draw(plain_data(st.sampled_from(SECTIONS + LEAVES)))
    return document
