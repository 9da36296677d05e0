"""Settings: precedence of the sources, typing of --set, and one readable line per problem."""

from __future__ import annotations

import json
import time
import types
import typing
from pathlib import Path
from typing import Annotated

import pytest

from signcli.core.errors import SettingsError, UsageError
from signcli.settings import Settings, load_settings, monitor_mode, settings_keys


def test_defaults_validate() -> None:
    settings = load_settings()
    assert settings == Settings()
    assert settings.optim.grad_clip == 1.0


def test_precedence_defaults_file_flags_set(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(
        "optim:\n  lr: 0.01\n  weight_decay: 0.2\ntraining:\n  epochs: 7\n  batch_size: 4\n"
    )
    settings = load_settings(
        config,
        flags={"optim.lr": 0.02, "training.epochs": None, "training.batch_size": 8},
        overrides=["training.batch_size=16"],
    )
    assert settings.optim.weight_decay == 0.2  # file beats default
    assert settings.optim.lr == 0.02  # flag beats file
    assert settings.training.epochs == 7  # a flag left unset does not override
    assert settings.training.batch_size == 16  # --set beats flag


def test_json_config(tmp_path: Path) -> None:
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"model": {"d_model": 64, "num_heads": 4}}))
    assert load_settings(config).model.d_model == 64


@pytest.mark.parametrize(
    ("override", "section", "key", "value"),
    [
        ("training.epochs=3", "training", "epochs", 3),
        ("optim.lr=3e-4", "optim", "lr", 3e-4),
        ("training.deterministic=true", "training", "deterministic", True),
        ("training.deterministic=no", "training", "deterministic", False),
        ("optim.scheduler=steplr", "optim", "scheduler", "steplr"),
        ("model.num_gloss=none", "model", "num_gloss", None),
        ("data.key=no", "data", "key", "no"),  # a string field stays a string
    ],
)
def test_set_values_are_typed_by_the_field(override, section, key, value) -> None:
    settings = load_settings(overrides=[override])
    assert getattr(getattr(settings, section), key) == value


def test_every_problem_reported_at_once_one_line_each() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(
            overrides=[
                "optim.lrr=3",
                "optim.lr=-1",
                "training.batch_size=0",
                "model.dropout=1.5",
                "optim.label_smoothing=2",
            ]
        )
    problems = info.value.problems
    assert len(problems) == 5
    assert "optim.lrr: unknown key (did you mean optim.lr?)" in problems
    assert any(
        p.startswith("optim.lr:") and "greater than 0" in p and "'-1'" in p for p in problems
    )
    assert any(p.startswith("training.batch_size:") and "'0'" in p for p in problems)
    assert any(p.startswith("model.dropout:") and "'1.5'" in p for p in problems)
    assert any(p.startswith("optim.label_smoothing:") for p in problems)


def test_typo_in_section_and_enum_value_suggests_closest() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(overrides=["optm.lr=1", "model.name=transfomer", "training.monitor=val_top1"])
    text = str(info.value)
    assert "optm: unknown key (did you mean optim?)" in text
    assert "model.name" in text and "did you mean transformer?" in text
    assert "training.monitor" in text


def test_set_without_equals_is_a_problem() -> None:
    with pytest.raises(SettingsError, match="expected section.key=value"):
        load_settings(overrides=["optim.lr"])


@pytest.mark.parametrize(
    ("item", "problem"),
    [  # found by tests/fuzz: "unexpected RecursionError" and "unexpected ValueError"
        (
            "data.normalize_streams=" + "[" * 100_000,
            "--set data.normalize_streams: cannot read the value: nested too deeply",
        ),
        (
            "data.mirror_pairs=" + "9" * 5000,
            "--set data.mirror_pairs: cannot read the value: a number of 5,000 digits",
        ),
    ],
)
def test_set_values_json_cannot_build_are_problems(item: str, problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(overrides=[item, "optim.lrr=1"])
    assert problem in str(caught.value)
    assert "optim.lrr: unknown key" in str(caught.value)  # the other problems still come


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("optim:\n  lr: 0.1\n  weight_decay: [0.1\ntraining:\n  epochs: 3\n")
    with pytest.raises(UsageError, match=r"bad\.yaml:\d+: invalid YAML"):
        load_settings(config)


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [  # found by tests/fuzz: each escaped as "unexpected ValueError" (or KeyError, ...)
        (
            "big.json",
            '{"optim": {"lr": ' + "9" * 5000 + "}}",
            "invalid JSON: a number of 5,000 digits",
        ),
        ("big.yaml", "optim:\n  lr: " + "9" * 5000 + "\n", ":2: invalid YAML: cannot read '999"),
        (
            "date.yaml",
            "data:\n  dataset: 2020-13-45\n",
            ":2: invalid YAML: cannot read '2020-13-45' as timestamp: month",
        ),
        ("bool.yaml", "model: {name: !!bool x}\n", ":1: invalid YAML: cannot read 'x' as bool"),
        ("stamp.yaml", "x: !!timestamp x\n", ":1: invalid YAML: cannot read 'x' as timestamp"),
        ("int.yaml", "x: !!int x\n", ":1: invalid YAML: cannot read 'x' as int: invalid literal"),
    ],
)
def test_values_the_parser_cannot_build_name_the_file(
    tmp_path: Path, name: str, text: str, problem: str
) -> None:
    config = tmp_path / name
    config.write_text(text)
    with pytest.raises(UsageError) as caught:
        load_settings(config)
    assert str(caught.value).startswith(str(config))
    assert problem in str(caught.value)
    assert "set_int_max_str_digits" not in str(caught.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        load_settings(tmp_path / "nope.yaml")


def test_heads_must_divide_width() -> None:
    with pytest.raises(SettingsError, match="model.num_heads: must divide model.d_model=64"):
        load_settings(overrides=["model.d_model=64", "model.num_heads=5"])


def test_a_task_of_the_wrong_type_is_a_settings_error() -> None:
    """A config file's `task: []` (a list, found by the settings fuzzer) once raised a bare
    TypeError while the monitor check looked the task up."""
    for task in ([], {"a": 1}):
        with pytest.raises(SettingsError) as info:
            load_settings(flags={"model.task": task, "training.monitor": "val_wer"})
        assert any(p.startswith("model.task:") for p in info.value.problems), info.value.problems


def test_keys_and_monitor_mode() -> None:
    keys = settings_keys()
    assert "optim.lr" in keys and "training.work_dir" in keys
    assert monitor_mode("val_loss") == "min" and monitor_mode("val_gloss_top1") == "max"


def test_typos_in_nested_sections_suggest_the_full_key() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(overrides=["data.augment.mirorr_p=0.5", "data.augmnt.mirror_p=1"])
    problems = info.value.problems
    assert "data.augment.mirorr_p: unknown key (did you mean data.augment.mirror_p?)" in problems
    assert "data.augmnt: unknown key (did you mean data.augment?)" in problems
    assert "data.augment.jitter_sd" in settings_keys() and "data" not in settings_keys()


def _float_keys() -> list[str]:
    """Every settings key whose value is a float, or a float or `auto` / None."""
    from signcli.settings import _field_annotation

    def is_float(annotation: object) -> bool:
        if typing.get_origin(annotation) is Annotated:
            annotation = typing.get_args(annotation)[0]
        return annotation is float

    keys = []
    for key in settings_keys():
        annotation = _field_annotation(key)
        union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
        options = typing.get_args(annotation) if union else (annotation,)
        if any(is_float(option) for option in options):
            keys.append(key)
    return keys


def test_float_keys_are_found() -> None:
    keys = _float_keys()
    assert {"optim.lr", "model.dropout", "data.val_fraction", "data.augment.shear"} <= set(keys)
    assert "data.augment.mix_streams" not in keys  # a dict of floats: its own test below


@pytest.mark.parametrize("key", _float_keys())
@pytest.mark.parametrize("value", ["inf", "-inf", "1e400", "nan"])
def test_every_float_key_refuses_inf_and_nan(key: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(overrides=[f"{key}={value}"])
    [problem] = info.value.problems
    assert problem.startswith(f"{key}: expected a finite number")
    assert problem.endswith(f"(got {value!r})")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("run.yaml", "optim:\n  lr: .inf\n  grad_clip: .nan\nmodel:\n  dropout: -.inf\n"),
        ("run.yaml", "optim:\n  lr: 1.0e400\n  grad_clip: .NaN\nmodel:\n  dropout: .nan\n"),
        ("run.json", '{"optim": {"lr": Infinity, "grad_clip": NaN}, "model": {"dropout": 1e400}}'),
    ],
)
def test_inf_and_nan_in_a_config_file_name_each_key(tmp_path: Path, name: str, text: str) -> None:
    config = tmp_path / name
    config.write_text(text)
    with pytest.raises(SettingsError) as info:
        load_settings(config)
    problems = info.value.problems
    assert [p.split(":")[0] for p in problems] == ["model.dropout", "optim.lr", "optim.grad_clip"]
    assert all("finite number" in p and "\n" not in p for p in problems)
    assert "or auto" in problems[0]  # the `float | auto` field still says both


def test_inf_in_flags_and_stream_mix_is_refused() -> None:
    flags = {"optim.lr": float("inf"), "data.augment.mix_streams": {"hand_l": float("nan")}}
    with pytest.raises(SettingsError) as info:
        load_settings(flags=flags)
    assert info.value.problems == [
        "data.augment.mix_streams.hand_l: expected a finite number (got NaN)",
        "optim.lr: expected a finite number (got Infinity)",
    ]


def test_auto_and_finite_values_still_load() -> None:
    settings = load_settings(
        overrides=["model.dropout=auto", "optim.lr=1e-300", "training.epochs=auto"]
    )
    assert settings.model.dropout == "auto" and settings.optim.lr == 1e-300
    assert load_settings(overrides=["model.dropout=0.25"]).model.dropout == 0.25


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("model: 5\n", "model: expected a mapping of model keys (got 5)"),
        ("model: [1, 2]\n", "model: expected a mapping of model keys (got [1, 2])"),
        ("optim: fast\n", "optim: expected a mapping of optim keys (got 'fast')"),
        (
            "data:\n  augment: 0.5\n",
            "data.augment: expected a mapping of data.augment keys (got 0.5)",
        ),
    ],
)
def test_a_section_that_is_not_a_mapping_is_refused(tmp_path: Path, text, problem) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(text + "training:\n  batch_size: 0\n")
    # the flags set keys inside every section, as `signcli train` does
    flags = {"model.name": "gru", "optim.lr": 0.1, "data.augment.mirror_p": 0.5}
    with pytest.raises(SettingsError) as info:
        load_settings(config, flags=flags)
    assert info.value.problems[0] == f"{config}: {problem}"
    assert info.value.problems[1].startswith("training.batch_size:")  # still found
    assert len(info.value.problems) == 2


def test_an_empty_section_is_no_section(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("model:\noptim:\n  lr: 0.01\n")
    settings = load_settings(config, flags={"model.name": "gru"})
    assert settings.model.name == "gru" and settings.optim.lr == 0.01


def test_stored_settings_with_a_bad_section_are_refused() -> None:
    with pytest.raises(SettingsError, match=r"^model: expected a mapping of model keys \(got 5\)$"):
        load_settings(base={"model": 5}, flags={"model.name": "gru"})


def test_an_empty_work_dir_is_refused(tmp_path: Path) -> None:
    problem = "training.work_dir: expected a run folder, e.g. runs/exp1, not an empty path"
    for override in ("training.work_dir=", "training.work_dir=  "):
        with pytest.raises(SettingsError, match=problem):
            load_settings(overrides=[override])
    config = tmp_path / "run.yaml"
    config.write_text('training:\n  work_dir: ""\n')
    with pytest.raises(SettingsError, match=problem):
        load_settings(config)
    assert load_settings(overrides=["training.work_dir=."]).training.work_dir == Path(".")


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    """YAML whose anchors multiply: `levels` nested anchors of `width` aliases each, i.e.
    width ** levels values once expanded (9 ** 9: 387 million), used as optim.lr."""
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "\n".join(lines) + f"\noptim:\n  lr: *l{levels - 1}\n"


def test_a_billion_laughs_file_is_refused_quickly(tmp_path: Path) -> None:
    config = tmp_path / "laughs.yaml"
    config.write_text(billion_laughs())
    assert config.stat().st_size < 1000
    started = time.perf_counter()
    with pytest.raises(UsageError) as info:
        load_settings(config, flags={"model.name": "gru"})
    assert time.perf_counter() - started < 5
    assert str(info.value) == (
        f"{config}: more than 10,000 values once its YAML aliases are expanded "
        "(anchors that multiply?); write the values out"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("model: &m\n  sub: *m\n", "model.sub: a YAML alias refers to a value that holds it"),
        ("optim:\n  lr: &x [1, *x]\n", "optim.lr[1]: a YAML alias refers to a value that holds it"),
        ("&top\noptim: *top\n", "optim: a YAML alias refers to a value that holds it"),
        ("optim:\n  lr: " + "[" * 40 + "]" * 40 + "\n", "nested more than 32 levels deep"),
        ("optim:\n  lr: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than 32 levels deep"),
    ],
)
def test_recursive_or_deep_yaml_is_refused(tmp_path: Path, text: str, problem: str) -> None:
    config = tmp_path / "loop.yaml"
    config.write_text(text)
    with pytest.raises(UsageError) as info:
        load_settings(config)
    assert str(info.value).startswith(f"{config}: ") and problem in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.slow
def test_deep_json_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "deep.json"
    config.write_text('{"optim": {"lr": ' + "[" * 100_000 + "]" * 100_000 + "}}")
    with pytest.raises(UsageError, match=r"deep\.json: nested more than 32 levels deep"):
        load_settings(config)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        (
            "latin1.yaml",
            b"optim:\n  lr: 0.1\n# caf\xe9\n",
            "latin1.yaml:3: not UTF-8 text (byte 0xe9)",
        ),
        (
            "utf16.json",
            '{"optim": {}}'.encode("utf-16"),
            "utf16.json:1: not UTF-8 text (byte 0xff)",
        ),
        # bytes 0..255: 0x0a ends line 1, 0x80 is the first that is not UTF-8
        ("binary.yaml", bytes(range(256)), "binary.yaml:2: not UTF-8 text (byte 0x80)"),
    ],
)
def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path, name, content, problem) -> None:
    config = tmp_path / name
    config.write_bytes(content)
    with pytest.raises(UsageError) as info:
        load_settings(config)
    assert str(info.value).startswith(str(tmp_path / problem))
    assert "save the file as UTF-8" in str(info.value)


def test_a_utf8_file_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    config = tmp_path / "bom.json"
    config.write_bytes('{"optim": {"lr": 0.5}}'.encode("utf-8-sig"))
    assert load_settings(config).optim.lr == 0.5


def test_a_file_over_1_mb_is_refused_unread(tmp_path: Path) -> None:
    config = tmp_path / "big.yaml"
    config.write_text("optim:\n  lr: 0.1\n" + "#" * 1_000_000 + "\n")
    with pytest.raises(UsageError, match=r"big\.yaml: larger than 1 MB, the most a settings file"):
        load_settings(config)


def test_a_seed_numpy_cannot_take_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="training.seed"):
        load_settings(overrides=[f"training.seed={2**70}"])


def test_decoder_sizes_a_checkpoint_stores_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match="decoder_kwargs.*num_layers: at most 128 layers"):
        load_settings(overrides=['model.decoder_kwargs={"num_layers": 100000}'])
    monkeypatch.setenv("SIGNCLI_MAX_LAYERS", "200000")
    load_settings(overrides=['model.decoder_kwargs={"num_layers": 100000}'])


def test_a_vocabulary_size_past_the_class_limit_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="text.vocab_size: .*SIGNCLI_MAX_CLASSES"):
        load_settings(overrides=[f"text.vocab_size={10**12}"])


def test_class_counts_and_output_ids_belong_to_their_tasks() -> None:
    """model.num_gloss / num_cat count classify's classes, model.num_tokens a text task's
    output ids: a count of the other kind would be ignored, so it is refused by name."""
    with pytest.raises(SettingsError, match="model.num_gloss: a ctc run has no classes"):
        load_settings(overrides=["model.task=ctc", "model.num_gloss=5"])
    with pytest.raises(SettingsError, match="model.num_cat: a translate run has no classes"):
        load_settings(overrides=["model.task=translate", "model.num_cat=3"])
    with pytest.raises(SettingsError, match="model.num_tokens: output ids of the text tasks"):
        load_settings(overrides=["model.num_tokens=40"])
    assert load_settings(overrides=["model.task=ctc", "model.num_tokens=40"]).model.num_tokens == 40
    assert load_settings(overrides=["model.num_gloss=5", "model.num_cat=0"]).model.num_cat == 0
