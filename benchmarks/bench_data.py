"""Data loading: share of a training epoch spent waiting for batches, on 5,000 npz files.

    python benchmarks/bench_data.py [--files 5000] [--epochs 2]

Writes N files (T 40..80, D = 156, np.savez like the guide's extractor) to a temp
folder, trains the default `transformer` settings shrunk to d_model 128 / 2 layers (the
data path is what is measured) with default data settings (cache on: the split is read
once, in parallel, before the first epoch; num_workers 0), and times every `next()` on
the DataLoader inside the loop. Reports the read-ahead time, each epoch's wall time and
its share of time waiting for batches. Target: waiting < 10% of the epoch.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from markdown_report import Report, add_markdown_argument, table

from signcli.data.sources import load_training_data
from signcli.engine.trainer import Trainer
from signcli.settings import augment_off, load_settings


class TimedLoader:
    """Wraps a DataLoader and adds the time spent in next() to `waited_s`."""

    waited_s = 0.0

    def __init__(self, loader) -> None:
        self.loader = loader

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        iterator = iter(self.loader)
        while True:
            started = time.perf_counter()
            try:
                batch = next(iterator)
            except StopIteration:
                return
            finally:
                TimedLoader.waited_s += time.perf_counter() - started
            yield batch


def write_files(folder: Path, count: int) -> Path:
    rng = np.random.default_rng(0)
    (folder / "train").mkdir(parents=True)
    rows = ["file,gloss,cat,occluded"]
    for i in range(count):
        x = rng.normal(size=(int(rng.integers(40, 81)), 156)).astype(np.float32)
        np.savez(folder / "train" / f"s{i:05d}.npz", X=x)
        rows.append(f"s{i:05d}.npz,{i % 50},{i % 5},0")
    (folder / "train_labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=2)
    add_markdown_argument(parser, "bench_data")
    args = parser.parse_args()
    report = Report.start("bench_data", "time a training epoch waits for batches")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = write_files(Path(tmp) / "data", args.files)
        settings = load_settings(
            flags=augment_off(),  # what is measured is waiting for files, not augmenting
            overrides=[
                f"data.train_dir={root / 'train'}", f"data.train_labels={root / 'train_labels.csv'}",
                "model.d_model=128", "model.num_layers=2", "model.num_heads=4", "model.ff_dim=256",
                f"training.epochs={args.epochs}", "training.device=cpu",
                f"training.work_dir={Path(tmp) / 'run'}",
            ]
        )  # fmt: skip
        started = time.perf_counter()
        data = load_training_data(settings)
        read_s = time.perf_counter() - started
        print(f"read {args.files} files into memory in {read_s:.2f}s (once, before epoch 1)")
        trainer = Trainer(settings, data=data)
        make_loader = trainer._loader
        trainer._loader = lambda validation=False: TimedLoader(make_loader(validation))
        for epoch in range(args.epochs):
            TimedLoader.waited_s = 0.0
            trainer.settings.training.epochs = epoch + 1
            started = time.perf_counter()
            trainer.fit()
            epoch_s = time.perf_counter() - started
            share = TimedLoader.waited_s / epoch_s
            print(
                f"epoch {epoch + 1}: {epoch_s:.1f}s, waiting for batches {TimedLoader.waited_s:.2f}s "
                f"= {share:.1%} of the epoch (target < 10%)"
            )
            rows.append(
                [epoch + 1, f"{epoch_s:.1f}", f"{TimedLoader.waited_s:.2f}", f"{share:.1%}"]
            )
    body = table(["epoch", "wall s", "waiting for batches s", "share of the epoch"], rows)
    worst = max(float(r[3].rstrip("%")) for r in rows)
    body += (
        f"\n\n{args.files:,} npz files (T 40..80, D 156), default data settings (the split is "
        f"read once, in parallel, before epoch 1: {read_s:.1f} s), d_model 128, 2 layers. "
        f"Target: waiting < 10% of each epoch ({'met' if worst < 10 else 'NOT met'})."
    )
    report.write(args.markdown, body)


if __name__ == "__main__":
    main()
