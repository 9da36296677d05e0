"""The files of the multi-stream layout, torch-free: index CSVs, meta.csv, stream folders.

Shared by training (`multistream.py`) and `validate-npz --streams`, which never imports
torch.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd

from signcli.core.errors import DataError, excerpt
from signcli.core.files import check_input_file, oversize
from signcli.core.limits import MAX_TABLE_BYTES

STREAM_SUFFIXES = (".npy", ".npz")
INDEX_COLUMNS = ("video_id", "id")
MAX_LISTED = 5


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    return shown + (f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else "")


def _check_size(path: Path, what: str) -> None:
    too_large = oversize(path, what, MAX_TABLE_BYTES)
    if too_large is not None:
        raise DataError(too_large)


def read_index(path: Path) -> list[str]:
    """The ids of an index CSV (column `video_id`, or `id`), in file order."""
    path = Path(path)
    check_input_file(path, "index file", hint="check --train-index/--val-index")
    _check_size(path, "index file")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
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
    check_input_file(path, "meta file", hint="check --meta")
    _check_size(path, "meta file")
    try:
        frame = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False)
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
