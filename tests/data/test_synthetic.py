"""Synthetic sign-like data: shapes, determinism, NaN hands, and the written layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from signcli.data.labels import read_labels
from signcli.data.npz import read_npz_array
from signcli.data.synthetic import (
    COORDS,
    HAND_LANDMARKS,
    KEYPOINT_DIM,
    make_features,
    make_samples,
    write_npz_dataset,
)

HAND_COLUMNS = HAND_LANDMARKS * COORDS  # 63


def test_samples_have_the_documented_shapes() -> None:
    samples = make_samples(12, num_gloss=4, num_cat=3, min_len=5, max_len=9)
    assert len(samples) == 12 and len({s.id for s in samples}) == 12
    for s in samples:
        assert s.x.dtype == np.float32 and s.x.shape[1] == KEYPOINT_DIM == 156
        assert 5 <= s.x.shape[0] <= 9
        assert 0 <= s.gloss < 4 and s.cat == s.gloss % 3
    assert np.bincount([s.gloss for s in samples]).tolist() == [3, 3, 3, 3]  # balanced
    assert {s.cat for s in make_samples(4, num_gloss=2, max_len=24)} == {-1}


def test_same_seed_same_samples() -> None:
    a, b = (make_samples(5, 3, 2, seed=1, max_len=30) for _ in range(2))
    c = make_samples(5, 3, 2, seed=2, max_len=30)
    same = lambda x, y: x.gloss == y.gloss and np.array_equal(x.x, y.x, equal_nan=True)  # noqa: E731
    assert all(same(x, y) for x, y in zip(a, b, strict=True))
    assert not all(same(x, y) for x, y in zip(a, c, strict=True))


def test_missing_hands_are_whole_nan_blocks() -> None:
    frames = np.concatenate([s.x for s in make_samples(30, 5, missing_rate=0.2)])
    nan = np.isnan(frames)
    assert nan.any() and not np.isinf(frames).any()
    for first in (0, HAND_COLUMNS):  # left hand, right hand: all 63 columns or none
        block = nan[:, first : first + HAND_COLUMNS]
        assert np.array_equal(block.all(axis=1), block.any(axis=1))
    assert not nan[:, 2 * HAND_COLUMNS :].any()  # pose is always present
    assert not np.isnan(make_samples(10, 5, missing_rate=0.0)[0].x[:, HAND_COLUMNS:]).any()


def test_other_widths_and_features() -> None:
    assert make_samples(2, 2, dim=10, max_len=24)[0].x.shape[1] == 10
    features = make_features(3, 2, num_cat=2, dim=32, min_len=4, max_len=6, missing_rate=0.0)
    for s in features:
        assert s.x.dtype == np.float32 and s.x.shape[1] == 32 and 4 <= len(s.x) <= 6
        assert np.isfinite(s.x).all() and (s.x >= 0).all()
    rows = np.concatenate([s.x for s in make_features(20, 2, dim=8, missing_rate=0.4)])
    nan = np.isnan(rows)
    assert nan.any() and np.array_equal(nan.all(axis=1), nan.any(axis=1))  # whole rows
    assert make_features(1, 2, min_len=4, max_len=4)[0].x.shape == (4, 2048)


@pytest.mark.parametrize(("key", "dim", "num_cat"), [("X", 156, 3), ("X2048", 2048, 0)])
def test_written_dataset_reads_back(tmp_path: Path, key: str, dim: int, num_cat: int) -> None:
    root = write_npz_dataset(tmp_path / "d", 6, 3, num_gloss=3, num_cat=num_cat, key=key)
    for split, n in (("train", 6), ("val", 3)):
        table = read_labels(root / f"{split}_labels.csv")
        assert table.ok and len(table.ids) == n
        assert (table.cat is None) == (num_cat == 0)
        assert set(table.gloss_names.values()) <= {"sign_00", "sign_01", "sign_02"}
        for sample_id, gloss in zip(table.ids, table.gloss, strict=True):
            x = read_npz_array(root / split / f"{sample_id}.npz", key=key, dim=dim)
            assert x.shape[1] == dim and 0 <= gloss < 3
    header = (root / "train_labels.csv").read_text().splitlines()[0]
    assert header.startswith("file,gloss,cat,occluded" if num_cat else "file,gloss,occluded")
