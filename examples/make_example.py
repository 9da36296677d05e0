"""Make the bundled example dataset (examples/data/) from signcli's synthetic sign generator.

    python examples/make_example.py            # rewrites examples/data/

Single-stream layout of DESIGN.md: train/*.npz and val/*.npz with key X [T, 156]
(21 left-hand + 21 right-hand + 10 pose landmarks, x/y/z; NaN = hand not detected) and
train_labels.csv / val_labels.csv (file,gloss,cat,occluded,gloss_name). To keep the
committed files a few hundred KB, sequences are short, coordinates are rounded to 1e-3
(finer than MediaPipe's own jitter) and stored as float16 in compressed npz; signcli reads
them as float32.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np

from signcli.data.synthetic import gloss_name, make_samples

OUT = Path(__file__).resolve().parent / "data"
NUM_GLOSS = 8  # classes
NUM_CAT = 4  # categories: gloss % 4
SPLITS = {"train": (16 * NUM_GLOSS, 1), "val": (6 * NUM_GLOSS, 2)}  # samples, seed
MIN_LEN, MAX_LEN = 10, 20  # frames


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    for split, (count, seed) in SPLITS.items():
        samples = make_samples(
            count, NUM_GLOSS, NUM_CAT, seed=seed, min_len=MIN_LEN, max_len=MAX_LEN
        )
        folder = OUT / split
        folder.mkdir(parents=True)
        rows = []
        for i, sample in enumerate(samples):
            name = f"{split}_{i:04d}.npz"
            np.savez_compressed(folder / name, X=np.round(sample.x, 3).astype(np.float16))
            rows.append(
                [name, sample.gloss, sample.cat, int(sample.occluded), gloss_name(sample.gloss)]
            )
        with open(OUT / f"{split}_labels.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "gloss", "cat", "occluded", "gloss_name"])
            writer.writerows(rows)
    size_kb = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file()) / 1024
    print(f"wrote {OUT} ({size_kb:.0f} KB)")


if __name__ == "__main__":
    main()
