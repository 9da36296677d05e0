"""Read a labels CSV (`file,gloss,cat,occluded`, or `id,gloss[,cat]` of the multi-stream
layout) and pair it with a split folder.

Ids are 0-based integers below MAX_CLASSES (signcli/core/limits.py): the largest id sizes the
model's head. `file` is the npz basename, with or without `.npz`. Optional
`gloss_name` / `cat_name` columns give the class names written to labels.json. Every
column is also kept as text (`LabelTable.text`), for `data.group_by` and so that `eval`
can report per group of a column such as `signer`.
Torch-free; `validate-npz` and training share it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from signcli.core.errors import excerpt
from signcli.core.files import (
    FileTooLarge,
    NotARegularFile,
    open_input,
    open_table,
    sample_id,
)
from signcli.core.limits import MAX_CLASSES
from signcli.data.npz import Problem, list_npz_files

EXPECTED_HEADER = "file,gloss,cat,occluded"
REQUIRED_COLUMNS = ("file", "gloss")
ID_COLUMNS = ("gloss", "cat")


@dataclass(frozen=True)
class LabelProblem(Problem):
    """A problem of the labels CSV; `rows` are 1-based line numbers of the CSV file."""

    rows: tuple[int, ...] = ()


@dataclass
class LabelTable:
    """The parsed labels: one row per sample id, ids as int64 (cat = -1 where absent)."""

    path: Path
    ids: list[str]
    gloss: np.ndarray  # [N] int64
    cat: np.ndarray | None  # [N] int64, None when the CSV has no cat column
    gloss_names: dict[int, str]
    cat_names: dict[int, str]
    problems: list[LabelProblem]
    header: tuple[str, ...] = ()  # the columns as the file names them (lower-cased)
    text: dict[str, list[str]] = field(default_factory=dict)  # header name -> stripped cells

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


def _line_numbers(mask: pd.Series) -> tuple[int, ...]:
    # header is line 1, so data row i (0-based) is line i + 2
    return tuple(int(i) + 2 for i in np.flatnonzero(mask.to_numpy()))


def _rows_text(rows: tuple[int, ...], limit: int = 5) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def _samples_text(ids: pd.Series, mask: pd.Series, limit: int = 5) -> str:
    """The samples (file ids) of the rows in `mask`, as `_rows_text` lists lines: a bad
    value is named by the sample it labels, not only by its line."""
    named = [excerpt(i) if i else "(no file name)" for i in ids[mask].tolist()]
    shown = ", ".join(named[:limit])
    return shown + (f" and {len(named) - limit} more" if len(named) > limit else "")


def read_labels(path: Path) -> LabelTable:
    """Parse and check a labels CSV. Problems are collected, not raised, and each names the
    file; only what is not a regular file at all (a FIFO, which would block the read
    forever, a device, a folder) is a UsageError, raised before it is opened."""
    path = Path(path)
    empty = LabelTable(path, [], np.zeros(0, np.int64), None, {}, {}, [])
    try:
        # a FIFO (which would block the read forever), a device, a folder: raised; a file
        # too large to parse in bounded memory: a finding
        with open_table(path, "labels file") as handle:
            with warnings.catch_warnings(record=True) as caught:
                # pandas warns (on stderr, naming its own source line) of rows with more
                # cells than the header, whose extra cells it drops: a finding instead
                warnings.simplefilter("always", pd.errors.ParserWarning)
                frame = pd.read_csv(
                    handle,
                    dtype=str,
                    keep_default_na=False,
                    skipinitialspace=True,
                    index_col=False,
                    encoding="utf-8",
                )
    except NotARegularFile:
        raise
    except FileTooLarge as exc:
        empty.problems.append(LabelProblem("labels_too_large", exc.message))
        return empty
    except FileNotFoundError:
        empty.problems.append(LabelProblem("labels_missing", f"labels file {path} not found"))
        return empty
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        empty.problems.append(
            LabelProblem("labels_unreadable", f"{path}: cannot parse CSV ({reason})")
        )
        return empty

    frame.columns = [str(c).strip().lower() for c in frame.columns]
    header = tuple(frame.columns)
    cells: dict[str, list[str]] = {}
    for position, column in enumerate(header):  # by position: two names may lower-case alike
        cells.setdefault(column, frame.iloc[:, position].str.strip().tolist())
    read = ("file", "id", *ID_COLUMNS, "gloss_name", "cat_name")  # the columns looked up by name
    twice = sorted({c for c in frame.columns[frame.columns.duplicated()] if c in read})
    if twice:  # `File` and `file` both: which one holds the ids is anybody's guess
        found = ",".join(header)
        empty.problems.append(
            LabelProblem(
                "labels_columns",
                f"{path}: column(s) {', '.join(twice)} given more than once (the header is "
                f"read without case: {excerpt(found)}); keep one of each",
            )
        )
        return empty
    if "file" not in frame.columns and "id" in frame.columns:  # multi-stream layout: id,gloss
        frame = frame.rename(columns={"id": "file"})
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        found = ",".join(frame.columns) or "nothing"
        empty.problems.append(
            LabelProblem(
                "labels_columns",
                f"{path}: missing column(s) {', '.join(missing)}: expected header "
                f"{EXPECTED_HEADER!r}, "
                f"found {excerpt(found)}",
            )
        )
        return empty

    problems: list[LabelProblem] = []
    for warning in caught:
        if issubclass(warning.category, pd.errors.ParserWarning):
            rows = _long_rows(path, len(header))
            where = f" on line(s) {_rows_text(rows)}" if rows else ""
            problems.append(
                LabelProblem(
                    "labels_extra_cells",
                    f"{path}: more cells than the header's {len(header)} column(s){where}; "
                    "the extra cells are ignored (an unquoted comma in a name?)",
                    "warning",
                    rows=rows,
                )
            )
            break
        warnings.warn_explicit(  # anything else as it came (none is known)
            warning.message, warning.category, warning.filename, warning.lineno
        )
    ids = frame["file"].map(sample_id)
    numbers: dict[str, np.ndarray] = {}
    for column in ID_COLUMNS:
        if column not in frame.columns:
            continue
        text = frame[column].str.strip()
        # float64 for the checks: pandas parses ids past int64 as uint64 or float, which
        # casting to int64 would wrap into negative or arbitrary ids
        values = pd.to_numeric(text, errors="coerce").astype(np.float64)
        not_int = ~np.isfinite(values) | (values != values.round())
        if not_int.any():
            rows = _line_numbers(not_int)
            example = text[not_int].iloc[0]
            problems.append(
                LabelProblem(
                    "label_not_integer",
                    f"{path}: {column} is not an integer id for sample(s) "
                    f"{_samples_text(ids, not_int)} on line(s) {_rows_text(rows)} (e.g. "
                    f"{excerpt(example)}); ids are 0-based integers",
                    rows=rows,
                )
            )
        negative = ~not_int & (values < 0)
        if negative.any():
            rows = _line_numbers(negative)
            problems.append(
                LabelProblem(
                    "label_negative",
                    f"{path}: {column} is negative for sample(s) {_samples_text(ids, negative)} "
                    f"on line(s) {_rows_text(rows)}; ids are 0-based",
                    rows=rows,
                )
            )
        # each id is a row of the model's head: an id in the billions would allocate it
        too_large = ~not_int & (values >= MAX_CLASSES.value())
        if too_large.any():
            rows = _line_numbers(too_large)
            problems.append(
                LabelProblem(
                    "label_too_large",
                    f"{path}: {column} id too large for sample(s) "
                    f"{_samples_text(ids, too_large)} on line(s) {_rows_text(rows)} (e.g. "
                    f"{excerpt(text[too_large].iloc[0])}): ids are below the number of classes, "
                    f"{MAX_CLASSES.at_most()}",
                    rows=rows,
                )
            )
        usable = ~(not_int | too_large)
        numbers[column] = values.where(usable, -1).astype(np.int64).to_numpy()

    duplicated = ids.duplicated(keep="first")
    if duplicated.any():
        rows = _line_numbers(duplicated)
        problems.append(
            LabelProblem(
                "label_duplicate",
                f"{path}: file listed more than once on line(s) {_rows_text(rows)} "
                f"(e.g. {excerpt(ids[duplicated].iloc[0])})",
                rows=rows,
            )
        )
    empty_ids = ids.str.len() == 0
    if empty_ids.any():
        rows = _line_numbers(empty_ids)
        problems.append(
            LabelProblem(
                "label_no_file", f"{path}: empty file name on line(s) {_rows_text(rows)}", rows=rows
            )
        )

    def names(column: str, id_column: str) -> dict[int, str]:
        if column not in frame.columns or id_column not in numbers:
            return {}
        pairs = zip(numbers[id_column], frame[column].str.strip(), strict=True)
        return {int(i): n for i, n in pairs if i >= 0 and n}

    return LabelTable(
        path=path,
        ids=ids.tolist(),
        gloss=numbers["gloss"],
        cat=numbers.get("cat"),
        gloss_names=names("gloss_name", "gloss"),
        cat_names=names("cat_name", "cat"),
        problems=problems,
        header=header,
        text=cells,
    )


def _long_rows(path: Path, width: int) -> tuple[int, ...]:
    """1-based lines of the CSV `path` whose rows hold more than `width` cells."""
    import csv

    rows = []
    try:
        with open_input(
            path, "labels file", "r", newline="", encoding="utf-8-sig", errors="replace"
        ) as handle:
            reader = csv.reader(handle, skipinitialspace=True)
            next(reader, None)  # the header
            for row in reader:
                if len(row) > width:
                    rows.append(reader.line_num)
    except (OSError, csv.Error):
        return tuple(rows)
    return tuple(rows)


@dataclass(frozen=True)
class SplitMatch:
    """Labels paired with the files of a split folder."""

    files: list[Path]  # labelled files, in label order
    label_rows: list[int]  # index into LabelTable for each file
    unlabelled: list[Path]  # files without a label row
    missing: list[str]  # label ids without a file


def match_split(folder: Path, table: LabelTable) -> SplitMatch:
    """Pair label rows with `<id>.npz` files of `folder`; report both kinds of orphan."""
    by_id = {sample_id(p): p for p in list_npz_files(folder)}
    files, rows, missing = [], [], []
    seen: set[str] = set()
    for row, sid in enumerate(table.ids):
        if sid in seen:
            continue
        seen.add(sid)
        path = by_id.get(sid)
        if path is None:
            missing.append(sid)
        else:
            files.append(path)
            rows.append(row)
    unlabelled = [p for sid, p in by_id.items() if sid not in seen]
    return SplitMatch(files, rows, unlabelled, missing)
