"""`signcli import pose`: `.pose` files of the sign-language-processing `pose-format` library.

Layout of SRC, decided by where the `.pose` files are:

    SRC/<label>/*.pose   the folder name is the label of every file in it
    SRC/*.pose           no labels (label None): they come from --labels

SRC with `.pose` files both directly inside and in label folders is refused (which layout was
meant is a guess); files deeper than SRC/<label>/ and duplicate ids are skipped with a reason.
Hidden files and folders (`.DS_Store`, macOS `._x.pose` copies) are not looked at.

Files of one landmark set are imported together, whatever each holds: the streams are those any
file has, and the face keeps the landmarks any file has (a tree of reduced files keeps the
128 contour points only, as a subset with its mirror pairs; the pose keeps all 33, NaN
where no file has a point, see COMPACT_STREAMS). Files of different landmark sets
(or units) cannot be aligned landmark by landmark: SRC is then refused, naming the files of
each, and nothing is written. `scan` reads every file's header; a file whose header does
not read is left to `read`, which names it with the reason.

How a file is read (header components, values, units) is data/recordings/pose_file.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from signcli.core.files import walk_files
from signcli.core.limits import MAX_FOLDER_DEPTH
from signcli.data.recordings.pose_file import (
    ESTIMATORS,
    PIXELS,
    SUFFIX,
    HeaderPlan,
    PoseRef,
    error_text,
    plan_header,
    read_header,
    read_streams,
)
from signcli.importers.base import (
    LANDMARK_SETS,
    MEDIAPIPE_HOLISTIC,
    ImportFormatError,
    LandmarkSet,
    Scan,
    SourceItem,
    Streams,
    safe_id,
)

FILES_SHOWN = 3  # files named per estimator when a mixed tree is refused
# Streams written with only the landmarks the files hold when that is fewer than all. Not
# the pose: the model's normalisation finds the shoulders by the pose's landmark count, so
# a reduced pose keeps its full width (NaN where no file has a point); a face is placed by
# the mean and extent of whatever landmarks it has.
COMPACT_STREAMS = ("face",)


def _pose_files(folder: Path) -> list[Path]:
    """The visible .pose files directly in `folder`, sorted."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() == SUFFIX and not p.name.startswith(".") and p.is_file()
    )


def _label_folders(src: Path) -> list[Path]:
    return sorted(p for p in src.iterdir() if p.is_dir() and not p.name.startswith("."))


def _hidden(path: Path, src: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(src).parts)


class PoseFileFormat:
    """The `pose` format. `landmark_set` and `units` are those of the last `scan` (before
    any scan: MediaPipe Holistic in pixels, what pose-format's estimator writes)."""

    name = "pose"
    description = (
        "pose-format .pose files (MediaPipe Holistic full, reduced or hands only; OpenPose; "
        "MMPose / OpenPifPaf whole-body): SRC/<label>/*.pose or SRC/*.pose"
    )

    def __init__(self) -> None:
        self.landmark_set: LandmarkSet = MEDIAPIPE_HOLISTIC
        self.units: str = PIXELS

    def scan(self, src: Path) -> Scan:
        src = Path(src)
        if not src.is_dir():
            raise ImportFormatError(
                f"{src} is not a folder: expected SRC/<label>/*.pose or SRC/*.pose"
            )
        flat = _pose_files(src)
        labelled = [(folder.name, p) for folder in _label_folders(src) for p in _pose_files(folder)]
        if flat and labelled:
            raise ImportFormatError(
                f"{src} has .pose files both directly inside ({flat[0].name} ...) and in label "
                f"folders ({labelled[0][0]}/ ...): use SRC/<label>/*.pose or SRC/*.pose, not both"
            )
        found: list[tuple[str | None, Path]] = labelled or [(None, p) for p in flat]
        if not found:
            raise ImportFormatError(
                f"no .pose files in {src}: expected SRC/<label>/*.pose or SRC/*.pose"
            )
        plans = self._plans(src, [p for _, p in found])
        self.landmark_set = LANDMARK_SETS[next(iter(plans.values())).landmark_set]
        self.units = next(iter(plans.values())).units

        used = {p for _, p in found}
        deeper, too_deep = walk_files(src, SUFFIX)
        skipped = [
            (str(p), "deeper than SRC/<label>/*.pose: not read")
            for p in sorted(deeper)
            if p not in used and not _hidden(p, src)
        ]
        skipped += [
            (
                str(p),
                f"folders below, more than {MAX_FOLDER_DEPTH.value():,} levels deep: not searched",
            )
            for p in sorted(too_deep)
        ]
        items: list[SourceItem] = []
        ids: dict[str, Path] = {}
        for label, path in found:
            sample_id = safe_id(path.stem) if label is None else safe_id(label, path.stem)
            if sample_id in ids:
                skipped.append((str(path), f"same sample id {sample_id} as {ids[sample_id]}"))
                continue
            ids[sample_id] = path
            ref = PoseRef(str(path), self.landmark_set.name, self.units)
            items.append(SourceItem(id=sample_id, ref=ref, label=label))
        streams, kept = _union(self.landmark_set, plans.values())
        kinds: dict[str, int] = {}
        for plan in plans.values():
            kinds[plan.kind()] = kinds.get(plan.kind(), 0) + 1
        notes = []
        if len(kinds) > 1 or "full" not in kinds:
            notes.append(
                f"{ESTIMATORS[self.landmark_set.name]} files: "
                + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
                + " (what a file lacks is NaN)"
            )
        return Scan(
            items=items,
            skipped=skipped,
            landmark_set=self.landmark_set,
            units=self.units,
            streams=streams,
            kept=kept,
            notes=notes,
        )

    @staticmethod
    def _plans(src: Path, paths: Sequence[Path]) -> dict[Path, HeaderPlan]:
        """The plan of each file whose header reads (the others are left to `read`, which
        names them); ImportFormatError when none reads, or when the files are of several
        landmark sets or units (naming the files of each) or of none known."""
        plans: dict[Path, HeaderPlan] = {}
        unfit: dict[str, list[Path]] = {}  # reason -> files
        first_error = ""
        for path in paths:
            try:
                header = read_header(path)
            except ImportFormatError:
                raise
            except Exception as exc:  # damaged: reported per file by read
                first_error = first_error or f"{path}: {error_text(exc)}"
                continue
            plan = plan_header(header)
            if isinstance(plan, str):
                unfit.setdefault(plan, []).append(path)
            else:
                plans[path] = plan
        groups: dict[str, list[Path]] = {}
        for path, plan in plans.items():
            groups.setdefault(f"{ESTIMATORS[plan.landmark_set]} ({plan.landmark_set}, "
                              f"{plan.units})", []).append(path)  # fmt: skip
        for reason, files in unfit.items():
            groups[f"not importable: {reason}"] = files
        if len(groups) > 1:
            listed = "; ".join(
                f"{what}: {len(files)} files ({', '.join(_shown(src, files))})"
                for what, files in groups.items()
            )
            raise ImportFormatError(
                f"{src} mixes .pose files that cannot be imported as one set of streams: "
                f"{listed}. Import each estimator's files into a dataset of its own (move "
                "them into separate folders)"
            )
        if unfit:
            [(reason, files)] = unfit.items()
            raise ImportFormatError(f"{files[0]}: {reason}")
        if not plans:
            raise ImportFormatError(
                f"none of the {len(paths)} .pose files in {src} could be read ({first_error})"
            )
        return plans

    def read(self, items: Sequence[SourceItem]) -> list[Streams | str]:
        return [read_streams(item.ref) for item in items]


def _shown(src: Path, files: list[Path]) -> list[str]:
    names = [str(p.relative_to(src)) for p in files[:FILES_SHOWN]]
    return names + ([f"{len(files) - FILES_SHOWN} more"] if len(files) > FILES_SHOWN else [])


def _union(
    landmark_set: LandmarkSet, plans: Iterable[HeaderPlan]
) -> tuple[dict[str, int], dict[str, tuple[int, ...]]]:
    """The streams any file holds (at the set's size) and, per stream, the landmarks any
    file holds when that is fewer than all."""
    held: dict[str, set[int]] = {}
    for plan in plans:
        for component in plan.maps:
            held.setdefault(component.stream, set()).update(
                i for i in component.landmarks if i >= 0
            )
    streams = {s: n for s, n in landmark_set.streams.items() if s in held}
    kept = {
        s: tuple(sorted(held[s]))
        for s in streams
        if s in COMPACT_STREAMS and len(held[s]) < landmark_set.streams[s]
    }
    return streams, kept


FORMAT = PoseFileFormat()
