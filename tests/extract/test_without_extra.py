"""Without the `extract` extra: the help says what to install, and running says it again
(exit 2), in any environment (mediapipe and OpenCV are hidden from the import system)."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from signcli.cli import app

INSTALL = 'pip install "signcli[extract]"'


@pytest.mark.parametrize("hidden", ["mediapipe", "cv2"])
def test_extract_without_the_extra_says_what_to_install(hidden, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, hidden, None)  # `import mediapipe` raises ImportError
    (tmp_path / "src" / "hello").mkdir(parents=True)
    (tmp_path / "src" / "hello" / "a.mp4").write_bytes(b"\0" * 64)
    result = CliRunner().invoke(app, ["extract", str(tmp_path / "src"), str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "signcli extract needs" in result.output and INSTALL in result.output
    assert not (tmp_path / "out").exists()


def test_extract_help_names_the_extra_and_whether_it_is_here():
    from importlib.util import find_spec

    result = CliRunner().invoke(app, ["extract", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())  # the help wraps at the terminal's width
    assert "Needs the extract extra (mediapipe 0.10.14 and OpenCV)" in text
    here = find_spec("mediapipe") is not None and find_spec("cv2") is not None
    assert ("installed here" if here else f"NOT installed here: {INSTALL}") in text
