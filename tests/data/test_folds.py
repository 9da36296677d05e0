"""Grouped folds (data/folds.py): whole groups per fold, deterministic, balanced; the group
column from the labels CSV or from `{split}_meta.csv`; clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from signcli.core.errors import DataError, UsageError
from signcli.data.folds import assign_folds, check_fold_count, pool_groups


def test_assign_folds_keeps_groups_whole_and_balances_samples() -> None:
    sizes = {"ann": 5, "bob": 4, "cy": 3, "dee": 2}
    fold_of = assign_folds(sizes, 2)
    assert set(fold_of) == set(sizes)
    loads = [sum(n for g, n in sizes.items() if fold_of[g] == f) for f in range(2)]
    assert loads == [7, 7]  # ann+dee, bob+cy
    assert fold_of["ann"] == fold_of["dee"] != fold_of["bob"] == fold_of["cy"]


def test_assign_folds_ignores_the_order_of_the_groups() -> None:
    sizes = {"a": 3, "b": 3, "c": 1, "d": 2, "e": 2}
    reordered = dict(reversed(list(sizes.items())))
    assert assign_folds(sizes, 3) == assign_folds(reordered, 3)
    assert set(assign_folds(sizes, 3).values()) == {0, 1, 2}  # no fold empty


def test_assign_folds_needs_a_group_per_fold() -> None:
    with pytest.raises(ValueError, match="k <= 2"):
        assign_folds({"a": 1, "b": 1}, 3)


def write_labels(path: Path, header: str, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_pool_groups_reads_the_column_from_labels_or_meta(tmp_path: Path) -> None:
    train = write_labels(
        tmp_path / "train_labels.csv", "file,gloss,Signer", ["a.npz,0,ann", "b,1,bob"]
    )
    val = write_labels(tmp_path / "val_labels.csv", "file,gloss", ["c.npz,0"])
    write_labels(tmp_path / "val_meta.csv", "file,signer,session", ["c.npz,cy,s1"])
    pooled = pool_groups(
        {"train": (tmp_path / "train", train), "val": (tmp_path / "val", val)}, "signer"
    )
    assert [(s.split, s.id, s.group) for s in pooled] == [
        ("train", "a", "ann"), ("train", "b", "bob"), ("val", "c", "cy")
    ]  # fmt: skip
    assert pooled[0].row["gloss"] == "0"


def test_pool_groups_names_a_missing_column_and_its_files(tmp_path: Path) -> None:
    train = write_labels(tmp_path / "train_labels.csv", "file,gloss", ["a.npz,0"])
    write_labels(tmp_path / "train_meta.csv", "file,session", ["a.npz,s1"])
    with pytest.raises(
        UsageError, match=r"no column 'signer' in .*train_labels.csv nor in .*train_meta.csv"
    ) as err:
        pool_groups({"train": (tmp_path / "train", train)}, "signer")
    assert "file, gloss" in str(err.value)


def test_pool_groups_refuses_samples_without_a_group(tmp_path: Path) -> None:
    train = write_labels(tmp_path / "train_labels.csv", "file,gloss,signer", ["a,0,ann", "b,0,"])
    with pytest.raises(DataError, match=r"1 sample\(s\) have no signer: b"):
        pool_groups({"train": (tmp_path / "train", train)}, "signer")


def test_pool_groups_refuses_a_name_in_two_splits(tmp_path: Path) -> None:
    train = write_labels(tmp_path / "train_labels.csv", "file,gloss,signer", ["a,0,ann"])
    val = write_labels(tmp_path / "val_labels.csv", "file,gloss,signer", ["a.npz,0,bob"])
    with pytest.raises(DataError, match="more than one split"):
        pool_groups({"train": (tmp_path / "t", train), "val": (tmp_path / "v", val)}, "signer")


def test_check_fold_count_wants_as_many_groups_as_folds(tmp_path: Path) -> None:
    train = write_labels(tmp_path / "train_labels.csv", "file,gloss,signer", ["a,0,ann", "b,0,bob"])
    pooled = pool_groups({"train": (tmp_path / "train", train)}, "signer")
    assert check_fold_count(pooled, "signer", 2) == {"ann": 1, "bob": 1}
    with pytest.raises(
        UsageError, match=r"--folds 3: signer has only 2 group\(s\) \(ann, bob\)"
    ) as err:
        check_fold_count(pooled, "signer", 3)
    assert "--folds 2 or fewer" in (err.value.hint or "")
