"""Grouped cross-validation folds: the samples of a dataset's splits pooled, whole groups
(a signer, speaker or session column) assigned to K folds.

`assign_folds` is a pure function of the group sizes: largest group first, each to the fold
holding the fewest samples so far (ties: the lower fold, groups of one size by name), so
the same data gives the same folds whatever the seed or the order of the files, and the
folds come out about equal in samples. `pool_groups` reads the labels CSV of each split and
takes the group column from it, or from `{split}_meta.csv` beside it (where converted sets
keep speaker and session). Torch-free; `signcli cv` (engine/cross_validation.py) uses it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from signcli.core.errors import DataError, UsageError
from signcli.core.files import NotARegularFile, open_table, sample_id
from signcli.data.labels import read_labels

MAX_LISTED = 5


@dataclass(frozen=True)
class PooledSample:
    split: str  # the split it came from (train, val)
    folder: Path  # the split's folder of .npz files
    file: str  # as its labels CSV names it (with or without .npz)
    id: str  # the file name without .npz
    group: str
    row: Mapping[str, str]  # its labels-CSV row, every column as text


def assign_folds(sizes: Mapping[str, int], k: int) -> dict[str, int]:
    """Group -> fold in 0..k-1, every fold non-empty (`sizes`: samples per group, k <= groups)."""
    if not 2 <= k <= len(sizes):
        raise ValueError(f"need 2 <= k <= {len(sizes)} groups, got k={k}")
    load = [0] * k
    fold_of: dict[str, int] = {}
    for group in sorted(sizes, key=lambda g: (-sizes[g], g)):
        fold = min(range(k), key=lambda f: (load[f], f))
        fold_of[group] = fold
        load[fold] += sizes[group]
    return fold_of


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


def _meta_groups(meta: Path, column: str) -> dict[str, str] | None:
    """file id -> the column's value in a `{split}_meta.csv`, or None without that column."""
    try:
        with open_table(meta, "meta file") as handle:  # a regular file, size and cells bounded
            frame = pd.read_csv(
                handle, dtype=str, keep_default_na=False, index_col=False, encoding="utf-8"
            )
    except NotARegularFile:
        raise
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "message", None) or str(exc).strip().splitlines()[0][:160]
        raise DataError(f"{meta}: cannot read it ({reason or type(exc).__name__})") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    key = "file" if "file" in frame.columns else "id" if "id" in frame.columns else None
    if key is None or column not in frame.columns:
        return None
    return {sample_id(f.strip()): g.strip() for f, g in zip(frame[key], frame[column], strict=True)}


def pool_groups(splits: Mapping[str, tuple[Path, Path]], column: str) -> list[PooledSample]:
    """Every labelled sample of `splits` ({name: (folder, labels CSV)}) with its value of
    `column`: from the labels CSV, else from `{name}_meta.csv` beside it. UsageError when a
    split has neither, DataError for an unreadable labels file, a sample without a value,
    or a file name that two splits share."""
    column = column.strip().lower()
    pooled: list[PooledSample] = []
    for name, (folder, labels_csv) in splits.items():
        table = read_labels(labels_csv)
        errors = [p.message for p in table.problems if p.severity == "error"]
        if errors:
            raise DataError(errors[0], hint="run `signcli validate-npz` on the data first")
        files = table.text.get("file") or table.text.get("id") or []
        if column in table.text:
            groups = table.text[column]
        else:
            meta = labels_csv.with_name(f"{name}_meta.csv")
            by_id = _meta_groups(meta, column) if meta.is_file() else None
            if by_id is None:
                where = f"{labels_csv}" + (f" nor in {meta}" if meta.is_file() else "")
                raise UsageError(
                    f"--group-by {column}: no column {column!r} in {where} "
                    f"(columns of {labels_csv.name}: {', '.join(table.header)})",
                    hint=f"name a column of the labels CSV (e.g. signer), or add one to {labels_csv.name}",
                )
            missing = [f for f in files if sample_id(f) not in by_id]
            if missing:
                raise DataError(
                    f"{meta}: no row for {len(missing)} sample(s) of {labels_csv}: {_listing(missing)}",
                    hint=f"give every sample its {column} in {meta.name}",
                )
            groups = [by_id[sample_id(f)] for f in files]
        empty = [f for f, g in zip(files, groups, strict=True) if not g]
        if empty:
            raise DataError(
                f"{labels_csv}: {len(empty)} sample(s) have no {column}: {_listing(empty)}",
                hint=f"fill in the {column} of every sample; whole {column} groups make the folds",
            )
        header = list(table.text)
        for i, (file, group) in enumerate(zip(files, groups, strict=True)):
            row = {c: table.text[c][i] for c in header}
            pooled.append(PooledSample(name, folder, file, sample_id(file), group, row))
    twice = [i for i, n in Counter(s.id for s in pooled).items() if n > 1]
    if twice:
        raise DataError(
            f"{len(twice)} file name(s) occur in more than one split, so the splits cannot be "
            f"pooled: {_listing(sorted(twice))}",
            hint="give every sample a unique file name",
        )
    return pooled


def check_fold_count(pooled: list[PooledSample], column: str, k: int) -> dict[str, int]:
    """Samples per group; UsageError when there are fewer groups than folds."""
    sizes = dict(Counter(s.group for s in pooled))
    if k < 2:
        raise UsageError(f"--folds {k}: cross-validation needs at least 2 folds")
    if len(sizes) < k:
        raise UsageError(
            f"--folds {k}: {column} has only {len(sizes)} group(s) ({_listing(sorted(sizes))}), "
            "and each fold holds out whole groups",
            hint=f"pass --folds {len(sizes)} or fewer"
            if len(sizes) >= 2
            else f"cross-validation by {column} needs data from 2 {column}s or more",
        )
    return sizes
