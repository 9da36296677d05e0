"""The dataset manifest `DATA/signcli-dataset.json`, and the settings a dataset root gives.

`signcli import` writes the manifest; people may write one by hand. It says what the arrays
of a dataset are, so that no command needs flags for it:

    {
      "format_version": 1,
      "landmark_set": "mediapipe-holistic",      # which detector's landmarks
      "layout": "single",                        # or "multi" (one folder per stream)
      "streams": {                               # STREAM_NAMES only
        "hand_l": {"landmarks": 21, "columns": [0, 63]},
        "pose":   {"landmarks": 33, "columns": [63, 162],
                   "mirror_pairs": [[11, 12], ...]},
        "face":   {"landmarks": 40, "columns": [..], "source_landmarks": [61, 185, ...]}
      },
      "units": "normalized",                     # or "pixels"
      "coords": "xyz",                           # X's columns: xyz / xy per joint, or none
      "joints": 75,                              # joints a frame of X holds
      "classes": ["hello", "thanks", ...],       # gloss id -> name
      "signer_column": "signer",                 # labels column naming the signer, or null
      "splits": {"train": {"dir": "train", "labels": "train_labels.csv"}, "val": {...}},
      "source": {"format": "asl-signs", "path": "...", "signcli": "0.x"}
    }

`columns` are ranges of `X` (single layout); `folder` names the stream's folder (multi
layout, default the stream name). A split of the single layout has `dir` and `labels`
(and `text` for sentence targets); of the multi layout `index` (plus one `labels` and `meta`
at the top of `splits`' entries, shared). Paths are relative to the dataset root.

`dataset_settings(root)` turns a root into dotted settings (data.train_dir, data.layout,
data.mirror_pairs ...). They are the lowest layer above the defaults: a config file, a flag
or `--set` overrides any of them. A root without a manifest that follows the single-stream
layout (`train/`, `train_labels.csv`, `val/`, `val_labels.csv`) gives its paths too.
Torch-free: `validate-npz` uses it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from signcli.core.errors import UsageError, excerpt
from signcli.core.streams import STREAM_NAMES
from signcli.core.structured import value_problem

MANIFEST_NAME = "signcli-dataset.json"
FORMAT_VERSION = 1

StreamName = Literal["face", "hand_l", "hand_r", "pose"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class StreamEntry(_Strict):
    landmarks: int = Field(ge=1)
    """Landmarks of the stream (x, y, z each)."""
    columns: tuple[int, int] | None = None
    """Single layout: the half-open column range of `X` holding this stream."""
    folder: str | None = None
    """Multi layout: the stream's folder, relative to the root (default: the stream name)."""
    source_landmarks: list[int] | None = None
    """The landmark set's indices kept in this stream (a subset such as face:lips)."""
    mirror_pairs: list[tuple[int, int]] = Field(default_factory=list)
    """Left/right landmark pairs (indices within this stream) that swap under a mirror."""

    @model_validator(mode="after")
    def _pairs_in_range(self) -> StreamEntry:
        bad = [p for p in self.mirror_pairs if not all(0 <= i < self.landmarks for i in p)]
        if bad:
            raise ValueError(f"mirror_pairs {bad} fall outside 0..{self.landmarks - 1}")
        return self


class SplitEntry(_Strict):
    dir: str | None = None
    """Single layout: folder of this split's `.npz` files."""
    labels: str | None = None
    """Labels CSV (single: of this split; multi: `id,gloss,...` of every split)."""
    index: str | None = None
    """Multi layout: CSV of this split's ids."""
    text: str | None = None
    """Sentence targets: single `file,text` CSV; multi `meta.csv` (`id;texto`)."""


class DatasetManifest(_Strict):
    format_version: int = FORMAT_VERSION
    landmark_set: str | None = None
    layout: Literal["single", "multi"] = "single"
    key: str = "X"
    streams: dict[StreamName, StreamEntry] = Field(default_factory=dict)
    units: Literal["normalized", "pixels"] | None = None
    coords: Literal["xyz", "xy", "none"] | None = None
    """What X's columns hold (the setting data.coords): x, y[, z] per joint, or unknown."""
    joints: int | None = Field(None, ge=1)
    """Joints a frame of X holds (the setting data.joints)."""
    classes: list[str] = Field(default_factory=list)
    signer_column: str | None = None
    splits: dict[Literal["train", "val"], SplitEntry] = Field(default_factory=dict)
    source: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> DatasetManifest:
        if self.format_version > FORMAT_VERSION:
            raise ValueError(
                f"format_version {self.format_version} is newer than this signcli reads "
                f"({FORMAT_VERSION}); upgrade signcli"
            )
        if "train" not in self.splits:
            raise ValueError("splits has no 'train' entry")
        train, val = self.splits["train"], self.splits.get("val")
        # the samples of a split: its folder (single) or its index (multi, whose labels may
        # be one file for both); validation on the training samples would flatter the run
        where = "dir" if self.layout == "single" else "index"
        shared = val is not None and _same_place(getattr(train, where), getattr(val, where))
        if shared:
            raise ValueError(
                f"splits.val.{where} names the training split's samples "
                f"({excerpt(getattr(val, where))}): validation would score the training set"
            )
        for name, entry in self.streams.items():
            if self.layout == "single" and entry.columns is None:
                raise ValueError(f"streams.{name}: the single layout needs its columns")
            if entry.columns is not None and entry.columns[1] - entry.columns[0] != (
                3 * entry.landmarks
            ):
                raise ValueError(
                    f"streams.{name}: columns {list(entry.columns)} do not hold "
                    f"{entry.landmarks} landmarks x 3"
                )
        return self

    def layout_spec(self) -> dict[str, tuple[int, int]] | None:
        """The column layout of `X` (the setting data.layout), or None."""
        ranges = {name: s.columns for name, s in self.streams.items() if s.columns is not None}
        return {name: (int(a), int(b)) for name, (a, b) in ranges.items()} or None  # type: ignore[misc]

    def mirror_pairs(self) -> dict[str, list[tuple[int, int]]]:
        return {name: list(s.mirror_pairs) for name, s in self.streams.items() if s.mirror_pairs}


def _same_place(a: str | None, b: str | None) -> bool:
    """Two manifest paths (relative to its folder) that name the same place."""
    return a is not None and b is not None and os.path.normpath(a) == os.path.normpath(b)


def manifest_path(root: Path) -> Path:
    return Path(root) / MANIFEST_NAME


def read_manifest(root: Path) -> DatasetManifest | None:
    """The manifest of dataset `root`, None when it has none. UsageError (exit 2) names the
    file and every problem when it is unreadable or invalid."""
    from signcli.core.files import path_kind, read_input_text
    from signcli.core.limits import MAX_JSON_BYTES

    path = manifest_path(root)
    if path_kind(path) is None:
        return None
    # a FIFO or folder there: refused, not skipped; class lists of large vocabularies fit
    text = read_input_text(path, "dataset manifest", limit=MAX_JSON_BYTES)
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:
        # ValueError: JSONDecodeError, or valid JSON with a number Python refuses to read
        if isinstance(exc, RecursionError):
            reason = "nested too deeply"
        elif isinstance(exc, json.JSONDecodeError):
            reason = str(exc)
        else:
            reason = value_problem(exc)
        raise UsageError(
            f"{path}: cannot read the dataset manifest ({reason})",
            hint="fix the JSON, or delete the file and pass the data flags instead",
        ) from None
    try:
        return DatasetManifest.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        ]
        raise UsageError(f"{path}: invalid dataset manifest\n  " + "\n  ".join(problems)) from None


def write_manifest(root: Path, manifest: DatasetManifest) -> None:
    """Write `root/signcli-dataset.json` atomically."""
    from signcli.core.atomic import atomic_write

    text = manifest.model_dump_json(indent=2, exclude_none=True)
    atomic_write(manifest_path(root), text + "\n")


def dataset_settings(root: Path) -> dict[str, Any]:
    """Dotted settings that dataset `root` gives: from its manifest, or, without one, from
    the single-stream layout's file names. UsageError when the root is neither."""
    root = Path(root).expanduser().absolute()
    try:
        is_folder = root.is_dir()
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte
        raise UsageError(f"dataset {root} cannot be read ({exc})") from None
    if not is_folder:
        raise UsageError(f"dataset {root} is not a folder", hint="give the folder of the dataset")
    manifest = read_manifest(root)
    if manifest is None:
        return _conventional_settings(root)
    settings: dict[str, Any] = {"data.key": manifest.key}
    splits = manifest.splits

    def inside(value: str, key: str) -> Path:
        return _under_root(root, value, key)

    if manifest.layout == "single":
        for split, entry in splits.items():
            if entry.dir is not None:
                settings[f"data.{split}_dir"] = inside(entry.dir, f"splits.{split}.dir")
            if entry.labels is not None:
                settings[f"data.{split}_labels"] = inside(entry.labels, f"splits.{split}.labels")
            if entry.text is not None:  # the text tasks' targets (`file,text`)
                settings[f"data.{split}_text"] = inside(entry.text, f"splits.{split}.text")
        layout = manifest.layout_spec()
        if layout:
            settings["data.layout"] = {k: list(v) for k, v in layout.items()}
    else:
        for name in manifest.streams:
            folder = manifest.streams[name].folder or name
            settings[f"data.{MULTI_STREAM_DIR[name]}"] = inside(folder, f"streams.{name}.folder")
        for split, entry in splits.items():
            if entry.index is not None:
                settings[f"data.{split}_index"] = inside(entry.index, f"splits.{split}.index")
            if entry.labels is not None:
                settings["data.labels"] = inside(entry.labels, f"splits.{split}.labels")
            if entry.text is not None:
                settings["data.meta"] = inside(entry.text, f"splits.{split}.text")
    pairs = manifest.mirror_pairs()
    if pairs:
        settings["data.mirror_pairs"] = {k: [list(p) for p in v] for k, v in pairs.items()}
    if manifest.signer_column and "train" in splits and splits["train"].labels:
        # only used with data.val_fraction (see settings._fill_from_dataset)
        settings[SIGNER_KEY] = manifest.signer_column
    subsets = {n: s.source_landmarks for n, s in manifest.streams.items() if s.source_landmarks}
    if subsets:
        settings["data.stream_landmarks"] = subsets
    if manifest.landmark_set:
        settings["data.landmark_set"] = manifest.landmark_set
    if manifest.coords is not None:  # what X's columns are, for the per-sample channels
        settings["data.coords"] = manifest.coords
    if manifest.joints is not None:
        settings["data.joints"] = manifest.joints
    return settings


def _under_root(root: Path, value: str, key: str) -> Path:
    """`root / value`, a path the manifest names; UsageError (exit 2, naming the key) when it
    leaves the dataset folder: absolute, through `..`, or through a link out of it. A dataset
    may be anyone's, and its manifest must not make signcli read (and quote) a file elsewhere."""
    path = root / value
    try:
        inside = path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError, ValueError):  # a link loop, a NUL byte
        inside = False
    if not inside:
        raise UsageError(
            f"{manifest_path(root)}: {key} {value!r} leaves the dataset folder {root}",
            hint="the manifest's paths are relative to its folder and stay inside it",
        )
    return path


SIGNER_KEY = "data.group_by"  # the manifest's signer column groups a carved validation split

MULTI_STREAM_DIR = {
    "face": "face_dir",
    "hand_l": "hand_left_dir",
    "hand_r": "hand_right_dir",
    "pose": "pose_dir",
}
assert set(MULTI_STREAM_DIR) == set(STREAM_NAMES)


def _conventional_settings(root: Path) -> dict[str, Any]:
    """`train/` + `train_labels.csv` (and `val/` + `val_labels.csv`) of the single-stream
    layout, with `{split}_text.csv` when there (text tasks), or UsageError saying what a dataset root holds."""
    settings: dict[str, Any] = {}
    for split in ("train", "val"):
        folder, labels = root / split, root / f"{split}_labels.csv"
        text = root / f"{split}_text.csv"  # the text tasks' targets
        if folder.is_dir():
            settings[f"data.{split}_dir"] = folder
            if labels.is_file():
                settings[f"data.{split}_labels"] = labels
            if text.is_file():
                settings[f"data.{split}_text"] = text
    if "data.train_dir" not in settings:
        raise UsageError(
            f"{root} is not a dataset root: it has no {MANIFEST_NAME} and no train/ folder",
            hint="a root holds train/ (+ train_labels.csv, val/, val_labels.csv), or was "
            "written by `signcli import`; or pass --train-dir and --train-labels",
        )
    return settings
