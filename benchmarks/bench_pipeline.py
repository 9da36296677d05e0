"""The input pipeline's ceiling beside the model's step rate, on the CPU, one thread.

    python benchmarks/bench_pipeline.py [--frames 20 64 256] [--repeats 3]
        [--data DIR --layout pose=0:99,hand_l=99:162,hand_r=162:225]
        [--out docs/benchmarks/bench_pipeline.md]

For each set and each augmentation setting (`off`; `default`; `all`: the defaults plus
mirror and the mix of both hands, each at p = 0.5, so every transform of issue 25 runs),
it measures samples/s of:

- loader, per sample: the pipeline before issue 25, the per-sample numpy Augmenter as the
  Dataset's transform (data/augment.py), then collate;
- loader, batch: the training loader as the Trainer makes it (memory cache, `num_workers`
  auto: 0 on CPU, batch 256), then the batch augmentation (data/batch_augment.py) the
  Trainer runs on each batch: what a GPU waits for;
- step, per sample / batch: `Trainer.fit()` with the default model and batch size for the
  set (`auto`; synthetic sets: their first `--step-samples`), train samples/s of the
  second epoch, with either pipeline.

The loader figures are the best of `--repeats` epochs (after one warm epoch), per second of
wall time and of the process's CPU time (on a shared machine the CPU-time rate is close to
what a quiet one gives; other jobs still share the caches), and the step
figures of the second epoch; the two pipelines alternate so both see the same
machine, and the 1-minute load average is recorded beside every figure (the machine is
shared). Sets: synthetic ones it makes in memory, X [T, 225] in the MediaPipe holistic
layout (pose 33, left hand 21, right hand 21 landmarks; hands missing in a fifth of the
frames; 20 glosses) so that affine, mirror and landmark dropout apply, one per `--frames`
(fewer samples at long T: `--mib` of values); with `--data` a real set too (e.g.
traduttore, T 20, with its layout). Targets (issue 25): loader, batch, all, one thread:
>= 25,000 samples/s at T = 20 (D 225) and >= 15,000 at T = 64; training not slower.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from signcli.data.augment import augmenter_for
from signcli.data.dataset import SINGLE_STREAM, Sample, SampleDataset
from signcli.data.npz_split import NpzSplit
from signcli.data.sources import TrainingData
from signcli.engine.trainer import Trainer
from signcli.settings import augment_off, load_settings

ROOT = Path(__file__).resolve().parents[1]
HOLISTIC = "pose=0:99,hand_l=99:162,hand_r=162:225"  # MediaPipe holistic without the face
NUM_GLOSS = 20
AUGMENT = {
    "off": augment_off(),
    "default": {},
    "all": {
        "data.augment.mirror_p": 0.5,
        "data.augment.mix_streams": {"hand_l": 0.5, "hand_r": 0.5},
    },
}


def holistic_samples(count: int, frames: int, seed: int = 0) -> list[Sample]:
    """`count` clips X [frames, 225]: pose and hands near the image centre, each hand
    missing (NaN) in about a fifth of the frames."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(count):
        points = rng.normal(0.5, 0.12, size=(frames, 75, 3)).astype(np.float32)
        points[..., 2] *= 0.1
        for hand in (slice(33, 54), slice(54, 75)):
            points[rng.random(frames) < 0.2, hand] = np.nan
        gloss = int(rng.integers(NUM_GLOSS))
        samples.append(
            Sample(f"s{i:06d}", {SINGLE_STREAM: points.reshape(frames, 225)}, {"gloss": gloss})
        )
    return samples


def in_memory(samples: list[Sample]) -> TrainingData:
    dataset = SampleDataset(len(samples), samples.__getitem__)
    dataset.fill_cache(samples)
    gloss = np.array([s.targets["gloss"] for s in samples])
    split = NpzSplit("train", dataset, [s.id for s in samples], gloss, np.zeros_like(gloss),
                     {SINGLE_STREAM: 225})  # fmt: skip
    return TrainingData(split, None, split.input_dims, NUM_GLOSS, 0)


def make_trainer(data: TrainingData | None, flags: dict, work: Path, extra: list[str]) -> Trainer:
    settings = load_settings(
        flags=flags,
        overrides=[
            "training.device=cpu",
            "training.threads=1",
            f"training.work_dir={work}",
            "training.epochs=1000",
            *extra,
        ],  # fmt: skip
    )
    return Trainer(settings, data=data, default_hooks=False)


def per_sample(trainer: Trainer) -> None:
    """Switch `trainer` to the pipeline before issue 25: augmentation in the Dataset."""
    if trainer.augment is not None:
        trainer.augment = None
        trainer.data.train.dataset.transform = augmenter_for(
            trainer.data.train, trainer.settings, trainer.train_sampler
        )
        trainer._loaders.clear()


def loader_epoch(trainer: Trainer, epoch: int) -> tuple[float, float]:
    """Samples/s of one epoch of the training loader and the batch augmentation alone:
    per second of wall time, and per second of this process's CPU time (what it would
    take on a quiet machine, nearly: other jobs still share the caches)."""
    trainer.train_sampler.set_epoch(epoch)
    wall, cpu, samples = time.perf_counter(), time.process_time(), 0
    for index, batch in enumerate(trainer._loader()):
        samples += len(trainer._on_device(batch, epoch, index))
    return samples / (time.perf_counter() - wall), samples / (time.process_time() - cpu)


def load() -> float:
    return os.getloadavg()[0]


def measure(
    name: str, data_of, step_data_of, extra: list[str], repeats: int, work: Path
) -> list[dict]:
    """The rows of one set: loader and step samples/s per augmentation and pipeline
    (`step_data_of`: the set the steps train on, a part of it at long T)."""
    rows = []
    for augment, flags in AUGMENT.items():
        pipelines = ["batch"] if augment == "off" else ["per sample", "batch"]
        loaders = {}
        for pipeline in pipelines:
            trainer = make_trainer(
                data_of(), flags, work / "loader", [*extra, "training.batch_size=256"]
            )
            if pipeline == "per sample":
                per_sample(trainer)
            loader_epoch(trainer, 1)  # warm
            loaders[pipeline] = trainer
        rates: dict[str, list[tuple[float, float]]] = {p: [] for p in pipelines}
        for repeat in range(repeats):
            for pipeline in pipelines if repeat % 2 == 0 else pipelines[::-1]:
                rates[pipeline].append(loader_epoch(loaders[pipeline], repeat + 2))
        loader_load = load()
        steps = {}
        for pipeline in pipelines:
            trainer = make_trainer(step_data_of(), flags, work / f"step-{pipeline}", extra)
            if pipeline == "per sample":
                per_sample(trainer)
            steps[pipeline] = trainer
        step_rates: dict[str, float] = {}
        for repeat in range(2):  # the first epoch warms up
            for pipeline in pipelines if repeat % 2 == 0 else pipelines[::-1]:
                trainer = steps[pipeline]
                trainer.settings.training.epochs = trainer.state.epoch + 1
                step_rates[pipeline] = trainer.fit()[-1]["samples_per_s"]
        for pipeline in pipelines:
            row = {"set": name, "augment": augment, "pipeline": pipeline,
                   "loader": max(w for w, _ in rates[pipeline]),
                   "loader_cpu": max(c for _, c in rates[pipeline]), "loader_load": loader_load,
                   "step": step_rates[pipeline], "step_load": load(),
                   "batch_size": steps[pipeline].settings.training.batch_size}  # fmt: skip
            print(f"{name:22s} {augment:8s} {pipeline:10s} loader {row['loader']:9.0f} samples/s "
                  f"({row['loader_cpu']:.0f} per CPU s, load {loader_load:.1f})  step {row['step']:7.0f} samples/s "
                  f"(batch {row['batch_size']}, load {row['step_load']:.1f})", flush=True)  # fmt: skip
            rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| set | augmentation | pipeline | loader alone, samples/s | per CPU second | load | loader + model step, samples/s (batch) | load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['set']} | {r['augment']} | {r['pipeline']} | {r['loader']:,.0f} | "
                     f"{r['loader_cpu']:,.0f} | {r['loader_load']:.1f} | {r['step']:,.0f} ({r['batch_size']}) | {r['step_load']:.1f} |")  # fmt: skip
    ratios = ["", "| set | augmentation | loader: batch / per sample | step: batch / per sample |",
              "|---|---|---|---|"]  # fmt: skip
    for r in rows:
        if r["pipeline"] != "batch" or r["augment"] == "off":
            continue
        before = next(b for b in rows if b["set"] == r["set"] and b["augment"] == r["augment"]
                      and b["pipeline"] == "per sample")  # fmt: skip
        ratios.append(f"| {r['set']} | {r['augment']} | {r['loader'] / before['loader']:.2f} | "
                      f"{r['step'] / before['step']:.2f} |")  # fmt: skip
    return "\n".join(lines + ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[20, 64, 256])
    parser.add_argument("--mib", type=int, default=256, help="values of a synthetic set")
    parser.add_argument("--max-samples", type=int, default=8192)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--step-samples", type=int, default=1024, help="synthetic: step on these")
    parser.add_argument("--data", type=Path, help="a real dataset root (e.g. traduttore)")
    parser.add_argument("--layout", default=HOLISTIC, help="--layout of the real set")
    parser.add_argument("--out", type=Path, default=ROOT / "docs/benchmarks/bench_pipeline.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.getLogger("signcli").setLevel(logging.ERROR)  # "no validation data" per trainer
    commit = subprocess.run(  # the code measured: read before the runs, not after
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    started_load = load()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.data is not None:
            extra = [f"data.dataset={args.data}", f"data.layout={args.layout}", "data.cache=memory"]
            real = f"{args.data.name} (real)"
            rows += measure(real, lambda: None, lambda: None, extra, args.repeats, Path(tmp))
        for frames in args.frames:
            count = min(args.max_samples, args.mib * 2**20 // (frames * 225 * 4))
            samples = holistic_samples(count, frames)
            name = f"synthetic T {frames} ({count:,})"
            extra = [f"data.layout={HOLISTIC}"]
            steps = samples[: args.step_samples]
            rows += measure(name, lambda s=samples: in_memory(s), lambda s=steps: in_memory(s),
                            extra, args.repeats, Path(tmp))  # fmt: skip
    text = table(rows)
    print(text)
    command = " ".join(["python benchmarks/bench_pipeline.py", *sys.argv[1:]])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        "# bench_pipeline\n\n"
        f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} cores, {platform.processor() or platform.machine()}; no GPU), "
        f"torch {torch.__version__}, one math thread, commit {commit}; 1-minute load average "
        f"{started_load:.2f} at the start and beside each figure (the machine is shared with "
        "other jobs: compare rows measured side by side, by their ratios).\n\n"
        f"    {command.strip()}\n\n"
        "Loader alone: the best of the epochs after a warm one (the training loader, batch "
        "256, then the augmentation the trainer applies: what a GPU would wait for), per "
        "second of wall time and per second of the process's CPU time (near what a quiet "
        "machine gives; other jobs still share the caches). Loader + "
        "model step: `Trainer.fit()`'s train samples/s of its second epoch, default model and "
        f"batch size for the set (synthetic: its first {args.step_samples:,} samples). `per sample` is the pipeline before issue 25 (numpy "
        "augmentation in the Dataset), `batch` the batch augmentation on the training device "
        "(here the CPU). `all` = the default augmentation plus mirror and the mix of both "
        "hands at p = 0.5.\n\n" + text + "\n"
    )


if __name__ == "__main__":
    main()
