"""A single-stream split for training and eval: a folder of `.npz` plus its labels CSV.

Reads labels with `labels.read_labels`, files with `npz.check_npz` (the same checks as
`validate-npz`), and refuses anything `validate-npz` calls an error, naming the file.
A split is read once, in parallel, and held in memory (`data.cache` memory), packed into
a memory-mapped cache file (mmap, data/packed.py), or read file by file as used (off);
`subset_split` cuts a split in two (data.val_fraction) without reading a file again.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from signcli.core.cores import available_cores
from signcli.core.errors import DataError, DiskError, UsageError
from signcli.core.files import folder_problem, sample_id
from signcli.data.dataset import SampleDataset
from signcli.data.labels import LabelTable, match_split, read_labels
from signcli.data.npz import check_npz, list_npz_files, read_frames
from signcli.data.packed import (
    PackedArrays,
    choose_mode,
    default_cache_dir,
    fingerprint,
    open_or_build,
    source_key,
    stat_files,
)
from signcli.data.sample import SINGLE_STREAM, Sample, SampleSplit, resample_frames
from signcli.data.split import group_values

PARALLEL_READ_MIN_FILES = 512  # below this, process start-up costs more than it saves
READ_CHUNK = 256
MAX_LISTED = 5


@dataclass
class NpzSplit(SampleSplit):
    """A split of single-stream `.npz` files: each sample is one array, stream `x`."""

    @property
    def arrays(self) -> list[np.ndarray] | None:
        """The cached arrays in index order, when the split is held in memory."""
        cache = self.dataset.cache
        if cache is None or len(cache) < len(self.ids):
            return None
        return [cache[i].streams[SINGLE_STREAM] for i in range(len(self.ids))]


def load_npz_split(
    name: str,
    data_dir: Path,
    labels_csv: Path | None,
    *,
    key: str = "X",
    cache: str | bool = "memory",
    max_len: int | None = None,
    workers: int | None = None,
    require_labels: bool = True,
    group_by: str | None = None,
    cache_dir: Path | None = None,
) -> NpzSplit:
    """Pair, check and (`cache` memory or mmap, see `cache_mode`) read a split;
    DataError/UsageError name what is wrong. `group_by` names a labels column (`groups`)
    that every sample must fill."""
    data_dir = Path(data_dir)
    problem = folder_problem(data_dir)
    if problem is not None:
        raise UsageError(f"{name} folder {data_dir} {problem}", hint=f"check --{name}-dir")

    if labels_csv is None:
        if require_labels:
            raise UsageError(
                f"no labels CSV for the {name} split", hint=f"pass --{name}-labels CSV"
            )
        files = list_npz_files(data_dir)
        table = None
        gloss, cat, warnings, lines = np.full(len(files), -1, np.int64), None, [], None
    else:
        table = read_labels(labels_csv)
        _raise_label_problems(table)
        match = match_split(data_dir, table)
        if match.missing:
            raise DataError(
                f"{labels_csv}: {len(match.missing)} labelled sample(s) have no .npz in "
                f"{data_dir}: {_listing(match.missing)}",
                hint="fix the file column or add the files; `signcli validate-npz` lists all",
            )
        files = match.files
        rows = np.asarray(match.label_rows, dtype=np.int64)
        gloss = table.gloss[rows]
        cat = table.cat[rows] if table.cat is not None else None
        lines = rows + 2  # header is line 1
        if group_by is not None:  # the column exists and no sample's group is empty
            group_values(table, group_by, rows)
        warnings = []
        if match.unlabelled:
            warnings.append(
                f"{name}: {len(match.unlabelled)} file(s) in {data_dir} have no label and are "
                f"not used: {_listing([p.name for p in match.unlabelled])}"
            )
    if not files:
        raise UsageError(f"{name} folder {data_dir} holds no .npz files")

    ids = [sample_id(p) for p in files]
    load = NpzLoad(files, ids, key, gloss, cat)
    mode = cache_mode(cache, files)
    if mode == "mmap":
        try:
            dataset, widths, cache_warnings = _packed_npz(
                name, data_dir, load, max_len, workers, cache_dir
            )
            warnings.extend(cache_warnings)
        except DiskError as exc:
            if cache != "auto":
                raise
            warnings.append(f"{exc} ({exc.hint}); holding the {name} split in memory instead")
            mode = "memory"
    if mode == "memory":
        dataset = SampleDataset(len(files), load, cache=True, max_len=max_len)
        arrays = read_arrays(files, key, workers=workers)
        dataset.fill_cache(
            [
                Sample(ids[i], {SINGLE_STREAM: _fit_length(a, max_len)}, _targets(gloss, cat, i))
                for i, a in enumerate(arrays)
            ]
        )
        widths = [a.shape[1] for a in arrays]
    elif mode == "off":
        dataset = SampleDataset(
            len(files), load, cache=False, max_len=max_len, count_frames=load.frames
        )
        widths = [_read_or_raise(files[0], key).shape[1]]
    _check_widths(name, files, widths)
    load.width = widths[0]
    return NpzSplit(
        name=name,
        dataset=dataset,
        ids=ids,
        gloss=gloss,
        cat=cat,
        input_dims={SINGLE_STREAM: widths[0]},
        labels_path=Path(labels_csv) if labels_csv is not None else None,
        label_lines=lines,
        gloss_names=table.gloss_names if table is not None else {},
        cat_names=table.cat_names if table is not None else {},
        warnings=warnings,
        group_by=group_by,
        label_columns=per_sample_columns(table, match.label_rows) if table is not None else {},
    )


def subset_split(split: SampleSplit, indices: Sequence[int], name: str) -> SampleSplit:
    """The samples `indices` of `split` as a split of their own (of the same class), sharing
    the samples already read; labels file, lines and class names still point at the source."""
    index = np.asarray(indices, dtype=np.int64)
    parent = split.dataset
    load = SubsetLoad(parent, index)
    # parent.raw already fits the length, so the subset does not resample again
    dataset = SampleDataset(
        len(index),
        load,
        cache=parent.cache is not None,
        frames=parent.lengths(read=False)[index] if parent.frames is not None else None,
        count_frames=load.frames if parent.count_frames is not None else None,
    )
    if parent.cache is not None and dataset.cache is not None:
        dataset.cache.update(
            {j: parent.cache[int(i)] for j, i in enumerate(index) if int(i) in parent.cache}
        )
    ids = [split.ids[int(i)] for i in index]
    changes: dict[str, Any] = {
        "name": name,
        "dataset": dataset,
        "ids": ids,
        "gloss": split.gloss[index],
        "cat": split.cat[index] if split.cat is not None else None,
        "label_lines": split.label_lines[index] if split.label_lines is not None else None,
        "label_columns": {
            column: [values[int(i)] for i in index]
            for column, values in split.label_columns.items()
        },
        "warnings": [],
        "texts": [split.texts[int(i)] for i in index] if split.texts is not None else None,
        **split.subset_fields(index, ids),  # the layout's own fields (multi-stream: meta)
    }
    return dataclasses.replace(split, **changes)


def cache_mode(cache: str, files: Sequence[Path]) -> str:
    """off, memory or mmap: `data.cache` as given (the settings read old runs' True/False:
    signcli/upgrade.py), with auto sized by the files' bytes (packed.choose_mode)."""
    if cache != "auto":
        return cache
    return choose_mode(cache, sum(st.st_size for st in stat_files(files)))


@dataclass
class NpzLoad:
    """Reads sample `i` from its file (a picklable `load` of SampleDataset)."""

    files: list[Path]
    ids: list[str]
    key: str
    gloss: np.ndarray
    cat: np.ndarray | None
    width: int | None = None
    """The split's width D, once known: a file read later (each epoch, with data.cache off)
    that no longer has it was rewritten under the running job, a DataError naming both."""

    def __call__(self, index: int) -> Sample:
        array = _read_or_raise(self.files[index], self.key)
        if self.width is not None and array.shape[1] != self.width:
            raise DataError(
                f"{self.files[index]}: {self.key} is {array.shape[1]} wide, but the split's files "
                f"are {self.width} wide (was the file rewritten while the run read it?)",
                hint="restore the file, or start the run again on the changed data",
            )
        return Sample(
            self.ids[index], {SINGLE_STREAM: array}, _targets(self.gloss, self.cat, index)
        )

    def frames(self, index: int) -> int | None:
        return read_frames(self.files[index], self.key)


@dataclass
class PackedLoad:
    """Sample `i` from a packed cache (views into its mapping)."""

    pack: PackedArrays
    ids: list[str]
    gloss: np.ndarray
    cat: np.ndarray | None

    def __call__(self, index: int) -> Sample:
        return Sample(
            self.ids[index], self.pack.streams(index), _targets(self.gloss, self.cat, index)
        )


@dataclass
class SubsetLoad:
    """Sample `index[i]` of a parent dataset (as read: fitted to max_len already)."""

    parent: SampleDataset
    index: np.ndarray

    def __call__(self, i: int) -> Sample:
        return self.parent.raw(int(self.index[i]))

    def frames(self, i: int) -> int | None:
        count, max_len = self.parent.count_frames, self.parent.max_len
        frames = count(int(self.index[i])) if count is not None else None
        return frames if frames is None or max_len is None else min(frames, max_len)


def _packed_npz(
    name: str,
    data_dir: Path,
    load: NpzLoad,
    max_len: int | None,
    workers: int | None,
    cache_dir: Path | None,
) -> tuple[SampleDataset, list[int], list[str]]:
    """The split's dataset on its packed cache (built on first use), its width, warnings."""
    files, key = load.files, load.key
    folder = Path(data_dir).resolve()
    result, warnings = open_or_build(
        Path(cache_dir) if cache_dir is not None else default_cache_dir(),
        source_key(layout="npz", folder=str(folder), key=key),
        fingerprint(files, stat_files(files), layout="npz", key=key),
        files,
        functools.partial(_read_stream_chunk, key=key),
        workers=workers,
        description=f"{name} folder {folder}",
    )
    if result.pack is None:
        if result.failures:
            raise _unusable_files(files, result.failures, key)
        _check_widths(name, files, [dict(w)[SINGLE_STREAM] for w in result.widths])
        raise AssertionError("a cache build failed without a failure")  # pragma: no cover
    pack = result.pack
    dataset = SampleDataset(
        len(files),
        PackedLoad(pack, load.ids, load.gloss, load.cat),
        cache=False,
        max_len=max_len,
        frames=pack.frames,
    )
    return dataset, [pack.input_dims[SINGLE_STREAM]], warnings


def _read_stream_chunk(
    paths: Sequence[Path], key: str
) -> list[tuple[dict[str, np.ndarray] | None, str]]:
    return [
        (None if array is None else {SINGLE_STREAM: array}, why)
        for array, why in _read_chunk(list(paths), key)
    ]


def _check_widths(name: str, files: Sequence[Path], widths: Sequence[int]) -> None:
    """DataError naming the files whose width D is not the majority's."""
    counts = Counter(widths)
    if len(counts) > 1:
        majority = counts.most_common(1)[0][0]
        odd = [p.name for p, w in zip(files, widths, strict=False) if w != majority]
        raise DataError(
            f"{name}: files disagree on the width D (most have {majority}): {_listing(odd)}",
            hint="every sample of a split needs the same landmarks; see `signcli validate-npz`",
        )


def _unusable_files(files: Sequence[Path], failures: list[tuple[int, str]], key: str) -> DataError:
    listed = "; ".join(f"{files[i].name}: {m}" for i, m in failures[:MAX_LISTED])
    more = f" and {len(failures) - MAX_LISTED} more" if len(failures) > MAX_LISTED else ""
    return DataError(
        f"{len(failures)} unusable file(s) in {files[0].parent}: {listed}{more}",
        hint=f"run `signcli validate-npz {files[0].parent} --key {key}` for the full report",
    )


def read_arrays(files: list[Path], key: str, workers: int | None = None) -> list[np.ndarray]:
    """Read every file (in parallel for many files); DataError lists the unusable ones."""
    workers = workers if workers is not None else available_cores().count
    chunks = [files[i : i + READ_CHUNK] for i in range(0, len(files), READ_CHUNK)]
    if workers > 1 and len(files) >= PARALLEL_READ_MIN_FILES:
        with ProcessPoolExecutor(max_workers=min(workers, len(chunks))) as pool:
            results = [
                item for part in pool.map(_read_chunk, chunks, [key] * len(chunks)) for item in part
            ]
    else:
        results = [item for chunk in chunks for item in _read_chunk(chunk, key)]
    failures = [(i, message) for i, (array, message) in enumerate(results) if array is None]
    if failures:
        raise _unusable_files(files, failures, key)
    return [array for array, _ in results]


def _read_chunk(paths: list[Path], key: str) -> list[tuple[np.ndarray | None, str]]:
    out = []
    for path in paths:
        check, array = check_npz(path, key)
        errors = "; ".join(p.message for p in check.problems if p.severity == "error")
        out.append((array, errors))
    return out


def _read_or_raise(path: Path, key: str) -> np.ndarray:
    check, array = check_npz(path, key)
    if array is None:
        errors = "; ".join(p.message for p in check.problems if p.severity == "error")
        raise DataError(f"{path}: {errors}", hint=f"run `signcli validate-npz {path.parent}`")
    return array


def _fit_length(array: np.ndarray, max_len: int | None) -> np.ndarray:
    return array if max_len is None else resample_frames(array, max_len)


def _targets(gloss: np.ndarray, cat: np.ndarray | None, index: int) -> dict[str, int]:
    targets = {"gloss": int(gloss[index])}
    if cat is not None:
        targets["cat"] = int(cat[index])
    return targets


def per_sample_columns(table: LabelTable, rows: list[int] | np.ndarray) -> dict[str, list[str]]:
    """The columns of `table` but `file`, picked at the label `rows` of a split's samples,
    in sample order."""
    return {
        name: [values[int(r)] for r in rows]
        for name, values in table.text.items()
        if name != "file"
    }


def _raise_label_problems(table: LabelTable) -> None:
    errors = [p for p in table.problems if p.severity == "error"]
    if errors:
        raise DataError(
            "; ".join(p.message for p in errors),  # each names the file
            hint=f"run `signcli validate-npz DIR --labels {table.path}` for the full report",
        )


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    return shown + (f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else "")
