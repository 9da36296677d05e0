"""The check every output a user names goes through before signcli writes it: never one of
the command's own inputs, never a file of a run (docs/architecture.md, "Work directory").

`export-onnx CKPT --out run/config.json` once replaced the run's settings with an ONNX
graph and exited 0. `check_write_target` refuses (UsageError, exit 2, naming the flag and
the file) a target that is the same file as an input of the command (the checkpoint, a
labels or text CSV, an index), or that bears the name of a run file (`core/run_files.py`)
in a folder that holds a run. Commands call it before any work, with every path they will
write (export-onnx: the graph, the decoder-step graph, tokenizer.json; eval: each report
file in --out; train: --log-csv). Torch-free.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from signcli.core.atomic import check_output_file
from signcli.core.errors import UsageError
from signcli.core.run_files import (
    BEST_CHECKPOINT,
    CONFIG_FILE,
    LAST_CHECKPOINT,
    LOCK_FILE,
    METRICS_FILE,
    RUN_FILES,
    TENSORBOARD_DIR,
)

# a folder holding one of these holds a run (a checkpoint alone is enough: a copied best.pt)
RUN_MARKERS = (CONFIG_FILE, METRICS_FILE, LAST_CHECKPOINT, BEST_CHECKPOINT, LOCK_FILE)
HINT = "choose another path: signcli never writes over its inputs or a run's files"


def holds_run(folder: Path) -> bool:
    """Whether `folder` holds a signcli run (one of its marker files is there)."""
    return any(os.path.lexists(Path(folder) / name) for name in RUN_MARKERS)


def check_write_target(path: Path, flag: str, *, inputs: Iterable[Path | None] = ()) -> None:
    """UsageError (exit 2) unless `path` may be written for `flag`: a regular file or absent
    (`check_output_file`), not the same file as one of `inputs` (None entries skipped), and
    not a run file's name in a folder that holds a run."""
    path = Path(path)
    check_output_file(path, flag)
    for source in inputs:
        if source is not None and _same_file(path, Path(source)):
            raise UsageError(f"{flag} {path} is {source}, an input of this command", hint=HINT)
    own = (*RUN_FILES, LOCK_FILE, TENSORBOARD_DIR)
    if path.name in own and holds_run(path.parent):
        raise UsageError(f"{flag} {path} is one of the run's own files in {path.parent}", hint=HINT)


def _same_file(a: Path, b: Path) -> bool:
    """Same file by inode when both exist, else the same absolute path (links resolved)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        try:
            return a.resolve() == b.resolve()
        except (OSError, RuntimeError, ValueError):
            return False
