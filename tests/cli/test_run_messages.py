"""cli/_run.py: what a command prints when it stops (issue 23, messages): user text is
printed literally (rich markup and emoji codes in a name stay as typed), and a deliberate
stop (Ctrl-C, SIGTERM) is not reported as an error."""

from __future__ import annotations

import pytest
import typer

from signcli.cli._run import guarded
from signcli.core.errors import TrainingInterrupted, UsageError


def stderr_of(exc: BaseException, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(typer.Exit) as stopped:
        with guarded():
            raise exc
    return stopped.value.exit_code, capsys.readouterr().err


def test_markup_and_emoji_codes_in_user_text_are_printed_as_typed(capsys) -> None:
    code, err = stderr_of(UsageError("sample :x: [bold]a[/bold] not found"), capsys)
    assert code == 2
    assert err == "error: sample :x: [bold]a[/bold] not found\n"


def test_ctrl_c_is_not_an_error(capsys) -> None:
    code, err = stderr_of(KeyboardInterrupt(), capsys)
    assert (code, err) == (130, "interrupted\n")


def test_an_interrupted_run_says_how_to_resume_without_error(capsys) -> None:
    message = "interrupted: last.pt saved; continue with `signcli resume runs/x`"
    code, err = stderr_of(TrainingInterrupted(message), capsys)
    assert (code, err) == (130, message + "\n")
