"""Build the training and validation data a run asks for in `Settings.data`.

The one place that knows the dataset layouts (single-stream `.npz` folders, or the
multi-stream layout when stream folders are set): it resolves class counts from the labels,
checks every label against them, and returns the class maps written to labels.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from signcli.data.multistream import load_multistream_splits, stream_dirs
from signcli.data.npz_split import NpzSplit, load_npz_split
from signcli.errors import DataError, UsageError
from signcli.settings import Settings


@dataclass
class TrainingData:
    train: NpzSplit
    val: NpzSplit | None
    input_dims: dict[str, int]
    num_gloss: int
    num_cat: int
    warnings: list[str] = field(default_factory=list)

    def labels_map(self) -> dict[str, Any]:
        """Content of labels.json: class counts and the names known from the labels CSVs."""
        gloss_names: dict[int, str] = {}
        cat_names: dict[int, str] = {}
        for split in (self.train, self.val):
            if split is not None:
                gloss_names.update(split.gloss_names)
                cat_names.update(split.cat_names)
        return {
            "num_gloss": self.num_gloss,
            "num_cat": self.num_cat,
            "gloss_names": {str(k): v for k, v in sorted(gloss_names.items())},
            "cat_names": {str(k): v for k, v in sorted(cat_names.items())},
        }


def load_training_data(settings: Settings) -> TrainingData:
    """Read the splits of `settings.data` and resolve num_gloss / num_cat from the labels."""
    data = settings.data
    train: NpzSplit
    val: NpzSplit | None = None
    if stream_dirs(data):
        if data.train_dir is not None:
            raise UsageError(
                "both --train-dir and stream folders (--hand-left-dir, ...) given",
                hint="use one layout: single-stream .npz folders or one folder per stream",
            )
        if data.layout is not None:
            raise UsageError(
                "--layout splits single-stream keypoints X; stream folders are split already",
                hint="drop --layout (data.layout) for the multi-stream layout",
            )
        train, val = load_multistream_splits(data, settings.model.max_len)
    elif data.train_dir is None:
        raise UsageError(
            "no training data given",
            hint="pass --train-dir DIR --train-labels CSV, or stream folders "
            "(--hand-left-dir, ...) with --train-index and --labels",
        )
    else:
        common = {"key": data.key, "cache": data.cache, "max_len": settings.model.max_len}
        train = load_npz_split("train", data.train_dir, data.train_labels, **common)
        if data.val_dir is not None:
            val = load_npz_split("val", data.val_dir, data.val_labels, **common)
        elif data.val_labels is not None:
            raise UsageError("--val-labels given without --val-dir", hint="pass --val-dir DIR")
    if val is not None and val.input_dims != train.input_dims:
        raise DataError(
            f"val samples have widths {val.input_dims} but train samples have {train.input_dims}",
            hint="both splits need the same landmark layout",
        )

    splits = [s for s in (train, val) if s is not None]
    num_gloss = settings.model.num_gloss or 1 + max(int(s.gloss.max()) for s in splits)
    has_cat = all(s.cat is not None for s in splits)
    if settings.model.num_cat is not None:
        num_cat = settings.model.num_cat
    else:
        num_cat = 1 + max(int(s.cat.max()) for s in splits) if has_cat else 0  # type: ignore[union-attr]
    for split in splits:
        _check_range(split, "gloss", split.gloss, num_gloss, "--num-gloss")
        if num_cat > 0:
            if split.cat is None:
                raise DataError(
                    f"{split.name} labels have no cat column but num_cat = {num_cat}",
                    hint="add a cat column or pass --num-cat 0",
                )
            _check_range(split, "cat", split.cat, num_cat, "--num-cat")
    warnings = [w for s in splits for w in s.warnings]
    return TrainingData(train, val, train.input_dims, num_gloss, num_cat, warnings)


def _check_range(split: NpzSplit, column: str, ids: np.ndarray, count: int, flag: str) -> None:
    bad = np.flatnonzero((ids < 0) | (ids >= count))
    if bad.size:
        i = int(bad[0])
        where = f"{split.labels_path}" if split.labels_path else f"{split.name} labels"
        if split.label_lines is not None:
            where += f", line {int(split.label_lines[i])}"
        raise UsageError(
            f"{where}: {column} {int(ids[i])} of sample {split.ids[i]!r} is outside "
            f"0..{count - 1} ({bad.size} sample(s) in all)",
            hint=f"fix the labels CSV or raise {flag}",
        )
