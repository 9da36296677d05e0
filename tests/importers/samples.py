"""Small sources in the `mp-folders` import format, written into a tmp dir.

For the format tests and for end-to-end `signcli import` tests:

    write_mp_folders(root)      ROOT/<label>/<sequence>/<frame>.npy, returns the vectors

Values are drawn away from 0 (no part reads as "not detected") from a seeded generator,
so a test can compare what a reader returns with what was written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

# --- mp-folders -------------------------------------------------------------------------

MP_WIDTH = 1662  # pose 33x4 + face 468x3 + left hand 21x3 + right hand 21x3
MP_WIDTH_NO_FACE = 258  # pose 33x4 + left hand 21x3 + right hand 21x3


def mp_vector(
    pose: np.ndarray, face: np.ndarray | None, hand_l: np.ndarray, hand_r: np.ndarray
) -> np.ndarray:
    """One frame as the tutorial's `extract_keypoints` saves it: pose [33, 4] (x, y, z,
    visibility), face [468, 3] (None: the 258-wide variant), hands [21, 3]; all flattened."""
    parts = [pose, face, hand_l, hand_r] if face is not None else [pose, hand_l, hand_r]
    return np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1) for p in parts])


def write_mp_sequence(folder: Path, vectors: np.ndarray | Sequence[np.ndarray]) -> list[Path]:
    """`folder/0.npy, 1.npy, ...`, one per vector (frame t is `t.npy`, unpadded)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for t, vector in enumerate(vectors):
        path = folder / f"{t}.npy"
        np.save(path, np.asarray(vector))
        paths.append(path)
    return paths


def write_mp_folders(
    root: Path,
    labels: Sequence[str] = ("hello", "thanks"),
    sequences: int = 2,
    frames: int = 12,
    width: int = MP_WIDTH,
    seed: int = 0,
) -> dict[tuple[str, str], np.ndarray]:
    """`root/<label>/<0..sequences-1>/<0..frames-1>.npy` of `width` (1662 or 258) values in
    0.1..1 (float64, as the tutorial saves them). Returns (label, sequence) -> [T, width]."""
    if width not in (MP_WIDTH, MP_WIDTH_NO_FACE):
        raise ValueError(f"width {width}: the tutorial saves {MP_WIDTH} or {MP_WIDTH_NO_FACE}")
    rng = np.random.default_rng(seed)
    written = {}
    for label in labels:
        for s in range(sequences):
            vectors = rng.uniform(0.1, 1.0, size=(frames, width))
            write_mp_sequence(root / label / str(s), vectors)
            written[(label, str(s))] = vectors
    return written
