"""The generated reference pages (signcli/reference.py) cover everything: every settings key
with its type, default and docstring, every option of every command, every exit code. A
setting, option or command added later is covered here without a new test."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import typer

from signcli import reference
from signcli.cli import app
from signcli.core import errors
from signcli.core.model_catalog import option_owners
from signcli.settings import ModelSettings, setting_default, setting_field, settings_keys

COMMANDS = typer.main.get_command(app).commands  # type: ignore[attr-defined]
SECTIONS = {key for key, _ in reference.settings_sections()}
LEAF_KEYS = [key for key in settings_keys() if key not in SECTIONS]


@pytest.fixture(scope="module")
def settings_page() -> str:
    return reference.settings_markdown()


@pytest.fixture(scope="module")
def commands_page() -> str:
    return reference.commands_markdown(typer.main.get_command(app))


def settings_row(page: str, key: str) -> list[str]:
    rows = [line for line in page.splitlines() if line.startswith(f"| `{key}` |")]
    assert len(rows) == 1, f"{key}: {len(rows)} rows in the settings reference"
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", rows[0])[1:-1]]


def field_of(key: str):  # noqa: ANN201
    field = setting_field(key)  # a model's option: as the model declaring it has it
    assert field is not None, key
    return field


def test_sections_are_the_settings_models_sections():
    assert {"data", "data.augment", "model", "optim", "training", "text"} <= SECTIONS
    assert len(LEAF_KEYS) > 100  # every key of every section, not only the first


@pytest.mark.parametrize("key", LEAF_KEYS)
def test_every_setting_has_a_row_with_its_docstring(settings_page: str, key: str):
    description = field_of(key).description
    assert description, f"{key} has no docstring: write one under the field in settings.py"
    _, type_, default, shown = settings_row(settings_page, key)
    assert type_
    # the docstring, on one line, as the page escapes it
    expected = " ".join(description.split())
    section, _, leaf = key.rpartition(".")
    if section == "model" and leaf not in ModelSettings.model_fields:  # a model's own option
        owners = ", ".join(option_owners(leaf))
        assert shown.startswith(f"{owners}: "), shown  # which models read it
        shown, expected = shown.removeprefix(f"{owners}: ").lower(), expected.lower()
    assert shown == reference._cell(reference._escape(expected))
    value = setting_default(key)
    assert default == (f"`{reference.format_value(value)}`" if value is not None else "")


@pytest.mark.parametrize(
    ("key", "type_", "default"),
    [
        ("optim.lr", "float > 0", "`1e-3`"),
        ("model.d_model", "int ≥ 8 or auto", "`auto`"),
        ("data.cache", "one of: auto, off, memory, mmap", "`auto`"),
        ("data.val_fraction", "float > 0, < 1", ""),
        ("data.layout", "mapping of stream → [int, int]", ""),
        ("data.normalize", "bool", "`true`"),
        ("data.augment.mirror_p", "float ≥ 0, ≤ 1", "`0.0`"),
        ("training.work_dir", "path", "`runs/train`"),
    ],
)
def test_types_and_defaults_read_as_a_config_file_writes_them(
    settings_page: str, key: str, type_: str, default: str
):
    row = settings_row(settings_page, key)
    assert row[1:3] == [type_.replace("<", "&lt;").replace(">", "&gt;"), default]


def command_sections(page: str) -> dict[str, str]:
    parts = re.split(r"^## (\S+)$", page, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_command_has_its_section_and_a_summary_row(commands_page: str):
    sections = command_sections(commands_page)
    assert set(COMMANDS) <= set(sections)
    for name in COMMANDS:
        assert f"| [`signcli {name}`](#{name}) |" in commands_page


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_of_every_command_is_listed(commands_page: str, name: str):
    section = command_sections(commands_page)[name]
    listed = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", section))
    command = COMMANDS[name]
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        for option in [*param.opts, *getattr(param, "secondary_opts", [])]:
            if option.startswith("-"):
                assert option in listed, f"signcli {name} {option} is missing from the reference"
            else:  # an argument: its name in the usage line
                shown = (param.metavar or param.name.upper()).strip("[]")
                assert f"`{shown}`" in section


def test_options_that_set_a_setting_show_its_default_and_link_it(commands_page: str):
    train = command_sections(commands_page)["train"]
    lr = next(line for line in train.splitlines() if line.startswith("| `--lr"))
    assert "| `1e-3` |" in lr
    assert "[`optim.lr`](settings.md#optim)" in lr
    batch = next(line for line in train.splitlines() if line.startswith("| `--batch-size"))
    assert "| `auto` |" in batch
    # every link goes to a section the settings page has
    for section in re.findall(r"\(settings\.md#([\w-]+)\)", commands_page):
        assert section in {reference._anchor(s) for s in SECTIONS}, section


def test_help_text_is_safe_markdown(commands_page: str):
    # `<id>` would vanish as an HTML tag; `|` inside a cell would split it
    # (train --face-dir's help is now its setting's docstring, with `<id>` in a code span)
    assert "ROOT/&lt;label&gt;/&lt;sequence&gt;/&lt;frame&gt;.npy" in commands_page
    assert "<label>" not in commands_page.replace("`", "")
    assert "max \\|diff\\| &lt;= 1e-4" in commands_page


def test_exit_codes_page_lists_every_code_and_error():
    page = reference.exit_codes_markdown()
    codes = {value for name, value in vars(errors).items() if name.startswith("EXIT_")}
    assert codes == set(reference.EXIT_MEANINGS), "a new exit code needs its meaning"
    for code in codes:
        assert re.search(rf"^\| {code} \| \w", page, flags=re.MULTILINE), code
    for name, value in vars(errors).items():
        if isinstance(value, type) and issubclass(value, errors.SigncliError):
            assert f"| `{name}` | {value.exit_code} |" in page


@pytest.mark.slow
def test_generating_the_pages_imports_no_torch():
    """The site builds in seconds: the pages come from the light modules only."""
    probe = (
        "import sys, typer.main\n"
        "from signcli import reference\n"
        "from signcli.cli import app\n"
        "reference.settings_markdown()\n"
        "reference.commands_markdown(typer.main.get_command(app))\n"
        "reference.exit_codes_markdown()\n"
        "print(sorted({'torch', 'numpy', 'pandas'} & set(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_settings_page_lists_every_model_and_task_with_its_metrics(settings_page: str):
    from signcli.core.model_catalog import MODEL_CATALOG
    from signcli.core.task_specs import TASKS

    for name, entry in MODEL_CATALOG.items():
        row = next(line for line in settings_page.splitlines() if line.startswith(f"| `{name}` |"))
        assert all(f"`model.{option}`" in row for option in entry.options.model_fields), row
    for name, spec in TASKS.items():
        row = next(line for line in settings_page.splitlines() if line.startswith(f"| `{name}` |"))
        assert all(f"`{metric}`" in row for metric in spec.metric_names), row
        assert row.endswith(f"| `{spec.default_monitor}` |")
