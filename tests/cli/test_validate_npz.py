"""`signcli validate-npz`: exit 0 clean, 1 faults found, 2 not a dataset; tables and --json."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from signcli.cli import app


def signcli(*args: str | Path):
    # wide enough that rich never wraps a file name or a message
    return CliRunner().invoke(app, ["validate-npz", *map(str, args)], env={"COLUMNS": "250"})


def plant_faults(root: Path) -> set[tuple[str, str, str]]:
    """Break files of a dataset root; returns the (split, file, kind) errors expected."""
    train = root / "train"
    (train / "train_0001.npz").write_text("not an npz")
    with zipfile.ZipFile(train / "train_0002.npz", "w") as archive:
        archive.writestr("X.npy", b"garbage" * 20)
    np.savez(train / "train_0003.npz", X=np.ones(6, np.float32))
    np.savez(train / "train_0004.npz", X=np.zeros((0, 6), np.float32))
    np.savez(train / "train_0005.npz", X=np.full((5, 6), np.inf, np.float32))
    csv = root / "val_labels.csv"
    csv.write_text(csv.read_text().replace("val_0001.npz,1,", "val_0001.npz,abc,"))
    return {
        ("train", "train_0001.npz", "unreadable"),
        ("train", "train_0002.npz", "unreadable"),
        ("train", "train_0003.npz", "rank"),
        ("train", "train_0004.npz", "empty"),
        ("train", "train_0005.npz", "inf"),
        ("val", "val_labels.csv", "label_not_integer"),
    }


def test_clean_dataset_exits_0_with_a_summary(make_npz_dataset) -> None:
    result = signcli(make_npz_dataset(n=8, T=5, D=6))
    assert result.exit_code == 0, result.output
    for text in ("validate-npz: train", "validate-npz: val", "T min/median/max", "5 / 5 / 5"):
        assert text in result.stdout
    assert "gloss classes" in result.stdout and "rarest: 2 (2)" in result.stdout
    assert "OK: no errors in 2 splits" in result.stdout


def test_faults_exit_1_and_are_listed(make_npz_dataset) -> None:
    root = make_npz_dataset(n=8)
    plant_faults(root)
    result = signcli(root)
    assert result.exit_code == 1, result.output
    for name in ("train_0001.npz", "train_0005.npz", "val_labels.csv", "not an integer id"):
        assert name in result.stdout
    assert "errors" in result.stdout and "unreadable 2" in result.stdout
    assert "FAILED: 6 error(s)" in result.stdout
    assert "Traceback" not in result.output


def test_json_is_one_document_with_every_fault(make_npz_dataset) -> None:
    root = make_npz_dataset(n=8)
    expected = plant_faults(root)
    result = signcli(root, "--json", "--workers", "1")
    assert result.exit_code == 1
    document = json.loads(result.stdout)  # fails if anything else is printed
    found = {
        (split["name"], problem["file"], problem["kind"])
        for split in document["splits"]
        for problem in split["problems"]
    }
    assert found == expected and document["errors"] == len(expected)
    assert document["ok"] is False and document["splits"][0]["D"] == 6


def test_problem_files_are_capped_unless_all(write_split, tmp_path: Path) -> None:
    folder, _ = write_split(tmp_path, "train", n=25, T=3, D=6)
    for path in folder.iterdir():
        np.savez(path, X=np.ones((3, 6), np.int32))  # 25 dtype warnings
    capped = signcli(folder)
    assert capped.exit_code == 0, capped.output  # a non-float dtype is a warning
    assert "and 5 more problem file(s); --all lists every one" in capped.stdout
    assert "train_0024.npz" not in capped.stdout
    everything = signcli(folder, "--all")
    assert "train_0024.npz" in everything.stdout and "more problem file" not in everything.stdout


def test_nan_only_files_are_summed_up_not_listed(write_split, tmp_path: Path) -> None:
    folder, _ = write_split(tmp_path, "train", n=3, T=3, D=6)
    for path in folder.iterdir():
        np.savez(path, X=np.full((3, 6), np.nan, np.float32))
    result = signcli(folder)
    assert result.exit_code == 0
    assert "100.00% of values" in result.stdout and "train_0002.npz" not in result.stdout
    assert "train_0002.npz" in signcli(folder, "--all").stdout


def test_group_by_warns_of_groups_in_both_splits(write_split, tmp_path: Path) -> None:
    write_split(tmp_path, "train", 8, signers=("s1", "s2", "s3", "s4"))
    write_split(tmp_path, "val", 4, signers=("s4", "s5"), seed=1)
    result = signcli(tmp_path, "--group-by", "Signer")
    assert result.exit_code == 0, result.output
    assert "signer groups" in result.stdout and "4: s1 (2), s2 (2), s3 (2), s4 (2)" in result.stdout
    assert (
        "warning: 1 signer group(s) straddle the split (validation sees them in training): "
        "s4 (train 2, val 2)" in result.stdout
    )
    assert "OK: no errors in 2 splits (1 warning(s))" in result.stdout
    document = json.loads(signcli(tmp_path, "--group-by", "signer", "--json").stdout)
    assert document["group_by"]["straddling"] == {"s4": {"train": 2, "val": 2}}
    assert document["splits"][0]["groups"]["count"] == 4
    one = signcli(
        tmp_path / "train", "--labels", tmp_path / "train_labels.csv", "--group-by", "signer"
    )
    assert one.exit_code == 0 and "straddle" not in one.stdout and "s4 (2)" in one.stdout
    missing = signcli(tmp_path, "--group-by", "session")
    assert missing.exit_code == 2 and "train_labels.csv has no column 'session'" in missing.stderr
    assert "(its columns: file, gloss, cat, occluded, signer)" in missing.stderr


def test_labels_option_on_a_split_folder(write_split, tmp_path: Path) -> None:
    folder, labels = write_split(tmp_path, "train", n=4)
    labels.write_text("file,cat,occluded\ntrain_0000,0,0\n")
    result = signcli(folder, "--labels", labels)
    assert result.exit_code == 1
    assert "labels_columns" in result.stdout and "file,gloss,cat,occluded" in result.stdout


def test_dim_and_require_x2048(write_split, tmp_path: Path) -> None:
    folder, _ = write_split(tmp_path, "train", n=3, D=6)
    assert signcli(folder, "--dim", "6").exit_code == 0
    wrong = signcli(folder, "--dim", "8", "--json")
    assert wrong.exit_code == 1
    assert json.loads(wrong.stdout)["splits"][0]["errors_by_kind"] == {"width": 3}

    keypoints = signcli(folder, "--require-x2048", "--json")
    assert keypoints.exit_code == 1
    problems = json.loads(keypoints.stdout)["splits"][0]["problems"]
    assert {p["kind"] for p in problems} == {"missing_key"}
    assert "keys present: X" in problems[0]["message"]

    features, _ = write_split(tmp_path / "features", "train", n=2, T=2, D=2048, key="X2048")
    assert signcli(features, "--require-x2048").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--require-x2048", "--key", "X"], "--require-x2048 checks key X2048"),
        (["--require-x2048", "--dim", "156"], "--require-x2048 checks width 2048"),
        (["--labels", "missing.csv"], "labels file missing.csv not found"),
        (["--workers", "0"], "Invalid value for '--workers'"),
    ],
)
def test_bad_flags_exit_2(args: list[str], message: str, make_npz_dataset) -> None:
    root = make_npz_dataset()
    result = signcli(root / "train", *args)
    assert result.exit_code == 2 and message in result.stderr
    assert "Traceback" not in result.output


def test_not_a_dataset_exits_2(tmp_path: Path) -> None:
    missing = signcli(tmp_path / "nope")
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    (tmp_path / "readme.txt").write_text("no npz here")
    empty = signcli(tmp_path, "--json")
    assert empty.exit_code == 2 and "holds no .npz files" in empty.stderr
    assert empty.stdout == ""


def test_layout_reports_each_body_part_and_a_misfit(tmp_path: Path) -> None:
    from signcli.data.synthetic import write_npz_dataset

    root = write_npz_dataset(tmp_path / "data", 6, 3, num_gloss=2)
    frames = np.concatenate([np.load(f)["X"] for f in sorted((root / "train").glob("*.npz"))])
    result = signcli(root, "--layout", "hand_l=0:63,pose=126:156", "--json")
    assert result.exit_code == 0, result.output
    train = json.loads(result.stdout)["splits"][0]
    shares = train["layout_nan_share"]
    assert list(shares) == ["hand_l", "pose", "x"]  # x: the columns outside the layout
    assert shares["hand_l"] == pytest.approx(np.isnan(frames[:, :63]).mean())
    assert shares["x"] == pytest.approx(np.isnan(frames[:, 63:126]).mean())
    assert shares["pose"] == 0.0 and shares["hand_l"] > 0.0
    result = signcli(root, "--layout", "pose=126:159")
    assert result.exit_code == 1
    assert "does not fit arrays 156 columns wide (pose ends at 159)" in result.output
    result = signcli(root, "--layout", "pose=126:157")
    assert result.exit_code == 2 and "whole landmarks" in result.output


def test_manifest_split_paths_are_the_ones_checked(make_npz_dataset) -> None:
    """A manifest naming other split folders and labels (as `train DATA` reads them): those
    are checked, not the conventional train/ beside them (issue 23: this said OK)."""
    import shutil

    root = make_npz_dataset(n=8)
    shutil.copytree(root / "train", root / "imported" / "train")
    shutil.copy(root / "train_labels.csv", root / "imported" / "train.csv")
    (root / "imported" / "train" / "train_0003.npz").write_text("not an npz")
    manifest = {"splits": {"train": {"dir": "imported/train", "labels": "imported/train.csv"}}}
    (root / "signcli-dataset.json").write_text(json.dumps(manifest))
    result = signcli(root)
    assert result.exit_code == 1, result.output
    assert "train_0003.npz" in result.stdout and "imported" in result.stdout
    assert "1 split" in result.stdout  # val/ is not in the manifest, as for train
    assert "Traceback" not in result.output


def test_manifest_split_outside_the_root_is_refused(make_npz_dataset) -> None:
    root = make_npz_dataset(n=4)
    (root / "signcli-dataset.json").write_text(json.dumps({"splits": {"train": {"dir": ".."}}}))
    result = signcli(root)
    assert result.exit_code == 2, result.output
    assert "splits.train.dir" in result.output and "leaves the dataset folder" in result.output


def test_an_imported_dataset_has_no_nan_warnings_and_names_its_classes(tmp_path) -> None:
    """The NaN import writes on purpose (undetected parts) is the manifest's declared
    missing landmarks: summed up as information, not a warning per file; the class counts
    name the manifest's classes."""
    from tests.importers.samples import write_mp_folders

    src, out = tmp_path / "src", tmp_path / "out"
    write_mp_folders(src, labels=("hello", "thanks", "please"), sequences=3, frames=6)
    for first in src.glob("*/*/0.npy"):  # nothing detected in the first frames: zeros
        np.save(first, np.zeros_like(np.load(first)))
    runner = CliRunner()
    imported = runner.invoke(app, ["import", "mp-folders", str(src), str(out), "--workers", "1"])
    assert imported.exit_code == 0, imported.output
    result = runner.invoke(app, ["validate-npz", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    train = report["splits"][0]
    assert train["nan_share"] > 0 and train["nan_declared"]  # the tutorial's zeros -> NaN
    assert "nan" not in train["warnings_by_kind"] and report["warnings"] == 0
    assert [p["severity"] for p in train["problems"] if p["kind"] == "nan"] == ["info"] * (
        train["nan_files"]
    )
    assert set(train["classes"]["gloss"]["names"].values()) == {"hello", "thanks", "please"}
    table = runner.invoke(app, ["validate-npz", str(out)])
    assert "manifest's missing landmarks" in table.stdout
    assert re.search(r"gloss classes.*rarest: (hello|please|thanks) \(\d\)", table.stdout)
