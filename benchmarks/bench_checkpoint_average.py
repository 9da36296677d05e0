"""Checkpoint averaging: val top-1 of the mean of the last epochs' weights beside the final epoch's.

    python benchmarks/bench_checkpoint_average.py DATA_ROOT [--seed 0] [--set k=v ...]
        [--json out.json]

DATA_ROOT holds `train/`, `train_labels.csv`, `val/`, `val_labels.csv`. Trains the default
command (bench_input_channels' Trainer: no work-dir hooks, on the CPU; `--set` adds
settings as the CLI does), adding the weights at the end of each epoch of the last 5 %, 10 % and 25 % of the
run to a running sum, and then scores val with each mean (floating-point weights averaged;
everything else is the final epoch's) beside the final epoch's own weights. The question
(issue 20, deliverable 5): does averaging the last checkpoints beat the final epoch, as
it does for runs whose learning rate stays up to the end?
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
from pathlib import Path

import torch
from bench_input_channels import trainer as build_trainer

from signcli.engine.hooks import Hook
from signcli.engine.trainer import Trainer

SHARES = (0.05, 0.1, 0.25)  # of the run's epochs, averaged


class LastEpochs(Hook):
    """Running sums of the model's floating-point weights over the last epochs, per share."""

    def __init__(self) -> None:
        self.epoch = 0
        self.sums: dict[float, dict[str, torch.Tensor]] = {}
        self.counts: dict[float, int] = {}

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        self.epoch += 1
        weights = trainer.model.state_dict()
        for share in SHARES:
            if self.epoch <= trainer.epochs - max(1, round(share * trainer.epochs)):
                continue
            sums = self.sums.setdefault(
                share,
                {
                    k: torch.zeros_like(v, dtype=torch.float64)
                    for k, v in weights.items()
                    if v.is_floating_point()
                },
            )
            for key, total in sums.items():
                total += weights[key].double()
            self.counts[share] = self.counts.get(share, 0) + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V")
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args()
    keep = LastEpochs()
    with tempfile.TemporaryDirectory() as work:
        overrides = [*args.overrides, f"training.seed={args.seed}"]
        trainer = build_trainer(args.root, Path(work), overrides, hooks=[keep])
        if trainer.ema is not None:
            raise SystemExit("averages the trained weights: run it with training.ema off")
        history = trainer.fit()
        final = copy.deepcopy(trainer.model.state_dict())
        result = {"root": str(args.root), "seed": args.seed, "epochs": len(history)}
        result["final"] = history[-1]["val_gloss_top1"]
        for share, sums in keep.sums.items():
            count = keep.counts[share]
            mean = dict(final) | {k: (v / count).to(final[k].dtype) for k, v in sums.items()}
            trainer.model.load_state_dict(mean)
            result[f"mean_of_last_{count}"] = trainer.validate()["val_gloss_top1"]
            result[f"largest_change_last_{count}"] = max(
                float((mean[k] - final[k]).abs().max()) for k in sums
            )
        trainer.model.load_state_dict(final)
        again = trainer.validate()["val_gloss_top1"]
        if abs(again - result["final"]) > 1e-6:
            raise SystemExit(f"the final weights scored {again}, the run {result['final']}")
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
