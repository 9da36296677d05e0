"""Fuzz the text CSVs: labels CSVs (single-stream `file,gloss,cat,...` and multi-stream
`id,gloss`), index CSVs (`video_id`) and `meta.csv` (`id;texto`), as random CSV text in
several encodings and as random bytes.

`read_labels` collects every problem as a finding naming the file and returns ids within
0 .. MAX_CLASSES; `read_index` and `read_meta` raise only DataError or UsageError;
`validate-npz` on a folder (single- or multi-stream) with such CSVs exits 0, 1 or 2 without
a traceback, and `train` with such a labels CSV exits 0, 1 or 2, in bounded memory and time,
writing nothing outside its work folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import Sandbox, expect_only, fuzz, invoke, message_names, run_bounded
from tests.fuzz.strategies import csv_bytes

# property-based fuzzing of a reader or command: the full lane runs it
pytestmark = pytest.mark.slow

SAMPLE_IDS = ["s0", "s1", "s2"]


def _samples(box: Sandbox, folder: str = "train", suffix: str = ".npz") -> Path:
    """Three readable samples [4, 6] named s0..s2 (the ids the CSV cells use)."""
    path = box.folder(folder)
    for i, sid in enumerate(SAMPLE_IDS):
        array = np.full((4, 6), float(i), np.float32)
        if suffix == ".npz":
            np.savez(path / f"{sid}.npz", X=array)
        else:
            np.save(path / f"{sid}.npy", array)
    return path


def _read_labels(path: Path) -> None:
    from signcli.core.errors import UsageError
    from signcli.core.limits import MAX_CLASSES
    from signcli.data.labels import read_labels

    table = expect_only(lambda: read_labels(path))
    assert not isinstance(table, UsageError)
    for problem in table.problems:
        message_names(problem.message, path)
    assert len(table.ids) == len(table.gloss)
    for ids in (table.gloss, table.cat):
        if ids is not None and len(ids):
            assert ids.dtype == np.int64
            assert ids.min() >= -1 and ids.max() < MAX_CLASSES.value()
    if table.ok:
        assert (table.gloss >= 0).all()


@fuzz(30, long=3000)
@given(data=csv_bytes)
def test_read_labels_reports_problems_naming_the_file(data: bytes, tmp_path: Path) -> None:
    with Sandbox(tmp_path) as box:
        path = box.file("train_labels.csv", data)
        box.freeze()
        run_bounded(lambda: _read_labels(path))


def _read_index_and_meta(index: Path, meta: Path) -> None:
    from signcli.core.errors import DataError, UsageError
    from signcli.data.stream_files import read_index, read_meta

    for read, path in ((read_index, index), (read_meta, meta)):
        outcome = expect_only(lambda read=read, path=path: read(path), (DataError, UsageError))
        if isinstance(outcome, BaseException):
            message_names(outcome, path)
        elif read is read_index:
            assert all(isinstance(i, str) and i for i in outcome)
        else:
            assert all(isinstance(k, str) for k in outcome)


@fuzz(15, long=2000)
@given(index=csv_bytes, meta=csv_bytes)
def test_index_and_meta_csvs_raise_only_data_errors(
    index: bytes, meta: bytes, tmp_path: Path
) -> None:
    with Sandbox(tmp_path) as box:
        index_path = box.file("train_index.csv", index)
        meta_path = box.file("meta.csv", meta)
        box.freeze()
        run_bounded(lambda: _read_index_and_meta(index_path, meta_path))


@fuzz(5, long=1000)
@given(labels=csv_bytes, group=st.booleans())
def test_validate_npz_with_a_fuzzed_labels_csv(labels: bytes, group: bool, tmp_path: Path) -> None:
    with Sandbox(tmp_path) as box:
        folder = _samples(box)
        csv = box.file("train_labels.csv", labels)
        box.freeze()
        args = ["validate-npz", str(folder), "--labels", str(csv), "--workers", "1"]
        run_bounded(lambda: invoke(args + (["--group-by", "signer"] if group else [])), fork=True)


@fuzz(4, long=1000)
@given(labels=csv_bytes, index=csv_bytes, group=st.booleans())
def test_validate_npz_streams_with_fuzzed_csvs(
    labels: bytes, index: bytes, group: bool, tmp_path: Path
) -> None:
    with Sandbox(tmp_path) as box:
        _samples(box, "data/hand_l", ".npy")
        box.file("data/labels.csv", labels)
        box.file("data/train_index.csv", index)
        box.freeze()
        args = ["validate-npz", str(box.inputs / "data"), "--streams", "hand_l", "--workers", "1"]
        run_bounded(lambda: invoke(args + (["--group-by", "signer"] if group else [])), fork=True)


TINY = [
    "--epochs", "1", "--batch-size", "2", "--device", "cpu", "--quiet", "--no-augment",
    "--set", "model.d_model=8", "--set", "model.num_layers=1", "--set", "model.num_heads=1",
    "--set", "model.ff_dim=8", "--set", "model.max_len=8", "--set", "model.conv_kernel=0",
]  # fmt: skip


@fuzz(3, long=300)
@given(labels=csv_bytes, carve=st.booleans())
def test_train_with_a_fuzzed_labels_csv(labels: bytes, carve: bool, tmp_path: Path) -> None:
    with Sandbox(tmp_path) as box:
        folder = _samples(box)
        csv = box.file("train_labels.csv", labels)
        box.freeze()
        args = ["train", "transformer", "--train-dir", str(folder), "--train-labels", str(csv)]
        args += ["--work-dir", "run", *TINY]
        if carve:
            args += ["--val-fraction", "0.5", "--group-by", "signer"]
        run_bounded(lambda: invoke(args), timeout=60, fork=True)
