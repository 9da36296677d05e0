"""Make the bundled example datasets from signcli's synthetic sign generator.

    python examples/make_example.py            # rewrites examples/data/ and examples/data_multistream/

Single-stream layout (docs/architecture.md): train/*.npz and val/*.npz with key X [T, 156]
(21 left-hand + 21 right-hand + 10 pose landmarks, x/y/z; NaN = hand not detected) and
train_labels.csv / val_labels.csv (file,gloss,cat,occluded,gloss_name). To keep the
committed files a few hundred KB, sequences are short, coordinates are rounded to 1e-3
(finer than MediaPipe's own jitter) and stored as float16 in compressed npz; signcli reads
them as float32.

examples/data_multistream/ holds the same samples in the multi-stream layout: face/,
hand_l/, hand_r/, pose/ with one <id>.npz each, train_index.csv / val_index.csv
(video_id), labels.csv (id,gloss,cat,gloss_name) and meta.csv (id;texto).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np

from signcli.data.synthetic import gloss_name, keypoint_streams, make_samples

OUT = Path(__file__).resolve().parent / "data"
OUT_STREAMS = Path(__file__).resolve().parent / "data_multistream"
NUM_GLOSS = 8  # classes
NUM_CAT = 4  # categories: gloss % 4
SPLITS = {"train": (16 * NUM_GLOSS, 1), "val": (6 * NUM_GLOSS, 2)}  # samples, seed
MIN_LEN, MAX_LEN = 10, 20  # frames


def compact(array: np.ndarray) -> np.ndarray:
    return np.round(array, 3).astype(np.float16)


def write_csv(path: Path, rows: list[list], delimiter: str = ",") -> None:
    with open(path, "w", newline="") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    shutil.rmtree(OUT_STREAMS, ignore_errors=True)
    stream_labels = [["id", "gloss", "cat", "gloss_name"]]
    meta = [["id", "texto"]]
    for split, (count, seed) in SPLITS.items():
        samples = make_samples(
            count, NUM_GLOSS, NUM_CAT, seed=seed, min_len=MIN_LEN, max_len=MAX_LEN
        )
        folder = OUT / split
        folder.mkdir(parents=True)
        rows, index = [], [["video_id"]]
        for i, sample in enumerate(samples):
            sample.id = f"{split}_{i:04d}"
            name = f"{sample.id}.npz"
            np.savez_compressed(folder / name, X=compact(sample.x))
            rows.append(
                [name, sample.gloss, sample.cat, int(sample.occluded), gloss_name(sample.gloss)]
            )
            for stream, array in keypoint_streams(sample, seed).items():
                (OUT_STREAMS / stream).mkdir(parents=True, exist_ok=True)
                np.savez_compressed(OUT_STREAMS / stream / name, X=compact(array))
            index.append([sample.id])
            stream_labels.append([sample.id, sample.gloss, sample.cat, gloss_name(sample.gloss)])
            meta.append([sample.id, gloss_name(sample.gloss).replace("_", " ")])
        header = ["file", "gloss", "cat", "occluded", "gloss_name"]
        write_csv(OUT / f"{split}_labels.csv", [header, *rows])
        write_csv(OUT_STREAMS / f"{split}_index.csv", index)
    write_csv(OUT_STREAMS / "labels.csv", stream_labels)
    write_csv(OUT_STREAMS / "meta.csv", meta, delimiter=";")
    for root in (OUT, OUT_STREAMS):
        size_kb = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1024
        print(f"wrote {root} ({size_kb:.0f} KB)")


if __name__ == "__main__":
    main()
