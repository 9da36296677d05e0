"""A multi-stream run evaluated (`eval --index`) and exported: both take the streams as
recorded, since the model normalises them itself."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from signcli.cli import app
from signcli.data.synthetic import write_multistream_dataset

runner = CliRunner()
STREAMS = ("face", "hand_l", "hand_r", "pose")
TINY = ["--set", "model.d_model=16", "--set", "model.num_layers=1", "--set", "model.num_heads=2",
        "--set", "model.ff_dim=32", "--set", "model.max_len=64", "--batch-size", "4",
        "--device", "cpu"]  # fmt: skip


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ms") / "data"
    return write_multistream_dataset(folder, n_train=8, n_val=4, num_gloss=3, num_cat=2)


@pytest.fixture(scope="module")
def run(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("run") / "run"
    args = ["train", "multistream", "--face-dir", str(root / "face"),
            "--hand-left-dir", str(root / "hand_l"), "--hand-right-dir", str(root / "hand_r"),
            "--pose-dir", str(root / "pose"), "--train-index", str(root / "train_index.csv"),
            "--val-index", str(root / "val_index.csv"), "--labels", str(root / "labels.csv"),
            *TINY, "--epochs", "2", "--work-dir", str(work)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return work


def best_epoch(run: Path) -> dict:
    epochs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return max(epochs, key=lambda m: m["val_gloss_top1"])  # best.pt: the first best epoch


def test_eval_on_the_val_index_repeats_the_val_metrics(run: Path, root: Path) -> None:
    result = runner.invoke(app, ["eval", str(run / "best.pt"), "--index",
                                 str(root / "val_index.csv"), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    best = best_epoch(run)
    assert report["num_samples"] == 4 and report["model"] == "multistream"
    assert report["gloss_top1"] == pytest.approx(best["val_gloss_top1"])
    assert report["loss"] == pytest.approx(best["val_loss"], rel=1e-4)
    assert report["labels"] == str(root / "labels.csv")  # the run's labels by default
    assert set(report["stream_dirs"]) == {"face", "hand_l", "hand_r", "pose"}
    assert Path(report["out_dir"]) == run / "eval-best-val_index"


def test_eval_elsewhere_without_labels_writes_predictions(
    run: Path, root: Path, tmp_path: Path
) -> None:
    other = Path(shutil.copytree(root, tmp_path / "other"))
    args = ["eval", str(run / "best.pt"), "--data-dir", str(other), "--index",
            str(other / "val_index.csv"), "--no-labels", "--out", str(tmp_path / "out")]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    predictions = pd.read_parquet(tmp_path / "out" / "predictions.parquet")
    assert predictions["id"].tolist() == [f"val_{i:05d}" for i in range(4)]
    assert "true_gloss" not in predictions and not (tmp_path / "out" / "per_class.csv").exists()


def test_eval_refusals_say_what_to_pass(run: Path, root: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", str(run / "best.pt")])
    assert result.exit_code == 2
    assert "--index" in result.output and "val_index.csv" in result.output
    (tmp_path / "face").mkdir()
    result = runner.invoke(app, ["eval", str(run / "best.pt"), "--data-dir", str(tmp_path),
                                 "--index", str(root / "val_index.csv")])  # fmt: skip
    assert result.exit_code == 2 and f"no hand_l folder {tmp_path / 'hand_l'}" in result.output
    result = runner.invoke(app, ["eval", str(run / "best.pt"), "--index",
                                 str(root / "val_index.csv"), "--key", "X2048"])  # fmt: skip
    assert result.exit_code == 2 and "--key" in result.output


def test_onnx_takes_the_streams_as_recorded(
    run: Path, root: Path, exported_matches_pytorch
) -> None:
    streams = {name: np.load(root / name / "val_00002.npy")[None] for name in STREAMS}
    layout = exported_matches_pytorch(run / "best.pt", streams)
    assert layout["normalized_streams"] == list(STREAMS) and layout["column_layout"] is None
