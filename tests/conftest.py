"""Shared fixtures: tiny synthetic datasets in tmp dirs (the BoringModel of signcli)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


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
) -> tuple[Path, Path]:
    """Write `root/split/*.npz` (key `key`, [T, D] float32) and `root/split_labels.csv`."""
    rng = np.random.default_rng(seed)
    folder = root / split
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["file,gloss,cat,occluded"]
    for i in range(n):
        name = f"{split}_{i:04d}"
        gloss = i % num_gloss
        array = rng.normal(size=(T, D)).astype(np.float32) + gloss
        np.savez(folder / f"{name}.npz", **{key: array})
        rows.append(f"{name}.npz,{gloss},{gloss % num_cat},0")
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


@pytest.fixture
def write_split():
    """The `write_npz_split` function, for tests that need another key or layout."""
    return write_npz_split
