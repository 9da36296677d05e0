"""Shared fixtures: tiny synthetic datasets in tmp dirs (the BoringModel of signcli)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

# One math thread per test process: pytest -n 2 already fills both cores, and two OpenMP
# threads per worker spin against each other (a small GRU step got 10x slower). Set before
# torch is imported; subprocesses inherit it, so their results match in-process runs.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
from typing import NamedTuple

import numpy as np
import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules that hold a slow test run first, each module's tests together and in their
    order (so a module's fixtures are still set up once). With `-n 2` a worker that takes a
    long test collected last (the ctc quick start in tests/test_examples.py, the torchrun
    runs) finishes alone while the other waits; started first, the quick tests fill in
    behind them."""
    slow = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow)  # stable


@pytest.fixture(autouse=True, scope="session")
def _cache_dir(tmp_path_factory: pytest.TempPathFactory):
    """Dataset caches (data/packed.py) of every test go to a temp folder, never to the home
    folder; subprocesses inherit it. A test that checks caches passes its own cache_dir."""
    previous = os.environ.get("SIGNCLI_CACHE_DIR")
    os.environ["SIGNCLI_CACHE_DIR"] = str(tmp_path_factory.mktemp("signcli-cache"))
    yield
    if previous is None:
        os.environ.pop("SIGNCLI_CACHE_DIR", None)
    else:
        os.environ["SIGNCLI_CACHE_DIR"] = previous


def write_npz_split(
    root: Path,
    split: str,
    n: int,
    T: int = 5,
    D: int = 6,
    num_gloss: int = 3,
    num_cat: int = 2,
    key: str = "X",
    seed: int = 0,
    signers: Sequence[str] = (),
) -> tuple[Path, Path]:
    """Write `root/split/*.npz` (key `key`, [T, D] float32) and `root/split_labels.csv`;
    with `signers`, the CSV gets a `signer` column cycling through them."""
    rng = np.random.default_rng(seed)
    folder = root / split
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["file,gloss,cat,occluded" + (",signer" if signers else "")]
    for i in range(n):
        name = f"{split}_{i:04d}"
        gloss = i % num_gloss
        array = rng.normal(size=(T, D)).astype(np.float32) + gloss
        np.savez(folder / f"{name}.npz", **{key: array})
        signer = f",{signers[i % len(signers)]}" if signers else ""
        rows.append(f"{name}.npz,{gloss},{gloss % num_cat},0{signer}")
    labels = root / f"{split}_labels.csv"
    labels.write_text("\n".join(rows) + "\n")
    return folder, labels


@pytest.fixture
def make_npz_dataset(tmp_path: Path):
    """Factory: `make_npz_dataset(n=8, T=5, D=6)` -> dataset root with train/ and val/."""

    def make(n: int = 8, T: int = 5, D: int = 6, **kwargs) -> Path:
        root = tmp_path / "data"
        write_npz_split(root, "train", n, T, D, **kwargs)
        write_npz_split(root, "val", max(2, n // 2), T, D, seed=1, **kwargs)
        return root

    return make


def add_label_column(source: Path, target: Path, name: str, values: list[str]) -> Path:
    """Copy the labels CSV `source` to `target` with one more column `name` (row i gets
    values[i]), e.g. the signer of each sample."""
    import csv

    with open(source, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(
            [[*rows[0], name]]
            + [[*row, value] for row, value in zip(rows[1:], values, strict=True)]
        )
    return target


@pytest.fixture(scope="session")
def write_split():
    """The `write_npz_split` function, for tests that need another key or layout."""
    return write_npz_split


@pytest.fixture(scope="session")
def label_column():
    """The `add_label_column` function: a labels CSV with one more column (signer, ...)."""
    return add_label_column


class TrainedRun(NamedTuple):
    work_dir: Path  # config.json, labels.json, metrics.jsonl, last.pt, best.pt
    data: Path  # train/, val/, train_labels.csv, val_labels.csv (synthetic signs, D = 156)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    """A finished 3-epoch run of a tiny transformer (with a category head) on synthetic
    signs, for the tests of what reads checkpoints (eval, export). Built once per session:
    treat it as read-only."""
    from signcli.data.synthetic import write_npz_dataset
    from signcli.engine.recipes import start_run
    from signcli.settings import load_settings

    root = tmp_path_factory.mktemp("trained")
    data = write_npz_dataset(root / "data", n_train=24, n_val=12, num_gloss=4, num_cat=2)
    flags = {
        "data.train_dir": data / "train",
        "data.train_labels": data / "train_labels.csv",
        "data.val_dir": data / "val",
        "data.val_labels": data / "val_labels.csv",
        "model.d_model": 32,
        "model.num_layers": 1,
        "model.num_heads": 2,
        "model.ff_dim": 64,
        "model.max_len": 64,
        # enough epochs that the model is right on some val samples and wrong on others
        # (per-group eval needs both), not so many that it takes long
        "training.epochs": 2,
        "training.batch_size": 8,
        "training.device": "cpu",
        "training.work_dir": root / "run",
    }
    start_run(load_settings(flags=flags))
    return TrainedRun(root / "run", data)


@pytest.fixture
def exported_matches_pytorch():
    """`check(checkpoint, streams)`: export `checkpoint` beside it, run the file and the
    restored model on one recorded sample `streams` ({name: [1, T, D]}, NaN kept), assert
    the gloss logits agree, and return the ONNX `input_layout` metadata. Skips without the
    onnx extra."""
    for module in ("onnx", "onnxruntime", "onnxscript"):
        pytest.importorskip(module)
    return _exported_matches_pytorch


def _exported_matches_pytorch(checkpoint: Path, streams: dict[str, np.ndarray]) -> dict:
    import json

    import onnx
    import torch

    from signcli.engine.restore import load_model_from_checkpoint
    from signcli.export.onnx import export_onnx, onnx_session

    result = export_onnx(checkpoint, checkpoint.with_suffix(".onnx"))
    model = load_model_from_checkpoint(checkpoint).model
    assert any(np.isnan(x).any() for x in streams.values())  # the real thing: missing points
    mask = np.ones(next(iter(streams.values())).shape[:2], dtype=bool)
    got = onnx_session(result.path).run(None, {**streams, "mask": mask})[0]
    with torch.no_grad():
        tensors = {name: torch.from_numpy(x) for name, x in streams.items()}
        expected = model(tensors, torch.from_numpy(mask))["gloss"].numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)
    props = {p.key: p.value for p in onnx.load(result.path).metadata_props}
    return json.loads(props["input_layout"])
