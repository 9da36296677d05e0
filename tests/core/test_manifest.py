"""The dataset manifest (core/manifest.py): hand-written manifests, what they give the
settings, what a bad one says, and mirror pairs reaching the augmentation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from signcli.cli import app
from signcli.core.errors import DataError, UsageError
from signcli.core.manifest import MANIFEST_NAME, dataset_settings, read_manifest
from signcli.data.augment import mirror, mirror_gaps
from signcli.settings import load_settings
from tests.conftest import write_npz_split

HAND_POSE = {  # 21 + 10 landmarks side by side, as the bundled example's hand + pose
    "hand_l": {"landmarks": 21, "columns": [0, 63]},
    "pose": {"landmarks": 10, "columns": [63, 93], "mirror_pairs": [[2, 3], [4, 5]]},
}


def _write(root: Path, **fields) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    manifest = {
        "landmark_set": "hand-written",
        "streams": HAND_POSE,
        "splits": {"train": {"dir": "train", "labels": "train_labels.csv"}},
        **fields,
    }
    (root / MANIFEST_NAME).write_text(json.dumps(manifest))
    return root


def test_a_hand_written_manifest_gives_paths_layout_and_pairs(tmp_path):
    root = _write(tmp_path / "data", units="pixels")
    settings = load_settings(flags={"data.dataset": root})
    assert settings.data.train_dir == root / "train" and settings.data.val_dir is None
    assert settings.data.layout == {"hand_l": (0, 63), "pose": (63, 93)}
    assert settings.data.mirror_pairs == {"pose": [(2, 3), (4, 5)]}
    assert settings.data.landmark_set == "hand-written"


def test_the_manifest_says_what_the_columns_are_and_set_overrides_it(tmp_path):
    root = _write(tmp_path / "data", streams={}, coords="xy", joints=3)
    settings = load_settings(flags={"data.dataset": root})
    assert (settings.data.coords, settings.data.joints) == ("xy", 3)
    settings = load_settings(flags={"data.dataset": root}, overrides=["data.coords=none"])
    assert settings.data.coords == "none"
    with pytest.raises(UsageError, match="joints"):
        read_manifest(_write(tmp_path / "bad", joints=0))


def test_the_dataset_overrides_a_config_files_data_and_flags_override_both(tmp_path):
    """One precedence (issue 26): config file < dataset < flags < --set. The dataset says
    where the data is and what it is as a whole; a config's data section never mixes in."""
    root = _write(tmp_path / "data")
    config = tmp_path / "config.yaml"
    config.write_text(
        "data:\n  layout: pose=63:93\n  mirror_pairs: {pose: [[0, 1]]}\n"
        f"  train_dir: {tmp_path / 'elsewhere'}\n  val_dir: {tmp_path / 'elsewhere_val'}\n"
        "  train_text: texts.csv\n  num_workers: 2\n"
    )
    settings = load_settings(config, {"data.dataset": root})
    assert settings.data.layout == {"hand_l": (0, 63), "pose": (63, 93)}
    assert settings.data.mirror_pairs == {"pose": [(2, 3), (4, 5)]}
    assert settings.data.train_dir == root / "train"
    assert settings.data.train_labels == root / "train_labels.csv"
    # the config's other locations go too (the dataset has no val split, no texts) ...
    assert settings.data.val_dir is None and settings.data.train_text is None
    assert settings.data.num_workers == 2  # ... its other data settings stay
    overridden = load_settings(
        config, {"data.dataset": root, "data.val_dir": tmp_path / "v"}, ["data.layout=pose=63:93"]
    )
    assert overridden.data.layout == {"pose": (63, 93)}
    assert overridden.data.val_dir == tmp_path / "v"


def test_a_root_without_manifest_gives_the_single_stream_paths(tmp_path):
    write_npz_split(tmp_path, "train", 4)
    write_npz_split(tmp_path, "val", 2)
    given = dataset_settings(tmp_path)
    assert given == {
        "data.train_dir": tmp_path / "train",
        "data.train_labels": tmp_path / "train_labels.csv",
        "data.val_dir": tmp_path / "val",
        "data.val_labels": tmp_path / "val_labels.csv",
    }
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no signcli-dataset.json and no train/ folder"):
        dataset_settings(tmp_path / "empty")
    with pytest.raises(UsageError, match="is not a folder"):
        dataset_settings(tmp_path / "nothing")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"streams": {"pose": {"landmarks": 10, "columns": [0, 31]}}}, "do not hold 10"),
        ({"streams": {"tail": {"landmarks": 1, "columns": [0, 3]}}}, "streams.tail"),
        ({"splits": {"val": {"dir": "val"}}}, "no 'train' entry"),
        ({"format_version": 9}, "newer than this signcli reads"),
        ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
        ({"streams": {"pose": {"landmarks": 2, "columns": [0, 6],
                               "mirror_pairs": [[0, 5]]}}}, "fall outside 0..1"),
        # issue 23: validation on the training samples said OK and trained that way
        ({"splits": {"train": {"dir": "train"}, "val": {"dir": "./train"}}},
         "splits.val.dir names the training split's samples"),
        ({"layout": "multi", "streams": {},
          "splits": {"train": {"index": "i.csv"}, "val": {"index": "x/../i.csv"}}},
         "splits.val.index names the training split's samples"),
    ],
)  # fmt: skip
def test_an_invalid_manifest_names_the_file_and_the_field(tmp_path, fields, message):
    root = _write(tmp_path / "data", **fields)
    with pytest.raises(UsageError, match=message) as caught:
        read_manifest(root)
    assert str(root / MANIFEST_NAME) in str(caught.value)


def test_a_manifest_that_is_not_json_is_a_usage_error_of_train(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    (root / MANIFEST_NAME).write_text("{not json")
    result = CliRunner().invoke(app, ["train", "transformer", str(root)])
    assert result.exit_code == 2
    assert "cannot read the dataset manifest" in result.output and MANIFEST_NAME in result.output
    with pytest.raises(UsageError, match="cannot read the dataset manifest"):
        load_settings(flags={"data.dataset": root})


@pytest.mark.parametrize(
    ("text", "reason"),
    [  # found by tests/fuzz: "unexpected ValueError" and "unexpected RecursionError"
        ('{"format_version": ' + "9" * 5000 + "}", "a number of 5,000 digits"),
        ('{"classes": ' + "[" * 100_000, "nested too deeply"),
    ],
)
def test_json_python_cannot_build_is_a_usage_error_naming_the_manifest(tmp_path, text, reason):
    root = tmp_path / "data"
    root.mkdir()
    (root / MANIFEST_NAME).write_text(text)
    with pytest.raises(UsageError) as caught:
        read_manifest(root)
    assert str(root / MANIFEST_NAME) in str(caught.value)
    assert f"cannot read the dataset manifest ({reason}" in str(caught.value)
    result = CliRunner().invoke(app, ["validate-npz", str(root)])
    assert result.exit_code == 2 and "unexpected" not in result.output


def test_mirror_uses_the_given_pairs_over_the_known_ones():
    pose = np.arange(10 * 3, dtype=np.float32).reshape(1, 30) / 100  # landmark i at x=0.03 i
    flipped = mirror({"pose": pose}, pairs={"pose": [(0, 9)]})["pose"].reshape(10, 3)
    assert flipped[0, 1] == pose.reshape(10, 3)[9, 1]  # landmarks 0 and 9 swapped
    assert flipped[9, 0] == pytest.approx(1 - pose.reshape(10, 3)[0, 0])  # and x flipped
    assert flipped[2, 1] == pose.reshape(10, 3)[2, 1]  # the known 2 <-> 3 pair is not used
    assert mirror_gaps({"pose": 3 * 12}, {"pose": [(0, 1)]}) == []  # given: no gap
    assert "12-landmark pose" in mirror_gaps({"pose": 3 * 12})[0]
    with pytest.raises(DataError, match="pose has 12 landmarks, but pairs \\[\\[0, 40\\]\\]"):
        mirror_gaps({"pose": 3 * 12}, {"pose": [(0, 40)]})


def test_a_manifest_that_is_a_fifo_is_refused_not_skipped(tmp_path):
    import os

    root = tmp_path / "data"
    root.mkdir()
    os.mkfifo(root / MANIFEST_NAME)
    with pytest.raises(UsageError, match="is a FIFO, not a regular file"):
        read_manifest(root)


def test_a_dataset_path_the_system_cannot_take_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot be read"):
        load_settings(flags={"data.dataset": tmp_path / ("x" * 5000)})


@pytest.mark.parametrize(
    ("value", "link"), [("/proc/self/environ", False), ("../outside.csv", False), ("in.csv", True)]
)
def test_a_manifest_path_that_leaves_the_dataset_is_refused(
    tmp_path: Path, value: str, link: bool
) -> None:
    root = tmp_path / "data"
    root.mkdir()
    (tmp_path / "outside.csv").write_text("file,gloss\n")
    if link:  # a link inside the folder that points out of it
        (root / value).symlink_to(tmp_path / "outside.csv")
    splits = {"train": {"dir": "train", "labels": value}}
    (root / MANIFEST_NAME).write_text(json.dumps({"splits": splits}))
    with pytest.raises(UsageError, match="splits.train.labels .* leaves the dataset folder"):
        dataset_settings(root)
