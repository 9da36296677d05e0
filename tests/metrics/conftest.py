"""A three-epoch run as metrics.jsonl in a tmp dir, for the metrics tests."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest

# val_gloss_top1 peaks at epoch 2 and val_loss bottoms there; train_loss falls every epoch
RUN = [
    {"epoch": 1, "step": 10, "lr": 1e-3, "train_loss": 2.0, "val_loss": 2.1,
     "val_gloss_top1": 0.30, "epoch_s": 1.5, "samples_per_s": 100.0},
    {"epoch": 2, "step": 20, "lr": 5e-4, "train_loss": 1.2, "val_loss": 1.4,
     "val_gloss_top1": 0.85, "epoch_s": 1.4, "samples_per_s": 110.0},
    {"epoch": 3, "step": 30, "lr": 1e-4, "train_loss": 0.9, "val_loss": 1.5,
     "val_gloss_top1": 0.80, "epoch_s": 1.6, "samples_per_s": 95.0},
]  # fmt: skip

WriteJsonl = Callable[..., Path]


@pytest.fixture
def run_records() -> list[dict]:
    return copy.deepcopy(RUN)


@pytest.fixture
def write_jsonl(tmp_path: Path) -> WriteJsonl:
    """`write_jsonl(records, name="metrics.jsonl", tail="")`: one JSON object per line, then
    `tail` verbatim (e.g. a torn line)."""

    def write(records: list[dict], name: str = "metrics.jsonl", tail: str = "") -> Path:
        path = tmp_path / name
        path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail)
        return path

    return write


@pytest.fixture
def run_jsonl(write_jsonl: WriteJsonl, run_records: list[dict]) -> Path:
    return write_jsonl(run_records)
