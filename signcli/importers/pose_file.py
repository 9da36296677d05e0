"""`signcli import pose`: `.pose` files of the sign-language-processing `pose-format` library.

Layout of SRC, decided by where the `.pose` files are:

    SRC/<label>/*.pose   the folder name is the label of every file in it
    SRC/*.pose           no labels (label None): they come from --labels

SRC with `.pose` files both directly inside and in label folders is refused (which layout was
meant is a guess); files deeper than SRC/<label>/ and duplicate ids are skipped with a reason.
Hidden files and folders (`.DS_Store`, macOS `._x.pose` copies) are not looked at.

Two header schemas are understood, matched by component name, one per import:

    MediaPipe Holistic (pose-format's mediapipe estimator, `MEDIAPIPE_HOLISTIC`):
        POSE_LANDMARKS 33 -> pose, FACE_LANDMARKS 468 -> face (478 with refined irises: the
        first 468 are taken), LEFT_HAND_LANDMARKS 21 -> hand_l, RIGHT_HAND_LANDMARKS 21 ->
        hand_r; POSE_WORLD_LANDMARKS (metres, not image space) is ignored
    OpenPose (pose-format's openpose loader, `OPENPOSE_BODY25_HANDS`):
        pose_keypoints_2d 25 -> pose, face_keypoints_2d 70 -> face, hand_left_keypoints_2d
        21 -> hand_l, hand_right_keypoints_2d 21 -> hand_r

`scan` reads the header of the first readable file (sorted order) and takes its schema as the
import's landmark set; it sets `FORMAT.landmark_set` and `FORMAT.units` for the manifest and
writes both into every item's ref, so that `read` (in any worker process) needs no state and
gives a reason for each file whose header differs: another schema, a missing component, a
reduced face (pose-format's `reduce_holistic` keeps 128 face points), other units.

Values: a point that is masked or has confidence 0 is NaN; 2-D points (OpenPose's XYC) get
z = 0; only the first person of a file is read when it holds several. fps is not kept.

Units: coordinates are kept as stored. pose-format's estimators store x, y in pixels of the
video (x * width, y * height) and record width and height in the header; MediaPipe's z is
stored unscaled, on the scale of its 0..1 x, so it is multiplied by the width here (x, y and z
then share one unit, as the normalisation needs). So `units` is "pixels" when the header says width or height > 1, and
"normalized" otherwise (a header of 1 x 1 or 0 x 0, as tools that keep MediaPipe's 0..1 write).

Needs the optional extra (`pip install 'signcli[pose]'`, pose-format >= 0.10 for the header-only
read); pose_format is imported inside the functions that use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signcli.importers.base import (
    COORDS,
    LANDMARK_SETS,
    MEDIAPIPE_HOLISTIC,
    OPENPOSE_BODY25_HANDS,
    ImportFormatError,
    LandmarkSet,
    Scan,
    SourceItem,
    Streams,
    safe_id,
)

SUFFIX = ".pose"
INSTALL_HINT = "pip install 'signcli[pose]'"
MIN_POSE_FORMAT = "0.10"  # Pose.read(file, pose_body=EmptyPoseBody) reads only the header
PIXELS, NORMALIZED = "pixels", "normalized"

# landmark set -> stream -> (header component, point counts accepted); the stream takes the
# first `landmark_set.streams[stream]` points of its component
COMPONENTS: dict[str, dict[str, tuple[str, tuple[int, ...]]]] = {
    MEDIAPIPE_HOLISTIC.name: {
        "pose": ("POSE_LANDMARKS", (33,)),
        "face": ("FACE_LANDMARKS", (468, 478)),  # 478: refine_face_landmarks adds 10 iris points
        "hand_l": ("LEFT_HAND_LANDMARKS", (21,)),
        "hand_r": ("RIGHT_HAND_LANDMARKS", (21,)),
    },
    OPENPOSE_BODY25_HANDS.name: {
        "pose": ("pose_keypoints_2d", (25,)),
        "face": ("face_keypoints_2d", (70,)),
        "hand_l": ("hand_left_keypoints_2d", (21,)),
        "hand_r": ("hand_right_keypoints_2d", (21,)),
    },
}


@dataclass(frozen=True)
class PoseRef:
    """`SourceItem.ref` of a .pose file: where it is and what the import expects of it."""

    path: str
    landmark_set: str  # LandmarkSet.name detected by scan
    units: str


def _pose_format() -> tuple[Any, Any]:
    """(Pose, EmptyPoseBody) of pose-format, or ImportFormatError saying how to install it."""
    try:
        import pose_format  # noqa: F401 - only whether it is installed
    except ImportError as exc:
        raise ImportFormatError(
            f"reading .pose files needs the pose-format library: {INSTALL_HINT}"
        ) from exc
    try:
        from pose_format import Pose
        from pose_format.pose_body import EmptyPoseBody
    except ImportError as exc:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("pose-format")
        except PackageNotFoundError:
            found = "an older version"
        raise ImportFormatError(
            f"reading .pose files needs pose-format >= {MIN_POSE_FORMAT} (found {found}): "
            f"pip install -U 'signcli[pose]'"
        ) from exc
    return Pose, EmptyPoseBody


def read_header(path: Path) -> Any:
    """The PoseHeader of a .pose file, reading the header only (the body is skipped)."""
    Pose, EmptyPoseBody = _pose_format()
    with path.open("rb") as f:
        return Pose.read(f, pose_body=EmptyPoseBody).header


def detect_landmark_set(header: Any) -> LandmarkSet | None:
    """The landmark set whose component names the header uses, None for other schemas."""
    names = {c.name for c in header.components}
    for landmark_set in (MEDIAPIPE_HOLISTIC, OPENPOSE_BODY25_HANDS):
        if names & {component for component, _ in COMPONENTS[landmark_set.name].values()}:
            return landmark_set
    return None


def units_of(header: Any) -> str:
    """PIXELS when the header's width or height is above 1, else NORMALIZED."""
    dimensions = header.dimensions
    return PIXELS if max(dimensions.width, dimensions.height) > 1 else NORMALIZED


def _spatial_dims(point_format: str) -> int | None:
    """Coordinates a point format gives of x, y, z: 3 for XYZ..., 2 for XY..., else None."""
    if point_format.upper().startswith("XYZ"):
        return 3
    if point_format.upper().startswith("XY"):
        return 2
    return None


def header_problem(header: Any, expected: LandmarkSet, units: str) -> str | None:
    """Why a header does not fit the import (landmark set, point counts, units), or None."""
    found = detect_landmark_set(header)
    if found is None:
        names = ", ".join(c.name for c in header.components)
        return f"unknown header components ({names}); expected {expected.name}"
    if found.name != expected.name:
        return f"header is {found.name}, but this import is {expected.name} (from the first file)"
    by_name = {c.name: c for c in header.components}
    for component, counts in COMPONENTS[expected.name].values():
        if component not in by_name:
            return f"no {component} component in the header"
        points = len(by_name[component].points)
        if points not in counts:
            allowed = " or ".join(str(n) for n in counts)
            return f"{component} has {points} points, expected {allowed}"
        if _spatial_dims(by_name[component].format) is None:
            return f"{component} has point format {by_name[component].format!r}, expected XY(Z)C"
    if units_of(header) != units:
        return f"header dimensions say {units_of(header)}, but this import is {units}"
    return None


def _streams(pose: Any, expected: LandmarkSet) -> Streams | str:
    """{stream: [T, L, 3] float32} of the first person of a read Pose; a reason if empty."""
    import numpy as np

    data = pose.body.data  # masked [frames, people, points, dims]
    frames, people = data.shape[:2]
    if frames == 0:
        return "no frames"
    if people == 0:
        return "no people in any frame"
    person = data[:, 0]
    values = np.ma.getdata(person)
    confidence = np.asarray(pose.body.confidence)[:, 0]
    missing = np.ma.getmaskarray(person).any(axis=-1) | ~(confidence > 0)  # [T, points]

    offsets: dict[str, tuple[int, Any]] = {}
    start = 0
    for component in pose.header.components:
        offsets[component.name] = (start, component)
        start += len(component.points)

    streams: Streams = {}
    for stream, (name, _) in COMPONENTS[expected.name].items():
        first, component = offsets[name]
        count = expected.streams[stream]
        dims = _spatial_dims(component.format)
        points = np.zeros((frames, count, COORDS), dtype=np.float32)
        points[..., :dims] = values[:, first : first + count, :dims]
        if dims == COORDS and expected.name == "mediapipe-holistic":
            points[..., 2] *= _z_scale(pose.header)
        points[missing[:, first : first + count]] = np.nan
        streams[stream] = points
    return streams


def _z_scale(header: Any) -> float:
    """MediaPipe's z is on the scale of its 0..1 x (image width); pose-format's estimator
    scales x by the width and leaves z alone, so z is scaled by the width here too: the
    per-stream normalisation then divides x, y and z by one hand or shoulder size."""
    width = float(header.dimensions.width)
    return width if width > 1 else 1.0


def _error(exc: Exception) -> str:
    """`TypeError: ...`, `struct.error: ...`: the exception for a one-line reason."""
    kind = type(exc)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
    return f"{name}: {exc}"


def read_streams(ref: PoseRef) -> Streams | str:
    """The streams of one .pose file, or a one-line reason naming the file."""
    Pose, _ = _pose_format()
    path = Path(ref.path)
    try:
        pose = Pose.read(path.read_bytes())
    except Exception as exc:  # a damaged file raises struct, Value, Type, EOF ... errors
        return f"{path}: not a readable .pose file ({_error(exc)})"
    expected = LANDMARK_SETS[ref.landmark_set]
    problem = header_problem(pose.header, expected, ref.units)
    if problem is None:
        result = _streams(pose, expected)
        if isinstance(result, dict):
            return result
        problem = result
    return f"{path}: {problem}"


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
        "pose-format .pose files (MediaPipe Holistic or OpenPose headers): "
        "SRC/<label>/*.pose or SRC/*.pose"
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

        self.landmark_set, self.units = self._detect(src, [p for _, p in found])

        used = {p for _, p in found}
        skipped = [
            (str(p), "deeper than SRC/<label>/*.pose: not read")
            for p in sorted(src.rglob(f"*{SUFFIX}"))
            if p not in used and p.is_file() and not _hidden(p, src)
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
        return Scan(items=items, skipped=skipped)

    @staticmethod
    def _detect(src: Path, paths: Sequence[Path]) -> tuple[LandmarkSet, str]:
        """(landmark set, units) of the first file whose header reads; files that do not
        read are left to `read`, which reports them."""
        first_error = ""
        for path in paths:
            try:
                header = read_header(path)
            except ImportFormatError:
                raise
            except Exception as exc:  # damaged: reported per file by read
                first_error = first_error or f"{path}: {_error(exc)}"
                continue
            landmark_set = detect_landmark_set(header)
            if landmark_set is None:
                names = ", ".join(c.name for c in header.components)
                raise ImportFormatError(
                    f"{path}: header components ({names}) are neither MediaPipe Holistic "
                    f"(POSE_LANDMARKS, FACE_LANDMARKS, LEFT_/RIGHT_HAND_LANDMARKS) nor OpenPose "
                    f"(pose_keypoints_2d, face_keypoints_2d, hand_left/right_keypoints_2d)"
                )
            return landmark_set, units_of(header)
        raise ImportFormatError(
            f"none of the {len(paths)} .pose files in {src} could be read ({first_error})"
        )

    def read(self, items: Sequence[SourceItem]) -> list[Streams | str]:
        return [read_streams(item.ref) for item in items]


FORMAT = PoseFileFormat()
