"""`train transformer --layout`: single-stream keypoints normalised and augmented as body
parts, then evaluated and exported with `x` as stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from signcli.cli import app
from signcli.data.npz import read_npz_array
from signcli.data.synthetic import write_npz_dataset
from signcli.engine.restore import load_model_from_checkpoint

runner = CliRunner()
LAYOUT = "hand_l=0:63,hand_r=63:126,pose=126:156"
TINY = ["--set", "model.d_model=16", "--set", "model.num_layers=1", "--set", "model.num_heads=2",
        "--set", "model.ff_dim=32", "--set", "model.max_len=64", "--batch-size", "4",
        "--device", "cpu"]  # fmt: skip


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_npz_dataset(tmp_path_factory.mktemp("layout"), 8, 4, num_gloss=3, num_cat=2)


def data_flags(root: Path) -> list[str]:
    return ["--train-dir", str(root / "train"), "--train-labels", str(root / "train_labels.csv"),
            "--val-dir", str(root / "val"), "--val-labels", str(root / "val_labels.csv")]  # fmt: skip


@pytest.fixture(scope="module")
def run(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("run") / "run"
    augment = ["--set", "data.augment.mirror_p=0.5", "--set", "data.augment.affine_p=0.5",
               "--mix-stream", "hand_r:0.5"]  # fmt: skip
    args = ["train", "transformer", *data_flags(root), "--layout", LAYOUT, *TINY, *augment,
            "--epochs", "2", "--work-dir", str(work)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return work


def test_the_run_records_the_layout_and_the_model_takes_x(run: Path) -> None:
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["layout"] == {"hand_l": [0, 63], "hand_r": [63, 126], "pose": [126, 156]}
    restored = load_model_from_checkpoint(run / "last.pt")
    assert restored.input_dims == {"x": 156}
    assert restored.model.encoder.input_dims == {"hand_l": 63, "hand_r": 63, "pose": 30}
    assert restored.model.normalize.streams == ["hand_l", "hand_r", "pose"]


def test_eval_reads_the_stored_x(run: Path, root: Path, tmp_path: Path) -> None:
    args = ["eval", str(run / "best.pt"), "--data-dir", str(root / "val"), "--labels",
            str(root / "val_labels.csv"), "--out", str(tmp_path / "eval"), "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["num_samples"] == 4
    epochs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    best = max(epochs, key=lambda m: m["val_gloss_top1"])  # best.pt: the first best epoch
    assert report["gloss_top1"] == pytest.approx(best["val_gloss_top1"])
    assert report["loss"] == pytest.approx(best["val_loss"], rel=1e-4)


def test_onnx_takes_raw_x_and_matches_pytorch_on_a_real_sample(
    run: Path, root: Path, exported_matches_pytorch
) -> None:
    x = read_npz_array(root / "val" / "val_00001.npz", "X")[None]  # [1, T, 156], NaN kept
    layout = exported_matches_pytorch(run / "best.pt", {"x": x})
    assert layout["streams"] == {"x": 156}
    assert layout["normalized_streams"] == ["hand_l", "hand_r", "pose"]
    assert layout["column_layout"] == {"hand_l": [0, 63], "hand_r": [63, 126], "pose": [126, 156]}


def test_a_layout_wider_than_x_exits_2_naming_it(root: Path, tmp_path: Path) -> None:
    args = ["train", "transformer", *data_flags(root), "--layout", "pose=126:159", *TINY,
            "--epochs", "1", "--work-dir", str(tmp_path / "run")]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "data.layout" in result.output and "156 columns wide" in result.output
    args[args.index("pose=126:159")] = "pose=126:155"
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "whole landmarks" in result.output


def test_a_layout_run_resumes(run: Path, tmp_path: Path) -> None:
    import shutil

    copy = Path(shutil.copytree(run, tmp_path / "run"))
    result = runner.invoke(app, ["resume", str(copy), "--epochs", "3"])
    assert result.exit_code == 0, result.output
    assert len((copy / "metrics.jsonl").read_text().splitlines()) == 3
    assert load_model_from_checkpoint(copy / "last.pt").model.split.layout is not None
