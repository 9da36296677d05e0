"""The validation split carved from train: stratified, groups whole, seeded, recorded."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signcli.core.errors import DataError, SettingsError, UsageError
from signcli.data.labels import read_labels
from signcli.data.sources import load_training_data
from signcli.data.split import (
    ValSplit,
    carve_val_split,
    describe_groups,
    group_values,
    read_split_file,
    straddling_groups,
)
from signcli.data.synthetic import write_multistream_dataset
from signcli.settings import load_settings

SIGNERS = tuple(f"s{i:02d}" for i in range(8))


def val_share_per_gloss(split: ValSplit, gloss: dict[str, int]) -> dict[int, float]:
    total = Counter(gloss.values())
    in_val = Counter(gloss[i] for i in split.val_ids)
    return {g: in_val[g] / n for g, n in sorted(total.items())}


def add_signers(labels: Path, signers: list[str]) -> None:
    """Append a `signer` column to a labels CSV, one value per data row."""
    lines = labels.read_text().splitlines()
    column = ["signer", *signers]
    labels.write_text("".join(f"{a},{b}\n" for a, b in zip(lines, column, strict=True)))


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


@pytest.mark.slow
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


@pytest.mark.parametrize(
    ("change", "words"),
    [  # each was an "unexpected TypeError/ValueError" of resume (float([1]), int("x"), ...)
        ({"fraction": [1]}, "fraction is not a share in (0, 1)"),
        ({"fraction": 2.0}, "fraction is not a share in (0, 1)"),
        ({"seed": "x"}, "seed is not a whole number >= 0"),
        ({"group_by": 3}, "group_by is not a column name"),
    ],
)
def test_a_split_record_with_values_of_the_wrong_kind_names_the_file(
    tmp_path: Path, change: dict, words: str
) -> None:
    split = carve_val_split(["a", "b", "c", "d"], [0, 0, 0, 0], 0.5, 1)
    path = tmp_path / "split.json"
    path.write_text(json.dumps({**split.to_dict(), **change}))
    with pytest.raises(UsageError, match=rf"split\.json: {re.escape(words)}"):
        read_split_file(path)
    path.write_text('{"fraction": ' + "9" * 5000 + "}")
    with pytest.raises(UsageError, match=r"split\.json: invalid JSON: a number of 5,000 digits"):
        read_split_file(path)


# ---------------------------------------------------------------------------------------
# load_training_data: one train split read, two views


def npz_settings(root: Path, *extra: str):
    return load_settings(
        overrides=[
            f"data.train_dir={root / 'train'}",
            f"data.train_labels={root / 'train_labels.csv'}",
            *extra,
        ]
    )


@pytest.fixture
def signed(write_split, tmp_path: Path) -> Path:
    root = tmp_path / "data"
    write_split(root, "train", 48, T=4, D=6, num_gloss=3, signers=SIGNERS)
    return root


def test_train_and_val_are_views_of_the_one_training_split(signed: Path) -> None:
    data = load_training_data(
        npz_settings(signed, "data.val_fraction=0.25", "data.group_by=Signer")
    )
    assert data.val is not None and data.split is not None and data.split.group_by == "signer"
    assert (data.train.ids, data.val.ids) == (list(data.split.train_ids), list(data.split.val_ids))
    assert len(data.train.ids) + len(data.val.ids) == 48 and len(data.val.ids) == 12
    assert not set(data.train.groups) & set(data.val.groups)
    for view in (data.train, data.val):
        for i in (0, len(view.ids) - 1):
            number = int(view.ids[i].split("_")[1])
            assert view.dataset.raw(i).id == view.ids[i]
            assert view.label_lines[i] == number + 2 and view.gloss[i] == number % 3
    assert data.num_gloss == 3 and data.labels_map()["num_cat"] == 2


@pytest.mark.parametrize(
    ("extra", "error", "message"),
    [
        (["data.val_dir=/v"], UsageError, "--val-fraction (data.val_fraction) carves"),
        (["data.val_labels=/v.csv"], UsageError, "but --val-labels give(s) one"),
        (["data.group_by=session"], UsageError, "train_labels.csv has no column 'session'"),
    ],
)
def test_conflicting_or_unknown_inputs_are_refused(signed, extra, error, message) -> None:
    with pytest.raises(error) as info:
        load_training_data(npz_settings(signed, "data.val_fraction=0.2", *extra))
    assert message in str(info.value)


def test_group_by_alone_and_fractions_out_of_range_are_refused(signed: Path) -> None:
    with pytest.raises(UsageError, match=r"--group-by signer \(data.group_by\) given without"):
        load_training_data(npz_settings(signed, "data.group_by=signer"))
    with pytest.raises(SettingsError) as info:
        load_settings(flags={"data.val_fraction": 1, "data.group_by": " "})
    assert info.value.problems[0].startswith("data.val_fraction: expected less than 1")
    assert info.value.problems[1].startswith("data.group_by: expected a labels-CSV column")


def test_a_grouped_split_far_from_the_fraction_warns(write_split, tmp_path: Path) -> None:
    root = tmp_path / "uneven"
    _, labels = write_split(root, "train", 48, T=4, D=6, num_gloss=3)
    # one signer of 3 samples, two of 22 and 23: only the small one fits into 0.2
    add_signers(labels, ["tiny"] * 3 + ["a", "b"] * 22 + ["a"])
    data = load_training_data(npz_settings(root, "data.val_fraction=0.2", "data.group_by=signer"))
    assert data.val.ids == ["train_0000", "train_0001", "train_0002"]
    assert data.warnings == [
        "data.val_fraction 0.2: the signer groups give 6.2% of the training samples "
        "(3 of 48, 1 of 3 groups) to validation"
    ]


def test_multistream_layout_splits_by_the_labels_column(tmp_path: Path) -> None:
    root = write_multistream_dataset(tmp_path / "ms", n_train=12, n_val=6, num_gloss=3)
    index = root / "train_index.csv"
    index.write_text(
        index.read_text() + "".join((root / "val_index.csv").read_text().splitlines(True)[1:])
    )
    add_signers(root / "labels.csv", [f"p{i % 6}" for i in range(18)])
    flags = {f"data.{name}_dir": root / stream for name, stream in
             (("hand_left", "hand_l"), ("hand_right", "hand_r"), ("pose", "pose"))}  # fmt: skip
    flags |= {"data.train_index": index, "data.labels": root / "labels.csv",
              "data.val_fraction": 0.34, "data.group_by": "signer"}  # fmt: skip
    data = load_training_data(load_settings(flags=flags))
    assert len(data.val.ids) == 6 and len(data.val.groups) == 6
    assert len(set(data.val.groups)) == 2 and not set(data.val.groups) & set(data.train.groups)
    assert set(data.val.dataset.raw(0).streams) == {"hand_l", "hand_r", "pose"}
    # every labels column follows the carved subset, sample for sample (eval's groups too)
    for side in (data.train, data.val):
        assert all(len(values) == len(side.ids) for values in side.label_columns.values())
        assert side.label_columns["gloss"] == [str(int(g)) for g in side.gloss]


def test_a_split_file_that_is_a_fifo_or_folder_is_named(tmp_path: Path) -> None:
    """issue 23: it read "split.json not found"."""
    import os

    os.mkfifo(tmp_path / "split.json")
    with pytest.raises(UsageError, match="split file .*split.json is a FIFO"):
        read_split_file(tmp_path / "split.json")
    (tmp_path / "sub" / "split.json").mkdir(parents=True)
    with pytest.raises(UsageError, match="split file .*split.json is a folder"):
        read_split_file(tmp_path / "sub" / "split.json")
