"""The files `eval` writes, each atomically (docs/architecture.md, "Work directory"):

    eval.json            the summary (what `--json` prints)
    per_class.csv        class_id,name,support,predicted,accuracy,precision,recall,f1
    per_group.csv        group,samples,gloss_top1,gloss_macro_f1 (worst first), with a group
                         column (e.g. signer) in the labels
    confusion.csv        the full matrix: one row per true class, one column per predicted class
    confusion.png        plots.plot_confusion
    predictions.parquet  one row per sample: ids, top-5 classes and probabilities, names
    report.html          all of it on one self-contained page (evaluation/html_report.py)

Undefined per-class scores (see metrics.py) are left empty in per_class.csv.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from signcli.core.atomic import atomic_write
from signcli.metrics.classification import ClassScores, GroupScores

SUMMARY_FILE = "eval.json"
PER_CLASS_FILE = "per_class.csv"
PER_GROUP_FILE = "per_group.csv"
CONFUSION_CSV = "confusion.csv"
CONFUSION_PNG = "confusion.png"
PREDICTIONS_FILE = "predictions.parquet"
REPORT_FILE = "report.html"  # evaluation/html_report.py
EVAL_FILES = (
    SUMMARY_FILE,
    PER_CLASS_FILE,
    PER_GROUP_FILE,
    CONFUSION_CSV,
    CONFUSION_PNG,
    PREDICTIONS_FILE,
    REPORT_FILE,
)


def write_summary(path: Path, summary: Mapping[str, Any]) -> None:
    atomic_write(path, json.dumps(summary, indent=2) + "\n")


def write_per_class(path: Path, classes: ClassScores, names: list[str | None]) -> None:
    """One row per class of the model, in id order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["class_id", "name", "support", "predicted", "accuracy", "precision", "recall", "f1"]
    )
    for i, name in enumerate(names):
        recall = _cell(classes.recall[i])
        writer.writerow(
            [i, name or "", int(classes.support[i]), int(classes.predicted[i]), recall,
             _cell(classes.precision[i]), recall, _cell(classes.f1[i])]
        )  # fmt: skip
    atomic_write(path, buffer.getvalue())


def write_per_group(path: Path, groups: list[GroupScores]) -> None:
    """One row per group, in the given order (worst top-1 first)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["group", "samples", "gloss_top1", "gloss_macro_f1"])
    for g in groups:
        writer.writerow([g.group, g.samples, _cell(g.top1), _cell(g.macro_f1)])
    atomic_write(path, buffer.getvalue())


def per_group_summary(column: str, groups: list[GroupScores]) -> dict[str, Any]:
    """eval.json's `per_group`: the column and one entry per group, worst first."""
    return {
        "column": column,
        "num_groups": len(groups),
        "groups": [
            {
                "group": g.group,
                "samples": g.samples,
                "gloss_top1": g.top1,
                "gloss_macro_f1": g.macro_f1,
            }
            for g in groups
        ],
    }


def write_confusion_csv(path: Path, confusion: np.ndarray) -> None:
    """Header `true\\predicted,0,1,...`; row i holds the counts of true class i
    (`pandas.read_csv(path, index_col=0)` reads it back as a square frame)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["true\\predicted", *range(confusion.shape[1])])
    for i, row in enumerate(confusion.tolist()):
        writer.writerow([i, *row])
    atomic_write(path, buffer.getvalue())


def write_predictions(path: Path, columns: Mapping[str, Any]) -> None:
    """A parquet table from columns: 1-D arrays or lists, or 2-D arrays [N, k] stored as
    list columns (top-5 ids and probabilities). Written to memory, then atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = {}
    for name, values in columns.items():
        if isinstance(values, np.ndarray) and values.ndim == 2:
            N, k = values.shape
            offsets = pa.array(np.arange(0, N * k + 1, k, dtype=np.int32))
            arrays[name] = pa.ListArray.from_arrays(offsets, pa.array(values.reshape(-1)))
        else:
            arrays[name] = pa.array(values)
    buffer = io.BytesIO()
    pq.write_table(pa.table(arrays), buffer)
    atomic_write(path, buffer.getvalue())


def _cell(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.6g}"
