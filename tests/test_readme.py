"""The README and the guide pages under docs/ show commands that still parse: every
`signcli COMMAND` they use exists and its `--help` exits 0, and every option they pass is
one of that command's. The README keeps its promises to a newcomer (short, the set-up
commands on the first screen, the test command the one CI runs)."""

from __future__ import annotations

import ast
import importlib.util
import re
import shlex
from functools import cache
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from signcli.cli import app
from signcli.core import errors

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
PAGES = [README, *sorted((REPO / "docs").glob("*.md"))]
ROOT = typer.main.get_command(app)
QUICK_START = (
    "python -m pip install -c .ci/constraints.txt -e . && signcli train transformer "
    "--config examples/quickstart.yaml --work-dir runs/quickstart --overwrite"
)
TEST_COMMAND = (
    'python -m pip install -c .ci/constraints.txt -e ".[dev,onnx,tensorboard,extract]" '
    "&& python -m pytest -n 2"
)
PLACEHOLDERS = {"...", "COMMAND"}  # `signcli --debug ...`: no command named


def shell_commands(text: str) -> list[str]:
    """The lines of the ```bash blocks (continuations joined) and the inline code spans
    that start with `signcli `."""
    commands = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL):
        commands += block.replace("\\\n", " ").splitlines()
    commands += re.findall(r"(?<!`)`(signcli [^`]+)`", text)
    return commands


def signcli_calls(line: str) -> list[list[str]]:
    """The argument lists of each `signcli ...` (or `python -m signcli`, `torchrun -m
    signcli`) in one shell line."""
    calls = []
    for part in re.split(r"&&|;|\|", line):
        words = shlex.split(part, comments=True)
        for i, word in enumerate(words):
            launched = i == 0 or words[i - 1] == "-m" or all("=" in w for w in words[:i])
            if word == "signcli" and launched:  # `ENV=1 signcli`, `torchrun ... -m signcli`
                calls.append(words[i + 1 :])
                break
    return calls


@cache
def option_names(command_name: str | None) -> set[str]:
    command = ROOT if command_name is None else ROOT.commands[command_name]  # type: ignore[attr-defined]
    params = command.get_params(typer.Context(command))  # with --help / -h
    return {n for p in params for n in [*p.opts, *getattr(p, "secondary_opts", [])]}


def uses() -> list[tuple[str, list[str]]]:
    found = []
    for page in PAGES:
        for line in shell_commands(page.read_text(encoding="utf-8")):
            found += [(page.name, call) for call in signcli_calls(line)]
    return found


USES = uses()


def test_the_pages_show_commands():
    readme_uses = {command_of(call) for page, call in USES if page == "README.md"}
    assert {"import", "validate-npz", "train", "eval", "export-onnx", "metrics-check"} <= (
        readme_uses
    )


def command_of(call: list[str]) -> str | None:
    """The command of `signcli [GLOBAL OPTIONS] COMMAND ...`, None for `signcli --help`."""
    return next((word for word in call if not word.startswith("-")), None)


@pytest.mark.parametrize(
    "command", sorted({command_of(c) for _, c in USES} - {None, *PLACEHOLDERS})
)
def test_every_command_used_exists_and_its_help_exits_0(command: str):
    assert command in ROOT.commands, f"`signcli {command}` is not a command"  # type: ignore[attr-defined]
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("page", "call"), USES, ids=[f"{p}: {' '.join(c)[:60]}" for p, c in USES])
def test_every_option_used_is_one_of_the_commands(page: str, call: list[str]):
    words = list(call)
    while words and words[0].startswith("-"):  # global options before the command
        assert words.pop(0) in option_names(None), f"{page}: signcli {' '.join(call)}"
    if not words or words[0] in PLACEHOLDERS:
        return
    command, *args = words
    assert command in ROOT.commands, f"{page}: `signcli {command}` is not a command"  # type: ignore[attr-defined]
    for arg in args:
        if re.match(r"^--?[A-Za-z]", arg):
            option = arg.split("=", 1)[0]
            assert option in option_names(command), f"{page}: `signcli {command}` has no {option}"


def test_readme_is_short_and_starts_with_what_a_newcomer_needs():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250
    first_screen = "\n".join(lines[:45])
    assert "| `signcli train MODEL ...` |" in first_screen  # the command table
    assert QUICK_START in first_screen
    assert "docs/getting-started.md" in first_screen


def test_readme_set_up_commands_are_the_ones_ci_runs():
    text = README.read_text(encoding="utf-8")
    assert QUICK_START in text
    assert TEST_COMMAND in text
    assert TEST_COMMAND in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_exit_codes_are_the_codes_of_errors_py():
    text = README.read_text(encoding="utf-8")
    table = text[text.index("## Exit codes") :]
    listed = {int(code) for code in re.findall(r"^\| (\d+) \|", table, flags=re.MULTILINE)}
    assert listed == {v for k, v in vars(errors).items() if k.startswith("EXIT_")}


def python_imports() -> list[tuple[str, str, str]]:
    """(page, module, name) of each `from signcli... import name` in a ```python block."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for block in re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL):
            for node in ast.walk(ast.parse(block)):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("signcli"):
                    found += [(page.name, node.module, alias.name) for alias in node.names]
    return found


@pytest.mark.parametrize(("page", "module", "name"), python_imports())
def test_python_examples_import_what_exists(page: str, module: str, name: str):
    """Read from the module's source, so that the engine's torch is not imported."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, f"{page}: no module {module}"
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    defined = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            defined |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defined |= {t.id for t in targets if isinstance(t, ast.Name)}
    assert name in defined, f"{page}: {module} has no {name}"
