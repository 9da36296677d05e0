"""What every import format provides, and the landmark sets they share.

A format (one module per format in this package, registered in `FORMATS`) does two
things and nothing else:

    scan(src, **opts)   list the sequences of SRC as `SourceItem`s (id, label, signer,
                        split, text, where to read it) and the files it had to skip, with
                        reasons; it reads indexes, folder names and file headers, never the
                        keypoints. `opts` are the source options the format declares in
                        `options` (`--parts`, `--index`, `--person`, `--min-confidence`);
                        what `read` needs of them travels in each item's `ref`
    read(items)         the keypoints of a few items: {stream: [T, L, 3] float32} each,
                        x, y, z per landmark, NaN where the detector found nothing (a
                        `NotedStreams` when the reader has something to say about the
                        item: which person of a crowded clip it took)

Everything else (choosing streams, the column layout, writing samples atomically, labels,
the validation split, the manifest, resuming, progress, the summary) is `importers/run.py`,
the same for every format. `read` receives the items of one `SourceItem.group` together, so
a format that stores many sequences per file (a parquet of the fingerspelling set) reads
that file once.

Reading one recording of a format (a `.pose` file, an OpenPose folder, a parquet ...) is
`signcli/data/recordings/`, which `predict` uses too; a format here finds the recordings of
a source tree and hands them to that reader.

Coordinates are kept as the source gives them (`units` in the manifest says which): the
model normalises each body part in its own frame of reference, so image-relative 0..1 and
pixels train the same. 2-D sources (OpenPose) give z = 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from signcli.data.landmarks import (  # noqa: F401 - the landmark sets, for the formats
    COCO_WHOLEBODY,
    LANDMARK_SETS,
    MEDIAPIPE_HOLISTIC,
    OPENPOSE_BODY25_HANDS,
    LandmarkSet,
)
from signcli.data.recordings.base import (  # noqa: F401 - what the formats' readers give
    COORDS,
    NotedStreams,
    Streams,
    empty_to_nan,
    list_folder,
)
from signcli.data.recordings.base import (  # noqa: F401 - `import`'s name for the error
    SourceFormatError as ImportFormatError,
)


@dataclass(frozen=True)
class SourceItem:
    """One sequence of the source, as `scan` finds it (picklable: workers receive it)."""

    id: str  # the output sample id: unique, safe as a file name (see `safe_id`)
    ref: Any  # what `read` needs: a path, or (path, sequence id)
    label: str | None = None  # class name; None when the labels come from --labels
    signer: str | None = None  # signer / participant id, kept as the `signer` column
    split: str | None = None  # "train" / "val" when the source has its own split
    text: str | None = None  # a sentence or phrase (fingerspelling), for text tasks
    group: str | None = None  # items of one group are read together (default: the id)


@dataclass
class Scan:
    """What `scan` found: the items, and the files it skipped with the reason for each.
    A format whose sources differ in what they hold (file headers name the estimator, or
    the width of a vector says which parts it has) says so here; the others leave it to
    the format's attributes and a look at the first sequences."""

    items: list[SourceItem]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    landmark_set: LandmarkSet | None = None  # None: the format's `landmark_set`
    units: str | None = None  # None: the format's `units`
    # stream -> landmarks of the arrays `read` gives, over every item (an item without a
    # stream gets NaN for it); None: taken from the first readable items
    streams: dict[str, int] | None = None
    # stream -> the landmarks the source holds, when fewer than `read` gives (pose-format's
    # reduced Holistic): only these are written, as a subset
    kept: dict[str, tuple[int, ...]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # decisions worth a line in the summary


class Format(Protocol):
    """An import format. `name` is the CLI's FORMAT; `units` goes to the manifest."""

    name: str
    landmark_set: LandmarkSet
    units: str  # "normalized" (image-relative 0..1) or "pixels"
    description: str  # one line for `signcli import --help`
    options: tuple[str, ...]  # the keyword options `scan` takes (may be absent: none)

    def scan(self, src: Path, **options: Any) -> Scan: ...

    def read(self, items: Sequence[SourceItem]) -> list[Streams | str]:
        """The streams of each item, or a one-line reason why that item cannot be read
        (it is then skipped and reported, never half-written)."""
        ...


SAFE_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def safe_id(*parts: str) -> str:
    """An output sample id from source names: parts joined by `__`, characters outside
    [A-Za-z0-9._-] replaced by `_` (labels such as `thank you` or `a/b`)."""
    joined = "__".join(str(p) for p in parts)
    cleaned = "".join(c if c in SAFE_ID_CHARS else "_" for c in joined).strip(".")
    return cleaned or "_"
