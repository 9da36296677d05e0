"""Gloss error rate of `signcli train --task ctc` on a development set of signed sentences,
seeds side by side, against a reference WER (the retrieval of the nearest training
sentence: 0.225 on boston104_sentences) and the plain reference below.

    python benchmarks/bench_ctc.py DATA_ROOT [--seeds 0 1 2] [--model transformer]
        [--extra "--set k=v ..."] [--reference 0.225] [--no-plain] [--plain-only]
        [--runs-dir DIR] [--out results.json]

The plain reference (per seed, `PLAIN` flags): a plain transformer + CTC head of width 64,
2 layers, batch 16, 60 epochs, without the temporal convolution, augmentation, per-sample
input channels or weight average, the sizes with which issue 20 measured WER 0.43-0.53
against the then default's 0.62 on held-out boston104_sentences. The default command
should be at or below it (`at_or_below_plain` in the summary).

DATA_ROOT holds `train/*.npz`, `val/*.npz`, `train_text.csv` and `val_text.csv` (`file,text`,
space-separated glosses). Per seed one subprocess `python -m signcli train MODEL DATA_ROOT
--task ctc --seed S --work-dir W` plus `--extra` (none: the defaults are what is
measured). Reported: the final-epoch val_wer (the headline: the best epoch is picked on
the very split it is scored on), the best-epoch val_wer, epochs, and the wall time;
median and min-max over the seeds, and whether the median beats the reference.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from markdown_report import Report, add_markdown_argument, table


def run_seed(root: Path, seed: int, model: str, extra: list[str], work: Path) -> dict:
    command = [sys.executable, "-m", "signcli", "train", model, str(root), "--task", "ctc"]
    command += ["--seed", str(seed), "--work-dir", str(work), "--overwrite", *extra]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"seed {seed}: exit {done.returncode}\n{done.stderr[-2000:]}")
    lines = [json.loads(x) for x in (work / "metrics.jsonl").read_text().splitlines()]
    wers = [line["val_wer"] for line in lines if "val_wer" in line]
    return {
        "seed": seed,
        "final_wer": wers[-1],
        "best_wer": min(wers),
        "epochs": len(lines),
        "seconds": round(seconds, 1),
    }


PLAIN = [
    *("--d-model", "64", "--num-layers", "2", "--batch-size", "16", "--epochs", "60"),
    *("--set", "model.conv_kernel=0", "--no-augment"),
    *("--set", "data.sample_normalize=false", "--set", "data.motion=off"),
    *("--set", "training.ema=off"),
]


def summarise(results: list[dict]) -> dict:
    finals = [r["final_wer"] for r in results]
    if not finals:
        return {}
    return {
        "final_wer_median": statistics.median(finals),
        "final_wer_range": [min(finals), max(finals)],
        "best_wer_median": statistics.median(r["best_wer"] for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--model", default="transformer")
    parser.add_argument("--extra", default="", help="more train flags, one string")
    parser.add_argument("--reference", type=float, default=0.225)
    parser.add_argument("--no-plain", action="store_true", help="skip the plain reference")
    parser.add_argument("--plain-only", action="store_true", help="only the plain reference")
    parser.add_argument("--runs-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    add_markdown_argument(parser, "bench_ctc")
    args = parser.parse_args()
    report = Report.start("bench_ctc", "ctc gloss error rate on signed sentences")
    runs = args.runs_dir or Path(tempfile.mkdtemp(prefix="bench_ctc_"))
    extra = shlex.split(args.extra)
    results, plain = [], []
    for seed in args.seeds:
        if not args.plain_only:
            result = run_seed(args.root, seed, args.model, extra, runs / f"seed{seed}")
            results.append(result)
            print(json.dumps(result), flush=True)
        if not args.no_plain:
            result = run_seed(args.root, seed, "transformer", PLAIN, runs / f"plain{seed}")
            plain.append(result)
            print(json.dumps({"plain": result}), flush=True)
    default, reference = summarise(results), summarise(plain)
    summary = {
        "set": args.root.name,
        "model": args.model,
        "extra": args.extra,
        "seeds": args.seeds,
        **default,
        "reference_wer": args.reference,
        "beats_reference": default["final_wer_median"] < args.reference if default else None,
        "plain_flags": shlex.join(PLAIN),
        "plain_wer_median": reference.get("final_wer_median"),
        "plain_wer_range": reference.get("final_wer_range"),
        "at_or_below_plain": (
            default["final_wer_median"] <= reference["final_wer_median"]
            if default and reference
            else None
        ),
        "runs": results,
        "plain_runs": plain,
    }
    print(json.dumps(summary, indent=2))
    if args.out is not None:
        args.out.write_text(json.dumps(summary, indent=2) + "\n")
    report.write(args.markdown, ctc_table(summary))


def ctc_table(summary: dict) -> str:
    """The seeds of the default command and of the plain reference, then the medians."""

    def rows(runs: list[dict], what: str) -> list[list[object]]:
        return [
            [what, r["seed"], f"{r['final_wer']:.3f}", f"{r['best_wer']:.3f}", r["epochs"],
             f"{r['seconds']:.0f}"]
            for r in runs
        ]  # fmt: skip

    command = f"default ({summary['model']} {summary['extra']})".replace(" )", ")")
    body = table(
        ["command", "seed", "final val WER", "best-epoch val WER", "epochs", "wall s"],
        rows(summary["runs"], command) + rows(summary["plain_runs"], "plain reference"),
    )
    lines = [f"\n\nSet `{summary['set']}`."]
    if "final_wer_median" in summary:
        low, high = summary["final_wer_range"]
        lines.append(
            f"Final val WER, median of the seeds: **{summary['final_wer_median']:.3f}** "
            f"({low:.3f}-{high:.3f}); against the reference {summary['reference_wer']}: "
            f"{'met' if summary['beats_reference'] else 'NOT met'}."
        )
    if summary.get("plain_wer_median") is not None:
        lines.append(
            f"Plain reference (`{summary['plain_flags']}`): median "
            f"{summary['plain_wer_median']:.3f}."
        )
    return body + " ".join(lines) + "\n"


if __name__ == "__main__":
    main()
