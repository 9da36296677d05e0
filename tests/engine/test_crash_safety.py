"""Kill a training process at random moments, interrupt it with signals: resume always
succeeds, metrics.jsonl has one line per epoch, and the final model is the same.

The processes killed at random moments are forked from the test process (tests/forked.py):
`signcli train` in a child that starts with signcli and torch imported, which a fresh
`python -m signcli` pays about 2 s of CPU for, five times over. A SIGKILL cannot be
caught, so where the process came from does not change what it leaves behind. The signal
tests start `python -m signcli` itself: the command's handlers, messages and exit code are
what they check."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from signcli.engine.checkpoint import MODEL_KEY, load_checkpoint
from signcli.engine.recipes import resume_run, start_run
from signcli.settings import load_settings
from tests.forked import ForkedCommand
from tests.tiny import TINY_MODEL, set_flags

pytestmark = pytest.mark.slow

EPOCHS = 5
MODEL_FLAGS = set_flags(TINY_MODEL)


def train_command(root: Path, work: Path, *extra: str, epochs: int = EPOCHS) -> list[str]:
    return [
        sys.executable, "-m", "signcli", "train", "transformer",
        "--train-dir", str(root / "train"), "--train-labels", str(root / "train_labels.csv"),
        "--val-dir", str(root / "val"), "--val-labels", str(root / "val_labels.csv"),
        "--epochs", str(epochs), "--batch-size", "4", "--deterministic", "--device", "cpu",
        "--work-dir", str(work), "--quiet", *MODEL_FLAGS, *extra,
    ]  # fmt: skip


def reference_run(root: Path, work: Path, epochs: int = EPOCHS) -> dict[str, torch.Tensor]:
    settings = load_settings(
        overrides=[
            f"data.train_dir={root / 'train'}", f"data.train_labels={root / 'train_labels.csv'}",
            f"data.val_dir={root / 'val'}", f"data.val_labels={root / 'val_labels.csv'}",
            f"training.epochs={epochs}", "training.batch_size=4", "training.deterministic=true",
            "training.device=cpu", f"training.work_dir={work}",
            *TINY_MODEL,
        ]
    )  # fmt: skip
    start_run(settings)
    return load_checkpoint(work / "last.pt")[MODEL_KEY]


def wait_for(path: Path, process: subprocess.Popen | ForkedCommand, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def assert_complete_run(
    work: Path, reference: dict[str, torch.Tensor], epochs: int = EPOCHS
) -> None:
    lines = (work / "metrics.jsonl").read_text().splitlines()
    logged = [json.loads(line)["epoch"] for line in lines]  # every line parses
    assert logged == list(range(1, epochs + 1))
    weights = load_checkpoint(work / "last.pt")[MODEL_KEY]
    assert all(torch.equal(weights[k], reference[k]) for k in reference)
    assert not list(work.glob("*.tmp"))


SIGNAL_EPOCHS = 20  # long enough that a signal sent after epoch 1's line lands mid-run


@pytest.fixture(scope="module")
def root(tmp_path_factory, write_split) -> Path:
    data = tmp_path_factory.mktemp("crash") / "data"
    write_split(data, "train", 32, T=8, D=6)
    write_split(data, "val", 12, T=8, D=6, seed=1)
    return data


@pytest.fixture(scope="module")
def reference(root: Path, tmp_path_factory) -> dict[str, torch.Tensor]:
    return reference_run(root, tmp_path_factory.mktemp("reference"))


@pytest.fixture(scope="module")
def long_reference(root: Path, tmp_path_factory) -> dict[str, torch.Tensor]:
    return reference_run(root, tmp_path_factory.mktemp("long_reference"), SIGNAL_EPOCHS)


def test_sigkill_at_random_moments_then_resume(root: Path, reference, tmp_path: Path) -> None:
    rng = random.Random(1234)
    killed = 0
    for trial in range(5):
        work = tmp_path / f"kill{trial}"
        command = train_command(root, work, "--save-every-steps", "1")[3:]  # after -m signcli
        process = ForkedCommand(command, tmp_path / f"kill{trial}-output")
        wait_for(work / "last.pt", process)
        time.sleep(rng.uniform(0.0, 1.5))  # lands in steps, epoch ends and checkpoint writes
        process.kill()
        killed += process.wait() == -signal.SIGKILL  # not finished before the kill
        resume_run(work)
        assert_complete_run(work, reference)
    assert killed, "every run had finished before its kill: the kills tested nothing"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_and_prints_resume_command(
    root: Path, long_reference, tmp_path: Path, signum: int
) -> None:
    epochs = SIGNAL_EPOCHS
    work = tmp_path / "interrupted"
    process = subprocess.Popen(
        train_command(root, work, epochs=epochs),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(work / "metrics.jsonl", process)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert f"signcli resume {work}" in stderr
    assert len((work / "metrics.jsonl").read_text().splitlines()) < epochs
    resume_run(work)
    assert_complete_run(work, long_reference, epochs)


def test_second_ctrl_c_aborts_at_once_without_corruption(root: Path, tmp_path: Path) -> None:
    work = tmp_path / "aborted"
    process = subprocess.Popen(
        train_command(root, work, "--save-every-steps", "1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(work / "last.pt", process)
    process.send_signal(signal.SIGINT)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode in (130, 0)
    load_checkpoint(work / "last.pt")  # intact: loads
    for line in (
        (work / "metrics.jsonl").read_text().splitlines()
        if (work / "metrics.jsonl").exists()
        else []
    ):
        json.loads(line)
    assert os.path.exists(work / "config.json")
