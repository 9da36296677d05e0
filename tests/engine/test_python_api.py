"""The Python API keeps the CLI's promises: `Trainer(settings).fit()` and `start_run` write
absolute paths into config.json (so the run resumes from any folder) and never replace a
run or a --log-csv file unless asked to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signcli.core.errors import UsageError
from signcli.engine.recipes import resume_run, start_run
from signcli.engine.trainer import Trainer
from signcli.settings import load_settings
from tests.tiny import TINY_RUN

TINY = [*TINY_RUN, "training.epochs=1"]


def relative_settings(*extra: str):
    """Settings whose paths are all relative to the current folder, as a script writes."""
    return load_settings(
        overrides=[
            "data.train_dir=data/train",
            "data.train_labels=data/train_labels.csv",
            "data.val_dir=data/val",
            "data.val_labels=data/val_labels.csv",
            "training.work_dir=runs/api",
            *TINY,
            *extra,
        ]
    )


@pytest.fixture
def project(make_npz_dataset, tmp_path: Path, monkeypatch) -> Path:
    """tmp_path holding data/, and the current folder."""
    make_npz_dataset(n=8, T=5, D=6)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_fit_writes_absolute_paths_and_resumes_from_elsewhere(project: Path, monkeypatch) -> None:
    Trainer(relative_settings("training.log_csv=logs/api.csv")).fit()
    stored = json.loads((project / "runs" / "api" / "config.json").read_text())
    assert stored["data"]["train_dir"] == str(project / "data" / "train")
    assert stored["data"]["val_labels"] == str(project / "data" / "val_labels.csv")
    assert stored["training"]["work_dir"] == str(project / "runs" / "api")
    assert stored["training"]["log_csv"] == str(project / "logs" / "api.csv")
    elsewhere = project / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = resume_run(project / "runs" / "api", epochs=2)
    assert result.trainer.state.epoch == 2
    assert len((project / "logs" / "api.csv").read_text().splitlines()) == 3


def test_start_run_leaves_the_callers_settings_alone(project: Path) -> None:
    settings = relative_settings()
    result = start_run(settings)
    assert settings.training.work_dir == Path("runs/api")
    assert result.trainer.settings.training.work_dir == project / "runs" / "api"


def test_fit_refuses_a_folder_that_holds_a_run(project: Path) -> None:
    Trainer(relative_settings()).fit()
    metrics = project / "runs" / "api" / "metrics.jsonl"
    before = metrics.read_bytes()
    with pytest.raises(UsageError) as refused:
        Trainer(relative_settings()).fit()
    assert "runs/api already holds a run (config.json" in str(refused.value)
    assert "start_run(settings, overwrite=True)" in str(refused.value)
    assert metrics.read_bytes() == before
    with pytest.raises(UsageError, match="already holds a run"):
        start_run(relative_settings())
    start_run(relative_settings(), overwrite=True)
    assert metrics.read_bytes() != before


def test_fit_again_with_more_epochs_trains_on(project: Path) -> None:
    trainer = Trainer(relative_settings("training.log_csv=log.csv"))  # as the benchmarks do
    trainer.fit()
    trainer.settings.training.epochs = 2
    assert [m["epoch"] for m in trainer.fit()] == [1, 2]
    lines = (project / "runs" / "api" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    assert len((project / "log.csv").read_text().splitlines()) == 3


def test_fit_refuses_an_existing_log_csv_before_writing_anything(project: Path) -> None:
    (project / "results.csv").write_text("mine\n")
    with pytest.raises(UsageError, match="results.csv already exists"):
        Trainer(relative_settings("training.log_csv=results.csv")).fit()
    assert (project / "results.csv").read_text() == "mine\n"
    assert not (project / "runs").exists()
