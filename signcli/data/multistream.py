"""The multi-stream layout (docs/architecture.md, "Dataset layouts"): stream folders,
index CSVs, labels, meta.

    FACE_DIR/<id>.npy   HAND_L_DIR/<id>.npy   HAND_R_DIR/<id>.npy   POSE_DIR/<id>.npy
    TRAIN_INDEX.csv     ids of the split, column `video_id` (or `id`)
    LABELS.csv          id,gloss[,cat][,gloss_name][,signer...]   (0-based ids, every split)
    meta.csv            id;texto                        (kept for the translation task)

Any subset of the four streams may be used (at least one). A stream file is `.npy`, or
`.npz` holding `X` (else its first array), read with the checks of `validate-npz`.
Training refuses, naming the id: an indexed id without a file in a stream folder or
without a label, streams of one sample that disagree on T, and a labelled id that no
index lists. Samples come out as `Sample`s with streams named as in STREAM_NAMES, as
recorded: the model normalises each stream (`data.normalize`, models/normalize.py).
Torch-free apart from the `SampleDataset` that wraps them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from signcli.core.errors import DataError, DiskError, UsageError
from signcli.core.files import folder_problem
from signcli.core.streams import STREAM_NAMES
from signcli.data.dataset import SampleDataset
from signcli.data.labels import LabelTable, read_labels
from signcli.data.npz import check_stream_file, read_frames
from signcli.data.npz_split import (
    PackedLoad,
    _fit_length,
    _listing,
    _raise_label_problems,
    _targets,
    cache_mode,
    per_sample_columns,
)
from signcli.data.packed import (
    default_cache_dir,
    fingerprint,
    open_or_build,
    source_key,
    stat_files,
)
from signcli.data.sample import Sample, SampleSplit
from signcli.data.split import group_values
from signcli.data.stream_files import list_stream_files, read_index, read_meta
from signcli.settings import DataSettings

STREAM_SETTINGS = {  # stream -> (DataSettings field, command-line flag)
    "face": ("face_dir", "--face-dir"),
    "hand_l": ("hand_left_dir", "--hand-left-dir"),
    "hand_r": ("hand_right_dir", "--hand-right-dir"),
    "pose": ("pose_dir", "--pose-dir"),
}


@dataclass
class MultiStreamSplit(SampleSplit):
    """A split of the multi-stream layout: samples with named streams, read from one
    folder per stream, and the split's rows of meta.csv."""

    stream_dirs: dict[str, Path] = field(default_factory=dict)
    index_path: Path | None = None
    meta: dict[str, str] = field(default_factory=dict)  # id -> texto, this split's ids only

    def subset_fields(self, index: np.ndarray, ids: list[str]) -> dict[str, Any]:
        return {"meta": {sid: self.meta[sid] for sid in ids if sid in self.meta}}


def stream_dirs(data: DataSettings) -> dict[str, Path]:
    """The stream folders that `data` names, in STREAM_NAMES order."""
    return {
        stream: Path(getattr(data, STREAM_SETTINGS[stream][0]))
        for stream in STREAM_NAMES
        if getattr(data, STREAM_SETTINGS[stream][0]) is not None
    }


def read_sample_streams(sample_id: str, files: Mapping[str, Path]) -> dict[str, np.ndarray]:
    """The streams {name: [T, D]} of one sample, checked; DataError names the id when a
    file is unusable or the streams disagree on T."""
    arrays = {}
    for stream, path in files.items():
        check, array = check_stream_file(path)
        if array is None:
            errors = "; ".join(p.message for p in check.problems if p.severity == "error")
            raise DataError(f"sample {sample_id!r}: {path}: {errors}")
        arrays[stream] = array
    lengths = {stream: array.shape[0] for stream, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{stream} T = {T}" for stream, T in lengths.items())
        raise DataError(
            f"sample {sample_id!r}: streams disagree on the number of frames ({shown})",
            hint="every stream of a sample needs one row per video frame",
        )
    return arrays


def load_multistream_split(
    name: str,
    dirs: Mapping[str, Path],
    index_csv: Path,
    table: LabelTable | None,
    *,
    cache: str | bool = "memory",
    max_len: int | None = None,
    meta: Mapping[str, str] | None = None,
    group_by: str | None = None,
    cache_dir: Path | None = None,
) -> MultiStreamSplit:
    """Pair the ids of `index_csv` with their labels and stream files, then read them.
    Without a label table (predictions only) every gloss is -1. `group_by` names a labels
    column (`groups`) that every sample must fill."""
    ids = read_index(index_csv)
    if not ids:
        raise UsageError(f"{index_csv} lists no ids for the {name} split")
    rows_by_id = {sid: row for row, sid in reversed(list(enumerate(table.ids)))} if table else {}
    unlabelled = [sid for sid in ids if sid not in rows_by_id] if table else []
    if table is not None and unlabelled:
        raise DataError(
            f"{name}: id(s) of {index_csv} have no label in {table.path}: {_listing(unlabelled)}",
            hint="add them to the labels CSV or remove them from the index",
        )
    files: dict[str, dict[str, Path]] = {sid: {} for sid in ids}
    for stream, folder in dirs.items():
        available = list_stream_files(folder)
        missing = [sid for sid in ids if sid not in available]
        if missing:
            flag = STREAM_SETTINGS[stream][1]
            raise DataError(
                f"{name}: id(s) with no {stream} file (<id>.npy or <id>.npz) in {folder}: "
                f"{_listing(missing)}",
                hint=f"add the files, remove the ids from {index_csv}, or drop {flag}",
            )
        for sid in ids:
            files[sid][stream] = available[sid]

    if table is not None:
        rows = np.asarray([rows_by_id[sid] for sid in ids], dtype=np.int64)
        gloss = table.gloss[rows]
        cat = table.cat[rows] if table.cat is not None else None
        if group_by is not None:  # the column exists and no sample's group is empty
            group_values(table, group_by, rows)
    else:
        gloss, cat = np.full(len(ids), -1, np.int64), None

    load = StreamsLoad(ids, [files[sid] for sid in ids], gloss, cat)
    stream_files = [path for sid in ids for path in files[sid].values()]
    mode = cache_mode(cache, stream_files)
    warnings: list[str] = []
    if mode == "mmap":
        try:
            dataset, input_dims, warnings = _packed_streams(name, dirs, load, max_len, cache_dir)
        except DiskError as exc:
            if cache != "auto":
                raise
            warnings.append(f"{exc} ({exc.hint}); holding the {name} split in memory instead")
            mode = "memory"
    if mode != "mmap":
        dataset = SampleDataset(
            len(ids),
            load,
            cache=mode == "memory",
            max_len=max_len,
            count_frames=load.frames if mode == "off" else None,
        )
        if mode == "memory":
            samples = [load(i) for i in range(len(ids))]
            for sample in samples:
                sample.streams = {k: _fit_length(v, max_len) for k, v in sample.streams.items()}
            dataset.fill_cache(samples)
        else:
            samples = [load(0)]
        input_dims = {stream: array.shape[1] for stream, array in samples[0].streams.items()}
        _check_widths(name, ids, [_widths(s.streams) for s in samples])
    return MultiStreamSplit(
        name=name,
        dataset=dataset,
        ids=ids,
        gloss=gloss,
        cat=cat,
        input_dims=input_dims,
        labels_path=table.path if table is not None else None,
        label_lines=rows + 2 if table is not None else None,  # header is line 1
        gloss_names=table.gloss_names if table is not None else {},
        cat_names=table.cat_names if table is not None else {},
        group_by=group_by,
        label_columns=per_sample_columns(table, rows) if table is not None else {},
        stream_dirs=dict(dirs),
        index_path=Path(index_csv),
        meta={sid: meta[sid] for sid in ids if sid in meta} if meta else {},
        warnings=warnings,
    )


@dataclass
class StreamsLoad:
    """Reads sample `i` from its stream files (a picklable `load` of SampleDataset)."""

    ids: list[str]
    files: list[dict[str, Path]]  # per sample: stream -> file
    gloss: np.ndarray
    cat: np.ndarray | None

    def __call__(self, index: int) -> Sample:
        streams = read_sample_streams(self.ids[index], self.files[index])
        return Sample(self.ids[index], streams, _targets(self.gloss, self.cat, index))

    def frames(self, index: int) -> int | None:
        return read_frames(next(iter(self.files[index].values())), None)


def _packed_streams(
    name: str,
    dirs: Mapping[str, Path],
    load: StreamsLoad,
    max_len: int | None,
    cache_dir: Path | None,
) -> tuple[SampleDataset, dict[str, int], list[str]]:
    """The split's dataset on a packed cache (the streams of a sample side by side), its
    stream widths and the cache's warnings."""
    paths = [path for streams in load.files for path in streams.values()]
    folders = {stream: str(Path(folder).resolve()) for stream, folder in dirs.items()}
    result, warnings = open_or_build(
        Path(cache_dir) if cache_dir is not None else default_cache_dir(),
        source_key(layout="streams", folders=folders, ids=load.ids),
        fingerprint(paths, stat_files(paths), layout="streams", streams=list(dirs)),
        list(zip(load.ids, load.files, strict=True)),
        _read_samples_chunk,
        description=f"{name} streams {', '.join(folders.values())}",
    )
    if result.pack is None:
        if result.failures:
            raise DataError(result.failures[0][1])
        _check_widths(name, load.ids, [dict(w) for w in result.widths])
        raise AssertionError("a cache build failed without a failure")  # pragma: no cover
    pack = result.pack
    dataset = SampleDataset(
        len(load.ids),
        PackedLoad(pack, load.ids, load.gloss, load.cat),
        cache=False,
        max_len=max_len,
        frames=pack.frames,
    )
    return dataset, pack.input_dims, warnings


def _read_samples_chunk(
    items: Sequence[tuple[str, dict[str, Path]]],
) -> list[tuple[dict[str, np.ndarray] | None, str]]:
    out: list[tuple[dict[str, np.ndarray] | None, str]] = []
    for sid, files in items:
        try:
            out.append((read_sample_streams(sid, files), ""))
        except DataError as exc:
            out.append((None, str(exc)))
    return out


def _widths(streams: Mapping[str, np.ndarray]) -> dict[str, int]:
    return {stream: array.shape[1] for stream, array in streams.items()}


def _check_widths(name: str, ids: Sequence[str], widths: Sequence[Mapping[str, int]]) -> None:
    """DataError naming the first sample whose stream widths differ from the first's."""
    for sid, sample in zip(ids, widths, strict=False):
        for stream, width in sample.items():
            if width != widths[0][stream]:
                raise DataError(
                    f"{name}: sample {sid!r} has {stream} width {width}, "
                    f"but sample {ids[0]!r} has {widths[0][stream]}",
                    hint="every sample needs the same landmarks per stream",
                )


def load_multistream_splits(
    data: DataSettings, max_len: int | None = None, *, require_labels: bool = True
) -> tuple[MultiStreamSplit, MultiStreamSplit | None]:
    """The train (and val) splits that `data` describes in the multi-stream layout. Without
    `require_labels` (text tasks: the targets are meta.csv's) the labels CSV is optional."""
    dirs = stream_dirs(data)
    for stream, folder in dirs.items():
        problem = folder_problem(folder)
        if problem is not None:
            flag = STREAM_SETTINGS[stream][1]
            raise UsageError(f"{stream} folder {folder} {problem}", hint=f"check {flag}")
    if data.train_index is None:
        raise UsageError("no index of training ids", hint="pass --train-index CSV")
    table = None
    if data.labels is not None:
        table = read_labels(data.labels)
        _raise_label_problems(table)
    elif require_labels:
        raise UsageError("no labels for the multi-stream layout", hint="pass --labels CSV")
    meta = read_meta(data.meta) if data.meta is not None else None
    options = {
        "cache": data.cache,
        "cache_dir": data.cache_dir,
        "max_len": max_len,
        "meta": meta,
    }
    train = load_multistream_split(
        "train", dirs, data.train_index, table, group_by=data.group_by, **options
    )
    val = None
    if data.val_index is not None:
        val = load_multistream_split("val", dirs, data.val_index, table, **options)
        both = set(train.ids) & set(val.ids)
        if both:
            raise DataError(f"id(s) in both the train and the val index: {_listing(sorted(both))}")
    indexed = set(train.ids) | set(val.ids if val is not None else ())
    if table is None:
        return train, val
    orphans = [sid for sid in dict.fromkeys(table.ids) if sid not in indexed]
    if orphans:
        raise DataError(
            f"{table.path}: labelled id(s) in no index: {_listing(orphans)}",
            hint="add them to --train-index or --val-index, or remove their label rows",
        )
    return train, val
