"""A validation split carved from the training split (`data.val_fraction`, `data.group_by`).

`carve_val_split` is a pure function of (ids, glosses, groups, fraction, seed): the same
inputs give the same split, whatever order the files were listed in. Without groups it is
stratified by gloss: each gloss gives about `fraction` of its samples to validation and
keeps at least one for training. With groups (a labels-CSV column such as `signer`)
whole groups go to one side, chosen so that each gloss gets about its share where the
groups allow it; a gloss whose samples all come from one group may stay in training.

The split is recorded as WORK_DIR/split.json (`ValSplit.to_dict`); `resume` reads the ids
back (`read_split_file`) instead of drawing again. Torch-free: `validate-npz` uses the
group helpers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from signcli.core.errors import DataError, UsageError
from signcli.data.labels import LabelTable

# Keeps the split's random stream apart from the epoch orders, which draw from [seed, epoch].
SPLIT_SALT = 0x5EED5
# Seeded group orders tried; the split closest to the target is kept. Few groups (signers)
# are where the order matters; many (sessions) get fewer tries, GROUP_STEPS groups in all.
GROUP_TRIALS = 16
GROUP_STEPS = 20_000
MAX_LISTED = 5


@dataclass(frozen=True)
class ValSplit:
    """Which training samples went to validation, and how they were chosen."""

    fraction: float
    group_by: str | None
    seed: int
    train_ids: tuple[str, ...]  # sorted
    val_ids: tuple[str, ...]  # sorted
    train_groups: tuple[str, ...] = ()  # sorted, with group_by only
    val_groups: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The content of split.json."""
        record: dict[str, Any] = {
            "fraction": self.fraction,
            "group_by": self.group_by,
            "seed": self.seed,
            "train_samples": len(self.train_ids),
            "val_samples": len(self.val_ids),
        }
        if self.group_by is not None:
            record["train_groups"] = list(self.train_groups)
            record["val_groups"] = list(self.val_groups)
        record["train_ids"] = list(self.train_ids)
        record["val_ids"] = list(self.val_ids)
        return record

    @classmethod
    def from_dict(cls, record: Any, source: Path) -> ValSplit:
        """Read back `to_dict()`; UsageError naming `source` when something is off."""

        def strings(key: str) -> tuple[str, ...]:
            value = record.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UsageError(
                    f"{source}: {key} is not a list of ids",
                    hint="restore the split.json this run wrote, or start again with --overwrite",
                )
            return tuple(value)

        if not isinstance(record, dict) or not {"fraction", "seed", "val_ids"} <= set(record):
            raise UsageError(
                f"{source}: not a split record (expected fraction, group_by, seed, train_ids, "
                "val_ids)",
                hint="restore the split.json this run wrote, or start again with --overwrite",
            )
        fraction, seed, group_by = record["fraction"], record["seed"], record.get("group_by")
        if not (isinstance(fraction, (int, float)) and 0 < fraction < 1) or isinstance(
            fraction, bool
        ):
            raise UsageError(f"{source}: fraction is not a share in (0, 1): {fraction!r}"[:160])
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise UsageError(f"{source}: seed is not a whole number >= 0: {seed!r}"[:160])
        if group_by is not None and not isinstance(group_by, str):
            raise UsageError(f"{source}: group_by is not a column name: {group_by!r}"[:160])
        return cls(
            fraction=float(fraction),
            group_by=group_by,
            seed=seed,
            train_ids=strings("train_ids"),
            val_ids=strings("val_ids"),
            train_groups=strings("train_groups"),
            val_groups=strings("val_groups"),
        )


def read_split_file(path: Path) -> ValSplit:
    """The split a run recorded; UsageError when the file is missing or unreadable."""
    path = Path(path)
    if not path.exists():  # a FIFO or folder there is named by read_structured_file
        raise UsageError(
            f"{path} not found: cannot restore the run's validation split (data.val_fraction)",
            hint="restore the split.json this run wrote, or start again with --overwrite",
        )
    from signcli.core.structured import read_structured_file

    record = read_structured_file(path, "split file")  # bounded; errors name file and line
    return ValSplit.from_dict(record, path)


def carve_val_split(
    ids: Sequence[str],
    gloss: Sequence[int] | np.ndarray,
    fraction: float,
    seed: int,
    groups: Sequence[str] | None = None,
    *,
    group_by: str | None = None,
    source: str = "the training labels",
) -> ValSplit:
    """Split `ids` (unique) into train and val: about `fraction` of each gloss in val,
    whole groups on one side when `groups` (one per id) is given. `group_by` and `source`
    (the labels CSV) name the column and the file in the record and in errors."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    order = sorted(range(len(ids)), key=ids.__getitem__)  # independent of the listing order
    sorted_ids = [ids[i] for i in order]
    labels = np.asarray(gloss, dtype=np.int64)[order]
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    rng = np.random.default_rng([seed, SPLIT_SALT])
    if groups is None:
        in_val = _stratified(inverse, counts, fraction, rng)
        if not in_val.any():
            raise DataError(
                f"data.val_fraction {fraction:g}: no gloss of {source} has 2 samples or more, "
                "so none can spare one for validation",
                hint="pass --val-dir and --val-labels with a validation split of your own",
            )
        train_groups: tuple[str, ...] = ()
        val_groups: tuple[str, ...] = ()
    else:
        column = group_by or "group"
        names, group_of = np.unique(np.asarray([groups[i] for i in order]), return_inverse=True)
        group_of = group_of.reshape(-1)
        if len(names) < 2:
            raise DataError(
                f"data.group_by {column}: {source} has {len(names)} {column} group(s); a "
                "validation split of unseen groups needs at least 2",
                hint="use a column with more groups, drop --group-by, or pass --val-dir",
            )
        chosen = _grouped(inverse, counts, group_of, len(names), fraction, rng)
        if not chosen.any():
            smallest = np.bincount(group_of).min() / len(sorted_ids)
            raise DataError(
                f"data.group_by {column}: none of the {len(names)} {column} groups of {source} "
                f"fits a validation share of {fraction:g} (the smallest holds {smallest:.0%} of "
                "the samples) without taking the last training sample of a gloss",
                hint="use a finer column (e.g. session), raise --val-fraction, or pass --val-dir",
            )
        in_val = chosen[group_of]
        val_groups = tuple(str(g) for g in names[chosen])
        train_groups = tuple(str(g) for g in names[~chosen])
    return ValSplit(
        fraction=fraction,
        group_by=(group_by or "group") if groups is not None else None,
        seed=seed,
        train_ids=tuple(i for i, v in zip(sorted_ids, in_val, strict=True) if not v),
        val_ids=tuple(i for i, v in zip(sorted_ids, in_val, strict=True) if v),
        train_groups=train_groups,
        val_groups=val_groups,
    )


def _stratified(
    inverse: np.ndarray, counts: np.ndarray, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """[N] bool: each class's share of val, by largest remainder so that the total is
    `fraction` of the samples of classes that can spare one (a class keeps one sample)."""
    quota = fraction * counts
    cap = counts - 1
    take = np.minimum(np.floor(quota).astype(np.int64), cap)
    total = max(1, int(np.floor(fraction * counts[counts >= 2].sum() + 0.5)))
    room = np.flatnonzero(take < cap)
    ties = rng.random(len(counts))
    ranked = room[np.lexsort((ties[room], -(quota - take)[room]))]
    take[ranked[: max(0, total - int(take.sum()))]] += 1
    # a random rank within each class: the first `take` of a class go to val
    by_class = np.lexsort((rng.random(len(inverse)), inverse))
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    rank = np.empty(len(inverse), dtype=np.int64)
    rank[by_class] = np.arange(len(inverse)) - starts
    return rank < take[inverse]


def _grouped(
    inverse: np.ndarray,
    counts: np.ndarray,
    group_of: np.ndarray,
    num_groups: int,
    fraction: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """[G] bool, the groups that go to val. Greedy over a seeded group order: a group joins
    val when that brings every class's val share and the total closer to `fraction`
    (squared relative error, each class weighing the same), and never when it would take
    the last training sample of a class with 2 or more. The best of several orders."""
    num_classes, total = len(counts), len(inverse)
    pairs, pair_counts = np.unique(group_of * num_classes + inverse, return_counts=True)
    pair_group, pair_class = np.divmod(pairs, num_classes)
    bounds = np.searchsorted(pair_group, np.arange(num_groups + 1))
    members = [
        (pair_class[bounds[g] : bounds[g + 1]], pair_counts[bounds[g] : bounds[g + 1]])
        for g in range(num_groups)
    ]
    sizes = np.bincount(group_of, minlength=num_groups)
    n = counts.astype(np.float64)
    target, weight = fraction * n, 1.0 / (n * n * num_classes)
    guarded = counts >= 2
    best: tuple[float, np.ndarray] | None = None
    for _ in range(max(2, min(GROUP_TRIALS, GROUP_STEPS // num_groups))):
        val = np.zeros(num_classes)
        val_total = 0
        chosen = np.zeros(num_groups, dtype=bool)
        for g in rng.permutation(num_groups):
            classes, k = members[g]
            if np.any(guarded[classes] & (val[classes] + k >= n[classes])):
                continue
            before = val[classes] - target[classes]
            change = float((weight[classes] * ((before + k) ** 2 - before**2)).sum())
            off = val_total - fraction * total
            change += ((off + sizes[g]) ** 2 - off**2) / total**2
            if change < 0:
                val[classes] += k
                val_total += int(sizes[g])
                chosen[g] = True
        if val_total == 0:
            continue
        cost = float((weight * (val - target) ** 2).sum())
        cost += ((val_total - fraction * total) / total) ** 2
        if best is None or cost < best[0]:
            best = (cost, chosen)
    return best[1] if best is not None else np.zeros(num_groups, dtype=bool)


# ---------------------------------------------------------------------------------------
# Groups of a labels CSV


def label_column(table: LabelTable, column: str) -> list[str]:
    """The text of `column` in every row of `table`; UsageError naming the file and the
    columns it has when it has no such column."""
    if column not in table.text:
        raise UsageError(
            f"{table.path} has no column {column!r} to group by "
            f"(its columns: {', '.join(table.header) or 'none'})",
            hint="pass --group-by with one of those columns, or add the column to the CSV",
        )
    return table.text[column]


def empty_group_lines(values: Sequence[str], rows: Sequence[int]) -> list[int]:
    """1-based CSV lines (header = line 1) of `rows` whose group is empty."""
    return [int(row) + 2 for row in rows if not values[int(row)]]


def group_values(table: LabelTable, column: str, rows: Sequence[int] | np.ndarray) -> list[str]:
    """The group of each label row in `rows`; DataError naming the lines where it is empty
    (a sample of no known group could be any signer, on either side)."""
    values = label_column(table, column)
    empty = empty_group_lines(values, rows)
    if empty:
        shown = ", ".join(str(line) for line in empty[:MAX_LISTED])
        more = f" and {len(empty) - MAX_LISTED} more" if len(empty) > MAX_LISTED else ""
        raise DataError(
            f"{table.path}: {column} is empty on line(s) {shown}{more}",
            hint=f"give every sample a {column}, or drop --group-by",
        )
    return [values[int(row)] for row in rows]


def straddling_groups(groups_by_split: Mapping[str, Sequence[str]]) -> dict[str, dict[str, int]]:
    """{group: {split: samples}} of the groups found in more than one split, by name."""
    counts = {split: Counter(groups) for split, groups in groups_by_split.items()}
    names = sorted(set().union(*(c.keys() for c in counts.values()))) if counts else []
    both = {g: {s: c[g] for s, c in counts.items() if c[g]} for g in names}
    return {g: per_split for g, per_split in both.items() if len(per_split) > 1}


def describe_groups(straddling: Mapping[str, Mapping[str, int]], limit: int = 10) -> str:
    """`s01 (train 12, val 3), s02 (train 9, val 1)`, at most `limit` groups, most samples first."""
    ordered = sorted(straddling.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    shown = ", ".join(
        f"{g} ({', '.join(f'{s} {n}' for s, n in per.items())})" for g, per in ordered[:limit]
    )
    return shown + (f" and {len(ordered) - limit} more" if len(ordered) > limit else "")
