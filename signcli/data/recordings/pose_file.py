"""One `.pose` file of the sign-language-processing `pose-format` library as streams.

`signcli import pose` reads a tree of them (importers/pose_file.py), `signcli predict` one
file as one recording.

Header components are matched by name to signcli's streams, for the estimators pose-format
writes (the landmark set goes into the manifest):

    MediaPipe Holistic (`mediapipe-holistic`; pose-format's mediapipe estimator):
        POSE_LANDMARKS 33 -> pose, FACE_LANDMARKS 468 -> face (478 with refined irises:
        the first 468 are taken), LEFT_HAND_LANDMARKS 21 -> hand_l, RIGHT_HAND_LANDMARKS 21
        -> hand_r; POSE_WORLD_LANDMARKS (metres, not image space) is ignored.
        `reduce_holistic` files (pose 8 points, face 128 contour points) are matched point
        by point by name (MediaPipe's PoseLandmark names, the face mesh index as text); a
        file with the hand components only (MediaPipe Hands) has no pose or face.
    OpenPose (`openpose-body25-hands`; pose-format's openpose loader):
        pose_keypoints_2d 25 -> pose, face_keypoints_2d 70 -> face, hand_left_keypoints_2d
        21 -> hand_l, hand_right_keypoints_2d 21 -> hand_r
    COCO-WholeBody (`coco-wholebody`; pose-format's MMPose whole-body and OpenPifPaf
        estimators, AlphaPose 133): BODY 23 -> pose, FACE 68 -> face, LEFT_HAND 21 ->
        hand_l, RIGHT_HAND 21 -> hand_r (AlphaPose: the same names with `_133`)

A component a file lacks is NaN for that file (a hands-only file beside full ones).

Values: a point that is masked or has confidence 0 is NaN; 2-D points (XYC) get z = 0; only
the first person of a file is read when it holds several (pose-format's estimators write
one). fps is not kept.

Units: coordinates are kept as stored. pose-format's estimators store x, y in pixels of the
video (x * width, y * height) and record width and height in the header; MediaPipe's z is
stored unscaled, on the scale of its 0..1 x, so it is multiplied by the width here (x, y and z
then share one unit, as the normalisation needs). So `units` is "pixels" when the header says width or height > 1, and
"normalized" otherwise (a header of 1 x 1 or 0 x 0, as tools that keep MediaPipe's 0..1 write).

Needs the optional extra (`pip install 'signcli[pose]'`, pose-format >= 0.10 for the header-only
read); pose_format is imported inside the functions that use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signcli.core.errors import excerpt
from signcli.core.files import open_input
from signcli.core.limits import MAX_SAMPLE_BYTES
from signcli.data.landmarks import (
    COCO_WHOLEBODY,
    LANDMARK_SETS,
    MEDIAPIPE_HOLISTIC,
    OPENPOSE_BODY25_HANDS,
    LandmarkSet,
)
from signcli.data.recordings.base import COORDS, SourceFormatError, Streams

SUFFIX = ".pose"
INSTALL_HINT = "pip install 'signcli[pose]'"
MIN_POSE_FORMAT = "0.10"  # Pose.read(file, pose_body=EmptyPoseBody) reads only the header
PIXELS, NORMALIZED = "pixels", "normalized"

# MediaPipe's PoseLandmark and HandLandmark names, the point names pose-format writes
MEDIAPIPE_POSE_NAMES = (
    "NOSE", "LEFT_EYE_INNER", "LEFT_EYE", "LEFT_EYE_OUTER", "RIGHT_EYE_INNER", "RIGHT_EYE",
    "RIGHT_EYE_OUTER", "LEFT_EAR", "RIGHT_EAR", "MOUTH_LEFT", "MOUTH_RIGHT", "LEFT_SHOULDER",
    "RIGHT_SHOULDER", "LEFT_ELBOW", "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST", "LEFT_PINKY",
    "RIGHT_PINKY", "LEFT_INDEX", "RIGHT_INDEX", "LEFT_THUMB", "RIGHT_THUMB", "LEFT_HIP",
    "RIGHT_HIP", "LEFT_KNEE", "RIGHT_KNEE", "LEFT_ANKLE", "RIGHT_ANKLE", "LEFT_HEEL",
    "RIGHT_HEEL", "LEFT_FOOT_INDEX", "RIGHT_FOOT_INDEX",
)  # fmt: skip
MEDIAPIPE_HAND_NAMES = (
    "WRIST", "THUMB_CMC", "THUMB_MCP", "THUMB_IP", "THUMB_TIP", "INDEX_FINGER_MCP",
    "INDEX_FINGER_PIP", "INDEX_FINGER_DIP", "INDEX_FINGER_TIP", "MIDDLE_FINGER_MCP",
    "MIDDLE_FINGER_PIP", "MIDDLE_FINGER_DIP", "MIDDLE_FINGER_TIP", "RING_FINGER_MCP",
    "RING_FINGER_PIP", "RING_FINGER_DIP", "RING_FINGER_TIP", "PINKY_MCP", "PINKY_PIP",
    "PINKY_DIP", "PINKY_TIP",
)  # fmt: skip
COCO_BODY_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_big_toe",
    "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)  # fmt: skip


@dataclass(frozen=True)
class StreamSchema:
    """How one stream of a landmark set appears in pose-format headers."""

    components: tuple[str, ...]  # the component names that hold it (the first present wins)
    extra: tuple[int, ...] = ()  # larger point counts whose first `count` points are taken
    names: tuple[str, ...] = ()  # point names, to place the points of a reduced component


# landmark set -> stream -> its schema; the stream's landmark count is the set's
SCHEMAS: dict[str, dict[str, StreamSchema]] = {
    MEDIAPIPE_HOLISTIC.name: {
        "pose": StreamSchema(("POSE_LANDMARKS",), names=MEDIAPIPE_POSE_NAMES),
        # 478: refine_face_landmarks adds 10 iris points; points are named by their index
        "face": StreamSchema(("FACE_LANDMARKS",), (478,), tuple(str(i) for i in range(468))),
        "hand_l": StreamSchema(("LEFT_HAND_LANDMARKS",), names=MEDIAPIPE_HAND_NAMES),
        "hand_r": StreamSchema(("RIGHT_HAND_LANDMARKS",), names=MEDIAPIPE_HAND_NAMES),
    },
    OPENPOSE_BODY25_HANDS.name: {
        "pose": StreamSchema(("pose_keypoints_2d",)),
        "face": StreamSchema(("face_keypoints_2d",)),
        "hand_l": StreamSchema(("hand_left_keypoints_2d",)),
        "hand_r": StreamSchema(("hand_right_keypoints_2d",)),
    },
    COCO_WHOLEBODY.name: {
        "pose": StreamSchema(("BODY", "BODY_133"), names=COCO_BODY_NAMES),
        "face": StreamSchema(("FACE", "FACE_133")),
        "hand_l": StreamSchema(("LEFT_HAND", "LEFT_HAND_133")),
        "hand_r": StreamSchema(("RIGHT_HAND", "RIGHT_HAND_133")),
    },
}
ESTIMATORS = {  # landmark set -> what writes it, for messages
    MEDIAPIPE_HOLISTIC.name: "MediaPipe Holistic",
    OPENPOSE_BODY25_HANDS.name: "OpenPose",
    COCO_WHOLEBODY.name: "MMPose / OpenPifPaf whole-body",
}


@dataclass(frozen=True)
class ComponentMap:
    """Where one header component's points go: `landmarks[k]` is the stream landmark of
    the component's point k (-1: not kept, such as the irises of a 478-point face)."""

    stream: str
    component: str
    first: int  # the component's first point among all points of the header
    landmarks: tuple[int, ...]
    dims: int  # spatial values per point in the file: 2 (XYC) or 3 (XYZC)


@dataclass(frozen=True)
class HeaderPlan:
    """What a header holds, as signcli streams."""

    landmark_set: str
    units: str
    maps: tuple[ComponentMap, ...]

    def kind(self) -> str:
        """`full`, or what is reduced or absent: `pose 8/33, face 128/468`, `hands only`."""
        counts = LANDMARK_SETS[self.landmark_set].streams
        held = {m.stream: sum(i >= 0 for i in m.landmarks) for m in self.maps}
        if set(held) <= {"hand_l", "hand_r"} and set(counts) - set(held):
            return "hands only"
        parts = [f"{s} {held[s]}/{n}" for s, n in counts.items() if s in held and held[s] < n]
        parts += [f"no {s}" for s in counts if s not in held]
        return ", ".join(parts) or "full"


@dataclass(frozen=True)
class PoseRef:
    """`SourceItem.ref` of a .pose file: where it is and what the import expects of it."""

    path: str
    landmark_set: str  # LandmarkSet.name detected by scan
    units: str


def _pose_format() -> tuple[Any, Any]:
    """(Pose, EmptyPoseBody) of pose-format, or SourceFormatError saying how to install it."""
    try:
        import pose_format  # noqa: F401 - only whether it is installed
    except ImportError as exc:
        raise SourceFormatError(
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
        raise SourceFormatError(
            f"reading .pose files needs pose-format >= {MIN_POSE_FORMAT} (found {found}): "
            f"pip install -U 'signcli[pose]'"
        ) from exc
    return Pose, EmptyPoseBody


def read_header(path: Path) -> Any:
    """The PoseHeader of a .pose file, reading the header only (the body is skipped)."""
    Pose, EmptyPoseBody = _pose_format()
    # a regular file within MAX_SAMPLE_BYTES: a FIFO among the sources would block the import
    with open_input(path, ".pose file", limit=MAX_SAMPLE_BYTES) as f:
        return Pose.read(f, pose_body=EmptyPoseBody).header


def detect_landmark_set(header: Any) -> LandmarkSet | None:
    """The landmark set whose component names the header uses, None for other schemas."""
    names = {c.name for c in header.components}
    for name, schema in SCHEMAS.items():
        if names & {c for stream in schema.values() for c in stream.components}:
            return LANDMARK_SETS[name]
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


def plan_header(header: Any) -> HeaderPlan | str:
    """The streams a header holds, component by component, or why it fits no landmark set
    (unknown components, point counts or names that place no landmark, a point format
    without x, y)."""
    landmark_set = detect_landmark_set(header)
    if landmark_set is None:
        names = ", ".join(c.name for c in header.components)
        known = "; ".join(
            f"{ESTIMATORS[n]}: " + ", ".join(s.components[0] for s in schema.values())
            for n, schema in SCHEMAS.items()
        )
        return f"unknown header components ({names}); known: {known}"
    starts: dict[str, int] = {}
    start = 0
    for component in header.components:
        starts[component.name] = start
        start += len(component.points)
    by_name = {c.name: c for c in header.components}
    maps = []
    for stream, schema in SCHEMAS[landmark_set.name].items():
        name = next((c for c in schema.components if c in by_name), None)
        if name is None:
            continue  # this file has no such part: NaN
        component = by_name[name]
        dims = _spatial_dims(component.format)
        if dims is None:
            return f"{name} has point format {excerpt(component.format)}, expected XY(Z)C"
        landmarks = _place_points(stream, schema, list(component.points), landmark_set)
        if isinstance(landmarks, str):
            return f"{name} {landmarks}"
        maps.append(ComponentMap(stream, name, starts[name], landmarks, dims))
    if not maps:
        return "no component holds keypoints of a stream"
    return HeaderPlan(landmark_set.name, units_of(header), tuple(maps))


def _place_points(
    stream: str, schema: StreamSchema, points: list[str], landmark_set: LandmarkSet
) -> tuple[int, ...] | str:
    """The stream landmark of each point of a component (-1: not kept), or why not."""
    count = landmark_set.streams[stream]
    if len(points) == count or len(points) in schema.extra:
        return tuple(i if i < count else -1 for i in range(len(points)))
    if schema.names and 0 < len(points) < count:  # a reduced component: place by name
        index = {name: i for i, name in enumerate(schema.names)}
        unknown = [p for p in points if p not in index]
        if not unknown and len(set(points)) == len(points):
            return tuple(index[p] for p in points)
        what = f"point names such as {excerpt(unknown[0])}" if unknown else "a point named twice"
        return f"has {len(points)} of {count} points with {what}: cannot place them"
    allowed = " or ".join(str(n) for n in (count, *schema.extra))
    return f"has {len(points)} points, expected {allowed}"


def _streams(pose: Any, plan: HeaderPlan) -> Streams | str:
    """{stream: [T, L, 3] float32} of the first person of a read Pose, each stream of the
    set's full size (landmarks the file lacks NaN); a reason if empty."""
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
    landmark_set = LANDMARK_SETS[plan.landmark_set]
    z_scale = _z_scale(pose.header) if landmark_set is MEDIAPIPE_HOLISTIC else 1.0

    streams: Streams = {}
    for component in plan.maps:
        count = landmark_set.streams[component.stream]
        points = np.full((frames, count, COORDS), np.nan, dtype=np.float32)
        source = np.asarray(component.landmarks)
        kept = np.flatnonzero(source >= 0)  # component points that are landmarks
        target = source[kept]
        rows = component.first + kept
        dims = component.dims
        block = np.zeros((frames, len(kept), COORDS), dtype=np.float32)
        block[..., :dims] = values[:, rows, :dims]
        if dims == COORDS:
            block[..., 2] *= z_scale
        block[missing[:, rows]] = np.nan
        points[:, target] = block
        streams[component.stream] = points
    return streams


def _z_scale(header: Any) -> float:
    """MediaPipe's z is on the scale of its 0..1 x (image width); pose-format's estimator
    scales x by the width and leaves z alone, so z is scaled by the width here too: the
    per-stream normalisation then divides x, y and z by one hand or shoulder size."""
    width = float(header.dimensions.width)
    return width if width > 1 else 1.0


def error_text(exc: Exception) -> str:
    """`TypeError: ...`, `struct.error: ...`: the exception for a one-line reason."""
    kind = type(exc)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
    return f"{name}: {exc}"


def read_streams(ref: PoseRef) -> Streams | str:
    """The streams of one .pose file, or a one-line reason naming the file."""
    Pose, _ = _pose_format()
    path = Path(ref.path)
    try:
        with open_input(path, ".pose file", limit=MAX_SAMPLE_BYTES) as handle:
            pose = Pose.read(handle.read())
    except Exception as exc:  # a damaged file raises struct, Value, Type, EOF ... errors
        return f"{path}: not a readable .pose file ({error_text(exc)})"
    plan = plan_header(pose.header)
    if isinstance(plan, str):
        return f"{path}: {plan}"
    if plan.landmark_set != ref.landmark_set:
        return (
            f"{path}: header is {plan.landmark_set}, but this import is {ref.landmark_set} "
            "(the file changed since the scan)"
        )
    if plan.units != ref.units:
        return f"{path}: header dimensions say {plan.units}, but this import is {ref.units}"
    result = _streams(pose, plan)
    return result if isinstance(result, dict) else f"{path}: {result}"
