"""signcli on a CUDA GPU: samples/s by precision and batch size, and what a per-batch host
sync costs.

    python benchmarks/bench_gpu.py [--samples 8192] [--epochs 4] [--json OUT.json]

Needs a CUDA device (exits 2 without one). Three measurements, each on the same synthetic
in-memory samples (T 24..64, D 156, 100 glosses):

1. **Host sync per batch.** The training step as `Trainer` runs it (forward, loss,
   backward, clip, step) in two variants, alternating epoch by epoch so both see the same
   machine: `sync` copies the batch's loss and hit count to the host after every batch
   (one `.tolist()`: the finiteness check and the running sums), `device` keeps the running
   sums on the GPU and copies them once per epoch. The ratio `device / sync` of their median
   samples/s is what the per-batch copy costs.
2. **`Trainer.fit` on CUDA** (the whole engine: DataLoader, collate, pinned copies, hooks,
   checkpoints) in float32, bf16 and amp (fp16 + GradScaler), batch 32 and 256.
3. **`training.compile`** (torch.compile, inductor) against eager, float32, when the
   setting exists: samples/s of the epochs after the first, and the first epoch's wall time
   (the compile).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import in_memory_data  # noqa: E402
from markdown_report import Report, add_markdown_argument, table  # noqa: E402

from signcli.data.dataset import EpochBatchSampler, collate_streams  # noqa: E402
from signcli.engine.device import make_precision  # noqa: E402
from signcli.engine.trainer import Trainer  # noqa: E402
from signcli.settings import augment_off, load_settings  # noqa: E402

MODEL = ["model.d_model=128", "model.num_layers=2", "model.num_heads=4", "model.ff_dim=256"]


def settings_for(work: Path, batch_size: int, precision: str, epochs: int, extra=()):
    return load_settings(
        flags=augment_off(),
        overrides=[
            *MODEL, f"training.batch_size={batch_size}", f"training.epochs={epochs}",
            "training.device=cuda", f"training.precision={precision}",
            f"training.work_dir={work}", "optim.scheduler=none", "training.length_buckets=true",
            *extra,
        ],
    )  # fmt: skip


def sync_cost(data, batch_size: int, precision: str, epochs: int) -> dict[str, float]:
    """Median samples/s of the training step with a host copy per batch vs per epoch."""
    with tempfile.TemporaryDirectory() as work:
        trainer = Trainer(
            settings_for(Path(work), batch_size, precision, 1), data=data, default_hooks=False
        )
    model, loss_fn, optimizer = trainer.model, trainer.loss_fn, trainer.optimizer
    device = torch.device("cuda")
    prec = make_precision(precision, device)
    dataset = data.train.dataset
    sampler = EpochBatchSampler(len(dataset), batch_size, shuffle=True, seed=0)
    sampler.set_epoch(1)
    batches = [collate_streams([dataset[i] for i in b]).pin_memory() for b in sampler]
    count = sum(len(b) for b in batches)

    def epoch(per_batch_sync: bool) -> float:
        torch.cuda.synchronize()
        started = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        hits_sum = torch.zeros((), device=device)
        for cpu_batch in batches:
            batch = cpu_batch.to(device, non_blocking=True)
            with prec.autocast():
                logits = model(batch.streams, batch.mask)
                loss = loss_fn(logits, batch.targets)
            hits = (logits["gloss"].detach().argmax(dim=1) == batch.targets["gloss"]).sum()
            if per_batch_sync:
                value, _ = torch.stack([loss.detach().float(), hits.float()]).tolist()
                if not np.isfinite(value):
                    raise RuntimeError("diverged")
            else:
                loss_sum += loss.detach().float() * len(batch)
                hits_sum += hits
            if prec.scaler is not None:
                prec.scaler.scale(loss).backward()
                prec.scaler.unscale_(optimizer)
            else:
                loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            if prec.scaler is not None:
                prec.scaler.step(optimizer)
                prec.scaler.update()
            else:
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        if not per_batch_sync:
            value = float(loss_sum) / count  # the one copy of the epoch
        torch.cuda.synchronize()
        return count / (time.perf_counter() - started)

    epoch(True), epoch(False)  # warm-up: cuBLAS handles, autotuning, allocator
    rates: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(epochs):
        for variant in (True, False):
            rates[variant].append(epoch(variant))
    sync, on_device = statistics.median(rates[True]), statistics.median(rates[False])
    return {"sync_per_batch": sync, "sync_per_epoch": on_device, "ratio": on_device / sync}


def fit_rate(data, batch_size: int, precision: str, epochs: int, extra=()) -> dict[str, float]:
    """samples/s of `Trainer.fit` epochs after the first (which warms up), from its metrics."""
    with tempfile.TemporaryDirectory() as work:
        settings = settings_for(Path(work) / "run", batch_size, precision, epochs, extra)
        trainer = Trainer(settings, data=data)
        started = time.perf_counter()
        history = trainer.fit()
        wall = time.perf_counter() - started
    rates = [m["samples_per_s"] for m in history[1:]]
    return {
        "samples_per_s": statistics.median(rates),
        "first_epoch_s": history[0]["epoch_s"],
        "wall_s": wall,
        "final_train_loss": history[-1]["train_loss"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--json", type=Path, default=None)
    add_markdown_argument(parser, "bench_gpu")
    args = parser.parse_args()
    report = Report.start("bench_gpu", "Trainer.fit on a CUDA GPU by precision")
    if not torch.cuda.is_available():
        print("bench_gpu needs a CUDA device", file=sys.stderr)
        raise SystemExit(2)
    print(f"{torch.cuda.get_device_name()}  torch {torch.__version__}", flush=True)
    data = in_memory_data(args.samples)
    results: dict[str, object] = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
    }

    def attempt(name: str, run, *run_args) -> None:
        try:
            results[name] = run(*run_args)
        except Exception as exc:  # one failing part must not lose the others' figures
            results[name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        print(name, json.dumps(results[name]), flush=True)

    for batch_size in (32, 256):
        for precision in ("amp", "bf16"):
            attempt(
                f"sync/{precision}/b{batch_size}",
                sync_cost,
                data,
                batch_size,
                precision,
                args.epochs,
            )
    for batch_size in (32, 256):
        for precision in ("float32", "bf16", "amp"):
            attempt(
                f"fit/{precision}/b{batch_size}",
                fit_rate,
                data,
                batch_size,
                precision,
                args.epochs,
            )
    if "compile" in type(load_settings().training).model_fields:
        for batch_size in (32, 256):
            attempt(
                f"fit-compile/float32/b{batch_size}",
                fit_rate,
                data,
                batch_size,
                "float32",
                args.epochs,
                ["training.compile=true"],
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    report.write(args.markdown, gpu_tables(results, args))


def gpu_tables(results: dict, args: argparse.Namespace) -> str:
    """The markdown of `results`: Trainer.fit samples/s by precision and batch, then the
    cost of the per-batch host copy; a part that failed shows its error."""

    def cell(name: str, key: str, fmt: str) -> str:
        found = results.get(name)
        if not isinstance(found, dict):
            return "not run"
        return "error" if "error" in found else format(found[key], fmt)

    fit = [
        [name, *(cell(f"fit{'-compile' if name == 'float32, compiled' else ''}/"
                      f"{name.split(',')[0]}/b{b}", "samples_per_s", ".0f") for b in (32, 256))]
        for name in ("float32", "bf16", "amp", "float32, compiled")
    ]  # fmt: skip
    sync = [
        [precision, *(cell(f"sync/{precision}/b{b}", "ratio", ".2f") for b in (32, 256))]
        for precision in ("amp", "bf16")
    ]
    errors = [
        f"- {k}: {v['error']}" for k, v in results.items() if isinstance(v, dict) and "error" in v
    ]
    return (
        f"{results['device']}, torch {results['torch']}; {args.samples} synthetic samples "
        f"(T 24..64, D 156), d_model 128, 2 layers; samples/s: median of the epochs after the "
        f"first of {args.epochs}.\n\n"
        + table(["precision", "samples/s, batch 32", "samples/s, batch 256"], fit)
        + "\n\nThe per-batch host copy of loss and hits (the finiteness check) against running "
        "sums kept on the GPU, alternating epochs: samples/s on-GPU / per-batch.\n\n"
        + table(["precision", "batch 32", "batch 256"], sync)
        + ("\n\nErrors:\n\n" + "\n".join(errors) if errors else "")
        + "\n"
    )


if __name__ == "__main__":
    main()
