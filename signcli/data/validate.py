"""Check a dataset before training: every file of a split, its labels CSV, and the split as a whole.

`validate_path` finds the splits under PATH (docs/architecture.md, "Dataset layouts") and
`validate_split` checks one. Per-file checks are `npz.check_npz` and the labels are
`labels.read_labels` / `labels.match_split`, the very code training runs, so a dataset
that passes here loads there. What only a whole split can show is added here: the
majority width, files without a label and labels without a file, the statistics; with
`group_by` (a labels column such as `signer`), the samples per group and the groups found
in more than one split (a validation split of seen signers is legitimate, but should be
a choice: a warning, not an error).

Torch-free, and read-only: nothing under PATH is written, moved or deleted.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

from signcli.auto_size import COORDS, KEYPOINTS_KEY
from signcli.core.column_layout import layout_columns
from signcli.core.cores import available_cores
from signcli.core.errors import DataError, UsageError
from signcli.core.files import (
    FOLDER,
    NPZ_SUFFIX,
    REGULAR_FILE,
    check_input_file,
    folder_problem,
    path_kind,
    sample_id,
)
from signcli.core.manifest import MANIFEST_NAME, dataset_settings, manifest_path, read_manifest
from signcli.data.coords_guess import CoordsGuess, even_picks, guess_coords
from signcli.data.labels import LabelTable, match_split, read_labels
from signcli.data.npz import NpzCheck, check_npz, check_stream_file, list_npz_files
from signcli.data.split import (
    MAX_LISTED,
    describe_groups,
    empty_group_lines,
    label_column,
    straddling_groups,
)
from signcli.data.stream_files import list_stream_files, read_index

SPLIT_NAMES = ("train", "val")  # the sub-folders of a dataset root, each with <name>_labels.csv
LABEL_HEADS = ("gloss", "cat")

# Parallel checking: a task of CHUNK_FILES files keeps pickling and scheduling to a few
# percent of the work (one small file takes ~0.2 ms); below PARALLEL_MIN_FILES starting
# the worker processes costs more than it saves.
CHUNK_FILES = 250
PARALLEL_MIN_FILES = 500

RAREST_CLASSES = 5  # classes listed by the summary as the rarest

# Label problems after which pairing files with labels would only repeat them once per file.
_FATAL_LABEL_KINDS = frozenset({"labels_missing", "labels_unreadable", "labels_columns"})


@dataclass(frozen=True)
class Finding:
    """One problem: `file` is an .npz name of the split or the labels CSV's name."""

    file: str
    kind: str
    message: str
    severity: str = "error"  # "error" | "warning" | "info" (reported, never counted)
    rows: tuple[int, ...] = ()  # 1-based lines of the labels CSV, for label problems

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "file": self.file,
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
        }
        if self.rows:
            entry["rows"] = list(self.rows)
        return entry


@dataclass
class SplitReport:
    """Everything `validate-npz` found about one split."""

    name: str
    folder: Path
    labels_path: Path | None
    key: str
    file_count: int
    findings: list[Finding] = field(default_factory=list)
    T_min: int | None = None
    T_median: float | None = None
    T_max: int | None = None
    D: int | None = None  # --dim when given, else the width most files have
    width_counts: dict[int, int] = field(default_factory=dict)
    nan_share: float = 0.0  # NaN values / all values of the readable files
    nan_files: int = 0
    # with a column layout: stream -> NaN share of its columns' values (x: the other columns)
    layout_nan: dict[str, float] = field(default_factory=dict)
    class_counts: dict[str, dict[int, int]] = field(default_factory=dict)  # head -> id -> samples
    class_names: dict[str, dict[int, str]] = field(default_factory=dict)  # head -> id -> name
    # the dataset's manifest says NaN means "not detected": NaN findings are information
    nan_declared: bool = False
    group_by: str | None = None  # the labels column whose groups are counted
    group_counts: dict[str, int] = field(default_factory=dict)  # group -> samples, most first
    text_path: Path | None = None  # the text targets (`file,text`) checked, if any
    text_summary: dict[str, Any] | None = None  # texts, paired, token lengths
    # keypoints X without a layout: what the columns are (data/coords_guess.py), guessed
    # from the files, or declared by the dataset's manifest (columns_declared)
    columns: CoordsGuess | None = None
    columns_declared: bool = False

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts_by_kind(self, severity: str) -> dict[str, int]:
        """How many findings of `severity` ("error" or "warning") of each kind, most first."""
        counts = Counter(f.kind for f in self.findings if f.severity == severity)
        return dict(counts.most_common())

    def rarest_classes(self, head: str, n: int = RAREST_CLASSES) -> list[tuple[int, int]]:
        """The `n` classes with the fewest samples, as (id, samples), fewest first."""
        counts = self.class_counts.get(head, {})
        return sorted(counts.items(), key=lambda item: (item[1], item[0]))[:n]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "folder": str(self.folder),
            "labels": None if self.labels_path is None else str(self.labels_path),
            "key": self.key,
            "ok": self.ok,
            "files": self.file_count,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "errors_by_kind": self.counts_by_kind("error"),
            "warnings_by_kind": self.counts_by_kind("warning"),
            "T": None
            if self.T_min is None
            else {"min": self.T_min, "median": self.T_median, "max": self.T_max},
            "D": self.D,
            "widths": {str(d): n for d, n in sorted(self.width_counts.items())},
            "nan_share": self.nan_share,
            "nan_files": self.nan_files,
            "nan_declared": self.nan_declared,
            **({"text": self.text_summary} if self.text_summary is not None else {}),
            **({"layout_nan_share": self.layout_nan} if self.layout_nan else {}),
            **(
                {
                    "columns": {
                        "coords": self.columns.coords,
                        "joints": self.columns.joints,
                        "from": "manifest" if self.columns_declared else "guess",
                    }
                }
                if self.columns is not None
                else {}
            ),
            "classes": {
                head: {
                    "count": len(counts),
                    "samples": {str(i): n for i, n in counts.items()},
                    "rarest": [list(pair) for pair in self.rarest_classes(head)],
                    **(
                        {"names": {str(i): n for i, n in self.class_names[head].items()}}
                        if self.class_names.get(head)
                        else {}
                    ),
                }
                for head, counts in self.class_counts.items()
            },
            **(
                {
                    "groups": {
                        "column": self.group_by,
                        "count": len(self.group_counts),
                        "samples": self.group_counts,
                    }
                }
                if self.group_by is not None
                else {}
            ),
            "problems": [f.to_dict() for f in self.findings],
        }


@dataclass
class ValidationReport:
    """The report of `validate-npz PATH`: one SplitReport per split found under PATH."""

    path: Path
    splits: list[SplitReport]
    group_by: str | None = None
    straddling: dict[str, dict[str, int]] = field(default_factory=dict)  # group -> split -> n

    @property
    def ok(self) -> bool:
        return all(split.ok for split in self.splits)

    @property
    def error_count(self) -> int:
        return sum(len(split.errors) for split in self.splits)

    @property
    def warning_count(self) -> int:
        return sum(len(split.warnings) for split in self.splits)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "ok": self.ok,
            "errors": self.error_count,
            "warnings": self.warning_count,
            **(
                {"group_by": {"column": self.group_by, "straddling": self.straddling}}
                if self.group_by is not None
                else {}
            ),
            "splits": [split.to_dict() for split in self.splits],
        }


@dataclass(frozen=True)
class SplitSource:
    """Where one split's files and labels are."""

    name: str
    folder: Path
    files: list[Path]
    labels: Path | None
    text: Path | None = None  # text targets `file,text` (text tasks)


def find_splits(
    path: Path, labels: Path | None = None, text: Path | None = None
) -> list[SplitSource]:
    """The splits under `path`: a folder of .npz (one split), a dataset root holding train/
    and val/ beside train_labels.csv and val_labels.csv (and/or `{split}_text.csv`, the
    text targets: a root with texts needs no labels CSV), or a single .npz file.

    UsageError when `path` is missing or is not a dataset (exit 2)."""
    path = Path(path)
    if labels is not None:
        check_input_file(Path(labels), "labels file", hint="check the --labels path")
    kind = path_kind(path)
    if kind is None:
        raise UsageError(
            f"{path} does not exist", hint="give a folder of .npz files or a dataset root"
        )
    if kind not in (REGULAR_FILE, FOLDER):  # a FIFO would block the read
        raise UsageError(
            f"{path} is {kind}, not an .npz file or a folder of them",
            hint="give a folder of .npz files or a dataset root",
        )
    if kind == REGULAR_FILE:
        if path.suffix.lower() != NPZ_SUFFIX:
            raise UsageError(f"{path} is not an .npz file or a folder of them")
        if labels is not None:
            raise UsageError("--labels needs a folder of .npz files, not a single file")
        return [SplitSource(path.name, path.parent, [path], None)]

    manifested = _manifest_splits(path, labels, text)
    if manifested is not None:
        return manifested
    files = list_npz_files(path)
    if files:
        return [
            SplitSource(
                path.name,
                path,
                files,
                None if labels is None else Path(labels),
                None if text is None else Path(text),
            )
        ]
    present = [name for name in SPLIT_NAMES if (path / name).is_dir()]
    if not present:
        raise UsageError(
            f"{path} holds no .npz files and no {' or '.join(f'{n}/' for n in SPLIT_NAMES)} folder",
            hint="give a folder of .npz files or a dataset root (DATA/train, DATA/train_labels.csv)",
        )
    if text is not None:
        raise UsageError(
            f"--text applies to a folder of .npz files; the dataset root {path} uses "
            + " and ".join(f"{n}_text.csv" for n in present),
            hint=f"drop --text, or validate one split: signcli validate-npz {path / present[0]} --text CSV",
        )
    if labels is not None:
        raise UsageError(
            f"--labels applies to a folder of .npz files; the dataset root {path} uses "
            + " and ".join(f"{n}_labels.csv" for n in present),
            hint=f"drop --labels, or validate one split: signcli validate-npz {path / present[0]} --labels CSV",
        )
    splits = []
    for name in present:
        folder = path / name
        split_files = list_npz_files(folder)
        if not split_files:
            raise UsageError(f"{folder} holds no .npz files")
        # a missing CSV is left to read_labels, which reports it as an error of the split,
        # unless the split has texts (text tasks need no labels)
        labels_csv, text_csv = path / f"{name}_labels.csv", path / f"{name}_text.csv"
        has_text = text_csv.is_file()
        splits.append(
            SplitSource(
                name,
                folder,
                split_files,
                labels_csv if labels_csv.exists() or not has_text else None,
                text_csv if has_text else None,
            )
        )
    return splits


def _manifest_splits(
    path: Path, labels: Path | None, text: Path | None
) -> list[SplitSource] | None:
    """The splits a single-layout `signcli-dataset.json` in `path` names, resolved as `train
    DATA` resolves them (`core.manifest.dataset_settings`: its `dir`, `labels` and `text`
    entries, kept inside the dataset folder); None for a folder without a manifest (or a
    multi-layout one, which --streams checks). A named split folder that is missing or holds
    no .npz files is a UsageError, as it is for train."""
    manifest = read_manifest(path)
    if manifest is None or manifest.layout != "single":
        return None
    if labels is not None or text is not None:
        flag = "--labels" if labels is not None else "--text"
        raise UsageError(
            f"{flag} applies to a folder of .npz files; the dataset root {path} names its own "
            f"in {MANIFEST_NAME}",
            hint=f"drop {flag}, or validate one split folder with {flag} CSV",
        )
    settings = dataset_settings(path)
    splits = []
    for name in SPLIT_NAMES:
        folder = settings.get(f"data.{name}_dir")
        if folder is None:
            continue
        folder = Path(folder)
        if not folder.is_dir():
            raise UsageError(
                f"{manifest_path(path)}: splits.{name}.dir {folder} is not a folder",
                hint="fix the manifest's path, or restore the split's folder",
            )
        split_files = list_npz_files(folder)
        if not split_files:
            raise UsageError(
                f"{folder} (splits.{name}.dir of {manifest_path(path)}) holds no .npz files"
            )
        split_labels = settings.get(f"data.{name}_labels")
        split_text = settings.get(f"data.{name}_text")
        splits.append(
            SplitSource(
                name,
                folder,
                split_files,
                None if split_labels is None else Path(split_labels),
                None if split_text is None else Path(split_text),
            )
        )
    return splits


def validate_path(
    path: Path,
    labels: Path | None = None,
    *,
    key: str = "X",
    dim: int | None = None,
    workers: int | None = None,
    layout: Mapping[str, tuple[int, int]] | None = None,
    group_by: str | None = None,
    text: Path | None = None,
) -> ValidationReport:
    """Validate every split under `path` (see `find_splits`); with a column `layout`
    (core/column_layout.py), check that it fits the width and report each stream's NaN share;
    with `group_by`, count the samples per group and warn of groups in several splits."""
    sources = find_splits(path, labels, text)
    if group_by is not None:
        unlabelled = [s for s in sources if s.labels is None]
        if unlabelled:
            raise UsageError(
                f"--group-by {group_by} reads the labels CSV, and {unlabelled[0].folder} has none",
                hint="pass --labels CSV (the split's labels, with the column)",
            )
    splits = [
        validate_split(source, key=key, dim=dim, workers=workers, layout=layout, group_by=group_by)
        for source in sources
    ]
    report = ValidationReport(Path(path), splits, group_by)
    if group_by is not None and len(splits) > 1:
        _report_straddling(report, {s.name: s.group_counts for s in splits}, splits[-1])
    return report


def apply_manifest(
    report: ValidationReport,
    classes: Sequence[str],
    coords: str | None = None,
    joints: int | None = None,
) -> None:
    """What a dataset manifest (data/manifest.py) declares: NaN is a landmark not detected,
    written on purpose (`signcli import`), so a file's NaN share is information, summed up
    per split, not a warning per file; `classes` (the manifest's class names, by id) name
    the classes a labels CSV left unnamed; `coords` / `joints` say what X's columns are."""
    for split in report.splits:
        split.nan_declared = True
        if coords is not None and split.columns is not None and split.D:
            count = None if coords == "none" else (joints or split.D // COORDS[coords])
            split.columns = CoordsGuess(coords, count, {})
            split.columns_declared = True
        split.findings = [
            dataclasses.replace(f, severity="info") if f.kind == "nan" else f
            for f in split.findings
        ]
        if classes and "gloss" in split.class_counts:
            split.class_names["gloss"] = {
                **dict(enumerate(classes)),
                **split.class_names.get("gloss", {}),
            }


def _report_straddling(
    report: ValidationReport, counts: Mapping[str, Mapping[str, int]], split: SplitReport
) -> None:
    """Groups in more than one split: one warning (on `split`, the validation side)."""
    report.straddling = straddling_groups(counts)
    if report.straddling:
        names = list(counts)
        sides = (
            f"both {names[0]} and {names[1]}"
            if len(names) == 2
            else f"more than one of {', '.join(names)}"
        )
        where = split.labels_path.name if split.labels_path is not None else split.name
        split.findings.append(
            Finding(
                where,
                "group_straddle",
                f"{len(report.straddling)} {report.group_by} group(s) in {sides}, so "
                f"validation sees them in training: {describe_groups(report.straddling)}",
                severity="warning",
            )
        )


def validate_split(
    source: SplitSource,
    *,
    key: str = "X",
    dim: int | None = None,
    workers: int | None = None,
    layout: Mapping[str, tuple[int, int]] | None = None,
    group_by: str | None = None,
) -> SplitReport:
    """Check every file of a split, the split's widths, and its labels when it has a CSV
    (with the samples per `group_by` group)."""
    checks = check_files(
        source.files, key=key, dim=dim, workers=workers, nan_columns=layout is not None
    )
    report = SplitReport(source.name, source.folder, source.labels, key, len(source.files))
    _summarise(report, checks, key, dim)
    if layout is not None:
        _summarise_layout(report, checks, layout)
    elif key == KEYPOINTS_KEY and report.D:
        report.columns = guess_coords(_clips(checks, key, report.D))
    if source.labels is not None:
        _check_labels(source, report, group_by)
    if source.text is not None:
        _check_texts(source, report)
    return report


def _check_texts(source: SplitSource, report: SplitReport) -> None:
    """The split's text targets (text/files.py `check_text_file`): unreadable or not UTF-8,
    empty texts, duplicates, samples without a text (errors), texts without a sample
    (warning), and token lengths (whitespace words: glosses)."""
    from signcli.text.files import check_text_file

    assert source.text is not None
    check = check_text_file(source.text, [sample_id(p) for p in source.files])
    report.text_path = source.text
    lengths = check.lengths
    report.text_summary = {
        "path": str(source.text),
        "texts": check.texts,
        "paired": check.paired,
        "tokens": None
        if lengths is None
        else {
            "min": lengths.min,
            "median": lengths.median,
            "mean": lengths.mean,
            "p95": lengths.p95,
            "max": lengths.max,
        },
    }
    for problem in check.problems:
        report.findings.append(
            Finding(
                source.text.name, problem.kind, problem.message, problem.severity, problem.lines
            )
        )


def _summarise(report: SplitReport, checks: list[NpzCheck], key: str, dim: int | None) -> None:
    """Findings per file, the majority width, and T / NaN statistics of readable files."""

    shaped = [c for c in checks if c.T is not None and c.D is not None]
    report.width_counts = dict(Counter(c.D for c in shaped))
    if dim is not None:
        report.D = dim  # check_npz already compared every width with it
    elif report.width_counts:
        report.D = Counter(report.width_counts).most_common(1)[0][0]
    for check in checks:
        for problem in check.problems:
            report.findings.append(
                Finding(check.path.name, problem.kind, problem.message, problem.severity)
            )
        if dim is None and check.D is not None and check.T is not None and check.D != report.D:
            report.findings.append(
                Finding(
                    check.path.name,
                    "width",
                    f"{key} has width D = {check.D}, most files have D = {report.D}",
                )
            )

    if shaped:
        lengths = np.array([c.T for c in shaped])
        report.T_min, report.T_max = int(lengths.min()), int(lengths.max())
        report.T_median = float(np.median(lengths))
        sizes = np.array([c.T * c.D for c in shaped], dtype=np.float64)
        shares = np.array([c.nan_share for c in shaped])
        report.nan_share = float((sizes * shares).sum() / sizes.sum()) if sizes.sum() else 0.0
        report.nan_files = int((shares > 0).sum())


def _clips(checks: Sequence[NpzCheck], key: str, width: int) -> list[np.ndarray]:
    """Up to MAX_CLIPS (data/coords_guess.py) arrays of `key`, spread evenly over the
    readable files of `width`."""
    usable = [c.path for c in checks if c.ok and c.D == width and c.T]
    clips = []
    for i in even_picks(len(usable)):
        try:
            with np.load(usable[i], allow_pickle=False) as npz:
                clips.append(np.asarray(npz[key], dtype=np.float64))
        except (OSError, ValueError, KeyError):  # checked a moment ago; changed since: skip
            continue
    return clips


def _summarise_layout(
    report: SplitReport, checks: list[NpzCheck], layout: Mapping[str, tuple[int, int]]
) -> None:
    """The NaN share of each stream's columns over the files of the split's width, or an
    error when the layout does not fit that width (training would refuse it)."""
    if report.D is None:
        return
    try:
        columns = layout_columns(layout, report.D)
    except ValueError as exc:
        report.findings.append(Finding("--layout", "layout", str(exc)))
        return
    counts = [c.nan_columns for c in checks if c.D == report.D and c.nan_columns is not None]
    frames = sum(c.T or 0 for c in checks if c.D == report.D and c.nan_columns is not None)
    total = np.sum(counts, axis=0) if counts else np.zeros(report.D)
    for name, index in columns.items():
        report.layout_nan[name] = (
            float(total[index].sum() / (frames * len(index))) if frames else 0.0
        )


def validate_streams(
    root: Path, streams: list[str], *, workers: int | None = None, group_by: str | None = None
) -> ValidationReport:
    """The multi-stream layout under `root`: `root/<stream>/<id>.npy|.npz` for each stream,
    `root/*_index.csv` (video_id or id) and `root/labels.csv` (id,gloss[,cat]).

    One report per stream folder (the same per-file checks as the single-stream case),
    then a `samples` report of what spans streams: ids missing from a stream folder, streams
    of a sample that disagree on T, indexed ids without a label or without files, and
    labelled ids in no index. With `group_by`, the samples per group (labels.csv) and the
    groups found in more than one index."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(
            f"{root} does not exist", hint="give the folder holding the stream folders"
        )
    reports: list[SplitReport] = []
    files_by_stream: dict[str, dict[str, Path]] = {}
    lengths: dict[str, dict[str, int]] = {}  # id -> {stream: T}
    for stream in streams:
        folder = root / stream
        problem = folder_problem(folder)
        if problem is not None:
            raise UsageError(f"stream folder {folder} {problem}", hint="check --streams")
        files = list_stream_files(folder)
        files_by_stream[stream] = files
        checks = check_files(list(files.values()), workers=workers, stream_files=True)
        report = SplitReport(stream, folder, None, "npy/npz", len(files))
        _summarise(report, checks, stream, None)
        reports.append(report)
        for sid, check in zip(files, checks, strict=True):
            if check.T is not None:
                lengths.setdefault(sid, {})[stream] = check.T

    ids = sorted(set().union(*(files.keys() for files in files_by_stream.values())))
    samples = SplitReport("samples", root, None, "ids", len(ids))
    for sid in ids:
        absent = [s for s in streams if sid not in files_by_stream[s]]
        if absent:
            samples.findings.append(
                Finding(sid, "missing_stream", f"no file in {', '.join(absent)} for this id")
            )
        T = lengths.get(sid, {})
        if len(set(T.values())) > 1:
            shown = ", ".join(f"{s} T = {n}" for s, n in T.items())
            samples.findings.append(
                Finding(sid, "length_mismatch", f"streams disagree on the frames ({shown})")
            )

    indexed: set[str] = set()
    index_lists: dict[str, list[str]] = {}  # train_index.csv -> "train": its ids
    for index in sorted(root.glob("*_index.csv")):
        try:
            index_ids = read_index(index)
        except (UsageError, DataError) as exc:
            samples.findings.append(Finding(index.name, "index_unreadable", exc.message))
            continue
        indexed.update(index_ids)
        index_lists[index.name.removesuffix("_index.csv")] = index_ids
        for sid in index_ids:
            if sid not in ids:
                samples.findings.append(
                    Finding(sid, "missing_file", f"listed in {index.name} but in no stream folder")
                )
    labels_csv = root / "labels.csv"
    if group_by is not None and not labels_csv.is_file():
        raise UsageError(
            f"--group-by {group_by} reads {labels_csv}, which does not exist",
            hint="add labels.csv (id,gloss,...,with the column) beside the stream folders",
        )
    report = ValidationReport(root, reports, group_by)
    if labels_csv.is_file():
        table = read_labels(labels_csv)
        samples.labels_path = labels_csv
        for problem in table.problems:
            samples.findings.append(
                Finding(
                    labels_csv.name, problem.kind, problem.message, problem.severity, problem.rows
                )
            )
        labelled = set(table.ids)
        for sid in sorted(labelled - indexed) if indexed else []:
            samples.findings.append(
                Finding(
                    sid, "unindexed_label", f"labelled in {labels_csv.name} but in no *_index.csv"
                )
            )
        for sid in sorted(indexed - labelled):
            samples.findings.append(
                Finding(sid, "unlabelled", f"indexed but has no row in {labels_csv.name}")
            )
        for head, column in (("gloss", table.gloss), ("cat", table.cat)):
            if column is not None:
                counts = Counter(int(i) for i in column if i >= 0)
                samples.class_counts[head] = dict(sorted(counts.items()))
        if group_by is not None and not any(p.kind in _FATAL_LABEL_KINDS for p in table.problems):
            row_of = {sid: row for row, sid in reversed(list(enumerate(table.ids)))}
            _count_groups(samples, table, group_by, sorted(row_of.values()))
            values = table.text[group_by]
            per_index = {
                name: Counter(values[row_of[s]] for s in ids if s in row_of and values[row_of[s]])
                for name, ids in index_lists.items()
            }
            if len(per_index) > 1:
                _report_straddling(report, per_index, samples)
    reports.append(samples)
    return report


def check_files(
    files: list[Path],
    *,
    key: str = "X",
    dim: int | None = None,
    workers: int | None = None,
    stream_files: bool = False,
    nan_columns: bool = False,
) -> list[NpzCheck]:
    """`check_npz` (or, for the multi-stream layout, `check_stream_file`) on every file, in
    order; `workers` processes (default: all cores). The per-column NaN counts come back
    only when `nan_columns` asks for them (D numbers a file: much for 2048 features)."""
    workers = available_cores().count if workers is None else workers
    chunk_checker = _check_stream_chunk if stream_files else _check_chunk
    if workers <= 1 or len(files) < PARALLEL_MIN_FILES:
        return chunk_checker(files, key, dim, nan_columns)
    # several chunks per worker, so that a worker that draws slow files does not hold up the end
    chunk_size = max(1, min(CHUNK_FILES, math.ceil(len(files) / (4 * workers))))
    chunks = [files[i : i + chunk_size] for i in range(0, len(files), chunk_size)]
    with ProcessPoolExecutor(max_workers=min(workers, len(chunks))) as pool:
        parts = pool.map(chunk_checker, chunks, repeat(key), repeat(dim), repeat(nan_columns))
        return [check for part in parts for check in part]


def _check_chunk(
    paths: list[Path], key: str, dim: int | None, nan_columns: bool = False
) -> list[NpzCheck]:
    # only the findings travel back from a worker, never the arrays
    return [_findings(check_npz(path, key, dim)[0], nan_columns) for path in paths]


def _check_stream_chunk(
    paths: list[Path], key: str, dim: int | None, nan_columns: bool = False
) -> list[NpzCheck]:
    return [_findings(check_stream_file(path, dim)[0], nan_columns) for path in paths]


def _findings(check: NpzCheck, nan_columns: bool) -> NpzCheck:
    if not nan_columns:
        check.nan_columns = None
    return check


def _check_labels(source: SplitSource, report: SplitReport, group_by: str | None = None) -> None:
    """Add the labels CSV's own problems, both kinds of orphan, the class counts and the
    group counts. UsageError when the CSV has no `group_by` column."""
    assert source.labels is not None
    table = read_labels(source.labels)
    csv_name = source.labels.name
    for problem in table.problems:
        report.findings.append(
            Finding(csv_name, problem.kind, problem.message, problem.severity, problem.rows)
        )
    if any(p.kind in _FATAL_LABEL_KINDS for p in table.problems):
        return

    match = match_split(source.folder, table)
    for path in match.unlabelled:
        report.findings.append(
            Finding(path.name, "unlabelled", f"no row for {sample_id(path)!r} in {csv_name}")
        )
    for missing_id in match.missing:
        report.findings.append(
            Finding(
                f"{missing_id}{NPZ_SUFFIX}",
                "missing_file",
                f"listed in {csv_name} but {source.folder / (missing_id + NPZ_SUFFIX)} does not exist",
            )
        )

    heads = {"gloss": table.gloss, "cat": table.cat}
    for head in LABEL_HEADS:
        ids = heads[head]
        if ids is None:
            continue
        labelled = ids[match.label_rows]
        counts = Counter(int(i) for i in labelled if i >= 0)  # -1 marks an id already reported
        report.class_counts[head] = dict(sorted(counts.items()))
        names = table.gloss_names if head == "gloss" else table.cat_names
        if names:
            report.class_names[head] = dict(names)
    if group_by is not None:
        _count_groups(report, table, group_by, match.label_rows)


def _count_groups(report: SplitReport, table: LabelTable, column: str, rows: list[int]) -> None:
    """Samples per group of the label `rows` (those with files); empty cells are an error,
    as training refuses them."""
    values = label_column(table, column)
    report.group_by = column
    empty = empty_group_lines(values, rows)
    if empty:
        shown = ", ".join(str(line) for line in empty[:MAX_LISTED])
        more = f" and {len(empty) - MAX_LISTED} more" if len(empty) > MAX_LISTED else ""
        report.findings.append(
            Finding(
                table.path.name,
                "group_missing",
                f"{column} is empty on line(s) {shown}{more}",
                rows=tuple(empty),
            )
        )
    counts = Counter(values[row] for row in rows if values[row])
    report.group_counts = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
