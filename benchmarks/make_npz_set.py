"""Write a keypoint dataset of many small .npz files, the input of `bench_validate.py`.

    python benchmarks/make_npz_set.py OUT_DIR [--files 10000] [--dim 156] [--val-share 0.2]
                                              [--frames T]

OUT_DIR becomes a dataset root in the single-stream layout: OUT_DIR/train/*.npz,
OUT_DIR/val/*.npz, OUT_DIR/train_labels.csv, OUT_DIR/val_labels.csv. Each file holds
`X [T, D]` float32 with T drawn from 40..80 (about 60 frames, a short sign at 30 fps) and
written with `np.savez` like the training guide's extractor (`--frames T`: every file T
frames, as bench_cache.py's sizes are stated). A third of the files miss a
hand for some frames (NaN), as MediaPipe output does, so the NaN statistics have work.
Every file is valid: validate-npz must exit 0 on it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

T_RANGE = (40, 81)  # frames, upper bound exclusive
NUM_GLOSS = 100
NUM_CAT = 10
HAND_COLUMNS = 63  # 21 landmarks x (x, y, z) of one hand, blanked when it is out of frame


def write_split(
    root: Path,
    split: str,
    count: int,
    dim: int,
    rng: np.random.Generator,
    frames: int | None = None,
) -> None:
    folder = root / split
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["file,gloss,cat,occluded"]
    for index in range(count):
        name = f"{split}_{index:05d}.npz"
        T = int(rng.integers(*T_RANGE)) if frames is None else frames
        keypoints = rng.normal(size=(T, dim)).astype(np.float32)  # [T, D]
        if index % 3 == 0:  # a hand out of frame for a stretch of frames
            start = int(rng.integers(0, T))
            keypoints[start : start + 10, : min(HAND_COLUMNS, dim)] = np.nan
        np.savez(folder / name, X=keypoints)
        gloss = index % NUM_GLOSS
        rows.append(f"{name},{gloss},{gloss % NUM_CAT},{int(index % 3 == 0)}")
    (root / f"{split}_labels.csv").write_text("\n".join(rows) + "\n")


def make_npz_set(
    root: Path,
    files: int = 10_000,
    dim: int = 156,
    val_share: float = 0.2,
    frames: int | None = None,
) -> None:
    """Write `files` samples under `root`, `val_share` of them in val/."""
    rng = np.random.default_rng(0)
    val_count = round(files * val_share)
    write_split(root, "train", files - val_count, dim, rng, frames)
    write_split(root, "val", val_count, dim, rng, frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=156)
    parser.add_argument("--val-share", type=float, default=0.2)
    parser.add_argument("--frames", type=int, help="T of every file (default: 40..80)")
    args = parser.parse_args()
    make_npz_set(args.out_dir, args.files, args.dim, args.val_share, args.frames)
    print(f"wrote {args.files} files under {args.out_dir}")


if __name__ == "__main__":
    main()
