"""Grouped cross-validation (`signcli cv`): K ordinary runs, each holding out whole groups
(signers, speakers, sessions), and the summary of their final epochs.

```
WORK_DIR/cv-plan.json    the folds: group column, K, each fold's held-out groups and ids,
                         the settings (a rerun with other folds or settings is refused)
WORK_DIR/fold-<k>/       an ordinary run: config.json, metrics.jsonl, last.pt, best.pt;
                         `signcli resume WORK_DIR/fold-<k>` continues it
WORK_DIR/fold-<k>/data/  the fold's split: train/ and val/ link to the original .npz files;
                         train_labels.csv, val_labels.csv (the rows as given + the group)
WORK_DIR/cv.json         per fold and mean ± std of every final-epoch metric
```

The splits of the data (train, and val when given) are pooled and whole groups go to folds
by `data/folds.py` (deterministic, balanced by samples; no seed involved, so seeds compare on
the same folds). Running `cv` again with the same arguments skips the folds that finished,
resumes the ones that stopped (as `signcli resume` would) and starts the rest; a larger
`--epochs` extends every fold. Single-stream `classify` data for now.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signcli.core.atomic import atomic_write, check_folder
from signcli.core.errors import UsageError
from signcli.core.files import read_input_bytes
from signcli.core.limits import MAX_JSON_BYTES
from signcli.core.run_files import CONFIG_FILE, LAST_CHECKPOINT, METRICS_FILE
from signcli.data.folds import PooledSample, assign_folds, check_fold_count, pool_groups
from signcli.data.multistream import stream_dirs
from signcli.engine.hooks import Hook
from signcli.engine.recipes import resume_run, start_run
from signcli.metrics.jsonl import EPOCH_KEY, read_metrics
from signcli.settings import Settings, load_settings, with_absolute_paths

log = logging.getLogger("signcli")

PLAN_FILE = "cv-plan.json"
SUMMARY_FILE = "cv.json"
FOLD_DATA = "data"  # the fold's split, inside its run folder
FOLD_DATA_MARK = ".signcli-cv"  # in FOLD_DATA: this command wrote it (and may replace it)
PLAN_FORMAT = 1
# settings a rerun may change without changing the folds' runs (resume takes them as flags)
RERUN_KEYS = (("training", "epochs"), ("training", "device"), ("training", "work_dir"))


@dataclass
class FoldResult:
    fold: int
    work_dir: Path
    held_out: list[str]
    train_samples: int
    val_samples: int
    metrics: dict[str, float]  # the final epoch's line of metrics.jsonl
    status: str  # trained | resumed | finished (nothing left to train)


@dataclass
class CrossValidation:
    group_by: str
    folds: list[FoldResult]
    mean: dict[str, float]
    std: dict[str, float]  # sample standard deviation over the folds
    path: Path  # cv.json


def fold_dir(work_dir: Path, fold: int) -> Path:
    return work_dir / f"fold-{fold}"


def run_cross_validation(
    settings: Settings,
    folds: int,
    group_by: str,
    hooks: Callable[[], Sequence[Hook]] = tuple,
    *,
    overwrite: bool = False,
) -> CrossValidation:
    """Train (or continue) the `folds` runs of `settings` grouped by `group_by` in
    `settings.training.work_dir`, then write and return the summary. `hooks()` gives the
    hooks of one run (a progress bar, say), called once per fold."""
    settings = with_absolute_paths(settings)
    _check_supported(settings)
    work_dir = settings.training.work_dir
    check_folder(work_dir, "--work-dir")
    data = settings.data
    splits = {"train": (Path(data.train_dir), Path(data.train_labels))}  # type: ignore[arg-type]
    if data.val_dir is not None and data.val_labels is not None:
        splits["val"] = (Path(data.val_dir), Path(data.val_labels))
    pooled = pool_groups(splits, group_by)
    group_by = group_by.strip().lower()
    fold_of = assign_folds(check_fold_count(pooled, group_by, folds), folds)
    plan = _plan(settings, pooled, fold_of, folds, group_by)
    _check_plan(work_dir, plan, overwrite)
    work_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(work_dir / PLAN_FILE, json.dumps(plan, indent=2) + "\n")

    results = []
    for fold in range(folds):
        held_out = plan["folds"][fold]["held_out"]
        log.info(f"fold {fold + 1}/{folds}: {group_by} {', '.join(held_out)} held out")
        members = {
            "train": [s for s in pooled if fold_of[s.group] != fold],
            "val": [s for s in pooled if fold_of[s.group] == fold],
        }
        status = _train_fold(
            settings, fold_dir(work_dir, fold), members, group_by, hooks, overwrite
        )
        metrics = read_metrics(fold_dir(work_dir, fold) / METRICS_FILE).records[-1]
        results.append(
            FoldResult(
                fold,
                fold_dir(work_dir, fold),
                held_out,
                len(members["train"]),
                len(members["val"]),
                dict(metrics),
                status,
            )  # fmt: skip
        )
    return _summarise(work_dir, group_by, results)


def _check_supported(settings: Settings) -> None:
    data = settings.data
    problems = []
    if settings.model.task != "classify":
        problems.append(f"cv trains classify runs only (model.task is {settings.model.task})")
    if stream_dirs(data):
        problems.append("cv reads the single-stream layout (train/, *_labels.csv) only")
    if data.val_fraction is not None:
        problems.append("cv holds out whole groups itself: drop --val-fraction")
    if data.train_dir is None or data.train_labels is None:
        problems.append("no training data: give DATA (a dataset root) or --set data.train_dir")
    if problems:
        raise UsageError("; ".join(problems))


def _comparable(settings: Settings) -> dict[str, Any]:
    dumped = settings.model_dump(mode="json")
    for section, key in RERUN_KEYS:
        dumped[section].pop(key, None)
    return dumped


def _plan(settings: Settings, pooled: list[PooledSample], fold_of: dict[str, int], k: int,
          group_by: str) -> dict[str, Any]:  # fmt: skip
    folds = []
    for fold in range(k):
        held = sorted(g for g, f in fold_of.items() if f == fold)
        val_ids = sorted(s.id for s in pooled if fold_of[s.group] == fold)
        folds.append({"held_out": held, "val_ids": val_ids})
    return {"format": PLAN_FORMAT, "group_by": group_by, "folds_count": k, "folds": folds,
            "settings": _comparable(settings)}  # fmt: skip


def _check_plan(work_dir: Path, plan: dict[str, Any], overwrite: bool) -> None:
    """A cv already in `work_dir` must be this one (or `overwrite`); a folder that holds
    anything else is not taken over."""
    path = work_dir / PLAN_FILE
    if not path.is_file():
        stray = sorted(p.name for p in work_dir.glob("fold-*")) if work_dir.is_dir() else []
        if stray and not overwrite:
            raise UsageError(
                f"{work_dir} holds {', '.join(stray[:3])} but no {PLAN_FILE}: not a cv folder "
                "this command wrote",
                hint="use another --work-dir, or pass --overwrite to start the folds again",
            )
        return
    if overwrite:
        return
    try:
        old = json.loads(read_input_bytes(path, "cv.json", limit=MAX_JSON_BYTES))
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"{path}: unreadable ({exc})", hint="pass --overwrite to start again"
        ) from None
    differences = [
        name
        for name, key in (("--group-by", "group_by"), ("--folds", "folds_count"),
                          ("the folds' groups or samples", "folds"), ("the settings", "settings"))
        if old.get(key) != plan[key]
    ]  # fmt: skip
    if differences:
        changed = _changed_settings(old.get("settings"), plan["settings"])
        detail = f" ({', '.join(changed[:5])})" if changed else ""
        raise UsageError(
            f"{work_dir} holds a cross-validation with other {', '.join(differences)}{detail} "
            "than this command asks for",
            hint="rerun with the arguments it was started with (--epochs may grow), use another "
            "--work-dir, or pass --overwrite to train every fold again",
        )


def _changed_settings(old: Any, new: dict[str, Any]) -> list[str]:
    if not isinstance(old, dict):
        return []
    changed = []
    for section in sorted(set(old) | set(new)):
        a, b = old.get(section, {}), new.get(section, {})
        if not isinstance(a, dict) or not isinstance(b, dict):
            changed += [section] if a != b else []
            continue
        changed += [f"{section}.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return changed


def _train_fold(settings: Settings, run_dir: Path, members: dict[str, list[PooledSample]],
                group_by: str, hooks: Callable[[], Sequence[Hook]], overwrite: bool) -> str:  # fmt: skip
    """Start, resume or skip one fold's run; returns what happened."""
    has_run = (run_dir / CONFIG_FILE).is_file()
    if has_run and (run_dir / LAST_CHECKPOINT).is_file() and not overwrite:
        epochs = settings.training.epochs
        result = resume_run(
            run_dir,
            hooks(),
            epochs=epochs if isinstance(epochs, int) else None,
            device=settings.training.device,
        )
        if result.already_finished:
            log.info(f"{run_dir.name}: finished earlier ({result.trainer.state.epoch} epochs)")
            return "finished"
        return "resumed"
    paths = _write_fold_data(run_dir / FOLD_DATA, members, group_by)
    base = settings.model_dump(mode="json")
    base["data"]["dataset"] = None  # the fold's own paths below; the rest was filled already
    flags = {**paths, "training.work_dir": str(run_dir)}
    if settings.training.log_csv is not None:  # one file per fold, not K runs into one
        flags["training.log_csv"] = str(run_dir / settings.training.log_csv.name)
    fold_settings = load_settings(base=base, flags=flags)
    # a fold run that stopped before its first save is this command's own: start it again
    start_run(fold_settings, hooks(), overwrite=overwrite or has_run)
    return "trained"


def _write_fold_data(dest: Path, members: dict[str, list[PooledSample]], group_by: str) -> dict:
    """The fold's split as a single-stream root of links (copies where links fail) and labels
    CSVs; returns the data settings that point at it."""
    if dest.exists():
        _remove_fold_data(dest)
    dest.mkdir(parents=True)
    atomic_write(dest / FOLD_DATA_MARK, "written by `signcli cv`: links and labels of one fold\n")
    for split, samples in members.items():
        folder = dest / split
        folder.mkdir(parents=True)
        columns: dict[str, None] = {}
        for sample in samples:
            columns.update(dict.fromkeys(sample.row))
        columns[group_by] = None
        rows = []
        for sample in samples:
            name = sample.id + ".npz"
            _link(sample.folder / name, folder / name)
            rows.append(
                {**{c: "" for c in columns}, **sample.row, "file": name, group_by: sample.group}
            )
        _write_csv(dest / f"{split}_labels.csv", list(columns), rows)
    return {
        "data.train_dir": str(dest / "train"),
        "data.train_labels": str(dest / "train_labels.csv"),
        "data.val_dir": str(dest / "val"),
        "data.val_labels": str(dest / "val_labels.csv"),
    }


def _remove_fold_data(dest: Path) -> None:
    """Remove a fold's data folder that this command wrote (it holds the mark); anything
    else at that path is the user's, and stops the command."""
    if not (dest / FOLD_DATA_MARK).is_file():
        raise UsageError(
            f"{dest} exists and was not written by `signcli cv`; not replacing it",
            hint="move it away, or use another --work-dir",
        )
    shutil.rmtree(dest)


def _link(source: Path, target: Path) -> None:
    try:
        os.symlink(source.resolve(), target)
    except OSError:  # no symlinks here (Windows without the privilege, some mounts)
        shutil.copy2(source, target)


def _write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, out.getvalue())


def _summarise(work_dir: Path, group_by: str, results: list[FoldResult]) -> CrossValidation:
    """Mean and sample std over folds of each metric every fold's final epoch logged."""
    names = [k for k in results[0].metrics if all(k in r.metrics for r in results)]
    mean, std = {}, {}
    for name in names:
        values = [float(r.metrics[name]) for r in results]
        if not all(math.isfinite(v) for v in values):
            continue
        mean[name] = statistics.fmean(values)
        std[name] = statistics.stdev(values) if len(values) > 1 else 0.0
    summary = {
        "group_by": group_by,
        "folds": [
            {"fold": r.fold, "work_dir": str(r.work_dir), "held_out": r.held_out,
             "train_samples": r.train_samples, "val_samples": r.val_samples,
             "epochs": int(r.metrics.get(EPOCH_KEY, 0)), "status": r.status, "metrics": r.metrics}
            for r in results
        ],
        "mean": mean,
        "std": std,
        "std_kind": "sample standard deviation over the folds (n - 1)",
    }  # fmt: skip
    path = work_dir / SUMMARY_FILE
    atomic_write(path, json.dumps(summary, indent=2) + "\n")
    return CrossValidation(group_by, results, mean, std, path)
