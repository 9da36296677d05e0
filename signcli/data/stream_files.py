"""The files of the multi-stream layout, torch-free: index CSVs, meta.csv, stream folders.

Shared by training (`multistream.py`) and `validate-npz --streams`, which never imports
torch.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import IO

import pandas as pd

from signcli.core.errors import DataError, UsageError, excerpt
from signcli.core.files import FileTooLarge, NotARegularFile, open_table

STREAM_SUFFIXES = (".npy", ".npz")
INDEX_COLUMNS = ("video_id", "id")
MAX_LISTED = 5


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    return shown + (f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else "")


def _open(path: Path, what: str, hint: str) -> IO[bytes]:
    """The CSV `path` opened with `open_table` (a regular file, within the size and cell
    bounds); UsageError when it is missing or not a file, DataError when too large."""
    try:
        return open_table(path, what)
    except FileTooLarge as exc:
        raise DataError(exc.message) from None
    except NotARegularFile:
        raise
    except FileNotFoundError:
        raise UsageError(f"{what} {path} not found", hint=hint) from None
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"cannot read {what} {path}: {getattr(exc, 'strerror', None) or exc}"
        ) from None


def read_index(path: Path) -> list[str]:
    """The ids of an index CSV (column `video_id`, or `id`), in file order."""
    path = Path(path)
    try:
        with _open(path, "index file", hint="check --train-index/--val-index") as handle:
            frame = pd.read_csv(
                handle, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8"
            )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot parse CSV ({str(exc).strip() or 'empty'})") from None
    columns = {str(c).strip().lower(): c for c in frame.columns}
    column = next((columns[c] for c in INDEX_COLUMNS if c in columns), None)
    if column is None:
        found = ",".join(columns) or "nothing"
        raise DataError(f"{path}: no column video_id or id (found {excerpt(found)})")
    ids = [i.strip() for i in frame[column].tolist() if i.strip()]
    twice = [i for i, count in Counter(ids).items() if count > 1]
    if twice:
        raise DataError(f"{path}: id(s) listed more than once: {_listing(twice)}")
    return ids


def read_meta(path: Path) -> dict[str, str]:
    """`meta.csv` (`id;texto`, semicolon-separated) as {id: texto}."""
    path = Path(path)
    try:
        with _open(path, "meta file", hint="check --meta") as handle:
            frame = pd.read_csv(handle, sep=";", dtype=str, keep_default_na=False, encoding="utf-8")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot parse CSV ({str(exc).strip() or 'empty'})") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if not {"id", "texto"} <= set(frame.columns):
        found = ";".join(frame.columns) or "nothing"
        raise DataError(f"{path}: expected header 'id;texto', found {excerpt(found)}")
    twice = sorted({c for c in frame.columns[frame.columns.duplicated()] if c in ("id", "texto")})
    if twice:  # the header is read without case: `id;ID` are one name twice
        found = ";".join(frame.columns)
        raise DataError(
            f"{path}: column(s) {', '.join(twice)} given more than once ({excerpt(found)})"
        )
    return dict(zip(frame["id"].str.strip(), frame["texto"], strict=True))


def list_stream_files(folder: Path) -> dict[str, Path]:
    """{id: file} of a stream folder (`<id>.npy` or `<id>.npz`; `.npy` wins a tie)."""
    files: dict[str, Path] = {}
    for path in sorted(Path(folder).iterdir(), reverse=True):  # .npz before .npy: .npy wins
        if path.suffix.lower() in STREAM_SUFFIXES and path.is_file():
            files[path.stem] = path
    return files
