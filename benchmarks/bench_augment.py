"""Augmentation must not starve the model: training samples/s with every augmentation on
against none, on the synthetic multi-stream layout (and on X [T, 156] with --layout).

    python benchmarks/bench_augment.py [--train 400] [--epochs 2] [--repeats 3] [--threads 2]

Writes the multi-stream example (face, hand_l, hand_r, pose; T 24..64), trains
`multistream` (d_model 128, 2 layers, default data settings: cache on, num_workers 0)
for `--epochs` epochs without augmentation and with every transform at p = 1 (mirror,
affine, speed, crop, frame drop, jitter, landmark dropout, mix of hand_l), and reports
the best samples_per_s of each (runs interleaved, `--repeats` times: on a shared machine
the best is the least disturbed). Target: ratio >= 0.8.
Crop, frame drop and speed shorten sequences, which speeds training up, so the
length-preserving transforms alone are measured too. The same samples as single-stream
`X [T, 156]` with a column layout (`transformer`, the same sizes; X is split, augmented
and joined per sample) give a second ratio. Also times `augment` alone.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from markdown_report import Report, add_markdown_argument, table

from signcli.data.augment import augment
from signcli.data.dataset import Sample
from signcli.data.synthetic import write_multistream_dataset, write_npz_dataset
from signcli.engine.trainer import Trainer
from signcli.settings import AugmentSettings, augment_off, load_settings

ALL_ON = [
    "data.augment.mirror_p=1",
    "data.augment.affine_p=1",
    "data.augment.speed_p=1",
    "data.augment.crop_p=1",
    "data.augment.frame_drop_p=1",
    "data.augment.jitter_p=1",
    "data.augment.landmark_dropout_p=1",
    'data.augment.mix_streams={"hand_l": 1.0}',
]
# without the transforms that shorten sequences (crop, frame drop, speed > 1), whose
# shorter batches make training faster and would hide the cost of augmenting
SAME_LENGTH = [o for o in ALL_ON if not o.startswith(("data.augment.crop", "data.augment.frame",
                                                      "data.augment.speed"))]  # fmt: skip


LAYOUT = "hand_l=0:63,hand_r=63:126,pose=126:156"  # synthetic.STREAM_COLUMNS


def data_flags(root: Path) -> dict:
    """Multi-stream folders under `root`, or (`root/train` exists) single-stream X with LAYOUT."""
    if (root / "train").is_dir():
        return {"data.train_dir": root / "train", "data.train_labels": root / "train_labels.csv",
                "data.layout": LAYOUT, "model.name": "transformer"}  # fmt: skip
    return {
        **{f"data.{k}": root / s for k, s in (("face_dir", "face"), ("hand_left_dir", "hand_l"),
                                              ("hand_right_dir", "hand_r"), ("pose_dir", "pose"))},
        "data.train_index": root / "train_index.csv",
        "data.labels": root / "labels.csv",
        "model.name": "multistream",
    }  # fmt: skip


def run(root: Path, work: Path, epochs: int, augment_overrides: list[str]) -> float:
    """The best samples_per_s of a short run (the least disturbed by other processes)."""
    flags = {
        **data_flags(root),
        "model.d_model": 128,
        "model.num_layers": 2,
        "model.num_heads": 4,
        "model.ff_dim": 256,
        "training.epochs": epochs,
        "training.batch_size": 32,
        "training.device": "cpu",
        "training.work_dir": work,
    }  # fmt: skip
    # every transform off, then those the config turns on
    flags = {**augment_off(), **flags}
    trainer = Trainer(load_settings(flags=flags, overrides=augment_overrides), default_hooks=False)
    return max(m["samples_per_s"] for m in trainer.fit())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    add_markdown_argument(parser, "bench_augment")
    args = parser.parse_args()
    report = Report.start("bench_augment", "training samples/s with augmentation on vs off")
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = write_multistream_dataset(Path(tmp) / "data", args.train, 0, num_gloss=20)
        npz = write_npz_dataset(Path(tmp) / "npz", args.train, 0, num_gloss=20)
        configs = {
            "none": (root, []),
            "all": (root, ALL_ON),
            "same length": (root, SAME_LENGTH),
            "layout none": (npz, []),
            "layout all": (npz, ALL_ON),
        }
        best = dict.fromkeys(configs, 0.0)
        for _ in range(args.repeats):  # interleaved, so a busy moment hits every config alike
            for name, (data, overrides) in configs.items():
                speed = run(data, Path(tmp) / name, args.epochs, overrides)
                best[name] = max(best[name], speed)
        none, full, same = best["none"], best["all"], best["same length"]

        every = AugmentSettings(**{o.split("=")[0].split(".")[-1]: 1 for o in ALL_ON[:-1]})
        rng = np.random.default_rng(0)
        streams = {
            s: np.load(root / s / "train_00000.npy") for s in ("face", "hand_l", "hand_r", "pose")
        }
        one = Sample("train_00000", streams, {"gloss": 0})
        count = 2000
        started = time.perf_counter()
        for _ in range(count):
            augment(one, every, rng)
        per_sample_us = (time.perf_counter() - started) / count * 1e6
    print(f"samples/s without augmentation: {none:8.1f}")
    print(f"samples/s with all augmentations: {full:8.1f}")
    print(f"ratio: {full / none:.2f} (target >= 0.8)")
    print(f"samples/s with length-preserving ones: {same:8.1f} (ratio {same / none:.2f})")
    plain, augmented = best["layout none"], best["layout all"]
    print(f"X [T, 156] with --layout: {plain:.1f} without, {augmented:.1f} with all "
          f"(ratio {augmented / plain:.2f})")  # fmt: skip
    print(f"augment() alone: {per_sample_us:.0f} us per sample (T = {one.length})")
    body = table(
        ["model and data", "transforms", "best samples/s", "ratio to none"],
        [
            ["multistream", "none", f"{none:.0f}", "1.00"],
            ["multistream", "all (p = 1)", f"{full:.0f}", f"**{full / none:.2f}**"],
            ["multistream", "length-preserving only", f"{same:.0f}", f"{same / none:.2f}"],
            ["transformer on X [T, 156] with --layout", "none", f"{plain:.0f}", "1.00"],
            ["transformer on X [T, 156] with --layout", "all (p = 1)", f"{augmented:.0f}",
             f"{augmented / plain:.2f}"],
        ],
    )  # fmt: skip
    body += (
        f"\n\nBest of {args.repeats} interleaved runs of {args.epochs} epochs on {args.train} "
        f"synthetic samples, d_model 128, 2 layers, batch 32, {args.threads} thread(s); "
        f"`augment()` alone: {per_sample_us:.0f} us per sample (T = {one.length}). Target: ratio "
        f">= 0.8 ({'met' if full / none >= 0.8 else 'NOT met'})."
    )
    report.write(args.markdown, body)


if __name__ == "__main__":
    main()
