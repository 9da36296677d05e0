"""Latency of the exported ONNX model in onnxruntime vs the eager PyTorch model, same CPU.

    python benchmarks/bench_onnx.py [--repeats 200]

For the quickstart size (d_model 64, 2 layers) and the `auto` sizes of small and large sets
(d_model 128 / 2 layers and 256 / 4 layers, with the default temporal convolution):
train one epoch on the bundled example, `export_onnx` the checkpoint, then time one forward
pass at batch 1, T = 64 (a single sign, as served) in onnxruntime (CPU provider) and in
eager PyTorch (inference_mode), taking turns so that load from other processes hits both
alike. Prints the median latency of each and the ratio; target: onnxruntime at least as
fast as PyTorch. Runs once with every core (each library's default threads) and once with
one thread each, which is steadier on a busy machine.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import onnxruntime as ort
import torch
from markdown_report import Report, add_markdown_argument, table

from signcli.engine.recipes import start_run
from signcli.engine.restore import load_model_from_checkpoint
from signcli.export.onnx import (
    OnnxModel,
    export_onnx,
    feeds,
    median_latency_ms,
    random_inputs,
    torch_outputs,
)
from signcli.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "data"
MODELS = {
    "quickstart (d_model 64, 2 layers)": {"model.d_model": 64, "model.num_layers": 2,
                                          "model.num_heads": 4, "model.ff_dim": 128},
    # `auto` on the 128-clip example gives the small size; the large one is auto at 20,000+
    "auto, small (d_model 128, 2 layers)": {},
    "auto, large (d_model 256, 4 layers)": {"model.d_model": 256, "model.num_layers": 4},
}  # fmt: skip
BATCH, TIME = 1, 64


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


def compare(
    onnx_path: Path, wrapper: OnnxModel, inputs: tuple, threads: int, repeats: int
) -> dict[str, float]:
    """Median ms of onnxruntime and PyTorch, both limited to `threads` threads."""
    torch.set_num_threads(threads)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    onnx_feeds = feeds(wrapper, inputs)
    return median_latency_ms(
        {
            "onnxruntime": lambda: session.run(None, onnx_feeds),
            "torch": lambda: torch_outputs(wrapper, inputs),
        },
        repeats=repeats,
        warmup=10,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    add_markdown_argument(parser, "bench_onnx")
    args = parser.parse_args()
    report = Report.start("bench_onnx", "ONNX latency in onnxruntime vs eager PyTorch")
    rows = []
    default_threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, onnxruntime {ort.__version__}, batch {BATCH}, T {TIME}")
    with tempfile.TemporaryDirectory() as tmp:
        for index, (name, flags) in enumerate(MODELS.items()):
            checkpoint = train_one_epoch(Path(tmp) / f"run{index}", flags)
            onnx_path = Path(tmp) / f"model{index}.onnx"
            result = export_onnx(checkpoint, onnx_path, check=False)
            wrapper = OnnxModel(load_model_from_checkpoint(checkpoint).model).eval()
            inputs = random_inputs(wrapper, BATCH, TIME, seed=0, padding=False)
            print(f"\n{name}, opset {result.opset}:")
            for threads in sorted({default_threads, 1}, reverse=True):
                latency = compare(onnx_path, wrapper, inputs, threads, args.repeats)
                ratio = latency["torch"] / latency["onnxruntime"]
                print(
                    f"  {threads} thread(s): onnxruntime {latency['onnxruntime']:.3f} ms, "
                    f"PyTorch {latency['torch']:.3f} ms; onnxruntime is {ratio:.1f}x as fast"
                )
                rows.append(
                    [name, threads, f"{latency['onnxruntime']:.2f}", f"{latency['torch']:.2f}",
                     f"{ratio:.1f}x"]
                )  # fmt: skip
            torch.set_num_threads(default_threads)
    body = table(
        ["model", "threads", "onnxruntime ms", "PyTorch ms", "PyTorch / onnxruntime"], rows
    )
    worst = min(float(r[4].rstrip("x")) for r in rows)
    body += (
        f"\n\nMedian latency of one forward pass at batch {BATCH}, T = {TIME}, {args.repeats} "
        f"repeats taking turns; torch {torch.__version__}, onnxruntime {ort.__version__}. "
        f"Target: onnxruntime at least as fast as PyTorch ({'met' if worst >= 1 else 'NOT met'})."
    )
    report.write(args.markdown, body)


if __name__ == "__main__":
    main()
