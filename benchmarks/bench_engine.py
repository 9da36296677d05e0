"""Engine overhead: signcli's training loop against a minimal hand-written PyTorch loop.

    python benchmarks/bench_engine.py [--samples 1024] [--epochs 3]

Same model (built once, weights copied), same in-memory samples and batch composition,
same optimizer (AdamW, grad clip 1.0) and precision (float32). signcli's side is the full
`Trainer.fit()` with its default hooks: DataLoader + collate each epoch, lr schedule,
loss bookkeeping, metrics.jsonl and last.pt/best.pt written after every epoch. The two
loops alternate epoch by epoch so that both see the same machine load; the figure is the
ratio of the medians of their samples/s. Target: ratio >= 0.95.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from markdown_report import Report, add_markdown_argument, table

from signcli.data.dataset import (
    SINGLE_STREAM,
    EpochBatchSampler,
    Sample,
    SampleDataset,
    collate_streams,
)
from signcli.data.npz_split import NpzSplit
from signcli.data.sources import TrainingData
from signcli.data.synthetic import make_samples
from signcli.engine.optim import build_optimizer
from signcli.engine.trainer import Trainer
from signcli.settings import augment_off, load_settings
from signcli.tasks.classify import HeadLoss

NUM_GLOSS, NUM_CAT = 20, 4


def in_memory_data(count: int) -> TrainingData:
    synthetic = make_samples(count, NUM_GLOSS, NUM_CAT, seed=0)
    samples = [
        Sample(s.id, {SINGLE_STREAM: s.x}, {"gloss": s.gloss, "cat": s.cat}) for s in synthetic
    ]
    dataset = SampleDataset(len(samples), lambda i: samples[i])
    dataset.fill_cache(samples)
    split = NpzSplit(
        "train",
        dataset,
        [s.id for s in samples],
        np.array([s.gloss for s in synthetic]),
        np.array([s.cat for s in synthetic]),
        {SINGLE_STREAM: samples[0].streams[SINGLE_STREAM].shape[1]},
    )
    return TrainingData(split, None, split.input_dims, NUM_GLOSS, NUM_CAT)


def hand_written_epoch(model, optimizer, loss_fn, batches) -> float:
    """The minimal loop: forward, loss, backward, clip, step. Returns samples/s."""
    model.train()
    started = time.perf_counter()
    samples = 0
    for batch in batches:
        logits = model(batch.streams, batch.mask)
        loss = loss_fn(logits, batch.targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        samples += len(batch)
    return samples / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=3)
    add_markdown_argument(parser, "bench_engine")
    args = parser.parse_args()
    report = Report.start("bench_engine", "engine overhead, Trainer.fit vs a hand-written loop")

    data = in_memory_data(args.samples)
    with tempfile.TemporaryDirectory() as work:
        settings = load_settings(
            flags=augment_off(),  # the hand-written loop sees the batches as stored
            overrides=[
                "model.d_model=128", "model.num_layers=2", "model.num_heads=4", "model.ff_dim=256",
                "training.batch_size=32", "training.epochs=1000", "training.device=cpu",
                f"training.work_dir={Path(work) / 'run'}", "optim.scheduler=none",
                "optim.label_smoothing=0", "training.length_buckets=false",
            ]
        )  # fmt: skip
        trainer = Trainer(settings, data=data)
        # the hand-written loop trains a copy of the same model on the same batches
        hand_model = _copy_model(trainer)
        hand_optimizer = build_optimizer(hand_model, settings.optim)
        loss_fn = HeadLoss(settings.optim)

        signcli_rates, hand_rates = [], []
        for epoch in range(args.epochs + 1):  # epoch 0 warms both up
            sampler = EpochBatchSampler(len(data.train.dataset), 32, shuffle=True, seed=0)
            sampler.set_epoch(epoch + 1)
            batches = [collate_streams([data.train.dataset[i] for i in b]) for b in sampler]
            hand = hand_written_epoch(hand_model, hand_optimizer, loss_fn, batches)
            trainer.settings.training.epochs = trainer.state.epoch + 1
            started = time.perf_counter()
            trainer.fit()
            # whole fit() wall time: loader, collate, hooks, metrics.jsonl and checkpoints
            signcli = len(data.train.dataset) / (time.perf_counter() - started)
            if epoch:
                hand_rates.append(hand)
                signcli_rates.append(signcli)
            print(
                f"epoch {epoch}: signcli {signcli:.0f} samples/s, hand-written {hand:.0f} samples/s"
            )

    signcli_rate, hand_rate = statistics.median(signcli_rates), statistics.median(hand_rates)
    ratio = signcli_rate / hand_rate
    print(
        f"median samples/s: signcli {signcli_rate:.0f}, hand-written {hand_rate:.0f}, "
        f"ratio {ratio:.3f} (target >= 0.95)"
    )
    body = table(
        ["loop", "samples/s per epoch", "median samples/s"],
        [
            ["signcli `Trainer.fit()`", ", ".join(f"{r:.0f}" for r in signcli_rates),
             f"{signcli_rate:.0f}"],
            ["hand-written", ", ".join(f"{r:.0f}" for r in hand_rates), f"{hand_rate:.0f}"],
        ],
    )  # fmt: skip
    body += (
        f"\n\nRatio signcli / hand-written: **{ratio:.2f}** (target >= 0.95: "
        f"{'met' if ratio >= 0.95 else 'NOT met'}). {args.samples} synthetic samples in memory, "
        "d_model 128, 2 layers, batch 32, AdamW, float32, length buckets off on both sides; "
        "the two loops alternate epoch by epoch (the first, a warm-up, is not counted)."
    )
    report.write(args.markdown, body)


def _copy_model(trainer: Trainer) -> torch.nn.Module:
    from signcli.tasks.model import build_run_model

    # the run's model as built: its input channels (data.motion, ...) included
    model = build_run_model(
        trainer.settings,
        trainer.data.input_dims,
        {"num_gloss": trainer.data.num_gloss, "num_cat": trainer.data.num_cat},
    )
    model.load_state_dict(trainer.model.state_dict())
    return model


if __name__ == "__main__":
    main()
