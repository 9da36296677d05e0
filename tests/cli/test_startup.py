"""Start-up stays light: `--help`, `--version` and every command's `--help` import neither
torch nor numpy nor pandas (nor OpenCV or mediapipe, which `extract` needs), and
`validate-npz` runs a whole validation without torch.

Each case is a fresh interpreter, because what a process has imported is the subject.
Commands are discovered from the app, so a command added later is covered for free.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from signcli.cli import app

pytestmark = pytest.mark.slow  # each case starts a fresh interpreter: the full lane runs it

# Runs the app in-process with the given arguments, then reports what it had imported.
PROBE = """
import json, sys
from signcli.cli import app
try:
    app(sys.argv[1:], prog_name="signcli", standalone_mode=False)
except SystemExit:
    pass
print("\\n" + json.dumps(sorted({"torch", "numpy", "pandas", "cv2", "mediapipe"} & set(sys.modules))))
"""

COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def imported_heavy_modules(*args: str) -> tuple[set[str], str]:
    """Heavy modules imported by `signcli ARGS` in a fresh process, and its stdout."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    output, _, last_line = result.stdout.rstrip().rpartition("\n")
    return set(json.loads(last_line)), output


def test_the_app_has_its_commands() -> None:
    assert "validate-npz" in COMMANDS and len(COMMANDS) >= 2


@pytest.mark.parametrize(
    "args",
    [["--help"], ["--version"], *([name, "--help"] for name in COMMANDS)],
    ids=" ".join,
)
def test_help_imports_no_heavy_module(args: list[str]) -> None:
    heavy, output = imported_heavy_modules(*args)
    assert heavy == set(), f"signcli {' '.join(args)} imported {sorted(heavy)}"
    assert output.strip(), "the command printed nothing"


def test_validate_npz_runs_without_torch(make_npz_dataset) -> None:
    root: Path = make_npz_dataset(n=6)
    heavy, output = imported_heavy_modules("validate-npz", str(root))
    assert "OK: no errors in 2 splits" in output
    assert "torch" not in heavy  # numpy reads the files and pandas the labels; both allowed
