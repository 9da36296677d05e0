"""Fuzz the settings: config files (YAML and JSON documents of random plain data over the
real keys, mangled documents, random bytes), `--set` values, flag values, and the
SIGNCLI_MAX_* environment variables.

`load_settings(config, flags, overrides)` returns Settings or raises SettingsError or
UsageError, in bounded memory and time; `train --config FILE --set ...` (without data, so
it never trains) exits 0, 1 or 2 without a traceback or an "unexpected" error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import Sandbox, expect_only, fuzz, invoke, run_bounded
from tests.fuzz.strategies import (
    KEYS,
    ODD_STRINGS,
    PLAUSIBLE,
    mangled,
    plain_data,
    setting_values,
    settings_data,
    to_json,
    to_yaml,
    unmark,
)

# property-based fuzzing of a reader or command: the full lane runs it
pytestmark = pytest.mark.slow


@st.composite
def config_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """(file name, content) of a --config file."""
    suffix = draw(st.sampled_from([".yaml", ".yml", ".json", ".YAML", ".txt", ""]))
    kind = draw(st.sampled_from(["json", "yaml", "yaml", "bytes"]))
    if kind == "bytes":
        return "config" + suffix, draw(st.binary(max_size=200))
    text = (to_json if kind == "json" else to_yaml)(draw(settings_data()))
    if draw(st.integers(0, 3)) == 0:
        text = draw(mangled(text))
    if draw(st.integers(0, 10)) == 0:
        text = "\ufeff" + text
    return "config" + suffix, text.encode("utf-8", errors="surrogatepass")


override_values = st.one_of(
    st.sampled_from([str(v) for v in PLAUSIBLE]),
    st.sampled_from(ODD_STRINGS),
    st.text(max_size=12),
    plain_data(max_leaves=4).map(to_json),
)
overrides = st.lists(
    st.tuples(
        st.sampled_from(KEYS) | st.text(max_size=10),
        st.sampled_from(["=", "=", " = ", "", "=="]),
        override_values,
    )
    .map("".join)
    .map(unmark),
    max_size=4,
)
flags = st.dictionaries(st.sampled_from(KEYS), setting_values, max_size=3)
LIMIT_ENVS = [
    "SIGNCLI_MAX_PARAMETERS", "SIGNCLI_MAX_CLASSES", "SIGNCLI_MAX_LAYERS", "SIGNCLI_MAX_LEN",
    "SIGNCLI_MAX_HEADS", "SIGNCLI_MAX_INPUT_DIM",
]  # fmt: skip
environments = st.dictionaries(
    st.sampled_from(LIMIT_ENVS),
    st.sampled_from(["0", "-1", "1e3", "2e9", "1_000", "nan", "inf", "", " 5 ", "9" * 5000])
    | st.text(max_size=6),
    max_size=2,
)


def _load(config: Path | None, flag_values: dict, sets: list[str], env: dict[str, str]) -> str:
    from signcli.core.errors import SettingsError, UsageError
    from signcli.settings import Settings, load_settings

    saved = {name: os.environ.get(name) for name in env}
    os.environ.update({k: v.replace("\x00", "") for k, v in env.items()})
    try:
        outcome = expect_only(
            lambda: load_settings(config, flag_values, sets), (SettingsError, UsageError)
        )
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    if isinstance(outcome, BaseException):
        assert str(outcome).strip(), "an empty error message"
        return type(outcome).__name__
    assert isinstance(outcome, Settings)
    outcome.model_dump(mode="json")  # what config.json and checkpoints would hold
    return "ok"


@fuzz(40, long=4000)
@given(config=st.none() | config_files(), flag_values=flags, sets=overrides, env=environments)
def test_load_settings_raises_only_settings_errors(
    config, flag_values: dict, sets: list[str], env: dict[str, str], tmp_path: Path
) -> None:
    with Sandbox(tmp_path) as box:
        path = box.file(*config) if config is not None else None
        box.freeze()
        run_bounded(lambda: _load(path, flag_values, sets, env))


@fuzz(5, long=800)
@given(config=config_files(), sets=overrides)
def test_train_with_a_fuzzed_config_and_sets(config, sets: list[str], tmp_path: Path) -> None:
    with Sandbox(tmp_path) as box:
        path = box.file(*config)
        box.freeze()
        args = ["train", "transformer", "--config", str(path), "--work-dir", "run", "--quiet"]
        for item in sets:
            args += ["--set", item]
        run_bounded(lambda: invoke(args), timeout=60, fork=True)
