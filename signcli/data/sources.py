"""Build the training and validation data a run asks for in `Settings.data`.

The one place that knows the dataset layouts (single-stream `.npz` folders, or the
multi-stream layout when stream folders are set): it resolves class counts from the labels,
checks every label against them, and returns the class maps written to labels.json.
With `data.val_fraction` and no validation split, it carves one from the training split
(data/split.py), or takes the one a run recorded in split.json when it resumes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from signcli.core.errors import DataError, UsageError
from signcli.core.task_specs import has_text_targets
from signcli.data.multistream import load_multistream_splits, stream_dirs
from signcli.data.npz_split import _listing, load_npz_split, subset_split
from signcli.data.sample import SampleSplit, attach_texts
from signcli.data.split import ValSplit, carve_val_split, read_split_file
from signcli.settings import DataSettings, Settings


@dataclass
class TrainingData:
    train: SampleSplit
    val: SampleSplit | None
    input_dims: dict[str, int]
    num_gloss: int
    num_cat: int
    warnings: list[str] = field(default_factory=list)
    split: ValSplit | None = None  # the validation split carved from train (split.json)

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


def load_training_data(settings: Settings, split_file: Path | None = None) -> TrainingData:
    """Read the splits of `settings.data` and resolve num_gloss / num_cat from the labels.
    With `data.val_fraction`, `split_file` (a run's split.json, on resume) gives the split
    instead of a new draw."""
    data = settings.data
    text_task = has_text_targets(settings.model.task)
    _check_split_settings(data)
    recorded = read_split_file(split_file) if split_file and data.val_fraction else None
    train: SampleSplit
    val: SampleSplit | None = None
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
        train, val = load_multistream_splits(
            data, settings.model.max_len, require_labels=not text_task
        )
    elif data.train_dir is None:
        raise UsageError(
            "no training data given",
            hint="pass --train-dir DIR --train-labels CSV, or stream folders "
            "(--hand-left-dir, ...) with --train-index and --labels",
        )
    else:
        if data.train_labels is None and data.dataset is not None and not text_task:
            _explain_missing_labels(Path(data.dataset))
        common = {
            "key": data.key,
            "cache": data.cache,
            "cache_dir": data.cache_dir,
            "max_len": settings.model.max_len,
            "require_labels": not text_task,  # a text task's targets are its texts
        }
        train = load_npz_split(
            "train", data.train_dir, data.train_labels, group_by=data.group_by, **common
        )
        if data.val_dir is not None:
            val = load_npz_split("val", data.val_dir, data.val_labels, **common)
        elif data.val_labels is not None:
            raise UsageError("--val-labels given without --val-dir", hint="pass --val-dir DIR")
    if text_task:
        _attach_split_texts(data, train, val)
    warnings = list(train.warnings)
    record = None
    if data.val_fraction is not None:
        if recorded is None:
            record = carve_val_split(
                train.ids,
                train.gloss,
                data.val_fraction,
                settings.training.seed,
                train.groups,
                group_by=data.group_by,
                source=str(train.labels_path or "the training labels"),
            )
            warnings.extend(_share_warnings(record, data))
        else:
            assert split_file is not None
            record = _check_recorded(recorded, split_file, data, settings.training.seed)
        train, val, unused = _apply_split(train, record, split_file)
        if unused:
            warnings.append(
                f"{len(unused)} training sample(s) not in {split_file} (added since the run "
                f"started) are not used: {_listing(unused)}"
            )
    if val is not None and val.input_dims != train.input_dims:
        raise DataError(
            f"val samples have widths {val.input_dims} but train samples have {train.input_dims}",
            hint="both splits need the same landmark layout",
        )

    splits = [s for s in (train, val) if s is not None]
    if text_task:  # no classes: the task records its vocabulary size (tasks/text_task.py)
        if val is not None:
            warnings += val.warnings
        # no classes: the task sizes its output by its tokenizer (model.num_tokens)
        return TrainingData(train, val, train.input_dims, 0, 0, warnings, record)
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
    if val is not None:
        warnings += val.warnings
    return TrainingData(train, val, train.input_dims, num_gloss, num_cat, warnings, record)


def _attach_split_texts(data: DataSettings, train: SampleSplit, val: SampleSplit | None) -> None:
    """The text targets of each split: single stream from --train-text / --val-text
    (`file,text`), multi-stream from meta.csv (`id;texto`). DataError/UsageError name the
    file or the flag that is missing."""
    from signcli.text.files import load_texts, sibling_text_file

    multi = bool(stream_dirs(data))
    for split, path, flag in (
        (train, data.meta if multi else data.train_text, "--meta" if multi else "--train-text"),
        (val, data.meta if multi else data.val_text, "--meta" if multi else "--val-text"),
    ):
        if split is None:
            continue
        sibling = None
        if not multi:  # as eval does: the folder's sibling <folder>_text.csv
            sibling = sibling_text_file(data.train_dir if split is train else data.val_dir)  # type: ignore[arg-type]
            if path is None and sibling.is_file():
                path = sibling
        if path is None:
            what = "meta.csv (id;texto)" if multi else "CSV (file,text)"
            raise UsageError(
                f"no texts for the {split.name} split: text tasks learn from texts",
                hint=f"pass {flag} {what}" + (f", or put {sibling}" if sibling else ""),
            )
        attach_texts(split, load_texts(Path(path), split.ids, flag), Path(path))


def _explain_missing_labels(root: Path) -> None:
    """UsageError for a dataset that has sentence targets but no gloss labels (an import of
    the fingerspelling set): say so, rather than only that a labels CSV is missing."""
    from signcli.core.manifest import read_manifest

    manifest = read_manifest(root)
    train = manifest.splits.get("train") if manifest is not None else None
    if train is not None and train.labels is None and train.text is not None:
        raise UsageError(
            f"dataset {root} has sentence targets ({train.text}) and no gloss labels to classify",
            hint="learn the sentences with --task ctc (gloss sequences) or --task translate "
            "(text); to classify, pass --train-labels CSV (file,gloss)",
        )


def _check_split_settings(data: DataSettings) -> None:
    """val_fraction replaces a validation split; group_by only says how to carve one."""
    if data.val_fraction is None:
        if data.group_by is not None:
            raise UsageError(
                f"--group-by {data.group_by} (data.group_by) given without --val-fraction",
                hint="add --val-fraction 0.15 to carve a validation split of unseen "
                f"{data.group_by} groups from the training data, or drop --group-by",
            )
        return
    given = [
        flag
        for flag, value in (
            ("--val-dir", data.val_dir),
            ("--val-labels", data.val_labels),
            ("--val-index", data.val_index),
        )
        if value is not None
    ]
    if given:
        raise UsageError(
            f"--val-fraction (data.val_fraction) carves a validation split from the training "
            f"data, but {' and '.join(given)} give(s) one",
            hint=f"drop --val-fraction to validate on your own split, or drop {' and '.join(given)}",
        )


def _check_recorded(recorded: ValSplit, path: Path, data: DataSettings, seed: int) -> ValSplit:
    """The recorded split, when it was made with the settings of this run."""
    made = (recorded.fraction, recorded.group_by, recorded.seed)
    if made != (data.val_fraction, data.group_by, seed):
        raise UsageError(
            f"{path} was made with val_fraction {recorded.fraction:g}, group_by "
            f"{recorded.group_by}, seed {recorded.seed}, but the run's settings say "
            f"{data.val_fraction:g}, {data.group_by}, {seed}",
            hint="restore the config.json and split.json of this run together",
        )
    both = sorted(set(recorded.train_ids) & set(recorded.val_ids))
    if both:
        raise UsageError(
            f"{path}: id(s) on both sides of the split: {_listing(both)}",
            hint="restore the split.json this run wrote",
        )
    return recorded


def _apply_split(
    train: SampleSplit, record: ValSplit, split_file: Path | None
) -> tuple[SampleSplit, SampleSplit, list[str]]:
    """The train and val views of `record`, in its (sorted) id order so that a resume sees
    the same order whatever the listing; and the ids the record does not know."""
    position = {sid: i for i, sid in enumerate(train.ids)}
    missing = [sid for sid in (*record.train_ids, *record.val_ids) if sid not in position]
    if missing:
        raise DataError(
            f"{split_file}: {len(missing)} recorded sample(s) are no longer in the training "
            f"data ({train.labels_path or train.name}): {_listing(missing)}",
            hint="restore their files and label rows, or start a new run with --overwrite",
        )
    known = set(record.train_ids) | set(record.val_ids)
    unused = [sid for sid in train.ids if sid not in known]
    return (
        subset_split(train, [position[sid] for sid in record.train_ids], "train"),
        subset_split(train, [position[sid] for sid in record.val_ids], "val"),
        unused,
    )


def _share_warnings(record: ValSplit, data: DataSettings) -> list[str]:
    """A grouped split can land far from the share asked for: say so."""
    total = len(record.train_ids) + len(record.val_ids)
    share = len(record.val_ids) / total
    if record.group_by is None or data.val_fraction / 2 <= share <= data.val_fraction * 2:
        return []
    return [
        f"data.val_fraction {data.val_fraction:g}: the {record.group_by} groups give "
        f"{share:.1%} of the training samples ({len(record.val_ids)} of {total}, "
        f"{len(record.val_groups)} of {len(record.val_groups) + len(record.train_groups)} "
        "groups) to validation"
    ]


def _check_range(split: SampleSplit, column: str, ids: np.ndarray, count: int, flag: str) -> None:
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
