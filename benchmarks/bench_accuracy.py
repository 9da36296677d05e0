"""Accuracy of `signcli train` on real development sets, seeds side by side, with classical
peers (aeon's MiniRocket and MultiRocket-Hydra) and a 1-NN DTW reference in the same table.

    python benchmarks/bench_accuracy.py DATA_ROOT|FOLDS_DIR [...] [--seeds 0 1 2]
        [--configs default ...] [--model transformer] [--epochs N] [--extra "--set k=v ..."]
        [--layout-for NAME=LAYOUT] [--small-cut K] [--dtw-subsample K] [--no-dtw]
        [--peers minirocket multirocket-hydra] [--jobs 1] [--threads N] [--runs-dir DIR]
        [--reuse-runs] [--reuse-from RUNS_DIR ...] [--report-only] [--out results.json]
        [--markdown docs/benchmarks/accuracy.md]

Each DATA_ROOT holds `train/*.npz`, `val/*.npz`, `train_labels.csv` and `val_labels.csv`
(optionally `train_meta.csv`). A FOLDS_DIR (written by `make_folds.py`: `folds.json` and
one DATA_ROOT per fold, e.g. boston104_words leave-one-speaker-out) adds a row per fold
and a row with the mean over its folds (per seed the mean over folds; then median and
min-max over seeds); `--layout-for` takes the name of the set the folds were cut from. Per set, config and seed one subprocess
`python -m signcli train MODEL --train-dir R/train --train-labels R/train_labels.csv
--val-dir R/val --val-labels R/val_labels.csv --seed S --work-dir W` plus the config's
flags (`default` adds none: the defaults are what is measured), then `signcli eval
W/last.pt` on the val split for the macro-F1 of the final epoch.

Measured per set and config: final-epoch val top-1 (median and min-max over the seeds),
best-epoch val top-1, final-epoch macro-F1, final-epoch train top-1 (counted during the
epoch, dropout on) and the wall time of the training command. The final epoch is the
headline: the best epoch is picked on the very split it is scored on, which flatters
every model. References per set: 1-NN with dependent multivariate DTW (squared Euclidean
point cost, full window, native lengths, NaN read as 0) and 1-NN Euclidean distance on
the sequences resampled to the median training length; the DTW figure is cached in
`--out` and reused when the script runs again with the same set, cut and subsample.

Peers (`--peers`, default both; `--peers` with no name skips them): per set and seed,
`aeon_peer.py` in a subprocess (the same pool and thread limits as the training runs):
sequences resampled to 64 frames, NaN -> 0 plus missing-flag channels, aeon's default
settings, `random_state` = the seed; val top-1 and macro-F1 of the one fit. Needs the
`bench` extra (aeon). Their figures are cached in `--out` like the DTW figures.

`--small-cut K` adds a row "SET (K/class)" per set (`--cut-sets NAME...`: only those): the training split cut to K sequences
per class (seed 0, whatever the training seeds), taking whole sessions (or speakers) of
`train_meta.csv` per class in a seeded order and trimming the last one, so each class
keeps few sessions; the val split is untouched. `--layout-for traduttore=pose=0:99,...`
adds `--layout` to that set's runs (the peers and DTW see the raw columns either way).

`--markdown PATH` writes the tables with the date, machine, command and commit.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

NO_AUGMENT = [  # augmentation was off before it became a default (`--no-augment` since)
    f"--set=data.augment.{t}_p=0" for t in ("affine", "speed", "frame_drop", "landmark_dropout")
]
_TURN = ["--set", "data.augment.position_rotate=15"]  # round 5
_STRONG_POSITION = [  # the skeleton moved and resized twice as far as position's defaults
    "--set",
    "data.augment.position_shift=1.0",
    "--set",
    "data.augment.position_scale=0.2",
]
CONFIGS: dict[str, list[str]] = {  # name -> extra `signcli train` flags
    "default": [],  # the plain command: what a user gets without flags
    # the defaults of signcli 0.1 (before `auto`), as explicit flags
    "previous": [
        *("--epochs", "30", "--batch-size", "32"),
        *("--d-model", "256", "--num-layers", "4", "--dropout", "0.1"),
        *("--set", "model.num_heads=8", "--set", "model.ff_dim=512"),
        *("--set", "model.conv_kernel=0", *NO_AUGMENT),
    ],
    # one change of the current defaults each: what each part is worth
    "no-conv": ["--set", "model.conv_kernel=0"],
    "no-augment": NO_AUGMENT,
    "30-epochs": ["--epochs", "30"],
    # batches of similar lengths (issue: scale): less padding, same accuracy?
    "length-buckets": ["--length-buckets"],
    # the batch before `auto` (small sets now get a smaller one, for enough steps)
    "batch-32": ["--batch-size", "32"],
    # the input stage and weights before per-sample channels and EMA (docs/input-features.md)
    "before-channels": [
        *("--set", "data.sample_normalize=false", "--set", "data.motion=off"),
        *("--set", "training.ema=off"),
    ],
    # one part of the new input stage or EMA off at a time: what each is worth
    "no-sample-normalize": ["--set", "data.sample_normalize=false"],
    "no-motion": ["--set", "data.motion=off"],
    "no-ema": ["--set", "training.ema=off"],
    "no-raw": ["--set", "data.raw_channels=false"],
    "raw": ["--set", "data.raw_channels=true"],
    # joints said by hand, without the raw positions (rounds 4-5's coords-xy on a small set)
    "coords-xy-no-raw": ["--set", "data.coords=xy", "--set", "data.raw_channels=false"],
    "coords-xy": ["--set", "data.coords=xy"],  # boston104_words: 3 joints, x and y each
    # the unseen-signer candidates (off by default), one lever at a time and together
    "velocity": ["--set", "data.motion=velocity"],
    "ema": ["--set", "training.ema=auto"],
    "velocity-ema": ["--set", "data.motion=velocity", "--set", "training.ema=auto"],
    # per-sample normalisation of columns of unknown meaning (each on its own), with velocity
    "znorm": ["--set", "data.sample_normalize=true"],
    "znorm-velocity": ["--set", "data.sample_normalize=true", "--set", "data.motion=velocity"],
    # joints with known coordinates: normalised as points (the default), plus velocity
    "coords-xy-velocity": ["--set", "data.coords=xy", "--set", "data.motion=velocity"],
    "coords-xyz-velocity": ["--set", "data.coords=xyz", "--set", "data.motion=velocity"],
    "coords-xyz": ["--set", "data.coords=xyz"],
    # motion only: nothing absolute (where the signer stands) reaches the encoder
    # velocity with more regularisation (it overfits late on the given split)
    "velocity-dropout-0.5": ["--set", "data.motion=velocity", "--set", "model.dropout=0.5"],
    "velocity-wd-0.2": ["--set", "data.motion=velocity", "--set", "optim.weight_decay=0.2"],
    "velocity-no-raw": ["--set", "data.motion=velocity", "--set", "data.raw_channels=false"],
    # issue 20, round 3: move and resize a skeleton without a landmark set (new signers)
    # position moving columns of unknown meaning one by one (as the round-3 `position` runs
    # did, before it needed position_columns), and two stronger draws of it
    "position": ["--set", "data.augment.position_columns=true"],
    "coords-xy-position": [  # joints moved whole (one shift per axis), velocity as default
        "--set",
        "data.coords=xy",
        "--set",
        "data.augment.position_p=0.5",
        "--set",
        "data.raw_channels=true",  # as in round 3, before auto left them out of small sets
    ],
    # issue 20, round 5: the joints also turned in the x-y plane (reaches the normalised
    # channels, which the move and resize do not). 15 is the default since: the flag keeps
    # the commands, and so the records, of the runs that decided it. Their records (round 5)
    # left the raw positions of small sets out, as `auto` then did; run again today, the
    # small-set rows resolve to the strong configs below (round 6's default)
    "rotate": _TURN,
    "raw-rotate": ["--set", "data.raw_channels=true", *_TURN],
    "coords-xy-rotate": ["--set", "data.coords=xy", *_TURN],
    "coords-xy-raw-rotate": ["--set", "data.coords=xy", "--set", "data.raw_channels=true", *_TURN],
    # the raw positions kept on a small set, with the skeleton moved and resized twice as far
    # (so that where the training signers stand says less): what `auto` resolves to on a
    # small set of known joints since round 6
    "raw-strong": ["--set", "data.raw_channels=true", *_STRONG_POSITION],
    "coords-xy-raw-strong": [
        "--set",
        "data.coords=xy",
        "--set",
        "data.raw_channels=true",
        *_STRONG_POSITION,
    ],
    "no-position": ["--set", "data.augment.position_p=0"],
    "coords-xyz-no-position": ["--set", "data.coords=xyz", "--set", "data.augment.position_p=0"],
    "position-mid": [  # between position and position-strong
        "--set",
        "data.augment.position_columns=true",
        "--set",
        "data.augment.position_shift=0.75",
        "--set",
        "data.augment.position_scale=0.15",
    ],
    "position-strong": [
        "--set",
        "data.augment.position_columns=true",
        "--set",
        "data.augment.position_shift=1.0",
        "--set",
        "data.augment.position_scale=0.2",
    ],
}
GROUP_COLUMNS = ("session", "speaker", "signer")  # train_meta.csv columns a cut keeps whole
CUT_SEED = 0
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")
PEERS = {"minirocket": "MiniRocket", "multirocket-hydra": "MultiRocket-Hydra"}  # method -> column
PEER_SCRIPT = Path(__file__).with_name("aeon_peer.py")
PEER_LENGTH = 64  # frames the peers resample to (aeon_peer.LENGTH)
LOG_TAIL = 25
RECORD_FILE = "record.json"  # a finished run's figures, in its folder (--reuse-runs)


@dataclass
class DataSet:
    name: str  # row label
    base: str  # folder name of the original set (for --layout-for)
    root: Path  # the folder trained on (the cut's own folder for a cut)
    source: Path  # the DATA_ROOT given
    cut: int | None = None
    train_samples: int = 0
    folds: str | None = None  # the FOLDS_DIR's row label when this set is one of its folds

    @property
    def slug(self) -> str:  # folder name of its runs
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", self.name).strip("-")


@dataclass
class Run:
    data: DataSet
    config: str
    seed: int
    folder: Path
    cmd: list[str] = field(default_factory=list)
    record: dict = field(default_factory=dict)


@dataclass
class PeerRun:  # one aeon method on one set, every seed in one process (numba compiles once)
    data: DataSet
    method: str
    seeds: list[int]
    records: dict[int, dict] = field(default_factory=dict)  # seed -> figures or failure


# -- data ---------------------------------------------------------------------------------


def npz_name(name: str) -> str:
    return name if name.lower().endswith(".npz") else name + ".npz"


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def load_split(root: Path, split: str, labels_csv: Path | None = None):  # noqa: ANN201
    """The sequences [T, D] (NaN -> 0, float64) and gloss labels (as text) of a split."""
    _, rows = read_csv(labels_csv or root / f"{split}_labels.csv")
    folder = root / split
    xs = []
    for row in rows:
        with np.load(folder / npz_name(row["file"])) as npz:
            x = np.asarray(npz["X"], dtype=np.float64)
        xs.append(np.where(np.isnan(x), 0.0, x))
    return xs, np.array([row["gloss"] for row in rows])


def small_cut(src: Path, k: int, dest: Path) -> int:
    """Materialise `src` with its training split cut to `k` sequences per class in `dest`
    (symlinks to the npz files, a cut train_labels.csv; val linked as is). Whole groups
    (sessions, speakers) per class in a seeded order, the last one trimmed. Returns the
    number of training samples kept."""
    header, rows = read_csv(src / "train_labels.csv")
    group_of: dict[str, str] = {}
    meta = src / "train_meta.csv"
    if meta.exists():
        meta_header, meta_rows = read_csv(meta)
        column = next((c for c in GROUP_COLUMNS if c in meta_header), None)
        if column:
            group_of = {npz_name(r["file"]): r[column] for r in meta_rows}
    rng = np.random.default_rng(CUT_SEED)
    by_class: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_class.setdefault(row["gloss"], []).append(i)
    kept: list[int] = []
    for gloss in sorted(by_class, key=lambda g: (len(g), g)):
        groups: dict[str, list[int]] = {}
        for i in by_class[gloss]:  # no group known: each sample its own group
            name = npz_name(rows[i]["file"])
            groups.setdefault(group_of.get(name, f"\0{name}"), []).append(i)
        order = sorted(groups)
        taken: list[int] = []
        for g in rng.permutation(len(order)):
            members = groups[order[g]]
            need = k - len(taken)
            if len(members) > need:
                members = sorted(rng.choice(members, size=need, replace=False).tolist())
            taken += members
            if len(taken) >= k:
                break
        kept += taken
    kept.sort()
    labels = dest / "train_labels.csv"
    if labels.exists() and read_csv(labels)[1] == [rows[i] for i in kept]:
        return len(kept)  # the same cut already (runs of another invocation may be using it)
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "train").mkdir(parents=True)
    for i in kept:
        name = npz_name(rows[i]["file"])
        (dest / "train" / name).symlink_to((src / "train" / name).resolve())
    with open(labels, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows[i] for i in kept)
    for name in ("val", "val_labels.csv", "val_meta.csv", "classes.csv"):
        if (src / name).exists():
            (dest / name).symlink_to((src / name).resolve())
    return len(kept)


# -- references -----------------------------------------------------------------------------


def dtw_1nn(train: list[np.ndarray], train_y: np.ndarray, queries: list[np.ndarray]):  # noqa: ANN201
    """Label of the nearest training series of each query under dependent DTW (squared
    Euclidean point cost, no window, native lengths). One query against every training
    series at once, one row (query frame) of the cost matrices at a time."""
    n, dim = len(train), train[0].shape[1]
    lengths = np.array([len(x) for x in train])
    t_max = int(lengths.max())
    bank = np.zeros((t_max, n, dim))  # frame-major: a column j of all series is contiguous
    for s, x in enumerate(train):
        bank[: len(x), s] = x
    flat = bank.reshape(t_max * n, dim)
    flat_sq = (flat**2).sum(1).reshape(t_max, n)
    ends, cols = lengths - 1, np.arange(n)
    predicted = []
    for q in queries:
        cost = (q**2).sum(1)[:, None, None] + flat_sq[None] - 2 * (q @ flat.T).reshape(-1, t_max, n)
        np.maximum(cost, 0.0, out=cost)  # [Tq, t_max, n]
        prev = np.cumsum(cost[0], axis=0)  # D[0, j]
        cur = np.empty_like(prev)
        for i in range(1, len(q)):
            c = cost[i]
            diag_up = np.minimum(prev[1:], prev[:-1])  # min(D[i-1, j], D[i-1, j-1]), j >= 1
            cur[0] = prev[0] + c[0]
            for j in range(1, t_max):
                np.minimum(diag_up[j - 1], cur[j - 1], out=cur[j])
                cur[j] += c[j]
            prev, cur = cur, prev
        predicted.append(train_y[int(np.argmin(prev[ends, cols]))])
    return np.array(predicted)


def resample(x: np.ndarray, length: int) -> np.ndarray:
    pos = np.linspace(0, len(x) - 1, length)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(x) - 1)
    w = (pos - lo)[:, None]
    return x[lo] * (1 - w) + x[hi] * w


def ed_1nn(train: list[np.ndarray], train_y: np.ndarray, queries: list[np.ndarray]):  # noqa: ANN201
    length = int(round(statistics.median(len(x) for x in train)))
    a = np.stack([resample(x, length).ravel() for x in train])
    b = np.stack([resample(x, length).ravel() for x in queries])
    a_sq = (a**2).sum(1)
    nearest = [np.argmin(a_sq - 2 * (b[i : i + 256] @ a.T), axis=1) for i in range(0, len(b), 256)]
    return train_y[np.concatenate(nearest)]


def reference(data: DataSet, args, cache: dict) -> dict:  # noqa: ANN001
    """1-NN DTW and ED val top-1 of a set, from the cache when it holds this set/cut/subsample."""
    key = f"{data.source}|cut={data.cut}"
    train, train_y = load_split(data.root, "train")
    val, val_y = load_split(data.root, "val")
    fingerprint = {"train": len(train), "val": len(val), "dtw_subsample": args.dtw_subsample}
    cached = cache.get(key, {})
    if all(cached.get(k) == v for k, v in fingerprint.items()) and "dtw_top1" in cached:
        print(
            f"{data.name}: 1-NN DTW {cached['dtw_top1']:.3f} (cached), ED {cached['ed_top1']:.3f}"
        )
        return cached
    entry = dict(fingerprint)
    started = time.perf_counter()
    entry["ed_top1"] = float(np.mean(ed_1nn(train, train_y, val) == val_y))
    entry["ed_s"] = round(time.perf_counter() - started, 2)
    line = f"{data.name}: 1-NN ED {entry['ed_top1']:.3f} ({entry['ed_s']:.1f}s)"
    if not args.no_dtw:
        picked = np.arange(len(val))
        if args.dtw_subsample and args.dtw_subsample < len(val):
            picked = np.unique(np.linspace(0, len(val) - 1, args.dtw_subsample).round().astype(int))
        started = time.perf_counter()
        hits = dtw_1nn(train, train_y, [val[i] for i in picked]) == val_y[picked]
        entry.update(
            dtw_top1=float(hits.mean()),
            dtw_scored=len(picked),
            dtw_s=round(time.perf_counter() - started, 2),
        )
        line += (
            f", DTW {entry['dtw_top1']:.3f} on {len(picked)}/{len(val)} val ({entry['dtw_s']:.1f}s)"
        )
    elif "dtw_top1" in cached:  # an earlier DTW figure (maybe another subsample) still shows
        entry.update({k: cached[k] for k in ("dtw_top1", "dtw_scored", "dtw_s")})
        entry["dtw_subsample"] = cached.get("dtw_subsample")
    print(line, flush=True)
    cache[key] = entry
    return entry


def peer_key(peer: PeerRun, seed: int) -> str:
    return f"{peer.data.source}|cut={peer.data.cut}|peer={peer.method}|seed={seed}"


def execute_peer(peer: PeerRun, env: dict, cache: dict, report_only: bool = False) -> PeerRun:
    """aeon_peer.py on the set in a subprocess, for the seeds the cache lacks (it holds this
    set, cut, method and seed at the same sizes and length). Failures are recorded."""
    todo = []
    for seed in peer.seeds:
        cached = cache.get(peer_key(peer, seed), {})
        if cached.get("length") == PEER_LENGTH and cached.get("train") == peer.data.train_samples:
            peer.records[seed] = {**cached, "cached": True}
        else:
            todo.append(seed)
    if not todo or report_only:
        return peer
    cmd = [sys.executable, str(PEER_SCRIPT), str(peer.data.root), "--method", peer.method,
           "--seeds", *map(str, todo), "--length", str(PEER_LENGTH), "--json"]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall_s = round(time.perf_counter() - started, 2)
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            rec = json.loads(line)
            peer.records[rec["seed"]] = rec | {"process_s": wall_s}
            cache[peer_key(peer, rec["seed"])] = dict(peer.records[rec["seed"]])
    lost = [seed for seed in todo if seed not in peer.records]
    if lost:
        tail_lines = (done.stdout + done.stderr).strip().splitlines()[-LOG_TAIL:]
        failure = {"failed": f"exit {done.returncode}", "process_s": wall_s,
                   "log_tail": "\n".join("    " + x for x in tail_lines)}  # fmt: skip
        peer.records.update({seed: failure for seed in lost})
    return peer


def describe_peer(peer: PeerRun) -> str:
    lines = []
    for seed, rec in sorted(peer.records.items()):
        head = f"{peer.data.name} | {PEERS[peer.method]} | seed {seed}:"
        if "failed" in rec:
            lines.append(f"{head} FAILED ({rec['failed']}) after {rec['process_s']:.1f}s\n{rec['log_tail']}")  # fmt: skip
            continue
        lines.append(
            f"{head} val top-1 {rec['top1']:.3f}, macro-F1 {rec['macro_f1']:.3f}, fit "
            f"{rec['fit_s']:.1f}s, predict {rec['predict_s']:.1f}s" + (" (cached)" if rec.get("cached") else "")
        )  # fmt: skip
    return "\n".join(lines)


# -- runs -----------------------------------------------------------------------------------


def train_command(run: Run, args) -> list[str]:  # noqa: ANN001
    root = run.data.root
    cmd = [sys.executable, "-m", "signcli", "train", args.model,
           "--train-dir", str(root / "train"), "--train-labels", str(root / "train_labels.csv"),
           "--val-dir", str(root / "val"), "--val-labels", str(root / "val_labels.csv"),
           "--seed", str(run.seed), "--work-dir", str(run.folder / "work")]  # fmt: skip
    cmd += CONFIGS[run.config]
    for extra in args.extra:
        cmd += shlex.split(extra)
    if run.data.base in args.layouts:
        cmd += ["--layout", args.layouts[run.data.base]]
    if args.epochs is not None:
        cmd += ["--epochs", str(args.epochs)]
    return cmd


def tail(path: Path) -> str:
    lines = path.read_text(errors="replace").splitlines()
    return "\n".join("    " + line for line in lines[-LOG_TAIL:])


def execute(run: Run, args, env: dict) -> Run:  # noqa: ANN001
    """Train, read metrics.jsonl, eval last.pt on val. Sets run.record once done (the main
    thread reads it); a failing command or error is recorded as a failed run, not raised."""
    run.cmd = train_command(run, args)
    rec = {"set": run.data.name, "config": run.config, "seed": run.seed,
           "cmd": shlex.join(run.cmd), "folder": str(run.folder)}  # fmt: skip
    if args.reuse_runs or args.report_only:
        previous = reusable_record(run, rec["cmd"], args.reuse_from or [])
        if previous is not None:
            run.record = previous
            return run
    if args.report_only:
        return run  # no record: the run is left out of the table
    try:
        measure(run, rec, env)
    except Exception as exc:  # noqa: BLE001 - one broken run must not end the benchmark
        rec.setdefault("wall_s", 0.0)
        rec["failed"] = f"{type(exc).__name__}: {exc}"
        rec.setdefault("log_tail", "")
    run.record = rec
    if "failed" not in rec:
        (run.folder / RECORD_FILE).write_text(json.dumps(rec, indent=2) + "\n")
    return run


def reusable_record(run: Run, cmd: str, elsewhere: list[Path]) -> dict | None:
    """The record of a finished run of the same command: in the run's folder, or in the
    same place under a --reuse-from runs dir, where the command differs only in that dir
    (its work dir). None when there is none."""
    runs_dir = run.folder.parents[3]  # RUNS/runs/<set>/<config>/seed<N>
    for root in [runs_dir, *(d.resolve() for d in elsewhere)]:
        saved = root / run.folder.relative_to(runs_dir) / RECORD_FILE
        if not saved.exists():
            continue
        previous = json.loads(saved.read_text())
        same = previous.get("cmd", "").replace(str(root), str(runs_dir)) == cmd
        if same and "failed" not in previous:
            return (
                previous
                | {"reused": True}
                | ({"reused_from": str(root)} if root != runs_dir else {})
            )
    return None


def measure(run: Run, rec: dict, env: dict) -> None:
    if run.folder.exists():
        shutil.rmtree(run.folder)
    run.folder.mkdir(parents=True)
    log = run.folder / "train.log"
    started = time.perf_counter()
    with open(log, "w") as out:
        code = subprocess.run(run.cmd, stdout=out, stderr=subprocess.STDOUT, env=env).returncode
    rec.update(returncode=code, wall_s=round(time.perf_counter() - started, 2))
    work = run.folder / "work"
    epochs = []
    if (work / "metrics.jsonl").exists():
        epochs = [json.loads(s) for s in (work / "metrics.jsonl").read_text().splitlines() if s]
    if code != 0 or not epochs or "val_gloss_top1" not in epochs[-1]:
        rec["failed"] = f"exit {code}" if code else "no val_gloss_top1 in metrics.jsonl"
        rec["log_tail"] = tail(log)
        return
    best = max(epochs, key=lambda m: m.get("val_gloss_top1", -1.0))
    rec.update(
        epochs=len(epochs),
        final_val_top1=epochs[-1]["val_gloss_top1"],
        best_val_top1=best["val_gloss_top1"],
        best_epoch=best["epoch"],
        final_train_top1=epochs[-1].get("train_gloss_top1"),
        train_s=round(sum(m.get("epoch_s", 0.0) for m in epochs), 2),
        samples_per_s=statistics.median(m.get("samples_per_s", 0.0) for m in epochs),
        pad_share=statistics.fmean(m["train_pad_share"] for m in epochs)
        if all("train_pad_share" in m for m in epochs)
        else None,
    )
    root, out_dir = run.data.root, run.folder / "eval-last-val"
    cmd = [sys.executable, "-m", "signcli", "eval", str(work / "last.pt"),
           "--data-dir", str(root / "val"), "--labels", str(root / "val_labels.csv"),
           "--json", "--out", str(out_dir)]  # fmt: skip
    with open(run.folder / "eval.log", "w") as out:
        code = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env).returncode
    if code == 0 and (out_dir / "eval.json").exists():
        rec["macro_f1"] = json.loads((out_dir / "eval.json").read_text()).get("gloss_macro_f1")
    else:
        rec["eval_failed"] = f"exit {code}"
        rec["eval_log_tail"] = tail(run.folder / "eval.log")


def describe(rec: dict) -> str:
    head = f"{rec['set']} | {rec['config']} | seed {rec['seed']}:"
    if "failed" in rec:
        return f"{head} FAILED ({rec['failed']}) after {rec['wall_s']:.1f}s\n{rec['log_tail']}"
    train = rec["final_train_top1"]
    line = (
        f"{head} final val top-1 {rec['final_val_top1']:.3f}, best {rec['best_val_top1']:.3f} "
        f"(epoch {rec['best_epoch']}/{rec['epochs']})"
        + (f", macro-F1 {rec['macro_f1']:.3f}" if rec.get("macro_f1") is not None else "")
        + (f", train top-1 {train:.3f}" if train is not None else "")
        + f", wall {rec['wall_s']:.1f}s"
    )
    if "eval_failed" in rec:
        line += f"\n  eval FAILED ({rec['eval_failed']}):\n{rec['eval_log_tail']}"
    return line


# -- report ---------------------------------------------------------------------------------


def spread(values: list[float | None], fmt: str = "{:.3f}", minmax: bool = False) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    text = fmt.format(statistics.median(values))
    if minmax and len(values) > 1:
        text += f" ({fmt.format(min(values))}–{fmt.format(max(values))})"
    return text


SIGNCLI_FIELDS = ("final_val_top1", "best_val_top1", "macro_f1", "final_train_top1",
                  "wall_s", "samples_per_s", "pad_share")  # fmt: skip
PEER_FIELDS = ("top1", "macro_f1", "fit_s")


def by_seed(records: list[dict], fields: tuple[str, ...]) -> dict[int, dict]:
    """seed -> the fields of its successful record."""
    return {r["seed"]: {k: r.get(k) for k in fields} for r in records if "failed" not in r}


def fold_mean(per_fold: list[dict[int, dict]]) -> dict[int, dict]:
    """seed -> each field's mean over the folds, for the seeds every fold finished (a field
    missing in one fold is None)."""
    seeds = set.intersection(*(set(f) for f in per_fold)) if per_fold else set()
    out = {}
    for seed in sorted(seeds):
        fields = per_fold[0][seed]
        values = {k: [f[seed][k] for f in per_fold] for k in fields}
        out[seed] = {k: None if None in v else statistics.fmean(v) for k, v in values.items()}
    return out


def figures_row(name: str, train: int, val: int | None, config: str, seeds: int, sc: dict,
                peers: dict, ref: dict) -> dict:  # fmt: skip
    """One table row: per-seed signcli figures `sc`, per-method per-seed peer figures."""
    row = {"set": name, "train_samples": train, "val_samples": val, "config": config,
           "seeds": seeds, "failed": seeds - len(sc)}  # fmt: skip
    row.update({k: [sc[s][k] for s in sorted(sc)] for k in SIGNCLI_FIELDS})
    row["peers"] = {
        method: {k: [per_seed[s][k] for s in sorted(per_seed)] for k in PEER_FIELDS}
        for method, per_seed in peers.items()
    }
    row.update({k: ref.get(k) for k in ("dtw_top1", "dtw_scored", "ed_top1")})
    row["dtw_val"] = ref.get("dtw_val", ref.get("val"))
    return row


def summarise(sets: list[DataSet], configs: list[str], runs: list[Run], peer_runs: list[PeerRun],
              refs: dict) -> list[dict]:  # fmt: skip
    """A row per set and config, and after the last fold of a FOLDS_DIR its mean row."""
    configs = configs or ["(no signcli run)"]  # --configs with no name: peers and DTW only
    rows = []
    folds: dict[str, list[DataSet]] = {}
    for data in sets:
        if data.folds:
            folds.setdefault(data.folds, []).append(data)

    def figures(data: DataSet, config: str) -> tuple[dict, dict, int]:
        recs = [r.record for r in runs if r.data is data and r.config == config and r.record]
        peers = {
            p.method: by_seed(list(p.records.values()), PEER_FIELDS)
            for p in peer_runs if p.data is data
        }  # fmt: skip
        return by_seed(recs, SIGNCLI_FIELDS), peers, len(recs)

    for i, data in enumerate(sets):
        ref = refs.get(data.name, {})
        for config in configs:
            sc, peers, seeds = figures(data, config)
            rows.append(figures_row(data.name, data.train_samples, ref.get("val"), config,
                                    seeds, sc, peers, ref))  # fmt: skip
        last_fold = data.folds and (i + 1 == len(sets) or sets[i + 1].folds != data.folds)
        if not last_fold:
            continue
        members = folds[data.folds]
        fold_refs = [refs.get(d.name, {}) for d in members]
        ref = {}
        for key in ("dtw_top1", "ed_top1"):
            if all(r.get(key) is not None for r in fold_refs):
                ref[key] = statistics.fmean(r[key] for r in fold_refs)
        if "dtw_top1" in ref:
            ref["dtw_scored"] = sum(r["dtw_scored"] for r in fold_refs)
            ref["dtw_val"] = sum(r["val"] for r in fold_refs)
        for config in configs:
            per_fold = [figures(d, config) for d in members]
            sc = fold_mean([f[0] for f in per_fold])
            peers = {m: fold_mean([f[1][m] for f in per_fold]) for m in per_fold[0][1]}
            name = f"{data.folds}: mean of {len(members)} folds"
            train = round(statistics.fmean(d.train_samples for d in members))
            # the seeds every fold finished: a seed missing in one fold has no mean to show
            rows.append(figures_row(name, train, None, config, len(sc), sc, peers, ref))
    return rows


def markdown(rows: list[dict], peer_methods: list[str]) -> str:
    """Two tables: signcli beside its peers (the headline), then signcli's own details."""
    peer_heads = [f"{PEERS[m]} top-1 median (min–max)" for m in peer_methods]
    head = ("set", "train samples", "config", "signcli seeds", "signcli final val top-1 median (min–max)",
            *peer_heads, "1-NN DTW top-1", "1-NN ED top-1")  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        final = (spread(row["final_val_top1"], minmax=True) if row["final_val_top1"]
                 else "failed" if row["seeds"] else "–")  # fmt: skip
        if 0 < row["failed"] < row["seeds"]:
            final += f" ({row['failed']}/{row['seeds']} failed)"
        dtw = "–" if row["dtw_top1"] is None else f"{row['dtw_top1']:.3f}"
        if row["dtw_top1"] is not None and row["dtw_scored"] != row["dtw_val"]:
            dtw += f" ({row['dtw_scored']}/{row['dtw_val']} val)"
        ed = "–" if row["ed_top1"] is None else f"{row['ed_top1']:.3f}"
        peers = [spread(row["peers"].get(m, {}).get("top1", []), minmax=True) for m in peer_methods]
        cells = (row["set"], str(row["train_samples"]), row["config"], str(row["seeds"]), final,
                 *peers, dtw, ed)  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "signcli in detail, and the peers' cost:", ""]
    head = ("set", "config", "best-epoch val top-1 median", "macro-F1 median (final)",
            *(f"{PEERS[m]} macro-F1" for m in peer_methods), "train top-1 final median",
            "wall s median", *(f"{PEERS[m]} fit s" for m in peer_methods),
            "samples/s median", "padding")  # fmt: skip
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        peers = row["peers"]
        cells = (row["set"], row["config"], spread(row["best_val_top1"]),
                 spread(row["macro_f1"]),
                 *(spread(peers.get(m, {}).get("macro_f1", [])) for m in peer_methods),
                 spread(row["final_train_top1"]), spread(row["wall_s"], "{:.0f}"),
                 *(spread(peers.get(m, {}).get("fit_s", []), "{:.0f}") for m in peer_methods),
                 spread(row["samples_per_s"], "{:.0f}"), spread(row["pad_share"], "{:.0%}"))  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


NOTES = (
    "Final val top-1 is the headline (median over seeds, min–max); best-epoch top-1 is picked "
    "on the split it is scored on. macro-F1: eval of last.pt on val. wall: the train command "
    "(signcli); fit: the peer's fit alone (no numba compilation after the first seed). Peers: aeon default "
    "settings, sequences resampled to 64 frames, NaN -> 0 plus missing-flag channels, "
    "random_state = the seed; they and DTW see the raw columns (no --layout). A fold set's "
    "mean row: per seed the mean over its folds, then median and min–max over seeds."
)


def provenance() -> dict:
    """Date, machine, command and commit of a measurement."""
    repo = Path(__file__).resolve().parent.parent

    def git(*a: str) -> str:
        done = subprocess.run(["git", "-C", str(repo), *a], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else "?"

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()  # fmt: skip
    aeon = importlib.util.find_spec("aeon")
    aeon_version = "?"
    if aeon and aeon.origin:
        match = re.search(r'__version__ = "([^"]+)"', Path(aeon.origin).read_text())
        aeon_version = match.group(1) if match else "?"
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "aeon": aeon_version if aeon else None,
        "command": shlex.join(["python", *shown_argv(sys.argv)]),
        "commit": git("rev-parse", "--short", "HEAD") + (" (uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""),
    }  # fmt: skip


def shown_argv(argv: list[str]) -> list[str]:
    """The command line, with a --note paragraph (printed under the tables) left out."""
    shown, skip = [], False
    for arg in argv:
        if skip:
            shown.append("TEXT")
        elif arg.startswith("--note="):
            shown.append("--note=TEXT")
        else:
            shown.append(arg)
        skip = arg == "--note"
    return shown


def markdown_page(tables: str, info: dict, note: str | None = None) -> str:
    return (
        "# Accuracy: signcli beside aeon's MiniRocket / MultiRocket-Hydra and 1-NN DTW\n\n"
        "Written by `benchmarks/bench_accuracy.py --markdown`; do not edit by hand.\n\n"
        f"- written: {info['date']} (with --reuse-runs / --report-only the runs are older)\n- machine: {info['machine']}, Python {info['python']}, "
        f"aeon {info['aeon']}\n- commit: {info['commit']}\n- command:\n\n"
        f"      {info['command']}\n\n{tables}\n\n{NOTES}\n" + (f"\n{note}\n" if note else "")
    )


# -- main -----------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", type=Path, metavar="DATA_ROOT|FOLDS_DIR")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--configs",
        nargs="*",
        default=["default"],
        choices=list(CONFIGS),
        help="signcli configs to train (none: --configs with no name, the peers and DTW only)",
    )
    parser.add_argument("--model", default="transformer", help="`signcli train MODEL`")
    parser.add_argument("--epochs", type=int, help="pass --epochs N (default: not passed)")
    parser.add_argument(
        "--extra",
        action="append",
        default=[],
        help='flags appended to every config, e.g. --extra "--set model.d_model=64" '
        "(one flag without a space: --extra=--flag); repeatable",
    )
    parser.add_argument(
        "--layout-for",
        action="append",
        default=[],
        metavar="NAME=LAYOUT",
        help="--layout LAYOUT for the set whose folder is NAME (a FOLDS_DIR: the set its "
        "folds were cut from); repeatable",
    )
    parser.add_argument("--small-cut", type=int, metavar="K", help="also a K-per-class row per set")
    parser.add_argument(
        "--cut-sets", nargs="+", metavar="NAME", help="--small-cut only these sets (folder names)"
    )
    parser.add_argument("--dtw-subsample", type=int, metavar="K", help="DTW on K val samples")
    parser.add_argument("--no-dtw", action="store_true", help="skip the 1-NN DTW reference")
    parser.add_argument(
        "--peers",
        nargs="*",
        default=list(PEERS),
        choices=list(PEERS),
        help="aeon peers per set and seed (default: both; none: --peers with no name)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="training runs at once")
    parser.add_argument("--threads", type=int, help="OMP/MKL threads per run (default: as is)")
    parser.add_argument("--runs-dir", type=Path, help="keep the runs here (default: a temp dir)")
    parser.add_argument(
        "--reuse-runs",
        action="store_true",
        help="take a run's figures from --runs-dir when it finished there with the same command "
        "(to add seeds or sets to a table without training the rest again)",
    )
    parser.add_argument(
        "--reuse-from",
        type=Path,
        nargs="+",
        metavar="RUNS_DIR",
        help="with --reuse-runs / --report-only, also take finished runs from these runs dirs "
        "(same set, config, seed and command but for the runs dir), the first dir that has one "
        "winning: one table from the runs of several benchmark sessions. The command does not "
        "say which signcli trained a run: list the newest dirs first",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="train and fit nothing: the table of the runs in --runs-dir and the peer figures "
        "in --out (a seed that was not measured is left out of its row)",
    )
    parser.add_argument(
        "--out", type=Path, help="JSON of every figure; caches the DTW and peer figures"
    )
    parser.add_argument(
        "--markdown",
        type=Path,
        help="also write the tables with date, machine, command, commit ('-': print them)",
    )
    parser.add_argument("--note", help="a paragraph added under the --markdown tables")
    args = parser.parse_args()
    args.layouts = {}
    for item in args.layout_for:
        name, sep, layout = item.partition("=")
        if not sep or not layout:
            parser.error(f"--layout-for {item!r}: expected NAME=LAYOUT")
        args.layouts[name] = layout
    args.sets = []
    for root in args.roots:
        try:
            args.sets += expand_root(root.resolve())
        except ValueError as exc:
            parser.error(str(exc))
    names = [data.name for data in args.sets]
    if len(set(names)) < len(names):
        parser.error(f"two DATA_ROOTs share a folder name: {names}")
    bases = {data.base for data in args.sets}
    for name in set(args.layouts) - bases:
        parser.error(f"--layout-for {name}: no DATA_ROOT of that name ({', '.join(sorted(bases))})")
    for name in set(args.cut_sets or []) - set(names):
        parser.error(f"--cut-sets {name}: no DATA_ROOT of that name ({', '.join(names)})")
    if args.small_cut is not None and args.small_cut < 1:
        parser.error("--small-cut must be at least 1")
    if args.peers and importlib.util.find_spec("aeon") is None:
        parser.error("--peers needs aeon: pip install -e '.[bench]' (or --peers with no name)")
    return args


def expand_root(root: Path) -> list[DataSet]:
    """A DATA_ROOT as one set; a FOLDS_DIR (folds.json) as one set per fold."""
    if (root / "folds.json").exists():
        info = json.loads((root / "folds.json").read_text())
        base, by, folds = info["name"], info["group_by"], info["folds"]
        groups = {g for fold in folds for g in fold["held_out"]}
        label = f"{base} leave-one-{by}-out" if len(groups) == len(folds) else f"{base} {len(folds)} folds by {by}"  # fmt: skip
        members = [(root / f["name"], f"{label} [{f['name']}: {', '.join(f['held_out'])}]") for f in folds]  # fmt: skip
    else:
        base, label, members = root.name, None, [(root, root.name)]
    sets = []
    for folder, name in members:
        for need in ("train", "val", "train_labels.csv", "val_labels.csv"):
            if not (folder / need).exists():
                raise ValueError(f"{folder}: no {need}")
        n = len(read_csv(folder / "train_labels.csv")[1])
        sets.append(DataSet(name, base, folder, folder, train_samples=n, folds=label))
    return sets


def main() -> None:
    args = parse_args()
    for config in args.configs:
        if config != "default" and not CONFIGS[config]:
            print(f"note: config {config!r} has no flags yet: it trains the defaults")
    previous = {}
    if args.out and args.out.exists():
        try:
            previous = json.loads(args.out.read_text())
        except (OSError, ValueError) as exc:
            print(f"note: {args.out} is not readable JSON ({exc}); not reusing its DTW figures")
    cache = dict(previous.get("reference_cache", {}))
    env = dict(os.environ)
    if args.threads:
        env.update({var: str(args.threads) for var in THREAD_VARS})
    tmp = None
    if args.runs_dir:
        runs_dir = args.runs_dir.resolve()
        runs_dir.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="bench_accuracy-")
        runs_dir = Path(tmp.name)
    print(f"runs in {runs_dir}" + (" (removed at the end; --runs-dir keeps them)" if tmp else ""))
    try:
        run_all(args, runs_dir, env, cache)
    finally:
        if tmp:
            tmp.cleanup()


def run_all(args, runs_dir: Path, env: dict, cache: dict) -> None:  # noqa: ANN001
    sets = []
    for data in args.sets:
        sets.append(data)
        if args.small_cut and not data.folds and data.name in (args.cut_sets or [data.name]):
            name = f"{data.name} ({args.small_cut}/class)"
            dest = runs_dir / "cuts" / f"{data.root.name}-cut{args.small_cut}"
            kept = small_cut(data.root, args.small_cut, dest)
            sets.append(DataSet(name, data.base, dest, data.source, args.small_cut, kept))
            print(f"{name}: {kept} of {data.train_samples} training samples, in {dest}")
    refs = {data.name: reference(data, args, cache) for data in sets}

    runs = [
        Run(data, config, seed, runs_dir / "runs" / data.slug / config / f"seed{seed}")
        for data in sets
        for config in args.configs
        for seed in args.seeds
    ]
    peer_runs = [PeerRun(data, method, list(args.seeds)) for data in sets for method in args.peers]
    info = provenance()

    def rows() -> list[dict]:
        return summarise(sets, args.configs, runs, peer_runs, refs)

    def save() -> None:
        if args.out:
            report = {"args": {k: json.loads(json.dumps(v, default=str))
                               for k, v in vars(args).items() if k not in ("roots", "sets")},
                      "roots": [str(r) for r in args.roots], "configs": {c: CONFIGS[c] for c in args.configs},
                      "provenance": info, "rows": rows(), "runs": [r.record for r in runs if r.record],
                      "peer_runs": [r | {"set": p.data.name} for p in peer_runs for r in p.records.values()],
                      "reference_cache": cache}  # fmt: skip
            tmp_out = args.out.with_name(args.out.name + ".tmp")
            tmp_out.write_text(json.dumps(report, indent=2) + "\n")
            tmp_out.replace(args.out)

    save()
    total = len(runs) + len(peer_runs)  # a peer item holds every seed of its set and method
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        # peers first: minutes each, and their figures show up before the long runs end
        futures = [
            pool.submit(execute_peer, peer, env, cache, args.report_only) for peer in peer_runs
        ]
        futures += [pool.submit(execute, run, args, env) for run in runs]
        for done, future in enumerate(as_completed(futures), 1):
            item = future.result()
            if not (item.records if isinstance(item, PeerRun) else item.record):
                continue  # --report-only: nothing measured before
            text = describe_peer(item) if isinstance(item, PeerRun) else describe(item.record)
            print(f"[{done}/{total}] {text}", flush=True)
            save()
    tables = markdown(rows(), args.peers)
    print()
    print(tables)
    print("\n" + NOTES)
    if args.markdown and str(args.markdown) == "-":  # markdown_report's "nowhere": print it
        print(markdown_page(tables, info, args.note))
    elif args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown_page(tables, info, args.note))
        print(f"wrote {args.markdown}")


if __name__ == "__main__":
    main()
