"""Accuracy of `multistream` against `transformer` on the bundled example's signs, with
and without augmentation, each the median of 3 seeds.

    python benchmarks/bench_multistream.py [--train 600] [--val 300] [--gloss 20] [--epochs 8]

Writes the same synthetic signs in both layouts (`write_npz_dataset` and
`write_multistream_dataset` with one seed): `transformer` reads the single-stream
`X [T, 156]` as the training guide's users have it, first as is, then with `--layout`
(hands and pose split out of X, normalised and augmented as streams); `multistream`
reads face, hands and pose, normalised per stream. All d_model 64, 2 layers, 4 heads,
batch 32, lr 1e-3 with cosine decay. "aug" = mirror, affine, speed, crop, frame drop,
jitter and landmark dropout each at p = 0.5 (X without a layout gets the temporal ones
and jitter); "no mirror" the same without the mirror (the synthetic signs are
right-hand dominant, so a mirrored sign is a sign the validation set never shows).
Reports best val_gloss_top1 per seed and the median.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import torch
from markdown_report import Report, add_markdown_argument, table

from signcli.data.synthetic import write_multistream_dataset, write_npz_dataset
from signcli.engine.trainer import Trainer
from signcli.settings import load_settings

TRANSFORMS = ("mirror", "affine", "speed", "crop", "frame_drop", "jitter", "landmark_dropout")
AUGMENT = {  # name -> overrides
    "off": [f"data.augment.{name}_p=0" for name in TRANSFORMS],
    "on": [f"data.augment.{name}_p=0.5" for name in TRANSFORMS],  # every transform
    "no mirror": [f"data.augment.{name}_p=0.5" for name in TRANSFORMS if name != "mirror"],
}


LAYOUT = "hand_l=0:63,hand_r=63:126,pose=126:156"  # synthetic.STREAM_COLUMNS
CONFIGS = {  # name -> (model, column layout of X or None)
    "transformer": ("transformer", None),
    "transformer+layout": ("transformer", LAYOUT),
    "multistream": ("multistream", None),
}


def data_flags(model: str, npz: Path, streams: Path) -> dict:
    if model == "transformer":
        return {
            "data.train_dir": npz / "train",
            "data.train_labels": npz / "train_labels.csv",
            "data.val_dir": npz / "val",
            "data.val_labels": npz / "val_labels.csv",
        }
    return {
        "data.face_dir": streams / "face",
        "data.hand_left_dir": streams / "hand_l",
        "data.hand_right_dir": streams / "hand_r",
        "data.pose_dir": streams / "pose",
        "data.train_index": streams / "train_index.csv",
        "data.val_index": streams / "val_index.csv",
        "data.labels": streams / "labels.csv",
    }


def best_top1(config: str, npz: Path, streams: Path, seed: int, augment: str, args, work) -> float:  # noqa: ANN001
    model, layout = CONFIGS[config]
    flags = {
        **data_flags(model, npz, streams),
        "data.layout": layout,
        "model.name": model,
        "model.d_model": 64,
        "model.num_layers": 2,
        "model.num_heads": 4,
        "model.ff_dim": 128,
        "model.max_len": 64,
        "training.epochs": args.epochs,
        "training.batch_size": 32,
        "training.seed": seed,
        "training.device": "cpu",
        "training.work_dir": work,
    }
    settings = load_settings(flags=flags, overrides=AUGMENT[augment])
    history = Trainer(settings, default_hooks=False).fit()
    return max(m["val_gloss_top1"] for m in history)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=600)
    parser.add_argument("--val", type=int, default=300)
    parser.add_argument("--gloss", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    add_markdown_argument(parser, "bench_multistream")
    args = parser.parse_args()
    report = Report.start("bench_multistream", "multistream vs transformer on synthetic signs")
    rows = []
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        npz = write_npz_dataset(Path(tmp) / "npz", args.train, args.val, args.gloss)
        streams = write_multistream_dataset(Path(tmp) / "ms", args.train, args.val, args.gloss)
        print(f"{'model':19} {'augment':10} {'top1 per seed':28} median")
        for config in CONFIGS:
            for augment in AUGMENT:
                scores = [
                    best_top1(config, npz, streams, seed, augment, args, Path(tmp) / "run")
                    for seed in range(args.seeds)
                ]
                shown = " ".join(f"{s:.3f}" for s in scores)
                print(f"{config:19} {augment:10} {shown:28} "
                      f"{statistics.median(scores):.3f}", flush=True)  # fmt: skip
                rows.append([config, augment, shown, f"{statistics.median(scores):.3f}"])
    body = table(["model", "augmentation", "best val top-1 per seed", "median"], rows)
    body += (
        f"\n\n{args.gloss} synthetic glosses, {args.train} train / {args.val} val, "
        f"{args.epochs} epochs, seeds 0..{args.seeds - 1}, d_model 64, 2 layers, "
        f"{args.threads} thread(s); augmentation `on` = every transform at p = 0.5. The best "
        "epoch is picked on the split it is scored on."
    )
    report.write(args.markdown, body)


if __name__ == "__main__":
    main()
