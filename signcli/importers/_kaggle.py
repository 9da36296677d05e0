"""What the two Kaggle ASL formats' scans share: reading the `train.csv` index of SRC and
checking that the parquet files it lists exist. Reading the parquet files themselves is
data/recordings/kaggle.py, asl_signs.py and asl_fingerspelling.py.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from signcli.core.errors import excerpt
from signcli.core.files import FileTooLarge, NotARegularFile, open_table
from signcli.data.recordings.kaggle import one_line
from signcli.importers.base import ImportFormatError


def read_index(src: Path, name: str, required: tuple[str, ...], what: str) -> list[dict[str, str]]:
    """The rows of `SRC/name` (a CSV with a header) as dicts; ImportFormatError when SRC is
    not a folder, the CSV is missing or unreadable, or lacks one of the `required` columns.
    `what` names the expected layout in those messages."""
    if not src.is_dir():
        raise ImportFormatError(f"{src} is not a folder (expected {what})")
    path = src / name
    if not path.exists():  # a FIFO or folder there is named as such by open_table
        raise ImportFormatError(f"no {name} in {src} (expected {what})")
    try:
        # a regular file within the table bounds, checked before a row is parsed
        with open_table(path, "index CSV", "r", newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            missing = [c for c in required if c not in columns]
            if missing:
                raise ImportFormatError(
                    f"{path} has no column {', '.join(missing)} "
                    f"(expected columns {', '.join(required)}; found {excerpt(', '.join(columns)) if columns else 'none'})"
                )
            return list(reader)
    except (NotARegularFile, FileTooLarge):  # named as such (exit 2)
        raise
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ImportFormatError(f"{path} is not a readable CSV ({one_line(error)})") from error


def listed_path(src: Path, rel: str) -> Path | None:
    """`src / rel`, a file an index CSV lists, or None when `rel` leaves SRC (absolute, or
    through `..`): an index may be anyone's, and must not make the import read (and name in
    its report) files elsewhere, `/proc/self/environ` or another user's data. Links inside
    SRC are the user's own arrangement and are followed."""
    normal = os.path.normpath(rel.replace("\\", "/"))
    if os.path.isabs(normal) or normal == ".." or normal.startswith("../") or "\0" in rel:
        return None
    return src / normal


class FileLister:
    """Whether files exist, listing each folder once (94k `stat`s become a few hundred
    `listdir`s, which matters on network drives)."""

    def __init__(self) -> None:
        self._folders: dict[str, frozenset[str]] = {}

    def exists(self, path: Path) -> bool:
        folder = str(path.parent)
        names = self._folders.get(folder)
        if names is None:
            try:
                names = frozenset(os.listdir(folder))
            except OSError:
                names = frozenset()
            self._folders[folder] = names
        return path.name in names
