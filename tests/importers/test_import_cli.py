"""`signcli import FORMAT SRC OUT` then `signcli train transformer OUT`, with no data flag,
for every format, on samples each test writes in that format."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from signcli.cli import app
from signcli.core.manifest import read_manifest
from tests.importers.kaggle_samples import write_asl_fingerspelling, write_asl_signs
from tests.importers.samples import write_mp_folders, write_openpose

LABELS = ("hello", "thanks", "please")
TINY = ["--epochs", "1", "-q", "--set", "model.d_model=16", "--set", "model.num_layers=1"]


def _mp(root: Path) -> None:
    write_mp_folders(root, labels=LABELS, sequences=3, frames=6)


def _openpose(root: Path) -> None:
    write_openpose(root, labels=LABELS, videos=3, frames=6)


def _pose(root: Path) -> None:
    pytest.importorskip("pose_format")
    from tests.importers.pose_samples import write_pose_tree

    write_pose_tree(root, labels=LABELS, per_label=3)


def _asl_signs(root: Path) -> None:
    write_asl_signs(
        root, n_sequences=15, missing=0, corrupt=0, signs=LABELS, participants=(1, 2, 3, 4, 5)
    )


WRITERS: dict[str, Callable[[Path], None]] = {
    "asl-signs": _asl_signs,
    "mp-folders": _mp,
    "openpose": _openpose,
    "pose": _pose,
}
LANDMARK_SETS = {
    "asl-signs": "mediapipe-holistic",
    "mp-folders": "mediapipe-holistic",
    "openpose": "openpose-body25-hands",
    "pose": "mediapipe-holistic",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(WRITERS))
def test_imported_tree_trains_with_no_other_flag(name, tmp_path):
    src, out, run = tmp_path / "src", tmp_path / "out", tmp_path / "run"
    WRITERS[name](src)
    runner = CliRunner()
    imported = runner.invoke(app, ["import", name, str(src), str(out), "--workers", "1"])
    assert imported.exit_code == 0, imported.output
    manifest = read_manifest(out)
    assert manifest is not None and manifest.landmark_set == LANDMARK_SETS[name]
    # class ids: the source's own map (asl-signs), else names sorted
    assert sorted(manifest.classes) == sorted(LABELS)
    trained = runner.invoke(app, ["train", "transformer", str(out), "--work-dir", str(run), *TINY])
    assert trained.exit_code == 0, trained.output
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["layout"] == {k: list(v) for k, v in manifest.layout_spec().items()}
    assert config["data"]["landmark_set"] == LANDMARK_SETS[name]
    joints = sum(stream.landmarks for stream in manifest.streams.values())
    assert (manifest.coords, manifest.joints) == ("xyz", joints)  # what X's columns are
    assert (config["data"]["coords"], config["data"]["joints"]) == ("xyz", joints)
    assert json.loads((run / "labels.json").read_text())["num_gloss"] == len(LABELS)
    checked = runner.invoke(app, ["validate-npz", str(out)])
    assert checked.exit_code == 0, checked.output


def test_flat_openpose_takes_labels_from_a_csv(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    written = write_openpose(src, labels=LABELS, videos=2, frames=4, flat=True)
    labels = tmp_path / "labels.csv"
    rows = [f"{video},{video.rsplit('_', 1)[0]},p{i % 2}" for i, (_, video) in enumerate(written)]
    labels.write_text("video_id,gloss,signer\n" + "\n".join(rows) + "\n")
    runner = CliRunner()
    missing = runner.invoke(app, ["import", "openpose", str(src), str(out)])
    assert missing.exit_code == 2 and "give --labels" in missing.output
    command = ["import", "openpose", str(src), str(out), "--labels", str(labels), "--json"]
    too_few = runner.invoke(app, command)  # 2 signers cannot give 20% to validation
    assert (
        too_few.exit_code == 2 and "by signer (2 signers) with --val-fraction 0.2" in too_few.output
    )
    assert "--split-by none" in too_few.output
    result = runner.invoke(app, [*command, "--val-fraction", "0.5"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["classes"] == 3 and report["signers"] == {"train": 1, "val": 1}


@pytest.mark.slow
def test_fingerspelling_imports_text_targets(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    sample = write_asl_fingerspelling(src, n_files=2, sequences_per_file=4, missing=0, corrupt=0)
    result = CliRunner().invoke(app, ["import", "asl-fingerspelling", str(src), str(out),
                                      "--streams", "hand_l,hand_r,pose", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["classes"] == 0 and sum(report["splits"].values()) == 8
    manifest = read_manifest(out)
    assert manifest.splits["train"].text == "train_text.csv" and manifest.classes == []
    texts = {}
    for split in manifest.splits:
        table = pd.read_csv(out / f"{split}_text.csv", dtype=str, keep_default_na=False)
        assert list(table.columns) == ["file", "text"]
        texts.update(zip(table.file, table.text, strict=True))
        assert all((out / split / f"{file}.npz").is_file() for file in table.file)
    assert texts == sample.texts
    trained = CliRunner().invoke(app, ["train", "transformer", str(out)])
    assert trained.exit_code == 2 and "has sentence targets (train_text.csv)" in trained.output


def test_a_split_that_cannot_be_by_signer_is_said_and_how_to_give_one(tmp_path):
    src = tmp_path / "src"
    write_mp_folders(src, labels=LABELS, sequences=3, frames=6)  # names no signer
    runner = CliRunner()
    result = runner.invoke(
        app, ["import", "mp-folders", str(src), str(tmp_path / "a"), "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "warning: the split is by sequence, not by signer (the source names no signer)" in (
        result.stderr
    )
    assert "not signer-independent" in result.stderr and "--labels CSV with a signer column" in (
        result.stderr
    )
    report = json.loads((tmp_path / "a" / "import-report.json").read_text())
    assert report["warnings"] and "not by signer" in report["warnings"][0]
    asked = runner.invoke(
        app, ["import", "mp-folders", str(src), str(tmp_path / "b"), "--split-by", "none"]
    )
    assert asked.exit_code == 0 and "warning" not in asked.stderr  # the user's choice


def test_one_signer_is_worded_as_one(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    written = write_openpose(src, labels=LABELS, videos=2, frames=4, flat=True)
    labels = tmp_path / "labels.csv"
    rows = [f"{video},{video.rsplit('_', 1)[0]},p0" for _, video in written]
    labels.write_text("video_id,gloss,signer\n" + "\n".join(rows) + "\n")
    result = CliRunner().invoke(
        app, ["import", "openpose", str(src), str(out), "--labels", str(labels)]
    )
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "cannot split the sequences by signer (1 signer) with --val-fraction 0.2" in message
    assert "the source has 1 signer group(s)" in message
    assert "1 signers" not in message and "sequences has" not in message
