"""Test-time augmentation of trained classify runs: final-epoch val top-1 with and without it.

    python benchmarks/bench_tta.py WORK_DIR... [--json out.json]

Each WORK_DIR is a finished `signcli train` run (its `last.pt`: the final epoch, never the
best one picked on val; and `config.json`), single-stream classify on `.npz` files. Its
val split (the run's `data.val_dir` / `data.val_labels`) is scored by the model as stored
(`plain`, which must equal the run's last `val_gloss_top1` in metrics.jsonl: checked) and
with the softmax averaged over variants of each clip:

- `speed3`: the clip as recorded, resampled to 0.9x and 1.1x its length (linear
  interpolation between frames);
- `speed5`: plus 0.8x and 1.25x;
- `turn3` (known joints only, `data.coords` xy / xyz): the clip as recorded, turned by -10
  and +10 degrees in the x-y plane about its mean point (the turn training draws from);
- `speed+turn`: speed3's and turn3's variants together.

The question (issue 20, deliverable 5): does averaging over what training augments move
the final-epoch figure on signers the model has not seen? Reported per run and as the
mean over the runs given.
"""

from __future__ import annotations

import argparse
import json
import statistics
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from signcli.data.sample import SINGLE_STREAM, Sample, resample_frames
from signcli.engine.device import make_precision
from signcli.engine.inference import predict
from signcli.evaluation.run import restore_for_inference
from signcli.metrics.classification import softmax
from signcli.tasks.classify import class_names

SPEEDS = (0.8, 0.9, 1.1, 1.25)
TURNS = (-10.0, 10.0)
BATCH = 64
CPU = torch.device("cpu")


def speed(clip: np.ndarray, factor: float) -> np.ndarray:
    """`clip` played `factor` times as fast: its frames linearly interpolated."""
    frames = len(clip)
    at = np.linspace(0, frames - 1, max(2, round(frames / factor)))
    low = np.floor(at).astype(int)
    high = np.minimum(low + 1, frames - 1)
    weight = (at - low)[:, None]
    return ((1 - weight) * clip[low] + weight * clip[high]).astype(np.float32)


def turn(clip: np.ndarray, degrees: float, coords: int) -> np.ndarray:
    """`clip`'s joints (`coords` numbers each, x and y first) turned about their mean point."""
    points = clip.reshape(len(clip), -1, coords).copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a clip with no joint seen stays NaN
        centre = np.nanmean(points[..., :2].reshape(-1, 2), axis=0)
    angle = np.deg2rad(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points[..., :2] = (points[..., :2] - centre) @ rotation.T + centre
    return points.reshape(clip.shape).astype(np.float32)


def probabilities(restored, clips: list[np.ndarray]) -> np.ndarray:
    """[N, C] softmax of the gloss head over `clips`, in order (batched longest first, as
    eval batches)."""
    task = restored.task
    samples = [Sample(str(i), {SINGLE_STREAM: clip}, {}) for i, clip in enumerate(clips)]
    order = np.argsort(-np.array([s.length for s in samples]), kind="stable")
    batches = (
        task.collate([samples[int(i)] for i in order[start : start + BATCH]])
        for start in range(0, len(order), BATCH)
    )
    found = predict(restored.model, batches, CPU, make_precision("float32", CPU), task=task)
    return softmax(found.outputs["gloss"].numpy()[np.argsort(order)])


def score(work: Path) -> dict:
    restored = restore_for_inference(work / "last.pt")
    data, max_len = restored.settings.data, restored.settings.model.max_len
    if restored.task.name != "classify" or list(restored.input_dims) != [SINGLE_STREAM]:
        raise SystemExit(f"{work}: bench_tta scores single-stream classify runs")
    labels = pd.read_csv(data.val_labels)
    by_name = {name: index for index, name in class_names(restored.labels, "gloss").items()}
    truth = np.array([by_name.get(str(g), g) for g in labels["gloss"]], dtype=np.int64)
    clips = [
        np.load(Path(data.val_dir) / name)[data.key].astype(np.float32) for name in labels["file"]
    ]

    def fit(variants: list[np.ndarray]) -> list[np.ndarray]:
        return [resample_frames(v, max_len) if max_len else v for v in variants]

    plain = probabilities(restored, fit(clips))
    faster = {f: probabilities(restored, fit([speed(c, f) for c in clips])) for f in SPEEDS}
    variants = {
        "plain": [plain],
        "speed3": [plain, faster[0.9], faster[1.1]],
        "speed5": [plain, *faster.values()],
    }
    coords = {"xy": 2, "xyz": 3}.get(data.coords)
    if coords:
        turned = [probabilities(restored, fit([turn(c, d, coords) for c in clips])) for d in TURNS]
        variants["turn3"] = [plain, *turned]
        variants["speed+turn"] = [plain, faster[0.9], faster[1.1], *turned]
    result = {
        name: float((np.sum(probs, axis=0).argmax(axis=1) == truth).mean())
        for name, probs in variants.items()
    }
    lines = (work / "metrics.jsonl").read_text().splitlines()
    logged = [json.loads(x)["val_gloss_top1"] for x in lines if "val_gloss_top1" in x]
    if abs(logged[-1] - result["plain"]) > 1e-3:
        raise SystemExit(f"{work}: plain {result['plain']:.4f} != the run's last {logged[-1]:.4f}")
    return {"run": str(work), **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work_dirs", type=Path, nargs="+")
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for work in args.work_dirs:
        rows.append(score(work))
        print(" ".join(f"{k} {v:.4f}" if isinstance(v, float) else v for k, v in rows[-1].items()))
    names = [n for n in rows[0] if n != "run"]
    means = {n: statistics.mean(r[n] for r in rows) for n in names if all(n in r for r in rows)}
    print("mean over", len(rows), "runs:", " ".join(f"{k} {v:.4f}" for k, v in means.items()))
    if args.json:
        args.json.write_text(json.dumps({"runs": rows, "mean": means}, indent=2))


if __name__ == "__main__":
    main()
