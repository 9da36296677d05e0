"""`signcli cv`: K ordinary runs over whole groups, cv.json with per-fold and mean ± std
figures; a rerun skips finished folds and resumes (or extends) the others; clear errors."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pytest
from typer.testing import CliRunner

from signcli.cli import app
from tests.tiny import TINY_RUN, set_flags

runner = CliRunner()
TINY = [*set_flags(TINY_RUN), "--quiet"]  # cv takes --set for what is not one of its flags
SIGNERS = ("ann", "bob", "cy")


@pytest.fixture
def root(make_npz_dataset) -> Path:
    return make_npz_dataset(n=12, T=5, D=6, signers=SIGNERS)  # val: 6 samples, signers cycle


def cv(root: Path, work: Path, *flags: str):  # noqa: ANN201
    return runner.invoke(
        app,
        [
            "cv",
            "transformer",
            str(root),
            "--group-by",
            "signer",
            "--work-dir",
            str(work),
            *TINY,
            *flags,
        ],  # fmt: skip
    )


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_cv_holds_out_whole_groups_and_summarises_the_final_epochs(
    root: Path, tmp_path: Path
) -> None:
    work = tmp_path / "cv"
    result = cv(root, work, "--folds", "3", "--epochs", "1")
    assert result.exit_code == 0, result.output
    summary = json.loads((work / "cv.json").read_text())
    assert [f["held_out"] for f in summary["folds"]] == [["ann"], ["bob"], ["cy"]]
    for fold in summary["folds"]:
        data = Path(fold["work_dir"]) / "data"
        val = read_rows(data / "val_labels.csv")
        train = read_rows(data / "train_labels.csv")
        assert {r["signer"] for r in val} == set(fold["held_out"])
        assert not {r["signer"] for r in train} & set(fold["held_out"])
        assert len(val) + len(train) == 18  # train and val pooled: 12 + 6
        assert len(val) == fold["val_samples"] == 6
        assert sorted(p.name for p in (data / "val").iterdir()) == sorted(r["file"] for r in val)
        config = json.loads((Path(fold["work_dir"]) / "config.json").read_text())
        assert config["data"]["val_labels"] == str(data / "val_labels.csv")
    finals = [
        json.loads((work / f"fold-{k}" / "metrics.jsonl").read_text().splitlines()[-1])
        for k in range(3)
    ]
    top1 = [m["val_gloss_top1"] for m in finals]
    assert [f["metrics"]["val_gloss_top1"] for f in summary["folds"]] == top1
    assert summary["mean"]["val_gloss_top1"] == pytest.approx(statistics.fmean(top1))
    assert summary["std"]["val_gloss_top1"] == pytest.approx(statistics.stdev(top1))
    assert set(summary["mean"]) >= {"train_loss", "val_loss", "val_gloss_top1"}
    assert "mean ± std" in result.output and "val_gloss_top1" in result.output


@pytest.mark.slow
def test_cv_rerun_skips_finished_folds_and_extends_them(root: Path, tmp_path: Path) -> None:
    work = tmp_path / "cv"
    assert cv(root, work, "--folds", "2", "--epochs", "1").exit_code == 0
    logs = [work / f"fold-{k}" / "metrics.jsonl" for k in range(2)]
    before = [p.stat().st_mtime_ns for p in logs]
    again = cv(root, work, "--folds", "2", "--epochs", "1")
    assert again.exit_code == 0, again.output
    assert [p.stat().st_mtime_ns for p in logs] == before  # nothing trained
    assert "fold-0: finished earlier" in again.output
    longer = cv(root, work, "--folds", "2", "--epochs", "2")
    assert longer.exit_code == 0, longer.output
    assert [len(p.read_text().splitlines()) for p in logs] == [2, 2]  # resumed, not restarted
    summary = json.loads((work / "cv.json").read_text())
    assert [f["epochs"] for f in summary["folds"]] == [2, 2]
    assert [f["status"] for f in summary["folds"]] == ["resumed", "resumed"]


def test_cv_refuses_other_arguments_in_the_same_work_dir(root: Path, tmp_path: Path) -> None:
    work = tmp_path / "cv"
    (work).mkdir()
    (work / "cv-plan.json").write_text(json.dumps({"format": 1, "group_by": "signer", "folds_count": 3, "folds": [], "settings": {}}))  # fmt: skip
    result = cv(root, work, "--folds", "2", "--epochs", "1")
    assert result.exit_code == 2
    assert "holds a cross-validation with other --folds" in result.output
    assert not (work / "fold-0").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--folds", "4"], "--folds 4: signer has only 3 group(s) (ann, bob, cy)"),
        (["--folds", "2", "--group-by", "session"], "no column 'session'"),
        (["--folds", "1"], "--folds 1: cross-validation needs at least 2 folds"),
    ],
)
def test_cv_explains_bad_folds_and_columns(root: Path, tmp_path: Path, flags, message) -> None:  # noqa: ANN001
    result = cv(root, tmp_path / "cv", *flags)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "cv" / "fold-0").exists()


def test_cv_never_replaces_a_data_folder_it_did_not_write(root: Path, tmp_path: Path) -> None:
    work = tmp_path / "cv"
    mine = work / "fold-0" / "data" / "train"
    mine.mkdir(parents=True)
    (mine / "keep.npz").write_bytes(b"the user's")
    result = cv(root, work, "--folds", "2", "--epochs", "1", "--overwrite")
    assert result.exit_code == 2
    assert "was not written by `signcli cv`" in " ".join(result.output.split())
    assert (mine / "keep.npz").read_bytes() == b"the user's"
