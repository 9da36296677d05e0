"""A sample and a split of samples, numpy only (no torch): what every reader returns.

A `Sample` maps stream names to float32 arrays `[T, D]` (NaN = landmark not detected)
and carries its targets and id. A `SampleSplit` is what the readers of each layout
(data/npz_split.py: single-stream `.npz` folders; data/multistream.py: one folder per
stream) hand to training and eval: the dataset of its samples and what they hold. Both
layouts derive from it; what differs (the single stream's arrays, the stream folders
and meta.csv) lives in the subclass. Torch-free, so the readers and `validate-npz`
import no torch; the torch Dataset that wraps the samples is data/dataset.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from signcli.data.dataset import SampleDataset

SINGLE_STREAM = "x"  # stream name of single-stream datasets (npz key X or X2048)


@dataclass
class Sample:
    """One sample: streams `{name: [T, D]}` of equal T, its targets, and its id. Targets
    are what the run's task reads (classify: `gloss`, `cat` class ids; the text tasks:
    `text`, the raw text, which the task tokenises when it collates)."""

    id: str
    streams: dict[str, np.ndarray]
    targets: dict[str, Any] = field(default_factory=dict)

    @property
    def length(self) -> int:
        return next(iter(self.streams.values())).shape[0]


def resample_frames(array: np.ndarray, max_len: int) -> np.ndarray:
    """Uniformly subsample a sequence longer than max_len frames to exactly max_len."""
    if array.shape[0] <= max_len:
        return array
    index = np.linspace(0, array.shape[0] - 1, max_len).round().astype(np.int64)
    return array[index]


@dataclass
class SampleSplit:
    """A split ready for training or eval, in any layout: the dataset and what it holds."""

    name: str
    dataset: SampleDataset
    ids: list[str]
    gloss: np.ndarray  # [N] int64 (-1 = unknown: eval without labels)
    cat: np.ndarray | None  # [N] int64, None without a cat column
    input_dims: dict[str, int]
    labels_path: Path | None = None
    label_lines: np.ndarray | None = None  # [N] 1-based line of each sample in the labels CSV
    gloss_names: dict[int, str] = field(default_factory=dict)
    cat_names: dict[int, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    group_by: str | None = None  # the labels column of data.group_by, checked when read
    # the labels CSV's columns but file (signer, ...) as text, per sample: eval's groups
    label_columns: dict[str, list[str]] = field(default_factory=dict)
    texts: list[str] | None = None  # [N] text targets (text tasks; `attach_texts`)
    text_path: Path | None = None  # the file they were read from

    @property
    def groups(self) -> list[str] | None:
        """[N] the data.group_by column of each sample (None without group_by)."""
        return self.label_columns[self.group_by] if self.group_by is not None else None

    @property
    def arrays(self) -> list[np.ndarray] | None:
        """One array per sample, in index order, when the layout has a single stream held
        in memory (augmentation's fast path); None otherwise."""
        return None

    def subset_fields(self, index: np.ndarray, ids: list[str]) -> dict[str, Any]:
        """The fields of the layout's own (beyond this base) for the samples `index` of
        this split (`ids` theirs), for `npz_split.subset_split`."""
        return {}


def attach_texts(split: SampleSplit, texts: list[str], path: Path | None) -> None:
    """Give every sample of `split` its text target (`targets["text"]`), in index order:
    the samples already read and those read later (the dataset's `load` is wrapped)."""
    if len(texts) != len(split.ids):
        raise ValueError(f"{len(texts)} texts for {len(split.ids)} samples")
    split.texts, split.text_path = list(texts), path
    dataset = split.dataset
    load = dataset.load

    def load_with_text(index: int) -> Sample:
        sample = load(index)
        sample.targets["text"] = texts[index]
        return sample

    dataset.load = load_with_text
    for index, sample in (dataset.cache or {}).items():
        sample.targets["text"] = texts[index]
