"""Early stopping as a user meets it: the message follows the epoch line it is about, and
`resume` of a run that stopped early says why it trains nothing and how to go on
(`--early-stop 0` turns it off, a larger `--early-stop` raises the patience)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

TINY = ["--set", "model.d_model=16", "--set", "model.num_layers=1", "--set", "model.num_heads=2",
        "--set", "model.ff_dim=32", "--batch-size", "4", "--device", "cpu"]  # fmt: skip
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
