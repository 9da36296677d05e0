"""One classical peer of signcli on one DATA_ROOT: an aeon convolution classifier, fitted on
the train split and scored on val. `bench_accuracy.py` runs it beside signcli and 1-NN DTW.

    python benchmarks/aeon_peer.py DATA_ROOT --method minirocket|multirocket-hydra
        [--seeds 0 1 2] [--length 64] [--json]

Input, the same for every method (issue 20): each sequence `[T, D]` resampled linearly to
`--length` frames (64), NaN (not detected) -> 0, plus one 0/1 missing-flag channel per
group of channels whose NaN pattern is identical over the resampled training set (a
MediaPipe hand block is missing as a whole: one flag for its 63 columns, not 63 copies;
channels never missing in training get none). Frames where interpolation touches a NaN
frame count as missing. aeon sees `[N, channels, length]`.

Methods, aeon's default settings and the linear classifier aeon's own classifiers put on
the features (a ridge regression with cross-validated alpha, or logistic regression
where aeon chooses it for the size of the set):

- `minirocket`: `MiniRocketClassifier` (10,000 kernels).
- `multirocket-hydra`: `MultiRocketHydraClassifier` (Hydra 8x64 + MultiRocket).

One fit per seed (`random_state`), in one process so numba compiles once. Prints a line (or
with `--json` a JSON object) per seed as it finishes: val top-1, macro-F1 (over the classes in
the truth or the predictions, as `signcli eval`), fit and predict seconds, channel counts.
Needs the `bench` extra (`pip install -e ".[bench]"`). aeon 1.6.0 (the newest release) caps
pandas < 3.1 and numba < 0.64, and numba 0.63 caps numpy < 2.4, so in an environment pinned to
numpy 2.4 / pandas 3.1 pip would downgrade both. To leave them as they are, install aeon into
a folder of its own with numba 0.64 (which supports numpy 2.4) and put it on PYTHONPATH:

    pip install --target AEON_DIR --no-deps aeon==1.6.0 numba==0.64.0 llvmlite==0.46.0 \
        scikit-learn==1.9.1 threadpoolctl joblib Deprecated cloudpickle narwhals
    PYTHONPATH=AEON_DIR python benchmarks/bench_accuracy.py ...

(the figures in docs/benchmarks/accuracy.md were measured that way).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

METHODS = ("minirocket", "multirocket-hydra")
LENGTH = 64  # frames every sequence is resampled to (issue 20's setting)


def npz_name(name: str) -> str:
    return name if name.lower().endswith(".npz") else name + ".npz"


def load_split(root: Path, split: str) -> tuple[list[np.ndarray], np.ndarray]:
    """The raw sequences [T, D] (NaN kept, float64) and the gloss ids (text) of a split."""
    with open(root / f"{split}_labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    xs = []
    for row in rows:
        with np.load(root / split / npz_name(row["file"])) as npz:
            xs.append(np.asarray(npz["X"], dtype=np.float64))
    return xs, np.array([row["gloss"] for row in rows])


def resample(x: np.ndarray, length: int) -> np.ndarray:
    """[T, D] -> [length, D] by linear interpolation; a NaN neighbour gives NaN."""
    pos = np.linspace(0, len(x) - 1, length)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(x) - 1)
    w = (pos - lo)[:, None]
    return x[lo] * (1 - w) + x[hi] * w


def missing_groups(train: np.ndarray) -> list[np.ndarray]:
    """Column indices of each group of channels sharing one NaN pattern over `train`
    [N, L, D]; channels never missing are in no group."""
    mask = np.isnan(train).reshape(-1, train.shape[2])  # [N * L, D]
    columns = np.flatnonzero(mask.any(axis=0))
    if not len(columns):
        return []
    _, inverse = np.unique(mask[:, columns].T, axis=0, return_inverse=True)
    return [columns[inverse.ravel() == g] for g in range(int(inverse.max()) + 1)]


def to_panel(seqs: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    """[N, L, D] with NaN -> aeon's [N, D + flags, L]: NaN -> 0, one flag per group."""
    flags = [np.isnan(seqs[:, :, cols]).any(axis=2) for cols in groups]  # each [N, L]
    panel = np.concatenate([np.nan_to_num(seqs, nan=0.0)] + [f[:, :, None] for f in flags], 2)
    return np.ascontiguousarray(panel.transpose(0, 2, 1))


def build(method: str, seed: int):  # noqa: ANN201
    from aeon.classification.convolution_based import (
        MiniRocketClassifier,
        MultiRocketHydraClassifier,
    )

    if method == "minirocket":
        return MiniRocketClassifier(random_state=seed, n_jobs=1)
    return MultiRocketHydraClassifier(random_state=seed, n_jobs=1)


def prepare(root: Path, length: int = LENGTH) -> tuple:
    """Train and val panels [N, channels, length], their labels and the flag count."""
    train_x, train_y = load_split(root, "train")
    val_x, val_y = load_split(root, "val")
    train = np.stack([resample(x, length) for x in train_x])  # [N, L, D]
    val = np.stack([resample(x, length) for x in val_x])
    groups = missing_groups(train)
    return to_panel(train, groups), train_y, to_panel(val, groups), val_y, len(groups)


def run(data: tuple, method: str, seed: int, length: int = LENGTH) -> dict:
    from sklearn.metrics import f1_score

    a, train_y, b, val_y, flags = data
    model = build(method, seed)
    with warnings.catch_warnings():  # aeon warns about constant channels (all-zero flags)
        warnings.simplefilter("ignore", UserWarning)
        started = time.perf_counter()
        model.fit(a, train_y)
        fit_s = time.perf_counter() - started
        started = time.perf_counter()
        predicted = model.predict(b)
        predict_s = time.perf_counter() - started
    import aeon

    return {
        "method": method,
        "seed": seed,
        "aeon": aeon.__version__,
        "length": length,
        "train": len(train_y),
        "val": len(val_y),
        "channels": int(a.shape[1]),
        "missing_flags": flags,
        "top1": float(np.mean(predicted == val_y)),
        "macro_f1": float(f1_score(val_y, predicted, average="macro")),
        "fit_s": round(fit_s, 2),
        "predict_s": round(predict_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, metavar="DATA_ROOT")
    parser.add_argument("--method", choices=METHODS, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one fit per seed")
    parser.add_argument("--length", type=int, default=LENGTH, help="frames after resampling")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    try:
        import aeon  # noqa: F401
    except ImportError as exc:
        sys.exit(
            f"aeon is not importable ({exc}); install the bench extra: pip install -e '.[bench]'"
        )
    data = prepare(args.root, args.length)
    for seed in args.seeds:
        result = run(data, args.method, seed, args.length)
        if args.json:
            print(json.dumps(result), flush=True)
            continue
        print(
            f"{args.root.name} {args.method} seed {seed}: val top-1 {result['top1']:.3f}, "
            f"macro-F1 {result['macro_f1']:.3f} ({result['channels']} channels, "
            f"{result['missing_flags']} flags; fit {result['fit_s']:.1f}s, "
            f"predict {result['predict_s']:.1f}s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
