"""`signcli import FORMAT SRC OUT`: the part that is the same for every format.

    scan SRC (the format)  ->  labels, class ids, the validation split, the streams kept
    ->  convert each sequence in worker processes, one atomic file write per sample
    ->  labels / index / text CSVs, then the manifest last (it marks the import complete)

Output, single layout (default; one `.npz` per sample, `X` [T, D] with the streams side by
side, their columns in the manifest):

    OUT/train/<id>.npz  OUT/train_labels.csv (file,gloss,gloss_name[,signer])
    OUT/val/<id>.npz    OUT/val_labels.csv   OUT/{train,val}_text.csv (file,text; if texts)

multi layout (one folder per stream, as the multi-stream guide):

    OUT/<stream>/<id>.npy  OUT/labels.csv (id,gloss,gloss_name[,signer])
    OUT/train_index.csv    OUT/val_index.csv  OUT/meta.csv (id;texto; if texts)

plus `OUT/signcli-dataset.json` (core/manifest.py) and `OUT/import-report.json` (counts and
every skipped sequence with its reason).

Never loses or corrupts: nothing is written under SRC; OUT must be new, empty, or an
earlier import (replaced only with `overwrite`); every sample is written to `NAME.tmp`
and renamed, so an interrupted import leaves whole samples only, none listed in a CSV
until all are written. `OUT/.signcli-import.json` records the options at the start, so
the same command run again resumes: samples already written are checked and kept.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from signcli.core.errors import EXIT_INTERRUPTED, DataError, SigncliError, UsageError
from signcli.core.files import (
    FileTooLarge,
    NotARegularFile,
    open_input,
    open_table,
    read_input_bytes,
)
from signcli.core.limits import MAX_JSON_BYTES
from signcli.core.manifest import (
    MANIFEST_NAME,
    DatasetManifest,
    SplitEntry,
    StreamEntry,
    read_manifest,
    write_manifest,
)
from signcli.core.streams import STREAM_NAMES
from signcli.importers import FORMATS, get_format
from signcli.importers.base import (
    COORDS,
    Format,
    ImportFormatError,
    LandmarkSet,
    Scan,
    SourceItem,
)

STATE_NAME = ".signcli-import.json"  # the options of an import under way (resume key)
REPORT_NAME = "import-report.json"
DEFAULT_VAL_FRACTION = 0.2
CHUNK_ITEMS = 32  # sequences per task sent to a worker (groups are never split)
SKIPPED_SHOWN = 10
LABEL_KEY_COLUMNS = ("id", "video_id", "sequence_id", "file", "name", "video")
LABEL_VALUE_COLUMNS = ("label", "gloss", "sign", "class", "word")
SIGNER_COLUMNS = ("signer", "signer_id", "participant_id", "participant", "speaker")

Layout = Literal["single", "multi"]


class ImportInterrupted(SigncliError):
    """Ctrl-C during an import: what was written stays; the same command resumes. Exit 130."""

    exit_code = EXIT_INTERRUPTED


@dataclass(frozen=True)
class ImportOptions:
    format: str
    src: Path
    out: Path
    streams: tuple[str, ...] | None = None  # "pose", "face:lips" ...; None = every stream
    layout: Layout = "single"
    labels: Path | None = None  # CSV id,label[,signer] for sources without label folders
    val_fraction: float | None = None  # None: the source's split, else DEFAULT_VAL_FRACTION
    split_by: str | None = None  # "signer" | "none" | None (signer when every item has one)
    seed: int = 0
    workers: int = 1
    overwrite: bool = False
    dry_run: bool = False
    # the format's own options (`Format.options`): parts, index, person, min_confidence
    source_options: dict[str, Any] = field(default_factory=dict)

    def resume_key(self) -> dict[str, Any]:
        """What must be the same for a second run to continue the first."""
        return {
            "format": self.format,
            "src": str(self.src),
            "streams": list(self.streams) if self.streams is not None else None,
            "layout": self.layout,
            "labels": str(self.labels) if self.labels else None,
            "val_fraction": self.val_fraction,
            "split_by": self.split_by,
            "seed": self.seed,
            "source_options": {k: str(v) for k, v in sorted(self.source_options.items())},
        }


@dataclass(frozen=True)
class StreamPlan:
    """One output stream: which landmarks of the source stream it keeps."""

    name: str
    landmarks: tuple[int, ...] | None  # indices into the source stream; None = all
    count: int  # landmarks kept
    mirror_pairs: tuple[tuple[int, int], ...] = ()  # within the kept landmarks

    @property
    def width(self) -> int:
        return self.count * COORDS


@dataclass(frozen=True)
class Target:
    """Where one item goes."""

    item: SourceItem
    split: str  # "train" | "val"
    gloss: int  # -1 without a label (text-only sources)


@dataclass
class ItemResult:
    id: str
    frames: int = 0
    missing: dict[str, int] = field(default_factory=dict)  # stream -> NaN landmark-frames
    error: str | None = None
    resumed: bool = False
    note: dict[str, Any] | None = None  # what the reader decided (`NotedStreams.note`)


@dataclass(frozen=True)
class SourceFacts:
    """What the scan found the source to be: its landmark set and units (the format's, or
    the scan's when the files say: pose-format headers)."""

    landmark_set: LandmarkSet | None
    units: str | None


@dataclass
class ImportReport:
    """What an import did (also OUT/import-report.json)."""

    format: str
    src: str
    out: str
    layout: str
    landmark_set: str
    streams: dict[str, int]  # stream -> landmarks
    classes: int
    splits: dict[str, int]  # split -> sequences written
    signers: dict[str, int]  # split -> signers
    frames: dict[str, float]  # min / mean / max
    nan_share: dict[str, float]  # stream -> share of landmark-frames not detected
    skipped: list[tuple[str, str]]  # (sequence or file, reason)
    resumed: int
    seconds: float
    dry_run: bool = False
    split_rule: str = ""
    notes: list[str] = field(default_factory=list)  # the scan's decisions; dry run: refusals
    sequence_notes: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> note
    warnings: list[str] = field(default_factory=list)  # e.g. a split that is not by signer

    @property
    def written(self) -> int:
        return sum(self.splits.values())

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["skipped"] = [{"what": w, "reason": r} for w, r in self.skipped]
        record["sequences_per_s"] = round(self.written / self.seconds, 1) if self.seconds else None
        return record


Progress = Callable[[int, int, int], None]  # (done, total, failed): done counts failed ones


def run_import(options: ImportOptions, progress: Progress | None = None) -> ImportReport:
    """Import `options.src` into `options.out` (see the module docstring)."""
    started = time.perf_counter()
    fmt = _format(options.format)
    src, out = options.src.expanduser().absolute(), options.out.expanduser().absolute()
    _check_paths(src, out, options.labels)
    notes: list[str] = []
    try:
        resume = _check_out(out, options)
    except UsageError as exc:
        if not options.dry_run:
            raise
        resume = False
        notes.append(f"the import itself would stop here: {exc.message}")
    scan = _scan(fmt, src, options)
    notes.extend(scan.notes)
    skipped = list(scan.skipped)
    items = _apply_labels(_unique(scan.items, skipped), options.labels, skipped)
    if not items:
        raise DataError(
            f"{src}: no {options.format} sequences found"
            + (f" ({len(skipped)} skipped: {skipped[0][1]})" if skipped else ""),
        )
    try:
        classes = _class_names(fmt, src, items)
    except ImportFormatError as exc:
        raise UsageError(f"{src} is not {options.format} data: {exc}") from None
    facts = SourceFacts(
        scan.landmark_set or getattr(fmt, "landmark_set", None),
        scan.units or getattr(fmt, "units", None),
    )
    available = scan.streams if scan.streams is not None else _probe(fmt, items)
    plan = _plan_streams(facts.landmark_set, available, options.streams, scan.kept)
    targets, split_rule = _targets(items, classes, options)
    warnings = _split_warnings(items, options, split_rule)
    if options.dry_run:
        report = _report(options, facts, plan, classes, targets, [], skipped, 0, started,
                         split_rule, dry_run=True)  # fmt: skip
        report.notes, report.warnings = notes, warnings
        return report
    source = _source_fingerprint(items)
    if resume:
        _check_same_source(out, source)
    _start(out, options, resume, source)
    results = _convert(options, fmt, plan, targets, out, progress)
    for result in results:
        if result.error is not None:
            skipped.append((result.id, result.error))
    written = {r.id for r in results if r.error is None}
    done = [t for t in targets if t.item.id in written]
    if not callable(getattr(fmt, "class_order", None)):  # no class map: no empty classes
        classes, done = _drop_empty_classes(classes, done, notes)
    _remove_strays(out, options.layout, plan, done)
    _write_tables(out, options.layout, plan, classes, done)
    report = _report(options, facts, plan, classes, done, results, skipped,
                     sum(r.resumed for r in results), started, split_rule)  # fmt: skip
    report.notes, report.warnings = notes, warnings
    _write_json(out / REPORT_NAME, report.to_dict())
    manifest = _manifest(options, facts, plan, classes, done)
    write_manifest(out, manifest)
    (out / STATE_NAME).unlink(missing_ok=True)
    return report


# ---------------------------------------------------------------------------------------
# Checks before anything is written


def _format(name: str) -> Format:
    if name not in FORMATS:
        raise UsageError(f"unknown format {name!r}", hint=f"formats: {', '.join(FORMATS)}")
    try:
        return get_format(name)
    except ImportFormatError as exc:  # an optional library is missing
        raise UsageError(str(exc)) from None


def _scan(fmt: Format, src: Path, options: ImportOptions) -> Scan:
    """The format's scan of SRC with the source options it takes; UsageError for an option
    this format has none of, or for SRC not in the format."""
    accepted = getattr(fmt, "options", ())
    given = {k: v for k, v in options.source_options.items() if v is not None}
    foreign = sorted(set(given) - set(accepted))
    if foreign:
        flags = ", ".join("--" + name.replace("_", "-") for name in foreign)
        users = [name for name in FORMATS if set(foreign) <= set(_options_of(name))]
        raise UsageError(
            f"{flags}: not an option of {options.format}"
            + (f" (it is one of {', '.join(users)})" if users else ""),
            hint="leave it out, or name the format it belongs to",
        )
    try:
        return fmt.scan(src, **given) if given else fmt.scan(src)
    except ImportFormatError as exc:
        raise UsageError(f"{src} is not {options.format} data: {exc}") from None


def _options_of(name: str) -> tuple[str, ...]:
    try:
        return tuple(getattr(get_format(name), "options", ()))
    except ImportFormatError:
        return ()


def _check_paths(src: Path, out: Path, labels: Path | None = None) -> None:
    if not src.is_dir():
        raise UsageError(f"source {src} is not a folder", hint="give the folder of the dataset")
    src_real, out_real = src.resolve(), out.resolve()
    if out_real == src_real or src_real in out_real.parents:
        raise UsageError(
            f"OUT {out} lies inside SRC {src}: import never writes into its source",
            hint="choose an output folder outside SRC",
        )
    if out_real in src_real.parents:
        raise UsageError(
            f"SRC {src} lies inside OUT {out}: replacing OUT could delete the source",
            hint="choose an output folder that does not contain SRC",
        )
    if labels is not None and out_real in Path(labels).expanduser().resolve().parents:
        # OUT/train_labels.csv, edited and given back, was read and then replaced by the
        # generated one (and --overwrite removes what import wrote there)
        raise UsageError(
            f"--labels {labels} lies inside OUT {out}, whose files import writes and replaces",
            hint="copy the labels CSV out of OUT first",
        )


def output_choices(
    layout: str, split_by: str | None, streams: str | None
) -> tuple[Layout, str | None, tuple[str, ...] | None]:
    """The dataset-writing flags `import` and `extract` share, checked: --layout,
    --split-by and the comma-separated --streams (None: every stream the source has)."""
    if layout not in ("single", "multi"):
        raise UsageError(f"--layout {layout!r}: expected single or multi")
    if split_by not in (None, "signer", "none"):
        raise UsageError(f"--split-by {split_by!r}: expected signer or none")
    kept = tuple(s.strip() for s in streams.split(",") if s.strip()) if streams else None
    return layout, split_by, kept  # type: ignore[return-value]


def _check_out(out: Path, options: ImportOptions) -> bool:
    """True when OUT holds an unfinished import with the same options (resume). UsageError
    when OUT is something the import must not replace."""
    return check_out_state(
        out, options.overwrite, options.resume_key(), command="import",
        unfinished="an unfinished import", finished="an imported dataset",
    )  # fmt: skip


def check_out_state(
    out: Path,
    overwrite: bool,
    resume_key: dict[str, Any],
    *,
    command: str,
    unfinished: str,
    finished: str,
    own_dataset: Callable[[Path], None] | None = None,
) -> bool:
    """Whether `signcli COMMAND` may write OUT, and how: False for an empty OUT or one it
    replaces (--overwrite), True for its own unfinished work of the same options (resume).
    UsageError for anything else: files COMMAND did not write, unfinished work of other
    options (naming them), a finished dataset without --overwrite. `own_dataset(out)`
    raises for a finished dataset without a state file that COMMAND must not replace.
    Shared by `import` and `extract`, which write the same dataset and state file."""
    from signcli.core.atomic import check_folder

    check_folder(out, "OUT")
    if not out.exists() or not any(out.iterdir()):
        return False
    state = _read_state(out)
    done = (out / MANIFEST_NAME).is_file()
    if state is None and not done:
        raise UsageError(
            f"OUT {out} is not empty and was not written by `signcli {command}`",
            hint=f"choose a new or empty folder; {command} never deletes files it did not write",
        )
    if done and state is None and own_dataset is not None:
        own_dataset(out)
    if overwrite:
        return False
    if state is not None and not done:
        if state == resume_key:
            return True
        changed = [k for k, v in resume_key.items() if state.get(k) != v]
        raise UsageError(
            f"OUT {out} holds {unfinished} with other options ({', '.join(changed)})",
            hint="run that command again to finish it, or add --overwrite to start over",
        )
    raise UsageError(
        f"OUT {out} already holds {finished}",
        hint="add --overwrite to replace it, or choose another folder",
    )


def _read_state(out: Path) -> dict[str, Any] | None:
    try:
        return json.loads(_read_state_file(out))["options"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None


def _read_state_file(out: Path) -> bytes:
    """OUT's state file, through `open_input` (OUT is the user's folder: a FIFO there
    would block); every failure an OSError."""
    return read_input_bytes(out / STATE_NAME, "import state file", limit=MAX_JSON_BYTES)


def _start(out: Path, options: ImportOptions, resume: bool, source: str) -> None:
    """Make OUT ready: cleared of an earlier import (overwrite), its state file written
    with the options and the source's fingerprint."""
    from signcli.core.atomic import ensure_folder

    if not resume and out.exists():
        _clear_import(out)
    ensure_folder(out, "OUT")
    _write_json(out / STATE_NAME, {"options": options.resume_key(), "source": source})


def _source_fingerprint(items: list[SourceItem]) -> str:
    """A digest of the sequences to convert: each id, its reference and, for a file, its
    size and modification time (stat'ed, not read), so a resumed import notices a source
    that changed since the samples already written were converted."""
    import hashlib

    digest = hashlib.sha256()
    for item in sorted(items, key=lambda i: i.id):
        ref = item.ref[0] if isinstance(item.ref, tuple) and item.ref else item.ref
        try:
            info = os.stat(ref) if isinstance(ref, (str, Path)) else None
        except (OSError, ValueError):
            info = None
        stamp = (info.st_size, info.st_mtime_ns) if info is not None else None
        digest.update(repr((item.id, str(item.ref), item.label, stamp)).encode())
    return digest.hexdigest()


def _check_same_source(out: Path, source: str) -> None:
    """UsageError when the unfinished import in OUT converted another version of the source
    (files changed, added or removed since): resuming would keep stale samples."""
    try:
        stored = json.loads(_read_state_file(out)).get("source")
    except (OSError, ValueError, AttributeError, RecursionError):
        stored = None
    if isinstance(stored, str) and stored != source:  # an older signcli stored none
        raise UsageError(
            f"OUT {out} holds an unfinished import of the source as it was before: its files "
            "changed since, and resuming would keep samples of the old files",
            hint="add --overwrite to start the import over",
        )


# what an import writes into a sample folder (train/, val/, one per stream): its samples
# and, from a run killed mid-write, their temp files
SAMPLE_SUFFIXES = (".npz", ".npy", ".tmp")


def _clear_import(out: Path) -> None:
    """Remove what an import writes, and only that (`_check_out` made sure OUT is one). Every
    entry is checked before anything goes: UsageError, with nothing removed, for a link
    (never followed) or for a file or folder inside a sample folder that import does not
    write (the user's own notes in OUT/train)."""
    names = {MANIFEST_NAME, STATE_NAME, REPORT_NAME, "labels.csv", "meta.csv"}
    names |= {f"{s}_{kind}.csv" for s in ("train", "val") for kind in ("labels", "text", "index")}
    folders, files, problems = [], [], []
    for path in sorted(out.iterdir()):
        is_link = path.is_symlink()
        if path.name in ("train", "val", *STREAM_NAMES) and (is_link or path.is_dir()):
            if is_link:
                problems.append(f"{path} is a symbolic link, which --overwrite does not follow")
                continue
            folders.append(path)
            for entry in sorted(path.iterdir()):
                if entry.is_symlink() or not entry.is_file():
                    problems.append(f"{entry} is not a sample file import wrote")
                elif not entry.name.endswith(SAMPLE_SUFFIXES):
                    problems.append(f"{entry} was not written by import")
        elif path.name in names or path.name.endswith(".tmp"):
            if is_link or not path.is_file():
                problems.append(f"{path} is not a file import wrote")
            else:
                files.append(path)
    if problems:
        shown = "; ".join(problems[:3]) + (
            f"; and {len(problems) - 3} more" if problems[3:] else ""
        )
        raise UsageError(
            f"--overwrite cannot replace the import in {out}: {shown}",
            hint="nothing was removed; move your own files out of OUT, then rerun",
        )
    for folder in folders:
        shutil.rmtree(folder)
    for path in files:
        path.unlink()


# ---------------------------------------------------------------------------------------
# Labels, classes, split


def _unique(items: list[SourceItem], skipped: list[tuple[str, str]]) -> list[SourceItem]:
    """The first item of each id; later ones are skipped (two sources, one file name)."""
    seen: set[str] = set()
    kept = []
    for item in items:
        if item.id in seen:
            skipped.append((str(item.ref), f"its id {item.id} is taken by an earlier sequence"))
        else:
            seen.add(item.id)
            kept.append(item)
    return kept


def _apply_labels(
    items: list[SourceItem], labels: Path | None, skipped: list[tuple[str, str]]
) -> list[SourceItem]:
    """Items with their labels: from the format, or from `--labels` (which then decides)."""
    if labels is None:
        unlabelled = [i for i in items if i.label is None and i.text is None]
        if unlabelled:
            raise UsageError(
                f"{len(unlabelled)} sequences have no label (e.g. {unlabelled[0].id}): the "
                "source has no label folders",
                hint="give --labels CSV with columns id,label[,signer]",
            )
        return items
    table = _read_label_csv(labels)
    kept = []
    for item in items:
        row = table.get(item.id)
        if row is None:
            skipped.append((item.id, f"not in {labels.name}"))
            continue
        label, signer = row
        kept.append(_replace(item, label=label, signer=signer or item.signer))
    return kept


def _replace(item: SourceItem, **changes: Any) -> SourceItem:
    from dataclasses import replace

    return replace(item, **changes)


def _read_label_csv(path: Path) -> dict[str, tuple[str, str | None]]:
    """{id: (label, signer)} of a `--labels` CSV: an id column (id, video_id, ...), a label
    column (label, gloss, sign, ...) and optionally a signer column."""
    import pandas as pd

    from signcli.core.errors import excerpt
    from signcli.importers.base import safe_id

    try:
        # a regular file, within MAX_TABLE_BYTES and MAX_TABLE_CELLS before it is parsed
        with open_table(path, "--labels file") as handle:
            frame = pd.read_csv(
                handle, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8"
            )
    except (NotARegularFile, FileTooLarge):
        raise
    except FileNotFoundError:
        raise UsageError(f"--labels file {path} not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else "empty"
        raise UsageError(f"--labels {path}: cannot parse CSV ({reason})") from None
    columns = {str(c).strip().lower(): c for c in frame.columns}

    def pick(names: Sequence[str]) -> str | None:
        return next((columns[n] for n in names if n in columns), None)

    key, value, signer = pick(LABEL_KEY_COLUMNS), pick(LABEL_VALUE_COLUMNS), pick(SIGNER_COLUMNS)
    if key is None or value is None:
        raise UsageError(
            f"--labels {path}: expected an id column ({', '.join(LABEL_KEY_COLUMNS)}) and a "
            f"label column ({', '.join(LABEL_VALUE_COLUMNS)}); found {excerpt(', '.join(columns))}"
        )
    table: dict[str, tuple[str, str | None]] = {}
    for _, row in frame.iterrows():
        ident, label = str(row[key]).strip(), str(row[value]).strip()
        if ident and label:
            table[safe_id(Path(ident).stem if ident.endswith(".json") else ident)] = (
                label,
                str(row[signer]).strip() or None if signer is not None else None,
            )
    return table


def _class_names(fmt: Format, src: Path, items: list[SourceItem]) -> list[str]:
    """Gloss id -> name: the source's own order where it has one (a class map), else sorted
    (numbers numerically, so 2 < 10)."""
    present = {i.label for i in items if i.label is not None}
    order = getattr(fmt, "class_order", None)
    known = order(src) if callable(order) else None
    if known:
        missing = sorted(present - set(known))
        if missing:
            raise DataError(f"labels {missing[:5]} are not in the source's class map")
        return list(known)
    return sorted(present, key=lambda n: (0, int(n), n) if n.isdigit() else (1, 0, n))


def _drop_empty_classes(
    classes: list[str], done: list[Target], notes: list[str]
) -> tuple[list[str], list[Target]]:
    """Classes none of whose sequences could be written are left out, and the gloss ids
    renumbered (they are written only now, in the CSVs): a class without samples would
    be a head output training can never see."""
    from dataclasses import replace

    used = sorted({t.gloss for t in done if t.gloss >= 0})
    if len(used) == len(classes) or not any(t.gloss >= 0 for t in done):
        return classes, done
    empty = [c for i, c in enumerate(classes) if i not in set(used)]
    some = "1 class has" if len(empty) == 1 else f"{len(empty)} classes have"
    notes.append(
        f"{some} no sequence that could be written, left out of the classes: "
        + ", ".join(empty[:5])
        + (" ..." if len(empty) > 5 else "")
    )
    new_id = {old: new for new, old in enumerate(used)}
    return [classes[i] for i in used], [
        replace(t, gloss=new_id[t.gloss]) if t.gloss >= 0 else t for t in done
    ]


def _targets(
    items: list[SourceItem], classes: list[str], options: ImportOptions
) -> tuple[list[Target], str]:
    """Each item's split and gloss id, and the rule that chose the split, in words."""
    from signcli.data.split import carve_val_split

    index = {name: i for i, name in enumerate(classes)}
    gloss = [index[i.label] if i.label is not None else -1 for i in items]
    own = [i.split for i in items]
    if options.val_fraction is None and all(s is not None for s in own):
        kept = [
            (i, g, s) for i, g, s in zip(items, gloss, own, strict=True) if s in ("train", "val")
        ]
        return [Target(i, s, g) for i, g, s in kept], "the source's own split"
    fraction = DEFAULT_VAL_FRACTION if options.val_fraction is None else options.val_fraction
    if fraction == 0:
        return [Target(i, "train", g) for i, g in zip(items, gloss, strict=True)], "no split"
    signers = [i.signer for i in items]
    by_signer = options.split_by == "signer" or (
        options.split_by is None and all(s is not None for s in signers)
    )
    if options.split_by == "signer" and not all(s is not None for s in signers):
        raise UsageError(
            "--split-by signer: the source does not name the signer of every sequence",
            hint="give --labels with a signer column, or --split-by none",
        )
    try:
        split = carve_val_split(
            [i.id for i in items],
            np.maximum(np.asarray(gloss, dtype=np.int64), 0),
            fraction,
            options.seed,
            [str(s) for s in signers] if by_signer else None,
            group_by="signer" if by_signer else None,
            source="the source",
        )
    except DataError as exc:
        count = len(set(signers))
        groups = f" by signer ({count} signer{'' if count == 1 else 's'})" if by_signer else ""
        raise DataError(
            f"cannot split the sequences{groups} with --val-fraction {fraction:g}: "
            + exc.message.split(": ", 1)[-1],
            hint="change --val-fraction"
            + (", or --split-by none (one signer may then be on both sides)" if by_signer else "")
            + ", or --val-fraction 0 for no validation split",
        ) from None
    val = set(split.val_ids)
    rule = f"{fraction:g} of the sequences to val, stratified by label, seed {options.seed}"
    if by_signer:
        rule += f", whole signers ({len(split.val_groups)} of "
        rule += f"{len(split.val_groups) + len(split.train_groups)} in val)"
    return [
        Target(i, "val" if i.id in val else "train", g) for i, g in zip(items, gloss, strict=True)
    ], rule


SIGNER_HINT = (
    "give --labels CSV with a signer column (id,gloss,signer) to keep each signer on one "
    "side, or --split-by none to accept a split by sequence"
)


def _split_warnings(items: list[SourceItem], options: ImportOptions, rule: str) -> list[str]:
    """A validation split drawn by sequence because the source does not name every
    sequence's signer: validation then sees the same people as training (not
    signer-independent). Not said when asked for (--split-by none)."""
    if options.split_by == "none" or "stratified" not in rule or "whole signers" in rule:
        return []
    unnamed = sum(i.signer is None for i in items)
    which = (
        "no signer"
        if unnamed == len(items)
        else f"no signer for {unnamed} of {len(items)} sequences"
    )
    return [
        f"the split is by sequence, not by signer (the source names {which}): a person may "
        f"be in both train and val, so validation is not signer-independent; {SIGNER_HINT}"
    ]


# ---------------------------------------------------------------------------------------
# Streams


def _probe(fmt: Format, items: list[SourceItem]) -> dict[str, int]:
    """{stream: landmarks} of the first readable sequences (at most a few tried)."""
    reasons = []
    for item in items[:5]:
        [streams] = fmt.read([item])
        if isinstance(streams, str):
            reasons.append(streams)
            continue
        return {name: int(array.shape[1]) for name, array in streams.items()}
    raise DataError(
        "none of the first sequences can be read: " + "; ".join(reasons[:3]),
        hint="each reason names the file and what is wrong with it",
    )


def _plan_streams(
    landmark_set: LandmarkSet | None,
    available: dict[str, int],
    chosen: Sequence[str] | None,
    kept: dict[str, tuple[int, ...]] | None = None,
) -> list[StreamPlan]:
    """The output streams, in STREAM_NAMES order: `chosen` (`pose`, `face:lips`) or all.
    `kept`: the landmarks a source holds of a stream, when fewer than `available` (a subset
    then keeps those of them it names)."""
    subsets = landmark_set.subsets if landmark_set is not None else {}
    kept = kept or {}
    wanted: dict[str, str | None] = {}
    for spec in chosen if chosen is not None else list(available):
        name, _, subset = spec.partition(":")
        name = name.strip()
        if name not in STREAM_NAMES:
            raise UsageError(
                f"--streams: {name!r} is not a stream", hint=f"streams: {', '.join(STREAM_NAMES)}"
            )
        if name not in available:
            raise UsageError(
                f"--streams: the source has no {name} stream",
                hint=f"it has {', '.join(available) or 'none'}",
            )
        if subset and subset not in subsets.get(name, {}):
            known = ", ".join(subsets.get(name, {})) or "none"
            raise UsageError(f"--streams {spec}: no subset {subset!r} of {name} (known: {known})")
        wanted[name] = subset or None
    plans = []
    for name in STREAM_NAMES:
        if name not in wanted:
            continue
        subset = wanted[name]
        keep = tuple(subsets[name][subset]) if subset else None
        if name in kept:
            held = set(kept[name])
            keep = tuple(i for i in keep if i in held) if keep else tuple(kept[name])
            if not keep:
                raise UsageError(f"--streams {name}:{subset}: the source holds none of them")
        pairs = landmark_set.pairs_of(name, available[name]) if landmark_set is not None else []
        plans.append(
            StreamPlan(
                name,
                keep,
                len(keep) if keep else available[name],
                _subset_pairs(pairs, keep),
            )
        )
    return plans


def _subset_pairs(
    pairs: Iterable[tuple[int, int]], keep: tuple[int, ...] | None
) -> tuple[tuple[int, int], ...]:
    """Mirror pairs renumbered into the kept landmarks; pairs with a dropped side go."""
    if keep is None:
        return tuple(tuple(p) for p in pairs)  # type: ignore[misc]
    position = {landmark: i for i, landmark in enumerate(keep)}
    return tuple((position[a], position[b]) for a, b in pairs if a in position and b in position)


def _columns(plan: list[StreamPlan]) -> dict[str, tuple[int, int]]:
    columns, start = {}, 0
    for stream in plan:
        columns[stream.name] = (start, start + stream.width)
        start += stream.width
    return columns


# ---------------------------------------------------------------------------------------
# Conversion (in worker processes)


def _destinations(out: Path, layout: Layout, target: Target, plan: list[StreamPlan]) -> list[Path]:
    if layout == "single":
        return [out / target.split / f"{target.item.id}.npz"]
    return [out / s.name / f"{target.item.id}.npy" for s in plan]


def _convert(
    options: ImportOptions,
    fmt: Format,
    plan: list[StreamPlan],
    targets: list[Target],
    out: Path,
    progress: Progress | None,
) -> list[ItemResult]:
    """Convert every target (resumed ones are checked, not redone); results in any order."""
    folders = {out / t.split for t in targets} if options.layout == "single" else set()
    folders |= {out / s.name for s in plan} if options.layout == "multi" else set()
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    results: list[ItemResult] = []
    todo: list[Target] = []
    for target in targets:
        paths = _destinations(out, options.layout, target, plan)
        existing = (
            _check_existing(paths, plan, options.layout)
            if all(p.is_file() for p in paths)
            else None
        )
        if existing is not None:
            existing.id, existing.resumed = target.item.id, True
            results.append(existing)
        else:
            todo.append(target)
    total = len(targets)

    def report_progress() -> None:
        if progress:
            progress(len(results), total, sum(r.error is not None for r in results))

    report_progress()
    chunks = _chunks(todo, options.workers)
    args = (options.format, plan, str(out), options.layout)
    if options.workers <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            try:
                results.extend(convert_chunk(*args, chunk))
            except KeyboardInterrupt:
                raise _interrupted(out) from None
            report_progress()
        return results
    pool = ProcessPoolExecutor(
        max_workers=min(options.workers, len(chunks)), initializer=_ignore_interrupts
    )
    try:
        pending: set[Future] = {pool.submit(convert_chunk, *args, chunk) for chunk in chunks}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                results.extend(future.result())
            report_progress()
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        raise _interrupted(out) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return results


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the main process, which cancels the chunks not started and
    lets the running ones finish their (whole-file) writes: no traceback per worker."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _remove_strays(out: Path, layout: Layout, plan: list[StreamPlan], done: list[Target]) -> None:
    """Delete sample files in OUT's sample folders that this import does not list: left by
    an interrupted run (`.tmp`), or from an earlier run whose source has changed since (a
    sample now on the other side of the split). The folders are the import's own."""
    keep = {p for t in done for p in _destinations(out, layout, t, plan)}
    folders = ("train", "val") if layout == "single" else tuple(s.name for s in plan)
    for folder in folders:
        if not (out / folder).is_dir():
            continue
        for path in (out / folder).iterdir():
            if path.is_file() and path not in keep and path.suffix in (".npz", ".npy", ".tmp"):
                path.unlink()


def _interrupted(out: Path) -> ImportInterrupted:
    return ImportInterrupted(
        f"interrupted: the samples written so far are kept in {out}",
        hint="run the same command again to resume",
    )


def _chunks(targets: list[Target], workers: int) -> list[list[Target]]:
    """Targets in chunks of about CHUNK_ITEMS, never splitting a group (one source file)."""
    groups: dict[str, list[Target]] = defaultdict(list)
    for target in targets:
        groups[target.item.group or target.item.id].append(target)
    size = max(1, min(CHUNK_ITEMS, math.ceil(len(targets) / max(1, workers * 4))))
    chunks: list[list[Target]] = [[]]
    for group in groups.values():
        if chunks[-1] and len(chunks[-1]) + len(group) > size:
            chunks.append([])
        chunks[-1].extend(group)
    return [c for c in chunks if c]


def convert_chunk(
    format_name: str, plan: list[StreamPlan], out: str, layout: Layout, chunk: list[Target]
) -> list[ItemResult]:
    """Read, check and write the targets of one chunk (runs in a worker process). A
    sequence that cannot be converted gets its reason; the others are still written."""
    fmt = get_format(format_name)
    try:
        read = fmt.read([t.item for t in chunk])
    except Exception as exc:  # noqa: BLE001 - a reader bug must not cost the whole import
        reason = f"reader failed: {type(exc).__name__}: {exc}"
        return [ItemResult(t.item.id, error=reason) for t in chunk]
    results = []
    for target, streams in zip(chunk, read, strict=True):
        if isinstance(streams, str):
            results.append(ItemResult(target.item.id, error=streams))
            continue
        try:
            arrays = _select(streams, plan)
            paths = _destinations(Path(out), layout, target, plan)
            if layout == "single":
                _save(paths[0], {"X": np.concatenate(arrays, axis=1)})
            else:
                for path, array in zip(paths, arrays, strict=True):
                    _save(path, array)
        except ValueError as exc:
            results.append(ItemResult(target.item.id, error=str(exc)))
            continue
        except OSError as exc:
            raise UsageError(f"could not write into {out}: {exc.strerror or exc}") from exc
        result = _stats(target.item.id, arrays, plan)
        result.note = getattr(streams, "note", None)
        results.append(result)
    return results


def _select(streams: dict[str, np.ndarray], plan: list[StreamPlan]) -> list[np.ndarray]:
    """[T, width] float32 per planned stream; ValueError says what is wrong."""
    arrays, frames = [], set()
    present = [np.asarray(streams[s.name]) for s in plan if s.name in streams]
    if not present:
        raise ValueError(f"has none of the streams {', '.join(s.name for s in plan)}")
    for stream in plan:
        if stream.name in streams:
            points = np.asarray(streams[stream.name], dtype=np.float32)
        else:  # a part the detector was not run for in this sequence: not detected
            source = stream.landmarks and max(stream.landmarks) + 1 or stream.count
            points = np.full((len(present[0]), source, COORDS), np.nan, dtype=np.float32)
        if stream.landmarks is not None:
            points = points[:, list(stream.landmarks)]
        if points.ndim != 3 or points.shape[1:] != (stream.count, COORDS):
            raise ValueError(
                f"{stream.name} has shape {list(points.shape)}, expected "
                f"[T, {stream.count}, {COORDS}]"
            )
        if np.isinf(points).any():
            raise ValueError(f"{stream.name} holds infinite coordinates")
        frames.add(points.shape[0])
        arrays.append(points.reshape(points.shape[0], stream.width))
    if len(frames) != 1:
        raise ValueError(f"streams have different frame counts {sorted(frames)}")
    if frames == {0}:
        raise ValueError("has no frames")
    return arrays


def _save(path: Path, content: dict[str, np.ndarray] | np.ndarray) -> None:
    """Write `.npz` / `.npy` to NAME.tmp, then rename: a killed import leaves no torn file.
    (No fsync per sample: it would cost more than the conversion; the manifest, written
    last, is fsynced, and a resumed import re-reads every sample it keeps.)"""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        if isinstance(content, dict):
            np.savez(handle, **content)
        else:
            np.save(handle, content)
    os.replace(tmp, path)


def _stats(item_id: str, arrays: list[np.ndarray], plan: list[StreamPlan]) -> ItemResult:
    missing = {
        s.name: int(np.isnan(a[:, ::COORDS]).sum()) for s, a in zip(plan, arrays, strict=True)
    }
    return ItemResult(item_id, frames=int(arrays[0].shape[0]), missing=missing)


def _check_existing(paths: list[Path], plan: list[StreamPlan], layout: Layout) -> ItemResult | None:
    """The stats of a sample an earlier run wrote, or None when it must be redone."""
    try:
        if layout == "single":
            with open_input(paths[0], "sample file") as handle, np.load(handle) as archive:
                x = archive["X"]
            columns = _columns(plan)
            arrays = [x[:, a:b] for a, b in columns.values()]
        else:
            arrays = []
            for path in paths:
                with open_input(path, "sample file") as handle:
                    arrays.append(np.load(handle))
        _check_widths(arrays, plan)
    except (OSError, ValueError, KeyError, EOFError):
        return None
    return _stats("", arrays, plan)


def _check_widths(arrays: list[np.ndarray], plan: list[StreamPlan]) -> None:
    for array, stream in zip(arrays, plan, strict=True):
        if array.ndim != 2 or array.shape[1] != stream.width or array.shape[0] == 0:
            raise ValueError("not this import's shape")


# ---------------------------------------------------------------------------------------
# Tables, manifest, report


def _write_tables(
    out: Path, layout: Layout, plan: list[StreamPlan], classes: list[str], done: list[Target]
) -> None:
    import pandas as pd

    from signcli.core.atomic import atomic_write

    done = sorted(done, key=lambda t: t.item.id)
    has_labels = any(t.gloss >= 0 for t in done)
    has_signer = any(t.item.signer is not None for t in done)
    has_text = any(t.item.text is not None for t in done)

    def rows(targets: list[Target], key: str) -> pd.DataFrame:
        frame: dict[str, list[Any]] = {key: [t.item.id for t in targets]}
        if has_labels:
            frame["gloss"] = [t.gloss for t in targets]
            frame["gloss_name"] = [classes[t.gloss] if t.gloss >= 0 else "" for t in targets]
        if has_signer:
            frame["signer"] = [t.item.signer or "" for t in targets]
        return pd.DataFrame(frame)

    def texts(targets: list[Target], key: str, text: str) -> pd.DataFrame:
        return pd.DataFrame(
            {key: [t.item.id for t in targets], text: [t.item.text or "" for t in targets]}
        )

    by_split = {s: [t for t in done if t.split == s] for s in ("train", "val")}
    if layout == "single":
        for split, targets in by_split.items():
            if not targets:
                continue
            if has_labels:
                atomic_write(out / f"{split}_labels.csv", rows(targets, "file").to_csv(index=False))
            if has_text:
                atomic_write(
                    out / f"{split}_text.csv", texts(targets, "file", "text").to_csv(index=False)
                )
        return
    if has_labels:
        atomic_write(out / "labels.csv", rows(done, "id").to_csv(index=False))
    for split, targets in by_split.items():
        if targets:
            index = pd.DataFrame({"id": [t.item.id for t in targets]})
            atomic_write(out / f"{split}_index.csv", index.to_csv(index=False))
    if has_text:
        atomic_write(out / "meta.csv", texts(done, "id", "texto").to_csv(index=False, sep=";"))


def _manifest(
    options: ImportOptions,
    facts: SourceFacts,
    plan: list[StreamPlan],
    classes: list[str],
    done: list[Target],
) -> DatasetManifest:
    from signcli import __version__

    single = options.layout == "single"
    columns = _columns(plan)
    streams = {
        s.name: StreamEntry(
            landmarks=s.count,
            columns=columns[s.name] if single else None,
            folder=None if single else s.name,
            source_landmarks=list(s.landmarks) if s.landmarks is not None else None,
            mirror_pairs=[tuple(p) for p in s.mirror_pairs],
        )
        for s in plan
    }
    has_labels = any(t.gloss >= 0 for t in done)
    has_text = any(t.item.text is not None for t in done)
    splits = {}
    for split in ("train", "val"):
        if not any(t.split == split for t in done):
            continue
        if single:
            splits[split] = SplitEntry(
                dir=split,
                labels=f"{split}_labels.csv" if has_labels else None,
                text=f"{split}_text.csv" if has_text else None,
            )
        else:
            splits[split] = SplitEntry(
                index=f"{split}_index.csv",
                labels="labels.csv" if has_labels else None,
                text="meta.csv" if has_text else None,
            )
    if "train" not in splits:
        raise DataError(
            "no sequence was written to the training split", hint="see the skipped list"
        )
    landmark_set = facts.landmark_set
    return DatasetManifest(
        landmark_set=landmark_set.name if landmark_set is not None else None,
        layout=options.layout,
        streams=streams,
        units=facts.units,  # type: ignore[arg-type]
        # every importer writes x, y, z per landmark (base.COORDS); X holds them all
        coords="xyz" if single else None,
        joints=sum(s.count for s in plan) if single else None,
        classes=classes if has_labels else [],
        signer_column="signer" if any(t.item.signer for t in done) else None,
        splits=splits,
        source={
            "format": options.format,
            "path": str(options.src.expanduser().absolute()),
            "signcli": __version__,
        },
    )


def _report(
    options: ImportOptions,
    facts: SourceFacts,
    plan: list[StreamPlan],
    classes: list[str],
    targets: list[Target],
    results: list[ItemResult],
    skipped: list[tuple[str, str]],
    resumed: int,
    started: float,
    split_rule: str,
    *,
    dry_run: bool = False,
) -> ImportReport:
    ok = [r for r in results if r.error is None]
    frames = np.asarray([r.frames for r in ok], dtype=np.float64)
    nan_share = {}
    for stream in plan:
        total = frames.sum() * stream.count
        nan_share[stream.name] = (
            round(float(sum(r.missing.get(stream.name, 0) for r in ok) / total), 4)
            if total
            else 0.0
        )
    splits = Counter(t.split for t in targets)
    signers = {
        s: len({t.item.signer for t in targets if t.split == s and t.item.signer is not None})
        for s in splits
    }
    landmark_set = facts.landmark_set
    return ImportReport(
        format=options.format,
        src=str(options.src),
        out=str(options.out),
        layout=options.layout,
        landmark_set=landmark_set.name if landmark_set is not None else "",
        streams={s.name: s.count for s in plan},
        classes=len(classes),
        splits=dict(sorted(splits.items(), key=lambda kv: kv[0] != "train")),
        signers=signers,
        frames={
            "min": float(frames.min()) if len(frames) else 0.0,
            "mean": round(float(frames.mean()), 1) if len(frames) else 0.0,
            "max": float(frames.max()) if len(frames) else 0.0,
        },
        nan_share=nan_share,
        skipped=skipped,
        resumed=resumed,
        seconds=round(time.perf_counter() - started, 2),
        dry_run=dry_run,
        split_rule=split_rule,
        sequence_notes={r.id: r.note for r in sorted(ok, key=lambda r: r.id) if r.note},
    )


def _write_json(path: Path, record: dict[str, Any]) -> None:
    from signcli.core.atomic import atomic_write

    atomic_write(path, json.dumps(record, indent=2, default=str) + "\n")


__all__ = ["ImportOptions", "ImportReport", "run_import", "read_manifest"]
