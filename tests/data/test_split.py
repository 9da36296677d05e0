"""The validation split carved from train: stratified, groups whole, seeded, recorded."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signcli.data.labels import read_labels
from signcli.data.split import (
    ValSplit,
    carve_val_split,
    describe_groups,
    group_values,
    read_split_file,
    straddling_groups,
)
from signcli.errors import DataError, UsageError

SIGNERS = tuple(f"s{i:02d}" for i in range(8))


def val_share_per_gloss(split: ValSplit, gloss: dict[str, int]) -> dict[int, float]:
    total = Counter(gloss.values())
    in_val = Counter(gloss[i] for i in split.val_ids)
    return {g: in_val[g] / n for g, n in sorted(total.items())}


def groups_of(split: ValSplit, group: dict[str, str]) -> tuple[set[str], set[str]]:
    return {group[i] for i in split.train_ids}, {group[i] for i in split.val_ids}


def test_each_gloss_gives_its_share_and_the_total_is_the_fraction() -> None:
    ids = [f"x{i:03d}" for i in range(100)]
    gloss = [0] * 40 + [1] * 40 + [2] * 20
    split = carve_val_split(ids, gloss, 0.25, seed=0)
    assert val_share_per_gloss(split, dict(zip(ids, gloss, strict=True))) == {
        0: 0.25,
        1: 0.25,
        2: 0.25,
    }
    assert len(split.val_ids) == 25 and len(split.train_ids) == 75
    assert split.group_by is None and split.val_groups == ()


def test_small_glosses_keep_a_training_sample_and_val_is_not_empty() -> None:
    # 0.15 of 2 or 3 samples rounds to 0 per gloss; the total (0.15 of 21 -> 3) still holds
    ids = [f"x{i:02d}" for i in range(22)]
    gloss = [i // 3 for i in range(21)] + [99]  # 7 glosses of 3, one of a single sample
    split = carve_val_split(ids, gloss, 0.15, seed=3)
    assert len(split.val_ids) == 3
    kept = Counter(g for i, g in zip(ids, gloss, strict=True) if i in split.train_ids)
    assert all(kept[g] >= 1 for g in set(gloss)) and "x21" in split.train_ids
    big = carve_val_split(ids, gloss, 0.9, seed=3)
    kept = Counter(g for i, g in zip(ids, gloss, strict=True) if i in big.train_ids)
    assert all(kept[g] == 1 for g in set(gloss))  # as much val as the rule allows


def test_same_inputs_same_split_whatever_the_order() -> None:
    rng = np.random.default_rng(0)
    ids = [f"v{i:03d}" for i in range(120)]
    gloss = rng.integers(0, 6, 120).tolist()
    groups = [SIGNERS[i] for i in rng.integers(0, len(SIGNERS), 120)]
    for grouped in (None, groups):
        first = carve_val_split(ids, gloss, 0.2, 7, grouped, group_by="signer")
        order = rng.permutation(120)
        shuffled = carve_val_split(
            [ids[i] for i in order],
            [gloss[i] for i in order],
            0.2,
            7,
            None if grouped is None else [grouped[i] for i in order],
            group_by="signer",
        )
        assert shuffled == first
        assert carve_val_split(ids, gloss, 0.2, 8, grouped, group_by="signer") != first


def test_groups_stay_whole_and_each_gloss_gets_its_share() -> None:
    # 8 signers x 4 glosses x 3 repeats: 2 whole signers make exactly a quarter of each gloss
    rows = [(f"{s}_{g}_{r}", g, s) for s in SIGNERS for g in range(4) for r in range(3)]
    ids, gloss, groups = (list(column) for column in zip(*rows, strict=True))
    split = carve_val_split(ids, gloss, 0.25, 0, groups, group_by="signer", source="x.csv")
    train_groups, val_groups = groups_of(split, dict(zip(ids, groups, strict=True)))
    assert not train_groups & val_groups and len(val_groups) == 2
    assert (set(split.train_groups), set(split.val_groups)) == (train_groups, val_groups)
    assert set(val_share_per_gloss(split, dict(zip(ids, gloss, strict=True))).values()) == {0.25}
    assert split.group_by == "signer"


@st.composite
def datasets(draw):
    n = draw(st.integers(1, 60))
    gloss = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    groups = draw(st.lists(st.sampled_from(SIGNERS[:5]), min_size=n, max_size=n))
    fraction = draw(st.floats(0.05, 0.6))
    return [f"id{i}" for i in range(n)], gloss, groups, fraction, draw(st.integers(0, 2**31))


@given(datasets(), st.booleans())
@settings(max_examples=150, deadline=None)
def test_every_id_on_one_side_and_no_group_on_both(data, grouped: bool) -> None:
    ids, gloss, groups, fraction, seed = data
    try:
        split = carve_val_split(ids, gloss, fraction, seed, groups if grouped else None)
    except DataError as exc:  # no gloss can spare a sample, or the groups cannot make a split
        assert "group" in str(exc) if grouped else "2 samples or more" in str(exc)
        return
    assert sorted(split.train_ids + split.val_ids) == sorted(ids)
    assert split.val_ids and not set(split.train_ids) & set(split.val_ids)
    counts = Counter(gloss)
    kept = Counter(g for i, g in zip(ids, gloss, strict=True) if i in set(split.train_ids))
    assert all(kept[g] >= 1 for g, n in counts.items() if n >= 2)
    if grouped:
        train_groups, val_groups = groups_of(split, dict(zip(ids, groups, strict=True)))
        assert not train_groups & val_groups


def test_too_few_groups_are_an_error_naming_the_column() -> None:
    ids = [f"x{i}" for i in range(12)]
    gloss = [i % 3 for i in range(12)]
    with pytest.raises(DataError, match=r"group_by signer: t\.csv has 1 signer group\(s\)"):
        carve_val_split(ids, gloss, 0.2, 0, ["a"] * 12, group_by="signer", source="t.csv")
    halves = ["a"] * 6 + ["b"] * 6  # either half is far more than 0.15 of the samples
    with pytest.raises(DataError, match=r"none of the 2 signer groups of t\.csv fits .* 50%"):
        carve_val_split(ids, gloss, 0.15, 0, halves, group_by="signer", source="t.csv")
    with pytest.raises(DataError, match="no gloss of t.csv has 2 samples or more"):
        carve_val_split(ids[:3], [0, 1, 2], 0.5, 0, source="t.csv")


def test_group_column_must_exist_and_be_filled(write_split, tmp_path: Path) -> None:
    _, labels = write_split(tmp_path, "train", 4, signers=("a", "b"))
    table = read_labels(labels)
    assert table.text["signer"] == ["a", "b", "a", "b"] and table.header[-1] == "signer"
    with pytest.raises(UsageError, match=r"train_labels\.csv has no column 'session'") as info:
        group_values(table, "session", [0, 1])
    assert "(its columns: file, gloss, cat, occluded, signer)" in str(info.value)
    labels.write_text(labels.read_text().replace(",a\n", ",\n", 1))
    with pytest.raises(DataError, match=r"signer is empty on line\(s\) 2"):
        group_values(read_labels(labels), "signer", [0, 1, 2, 3])


def test_straddling_groups_are_listed_with_their_counts() -> None:
    straddling = straddling_groups({"train": ["a", "a", "b", "c"], "val": ["c", "a", "d"]})
    assert straddling == {"a": {"train": 2, "val": 1}, "c": {"train": 1, "val": 1}}
    assert describe_groups(straddling) == "a (train 2, val 1), c (train 1, val 1)"
    assert describe_groups(straddling, limit=1) == "a (train 2, val 1) and 1 more"


def test_the_record_reads_back(tmp_path: Path) -> None:
    split = carve_val_split(["a", "b", "c", "d"], [0, 0, 0, 0], 0.5, 1, ["p", "p", "q", "q"])
    path = tmp_path / "split.json"
    path.write_text(json.dumps(split.to_dict()))
    assert read_split_file(path) == split
    with pytest.raises(UsageError, match="not found: cannot restore"):
        read_split_file(tmp_path / "nope.json")
    path.write_text('{"fraction": 0.5}')
    with pytest.raises(UsageError, match="not a split record"):
        read_split_file(path)
