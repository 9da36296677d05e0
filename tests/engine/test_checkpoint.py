"""Checkpoints load with weights_only only: strangers' code never runs, bad files exit 2."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from signcli.core.errors import CheckpointError, UsageError
from signcli.engine.checkpoint import (
    FORMAT_KEY,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)


class Exploit:
    """Unpickling this would run a shell command that creates MARKER."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def minimal_payload() -> dict:
    return {"settings": {}, "input_dims": {"x": 3}, "model": {"w": torch.ones(2)}}


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    save_checkpoint(path, minimal_payload())
    payload = load_checkpoint(path)
    assert payload[FORMAT_KEY] == 1 and torch.equal(payload["model"]["w"], torch.ones(2))


def test_code_in_a_pickle_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({**minimal_payload(), "format_version": 1, "x": Exploit(marker)}, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(path)
    assert not marker.exists()
    # the same file would run the code through a plain unpickler: the test is meaningful
    with open(path, "rb") as handle:
        import zipfile

        with zipfile.ZipFile(handle) as archive:
            data = archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))
    assert b"system" in data


def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    save_checkpoint(path, minimal_payload())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path)


def test_not_a_signcli_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="not a signcli checkpoint"):
        load_checkpoint(path)
    text = tmp_path / "text.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError):
        load_checkpoint(text)


def test_unknown_format_version(tmp_path: Path) -> None:
    path = tmp_path / "future.pt"
    torch.save({**minimal_payload(), FORMAT_KEY: 99}, path)
    with pytest.raises(CheckpointError, match="format version 99"):
        load_checkpoint(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")


def test_rng_state_round_trips_through_weights_only(tmp_path: Path) -> None:
    import random

    import numpy as np

    path = tmp_path / "rng.pt"
    save_checkpoint(path, {**minimal_payload(), "rng": capture_rng_state()})
    expected = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    restore_rng_state(load_checkpoint(path)["rng"])
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == expected


def test_plain_pickle_is_not_accepted_either(tmp_path: Path) -> None:
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps(minimal_payload()))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
