"""Training samples/s with the per-sample input channels and the weight average on, against
the input stage without them, side by side on the same data and machine load.

    python benchmarks/bench_input_channels.py DATA_ROOT [--epochs 4]
        [--channels "data.motion=velocity training.ema=auto"] [--before "k=v ..."]

DATA_ROOT holds `train/`, `train_labels.csv`, `val/`, `val_labels.csv` (e.g.
boston104_words). Two Trainers (no work-dir hooks): `channels` with the default settings
plus `--channels` (k=v settings as after --set; default: velocity and EMA), `before` with
`data.sample_normalize=false`, `data.motion=off` and `training.ema=off` (`BEFORE`, or
`--before`: e.g. `--channels "" --before "data.augment.position_p=0"` times today's default
against it without the position augmentation); they
train one epoch each in turn so that both see the same load. Reported: the median
training samples/s of each (`samples_per_s` of metrics.jsonl: the training pass only,
validation excluded) and their ratio. Target: ratio >= 0.8.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path

from signcli.engine.hooks import Hook
from signcli.engine.trainer import Trainer
from signcli.settings import load_settings

BEFORE = ["data.sample_normalize=false", "data.motion=off", "training.ema=off"]


def trainer(root: Path, work: Path, overrides: list[str], hooks: Sequence[Hook] = ()) -> Trainer:
    """A Trainer on DATA_ROOT's train/val split (CPU, no work-dir hooks; `hooks` added)."""
    settings = load_settings(
        flags={
            "data.train_dir": root / "train",
            "data.train_labels": root / "train_labels.csv",
            "data.val_dir": root / "val",
            "data.val_labels": root / "val_labels.csv",
            "training.work_dir": work,
            "training.device": "cpu",
        },
        overrides=overrides,
    )
    return Trainer(settings, default_hooks=False, hooks=hooks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument(
        "--channels",
        default="data.motion=velocity training.ema=auto",
        help="settings k=v (as after --set) of the run with channels, space-separated",
    )
    parser.add_argument(
        "--before",
        default=" ".join(BEFORE),
        help="settings k=v of the run it is compared with (default: the input stage before)",
    )
    args = parser.parse_args()
    channels = shlex.split(args.channels)
    with tempfile.TemporaryDirectory() as tmp:
        runs = {
            "channels": trainer(args.root, Path(tmp) / "channels", channels),
            "before": trainer(args.root, Path(tmp) / "before", shlex.split(args.before)),
        }
        speed: dict[str, list[float]] = {name: [] for name in runs}
        for epoch in range(1, args.epochs + 1):
            for name, run in runs.items():
                run.settings.training.epochs = epoch
                run.fit()
                speed[name].append(run.history[-1]["samples_per_s"])
    medians = {name: statistics.median(values) for name, values in speed.items()}
    widths = {name: run.model.encoder.input_dims for name, run in runs.items()}
    for name in runs:
        print(
            f"{name}: {medians[name]:.0f} samples/s (epochs {speed[name]}), inputs {widths[name]}"
        )
    ratio = medians["channels"] / medians["before"]
    print(f"ratio channels / before: {ratio:.2f} (target >= 0.8)")


if __name__ == "__main__":
    main()
