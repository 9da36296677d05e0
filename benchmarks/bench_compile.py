"""`training.compile` (torch.compile, inductor) against eager: samples/s, compile time, and
exact resume of a compiled run.

    python benchmarks/bench_compile.py [--device cpu|cuda] [--samples 2048] [--epochs 4]
                                       [--batch-size 32] [--skip-resume]

Both runs train the same model on the same synthetic samples (read into memory) (T 24..64, D 156,
100 glosses) with `Trainer.fit` and the default hooks. The first epoch of the compiled run
holds the compile; the figure is the median samples/s of the later epochs of each run,
side by side, and the ratio compiled / eager. The resume check trains 2 epochs straight
and 1 + resume 1 with compile on, and compares the final weights bit for bit.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from markdown_report import Report, add_markdown_argument, table

from signcli.data.synthetic import write_npz_dataset
from signcli.engine.checkpoint import MODEL_KEY, load_checkpoint
from signcli.engine.hooks import Hook
from signcli.engine.recipes import resume_run, start_run
from signcli.settings import augment_off, load_settings


def settings_for(data: Path, work: Path, args: argparse.Namespace, compiled: bool, epochs: int):
    return load_settings(
        flags=augment_off(),
        overrides=[
            f"data.train_dir={data / 'train'}", f"data.train_labels={data / 'train_labels.csv'}",
            "model.d_model=128", "model.num_layers=2", "model.num_heads=4", "model.ff_dim=256",
            f"training.batch_size={args.batch_size}", f"training.epochs={epochs}",
            f"training.device={args.device}", f"training.work_dir={work}",
            f"training.compile={str(compiled).lower()}", "training.deterministic=true",
            "optim.scheduler=none",
        ],
    )  # fmt: skip


class StopAfter(Hook):
    """Stops the run after `epoch` epochs, as an interrupted run stops."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, trainer, metrics) -> None:
        if trainer.state.epoch == self.epoch:
            trainer.should_stop = True


def fit(data: Path, work: Path, args, compiled: bool, epochs: int, stop_after: int = 0):
    settings = settings_for(data, work, args, compiled, epochs)
    started = time.perf_counter()
    result = start_run(settings, [StopAfter(stop_after)] if stop_after else ())
    return result.history, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--skip-resume", action="store_true")
    add_markdown_argument(parser, "bench_compile")
    args = parser.parse_args()
    report = Report.start("bench_compile", "torch.compile vs eager")
    rows = []
    resumed = "not checked (--skip-resume)"
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads")
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = write_npz_dataset(Path(tmp) / "data", args.samples, 0, num_gloss=100)
        for name, compiled in (("eager", False), ("compiled", True)):
            history, wall = fit(data, Path(tmp) / name, args, compiled, args.epochs)
            rates[name] = statistics.median(m["samples_per_s"] for m in history[1:])
            print(
                f"{name:8s}: first epoch {history[0]['epoch_s']:.1f} s, later epochs "
                f"{rates[name]:.0f} samples/s (median), whole fit {wall:.1f} s",
                flush=True,
            )
            rows.append([name, f"{history[0]['epoch_s']:.1f}", f"{rates[name]:.0f}", f"{wall:.1f}"])
        print(f"compiled / eager samples/s: {rates['compiled'] / rates['eager']:.2f}")
        if not args.skip_resume:
            resumed = check_resume(data, Path(tmp), args)
    body = table(["run", "first epoch s (the compile)", "samples/s, later epochs", "fit s"], rows)
    body += (
        f"\n\nCompiled / eager: **{rates['compiled'] / rates['eager']:.2f}**. "
        f"{args.samples} synthetic samples (T 24..64, D 156, 100 glosses), batch "
        f"{args.batch_size}, d_model 128, 2 layers, device {args.device}, "
        f"{torch.get_num_threads()} thread(s), {args.epochs} epochs. A compiled run, 2 epochs "
        f"straight vs 1 + resume 1: {resumed}."
    )
    report.write(args.markdown, body)
    if resumed == "weights differ":
        raise SystemExit(1)


def check_resume(data: Path, tmp: Path, args: argparse.Namespace) -> str:
    """Whether a compiled run resumed after epoch 1 ends with the weights of one that ran
    straight through."""
    straight, stopped = tmp / "straight", tmp / "stopped"
    fit(data, straight, args, True, 2)
    fit(data, stopped, args, True, 2, stop_after=1)
    resume_run(stopped)
    a = load_checkpoint(straight / "last.pt")[MODEL_KEY]
    b = load_checkpoint(stopped / "last.pt")[MODEL_KEY]
    same = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    print(f"compiled run, 2 epochs straight vs 1 + resume 1: weights equal = {same}")
    return "weights bit-equal" if same else "weights differ"


if __name__ == "__main__":
    main()
