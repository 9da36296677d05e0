"""`signcli train multistream` on the multi-stream layout: a run, a resume, refusals, and
`eval --index` and `export-onnx` of a trained run."""

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


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_multistream_dataset(tmp_path / "data", n_train=8, n_val=4, num_gloss=3, num_cat=2)


def stream_flags(root: Path) -> list[str]:
    return [
        "--face-dir", str(root / "face"), "--hand-left-dir", str(root / "hand_l"),
        "--hand-right-dir", str(root / "hand_r"), "--pose-dir", str(root / "pose"),
        "--train-index", str(root / "train_index.csv"), "--val-index", str(root / "val_index.csv"),
        "--labels", str(root / "labels.csv"), "--meta", str(root / "meta.csv"),
    ]  # fmt: skip


@pytest.mark.parametrize("fusion", ["concat", "attention"])
def test_train_multistream_then_resume(root: Path, tmp_path: Path, fusion: str) -> None:
    work = tmp_path / "run"
    args = ["train", "multistream", *stream_flags(root), *TINY, "--fusion", fusion,
            "--epochs", "1", "--work-dir", str(work)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    config = json.loads((work / "config.json").read_text())
    assert config["model"]["fusion"] == fusion
    assert Path(config["data"]["hand_left_dir"]).is_absolute()
    lines = (work / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1 and "val_gloss_top1" in json.loads(lines[0])
    result = runner.invoke(app, ["resume", str(work), "--epochs", "2"])
    assert result.exit_code == 0, result.output
    assert len((work / "metrics.jsonl").read_text().splitlines()) == 2


def test_transformer_reads_the_multistream_layout_too(root: Path, tmp_path: Path) -> None:
    args = ["train", "transformer", "--hand-left-dir", str(root / "hand_l"),
            "--train-index", str(root / "train_index.csv"), "--val-index",
            str(root / "val_index.csv"), "--labels", str(root / "labels.csv"), *TINY,
            "--epochs", "1", "--work-dir", str(tmp_path / "run")]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output


def test_streams_that_disagree_on_T_exit_2_naming_the_id(root: Path, tmp_path: Path) -> None:
    pose = np.load(root / "pose" / "val_00002.npy")
    np.save(root / "pose" / "val_00002.npy", pose[:5])
    args = ["train", "multistream", *stream_flags(root), *TINY, "--epochs", "1",
            "--work-dir", str(tmp_path / "run")]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "val_00002" in result.output and "disagree" in result.output
    assert not (tmp_path / "run" / "config.json").exists()


@pytest.mark.slow
def test_augmented_run_resumes_exactly(root: Path, tmp_path: Path) -> None:
    """Two epochs straight equal one epoch, a stop, and a resume: augmentation draws
    depend on (seed, epoch, index) only."""
    augment = ["--set", "data.augment.mirror_p=0.5", "--set", "data.augment.affine_p=0.5",
               "--set", "data.augment.speed_p=0.5", "--set", "data.augment.crop_p=0.5",
               "--set", "data.augment.frame_drop_p=0.5", "--set", "data.augment.jitter_p=0.5",
               "--set", "data.augment.landmark_dropout_p=0.5", "--mix-stream", "hand_l:0.5",
               "--set", "training.deterministic=true", "--scheduler", "none"]  # fmt: skip
    base = ["train", "multistream", *stream_flags(root), *TINY, *augment]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert runner.invoke(app, [*base, "--epochs", "2", "--work-dir", str(straight)]).exit_code == 0
    assert runner.invoke(app, [*base, "--epochs", "1", "--work-dir", str(split)]).exit_code == 0
    assert runner.invoke(app, ["resume", str(split), "--epochs", "2"]).exit_code == 0

    def metrics(work: Path) -> list[dict]:
        lines = (work / "metrics.jsonl").read_text().splitlines()
        timings = ("epoch_s", "samples_per_s")
        return [{k: v for k, v in json.loads(x).items() if k not in timings} for x in lines]

    assert metrics(straight) == metrics(split)
    config = json.loads((straight / "config.json").read_text())
    assert config["data"]["augment"]["mix_streams"] == {"hand_l": 0.5}


# ---------------------------------------------------------------------------------------
# eval and export of one trained run: both take the streams as recorded, since the model
# normalises them itself (module-scoped: these tests never change the data or the run)


@pytest.fixture(scope="module")
def ms_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ms") / "data"
    return write_multistream_dataset(folder, n_train=8, n_val=4, num_gloss=3, num_cat=2)


@pytest.fixture(scope="module")
def ms_run(ms_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("run") / "run"
    args = ["train", "multistream", *stream_flags(ms_data), *TINY, "--epochs", "2",
            "--work-dir", str(work)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return work


def best_epoch(run: Path) -> dict:
    epochs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return max(epochs, key=lambda m: m["val_gloss_top1"])  # best.pt: the first best epoch


def test_eval_on_the_val_index_repeats_the_val_metrics(ms_run: Path, ms_data: Path) -> None:
    result = runner.invoke(app, ["eval", str(ms_run / "best.pt"), "--index",
                                 str(ms_data / "val_index.csv"), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    best = best_epoch(ms_run)
    assert report["num_samples"] == 4 and report["model"] == "multistream"
    assert report["gloss_top1"] == pytest.approx(best["val_gloss_top1"])
    assert report["loss"] == pytest.approx(best["val_loss"], rel=1e-4)
    assert report["labels"] == str(ms_data / "labels.csv")  # the run's labels by default
    assert set(report["stream_dirs"]) == {"face", "hand_l", "hand_r", "pose"}
    assert Path(report["out_dir"]) == ms_run / "eval-best-val_index"


def test_eval_reports_per_signer_from_an_id_gloss_signer_csv(
    ms_run: Path, ms_data: Path, label_column, tmp_path: Path
) -> None:
    rows = (ms_data / "labels.csv").read_text().splitlines()[1:]
    signers = ["left" if i % 2 else "right" for i in range(len(rows))]  # train and val ids
    labels = label_column(ms_data / "labels.csv", tmp_path / "labels.csv", "Signer", signers)
    args = ["eval", str(ms_run / "best.pt"), "--index", str(ms_data / "val_index.csv"),
            "--labels", str(labels), "--out", str(tmp_path / "out"), "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    per_group = json.loads(result.stdout)["per_group"]
    assert per_group["column"] == "signer"  # headers are read lowercased
    predictions = pd.read_parquet(tmp_path / "out" / "predictions.parquet")
    signer_of = dict(zip([row.split(",")[0] for row in rows], signers, strict=True))
    predictions["signer"] = predictions["id"].map(signer_of)
    right = (predictions["true_gloss"] == predictions["pred_gloss"]).groupby(predictions["signer"])
    assert {g["group"]: (g["samples"], g["gloss_top1"]) for g in per_group["groups"]} == {
        name: (len(hits), pytest.approx(hits.mean())) for name, hits in right
    }


def test_eval_elsewhere_without_labels_writes_predictions(
    ms_run: Path, ms_data: Path, tmp_path: Path
) -> None:
    other = Path(shutil.copytree(ms_data, tmp_path / "other"))
    args = ["eval", str(ms_run / "best.pt"), "--data-dir", str(other), "--index",
            str(other / "val_index.csv"), "--no-labels", "--out", str(tmp_path / "out")]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    predictions = pd.read_parquet(tmp_path / "out" / "predictions.parquet")
    assert predictions["id"].tolist() == [f"val_{i:05d}" for i in range(4)]
    assert "true_gloss" not in predictions and not (tmp_path / "out" / "per_class.csv").exists()


@pytest.mark.slow
def test_eval_scores_the_runs_val_ids_and_refusals_say_what_to_pass(
    ms_run: Path, ms_data: Path, tmp_path: Path
) -> None:
    # without --index, eval scores the ids the run validated on
    result = runner.invoke(app, ["eval", str(ms_run / "best.pt"), "--json",
                                 "--out", str(tmp_path / "ev")])  # fmt: skip
    assert result.exit_code == 0, result.output
    val_ids = (ms_data / "val_index.csv").read_text().split()[1:]
    assert json.loads(result.output)["num_samples"] == len(val_ids)
    (tmp_path / "face").mkdir()
    result = runner.invoke(app, ["eval", str(ms_run / "best.pt"), "--data-dir", str(tmp_path),
                                 "--index", str(ms_data / "val_index.csv")])  # fmt: skip
    assert result.exit_code == 2 and f"no hand_l folder {tmp_path / 'hand_l'}" in result.output
    result = runner.invoke(app, ["eval", str(ms_run / "best.pt"), "--index",
                                 str(ms_data / "val_index.csv"), "--key", "X2048"])  # fmt: skip
    assert result.exit_code == 2 and "--key" in result.output


@pytest.mark.slow
def test_onnx_takes_the_streams_as_recorded(
    ms_run: Path, ms_data: Path, exported_matches_pytorch
) -> None:
    streams = {name: np.load(ms_data / name / "val_00002.npy")[None] for name in STREAMS}
    layout = exported_matches_pytorch(ms_run / "best.pt", streams)
    assert layout["normalized_streams"] == list(STREAMS) and layout["column_layout"] is None
