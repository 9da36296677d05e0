"""Turn what a command raises into one or two lines on stderr and its exit code
(docs/architecture.md, "Exit codes and output")."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from signcli.core.errors import EXIT_INTERRUPTED, EXIT_USAGE, SigncliError

DEBUG = os.environ.get("SIGNCLI_DEBUG", "") not in ("", "0")


def error(message: str) -> None:
    """Print an error for people: red `error:` prefix on a terminal, plain text otherwise.
    `message` is rich markup: escape user text in it (`_escape`); emoji codes such as `:x:`
    are never replaced, since a file or sample name may hold one."""
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True, emoji=False).print(
        f"[bold red]error:[/] {message}", markup=True
    )


def interrupted(message: str) -> None:
    """A deliberate Ctrl-C or SIGTERM (training's message says how to resume): printed as
    it is, without the `error:` prefix."""
    print(message, file=sys.stderr, flush=True)


@contextmanager
def guarded() -> Iterator[None]:
    """Map SigncliError to its exit code, Ctrl-C to 130, and any other crash to exit 2
    with one line (the traceback only with --debug or SIGNCLI_DEBUG=1)."""
    try:
        yield
    except typer.Exit:
        raise
    except SigncliError as exc:
        if DEBUG:
            raise
        if exc.exit_code != EXIT_INTERRUPTED:
            error(escape(str(exc)))
        elif _is_main_rank():  # rank 0 says it once; a deliberate stop is not an error
            interrupted(str(exc))
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        interrupted("interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        if DEBUG:
            raise
        error(
            escape(f"unexpected {type(exc).__name__}: {exc}")
            + "\n  rerun with `signcli --debug ...` for the traceback and report it"
        )
        raise typer.Exit(EXIT_USAGE) from None


def _is_main_rank() -> bool:
    """Rank 0 under torchrun (RANK), or the only process."""
    return os.environ.get("RANK", "0").strip() in ("", "0")


def leave_process_group() -> None:
    """Under torchrun, after a command that trained without errors: leave the process group
    (engine/distributed.py); a no-op for one process."""
    from signcli.engine.distributed import shutdown

    shutdown()


def escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


class _StderrHandler(logging.Handler):
    """Looks sys.stderr up at each record, so redirected stderr (tests, pipes) is honoured."""

    def emit(self, record: logging.LogRecord) -> None:
        prefix = f"{record.levelname.lower()}: " if record.levelno >= logging.WARNING else ""
        print(prefix + record.getMessage(), file=sys.stderr, flush=True)


def setup_logging() -> None:
    """Engine messages (logger `signcli`) go to stderr: `warning: ...` or plain info lines."""
    logger = logging.getLogger("signcli")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler())
    logger.setLevel(logging.INFO)


def progress_hook(quiet: bool):  # noqa: ANN201 - ProgressHook is imported lazily
    from signcli.engine.progress import ProgressHook

    return ProgressHook("quiet" if quiet else "auto")
