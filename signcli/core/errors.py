"""Errors that the CLI turns into exit codes (docs/architecture.md, "Exit codes and output").

Library code raises these with a message that names the file, field or flag at
fault and what would fix it; the CLI prints the message without a traceback.
Torch-free, so every command can import it at no cost.
"""

from __future__ import annotations

from collections.abc import Iterable

EXIT_OK = 0
EXIT_NO = 1  # the command ran and the answer is "no"
EXIT_USAGE = 2  # the command could not run
EXIT_INTERRUPTED = 130


class SigncliError(Exception):
    """Base class: a message for the user and the exit code that goes with it."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  {self.hint}"


class UsageError(SigncliError):
    """Bad usage: a missing file, a bad flag, a bad value. Exit 2."""


class SettingsError(UsageError):
    """One or more invalid settings, all reported together (one line each)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class DataError(UsageError):
    """Input data that training, eval or export cannot use. Exit 2."""


class CheckpointError(UsageError):
    """A checkpoint that cannot be read or does not fit the model. Exit 2."""


class DiskError(UsageError):
    """A write into the work directory failed; the previous file is intact. Exit 2."""


class TrainingDiverged(SigncliError):
    """The loss became NaN or Inf; the last good checkpoint is kept. Exit 1."""

    exit_code = EXIT_NO


class TrainingInterrupted(SigncliError):
    """SIGINT/SIGTERM: last.pt was written and the message says how to resume. Exit 130."""

    exit_code = EXIT_INTERRUPTED


class ProcessGroupError(SigncliError):
    """Under torchrun: another process of the run died, hung past the timeout or could not
    be reached; the last saved checkpoint is kept. Exit 2."""


EXCERPT_CHARS = 40  # enough to recognise a header or a value, too short to hold a secret


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """A short, safe quote of what a file holds, for messages: its repr cut to `limit`
    characters with "..." and the full length; nothing of a value holding NULs or other
    control characters (binary, or /proc/self/environ's NUL-separated pairs). An error
    about a file must never print the file: a labels path pointed at /proc/self/environ
    would show the environment, secrets included."""
    plain = str(value)
    if any(ord(char) < 32 and char not in "\t\r\n" for char in plain[:10_000]):
        # NULs or control characters: binary, or a file like /proc/self/environ; quote none
        return f"binary data ({len(plain):,} characters, not shown)"
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(plain):,} characters)"


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """ " (did you mean X?)" for the option closest to a mistyped `word`, or ""."""
    import difflib

    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]}?)" if close else ""
