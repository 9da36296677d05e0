"""`signcli train`, `resume` and `smoke` through the CLI: exit codes and messages."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from signcli.cli import app
from signcli.engine.checkpoint import STATE_KEY, load_checkpoint

runner = CliRunner()
TINY = ["--set", "model.d_model=16", "--set", "model.num_layers=1", "--set", "model.num_heads=2",
        "--set", "model.ff_dim=32", "--batch-size", "4", "--device", "cpu"]  # fmt: skip


def data_flags(root: Path) -> list[str]:
    return [
        "--train-dir", str(root / "train"), "--train-labels", str(root / "train_labels.csv"),
        "--val-dir", str(root / "val"), "--val-labels", str(root / "val_labels.csv"),
    ]  # fmt: skip


def train_one_epoch(root: Path, work: Path) -> None:
    result = runner.invoke(
        app,
        [
            "train",
            "transformer",
            *data_flags(root),
            *TINY,
            "--epochs",
            "1",
            "--work-dir",
            str(work),
        ],
    )
    assert result.exit_code == 0, result.output


@pytest.fixture
def root(make_npz_dataset) -> Path:
    return make_npz_dataset(n=8, T=5, D=6)


def test_train_writes_the_run_and_prints_a_summary(root: Path, tmp_path: Path) -> None:
    work = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "train",
            "transformer",
            *data_flags(root),
            *TINY,
            "--epochs",
            "2",
            "--work-dir",
            str(work),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "epoch 2/2" in result.output and "done: 2 epoch(s)" in result.output
    assert len((work / "metrics.jsonl").read_text().splitlines()) == 2


def test_guide_aliases(root: Path, tmp_path: Path) -> None:
    work = tmp_path / "guide"
    args = ["train", "transformer", "--keypoints-train", str(root / "train"),
            "--labels-train-csv", str(root / "train_labels.csv"), "--output-dir", str(work),
            "--epochs", "1", "--amp", "--patience", "3", "--log-csv", str(tmp_path / "log.csv"), *TINY]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    config = json.loads((work / "config.json").read_text())
    assert config["training"]["precision"] == "amp" and config["training"]["early_stop"] == 3
    assert (tmp_path / "log.csv").exists()


def test_features_flag_implies_x2048(tmp_path: Path, write_split) -> None:
    root = tmp_path / "feat"
    write_split(root, "train", 6, T=5, D=12, key="X2048")
    args = ["train", "gru", "--features-train", str(root / "train"), "--labels-train-csv",
            str(root / "train_labels.csv"), "--epochs", "1", "--work-dir", str(tmp_path / "g"),
            "--set", "model.hidden_size=8", *TINY]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "g" / "config.json").read_text())["data"]["key"] == "X2048"


def test_bad_settings_exit_2_with_one_line_each(root: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "train",
            "transfomer",
            *data_flags(root),
            "--lr",
            "-1",
            "--set",
            "optim.lrr=3",
            "--work-dir",
            str(tmp_path / "x"),
        ],
    )
    assert result.exit_code == 2
    assert "did you mean transformer?" in result.output
    assert "optim.lr: expected greater than 0" in result.output
    assert "optim.lrr: unknown key (did you mean optim.lr?)" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_missing_data_and_labels_out_of_range(root: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "transformer", "--train-dir", str(tmp_path / "nope"),
                                 "--train-labels", str(root / "train_labels.csv"), "--work-dir", str(tmp_path / "w")])  # fmt: skip
    assert result.exit_code == 2 and "does not exist" in result.output
    result = runner.invoke(app, ["train", "transformer", *data_flags(root), "--num-gloss", "2", *TINY,
                                 "--work-dir", str(tmp_path / "w")])  # fmt: skip
    assert result.exit_code == 2
    assert "train_labels.csv, line 4: gloss 2" in result.output and "--num-gloss" in result.output


def test_existing_run_is_refused_then_overwritten(root: Path, tmp_path: Path) -> None:
    work = tmp_path / "run"
    args = [
        "train",
        "transformer",
        *data_flags(root),
        *TINY,
        "--epochs",
        "1",
        "--work-dir",
        str(work),
    ]
    assert runner.invoke(app, args).exit_code == 0
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and f"signcli resume {work}" in refused.output
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0


def test_resume_cli_finished_run_and_extension(root: Path, tmp_path: Path) -> None:
    work = tmp_path / "run"
    train_one_epoch(root, work)
    done = runner.invoke(app, ["resume", str(work)])
    assert done.exit_code == 0 and "already finished" in done.output
    longer = runner.invoke(app, ["resume", str(work), "--epochs", "2"])
    assert longer.exit_code == 0, longer.output
    assert load_checkpoint(work / "last.pt")[STATE_KEY]["epoch"] == 2


def test_resume_of_a_folder_without_a_run(tmp_path: Path) -> None:
    result = runner.invoke(app, ["resume", str(tmp_path)])
    assert result.exit_code == 2 and "holds no run" in result.output


def test_resume_refuses_changed_model_settings(root: Path, tmp_path: Path) -> None:
    work = tmp_path / "run"
    train_one_epoch(root, work)
    config = json.loads((work / "config.json").read_text())
    config["model"]["d_model"] = 32
    (work / "config.json").write_text(json.dumps(config))
    result = runner.invoke(app, ["resume", str(work), "--epochs", "2"])
    assert result.exit_code == 2 and "model settings differ" in result.output


def test_full_disk_during_training_keeps_last_checkpoint(
    root: Path, tmp_path: Path, monkeypatch
) -> None:
    from signcli.engine import atomic

    work = tmp_path / "run"
    train_one_epoch(root, work)
    before = (work / "last.pt").read_bytes()

    def full_disk(src, dst) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full_disk)
    result = runner.invoke(app, ["resume", str(work), "--epochs", "2"])
    assert result.exit_code == 2
    assert f"in {work}" in result.output and "No space left" in result.output
    assert "Traceback" not in result.output
    assert (work / "last.pt").read_bytes() == before
    assert not list(work.glob("*.tmp"))


def test_bad_checkpoint_for_warm_start_exit_2(root: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    result = runner.invoke(app, ["train", "transformer", *data_flags(root), *TINY, "--epochs", "1",
                                 "--work-dir", str(tmp_path / "w"), "--init-checkpoint", str(bad)])  # fmt: skip
    assert result.exit_code == 2 and "bad.pt" in result.output


@pytest.mark.parametrize("model", ["transformer", "gru", "multistream"])
def test_smoke_passes_for_every_model(model: str) -> None:
    result = runner.invoke(app, ["smoke", "--model", model, "--steps", "5", "--num-gloss", "6", "--num-cat", "2",
                                 "--set", "model.d_model=32", "--set", "model.hidden_size=16", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    checks = {c["check"]: c["passed"] for c in document["models"][0]["checks"]}
    assert checks == {
        "output shapes": True,
        "finite loss": True,
        "gradients": True,
        "loss goes down": True,
    }


def test_smoke_overfit_reports_steps() -> None:
    result = runner.invoke(app, ["smoke", "--model", "transformer", "--overfit", "--num-gloss", "4",
                                 "--num-cat", "0", "--set", "model.d_model=32"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "overfit one batch" in result.output and "steps" in result.output


def test_smoke_unknown_model_exit_2() -> None:
    result = runner.invoke(app, ["smoke", "--model", "transfomer"])
    assert result.exit_code == 2 and "did you mean transformer?" in result.output
