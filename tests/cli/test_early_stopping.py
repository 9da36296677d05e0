"""Early stopping as a user meets it: the message follows the epoch line it is about, and
`resume` of a run that stopped early says why it trains nothing and how to go on
(`--early-stop 0` turns it off, a larger `--early-stop` raises the patience)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from signcli.cli import app
from signcli.engine.checkpoint import STATE_KEY, load_checkpoint
from tests.tiny import TINY_FLAGS

pytestmark = pytest.mark.slow  # trains, exports or starts processes: the full lane runs it

runner = CliRunner()
TINY = TINY_FLAGS
# lr ~ 0: nothing improves after epoch 1, so patience 1 stops the run at epoch 2 of 6
STALLED = ["--lr", "1e-12", "--scheduler", "none", "--monitor", "val_gloss_top1",
           "--early-stop", "1", "--epochs", "6"]  # fmt: skip


def train_args(root: Path, work: Path) -> list[str]:
    return [
        "train", "transformer", "--train-dir", str(root / "train"),
        "--train-labels", str(root / "train_labels.csv"), "--val-dir", str(root / "val"),
        "--val-labels", str(root / "val_labels.csv"), *TINY, *STALLED, "--work-dir", str(work),
    ]  # fmt: skip


@pytest.fixture
def root(make_npz_dataset) -> Path:
    return make_npz_dataset(n=8, T=5, D=6)


def epochs_done(work: Path) -> int:
    return load_checkpoint(work / "last.pt")[STATE_KEY]["epoch"]


def test_the_message_comes_after_the_epoch_line_it_is_about(root: Path, tmp_path: Path) -> None:
    # stdout (epoch lines) and stderr (the message) into one pipe, as a terminal shows them
    work = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "signcli", *train_args(root, work)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout
    out = result.stdout
    epoch_line, message = out.index("epoch 2/6"), out.index("early stopping")
    assert epoch_line < message < out.index("done: 2 epoch(s)"), out
    assert "early stopping after epoch 2: val_gloss_top1 did not improve for 1 epoch(s)" in out
    assert f"signcli resume {work} --early-stop 0" in out


def test_resume_says_why_a_run_that_stopped_early_trains_nothing(
    root: Path, tmp_path: Path
) -> None:
    work = tmp_path / "run"
    assert runner.invoke(app, train_args(root, work)).exit_code == 0
    assert epochs_done(work) == 2

    result = runner.invoke(app, ["resume", str(work), "--epochs", "8"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "stopped early at epoch 2 of 8" in text
    assert "val_gloss_top1 has not improved for 1 epoch(s)" in text
    assert "early stopping patience 1" in text and "at epoch 1" in text
    assert f"signcli resume {work} --epochs 8 --early-stop 0" in text
    assert "--early-stop 2" in text
    assert epochs_done(work) == 2


def test_resume_with_early_stop_trains_the_extra_epochs(root: Path, tmp_path: Path) -> None:
    work = tmp_path / "run"
    assert runner.invoke(app, train_args(root, work)).exit_code == 0

    # a larger patience: one more epoch without improvement, then it stops again
    raised = runner.invoke(app, ["resume", str(work), "--early-stop", "2"])
    assert raised.exit_code == 0, raised.output
    assert epochs_done(work) == 3 and "early stopping after epoch 3" in raised.output

    # off: every epoch asked for runs, and config.json keeps the new settings
    off = runner.invoke(app, ["resume", str(work), "--epochs", "5", "--early-stop", "0"])
    assert off.exit_code == 0, off.output
    assert epochs_done(work) == 5 and "epoch 5/5" in off.output
    assert len((work / "metrics.jsonl").read_text().splitlines()) == 5
    training = json.loads((work / "config.json").read_text())["training"]
    assert training["early_stop"] == 0 and training["epochs"] == 5


def test_resume_of_a_finished_run_with_fewer_epochs_says_so(root: Path, tmp_path: Path) -> None:
    work = tmp_path / "run"
    assert runner.invoke(app, train_args(root, work)).exit_code == 0
    result = runner.invoke(app, ["resume", str(work), "--epochs", "2", "--early-stop", "0"])
    assert result.exit_code == 0, result.output
    assert "already finished 2 epoch(s), and --epochs 2 asks for no more" in result.output
