"""Throughput of `signcli eval` and where its time goes (data loading vs the model).

    python benchmarks/bench_eval.py [--repeats 3] [--synthetic 1000]

Trains two models for one epoch on the bundled example (the quickstart size, d_model 64 x
2 layers, and the large `auto` size, d_model 256 x 4 layers), then evaluates each on the
bundled example's 128 training samples (T = 10..20) and on a synthetic split of
`--synthetic` samples (T = 24..64), in-process through `evaluate` (what the command
runs, without interpreter start-up). Prints the median over repeats of each phase
(restore the model, read the files, collate batches, the model, metrics, write the report
files), the samples/s of the model alone and of the whole evaluation, and the share of
data loading (read + collate) in the time spent on data and model. Then the model's
samples/s for several --batch-size values.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import torch
from markdown_report import Report, add_markdown_argument, table

from signcli.data.synthetic import write_npz_dataset
from signcli.engine.recipes import start_run
from signcli.evaluation.run import evaluate
from signcli.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "data"
MODELS = {
    "quickstart (d_model 64, 2 layers)": {"model.d_model": 64, "model.num_layers": 2,
                                          "model.num_heads": 4, "model.ff_dim": 128},
    # the former default size; `auto` gives it to sets of 20,000+ clips
    "large (d_model 256, 4 layers)": {"model.d_model": 256, "model.num_layers": 4},
}  # fmt: skip
PHASES = ("restore", "read", "collate", "predict", "metrics", "write")
BATCH_SIZES = (16, 64, 256)


def train_one_epoch(work_dir: Path, model_flags: dict) -> Path:
    flags = {
        "data.train_dir": EXAMPLE / "train",
        "data.train_labels": EXAMPLE / "train_labels.csv",
        "training.epochs": 1,
        "training.device": "cpu",
        "training.work_dir": work_dir,
        **model_flags,
    }
    start_run(load_settings(flags=flags))
    return work_dir / "last.pt"


def time_eval(checkpoint: Path, data: Path, labels: Path, out: Path, repeats: int, **kw):
    runs = [
        evaluate(checkpoint, data, labels, out_dir=out, device="cpu", overwrite=True, **kw)
        for _ in range(repeats)
    ]
    timings = {
        phase: statistics.median(r.timings_s.get(phase, 0.0) for r in runs) for phase in PHASES
    }
    return runs[0].summary["num_samples"], timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--synthetic", type=int, default=1000, help="samples (0 = skip)")
    add_markdown_argument(parser, "bench_eval")
    args = parser.parse_args()
    report = Report.start("bench_eval", "throughput of `signcli eval` and where its time goes")
    rows, batch_rows = [], []
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        splits = {"bundled example, train split": (EXAMPLE / "train", EXAMPLE / "train_labels.csv")}
        if args.synthetic:
            write_npz_dataset(tmp / "syn", n_train=0, n_val=args.synthetic, num_gloss=8, num_cat=4)
            splits[f"synthetic, {args.synthetic} samples"] = (
                tmp / "syn" / "val",
                tmp / "syn" / "val_labels.csv",
            )
        for index, (model_name, flags) in enumerate(MODELS.items()):
            checkpoint = train_one_epoch(tmp / f"run{index}", flags)
            for split_name, (data, labels) in splits.items():
                n, t = time_eval(checkpoint, data, labels, tmp / "eval", args.repeats)
                loading = t["read"] + t["collate"]
                whole = sum(t.values())
                print(
                    f"\n{model_name} on the {split_name} ({n} samples), median of {args.repeats}:"
                )
                print("  " + ", ".join(f"{p} {1000 * t[p]:.0f} ms" for p in PHASES))
                print(
                    f"  model {n / t['predict']:.0f} samples/s; whole eval {n / whole:.0f} samples/s; "
                    f"data loading {loading / (loading + t['predict']):.0%} of data + model time "
                    f"({loading / whole:.0%} of the whole eval, report files {t['write'] / whole:.0%})"
                )
                rows.append(
                    [model_name, f"{split_name} ({n})", f"{n / whole:,.0f}",
                     f"{n / t['predict']:,.0f}", f"{loading / (loading + t['predict']):.0%}",
                     ", ".join(f"{p} {1000 * t[p]:.0f}" for p in PHASES)]
                )  # fmt: skip
            data, labels = splits[list(splits)[-1]]
            rates = []
            for batch_size in BATCH_SIZES:
                n, t = time_eval(
                    checkpoint, data, labels, tmp / "eval", args.repeats, batch_size=batch_size
                )
                rates.append(f"{batch_size}: {n / t['predict']:.0f}")
            print(f"  model samples/s by --batch-size on the last split: {', '.join(rates)}")
            batch_rows.append([model_name, ", ".join(rates)])
    body = table(
        ["model", "split (samples)", "whole eval samples/s", "model samples/s",
         "data loading / (data + model)", "phases, ms (median)"],
        rows,
    )  # fmt: skip
    body += "\n\nThe model's samples/s by `--batch-size`, on the last split:\n\n"
    body += table(["model", "batch size: samples/s"], batch_rows)
    body += (
        f"\n\nMedian of {args.repeats} in-process evaluations (`evaluate`, what the command "
        f"runs, without interpreter start-up), {torch.get_num_threads()} torch thread(s); each "
        "model trained one epoch on the bundled example first."
    )
    report.write(args.markdown, body)


if __name__ == "__main__":
    main()
