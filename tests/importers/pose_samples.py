"""Small `.pose` files written with the pose-format library, for the `pose` importer's tests
and end-to-end `signcli import pose` tests.

`write_pose_file` writes one file with the component names of pose-format's MediaPipe
Holistic estimator or its OpenPose loader and returns what it wrote; `write_pose_tree` writes
SRC/<label>/*.pose (or flat SRC/*.pose). Coordinates are pixels in a `width` x `height`
frame; a point listed in `missing` gets confidence 0, as the estimators write an undetected
point. Tests import it as `tests.importers.pose_samples` (pytest's importlib mode finds it
from the repository root); it needs pose-format, imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

MEDIAPIPE, OPENPOSE, WHOLEBODY = "mediapipe", "openpose", "wholebody"
ALPHAPOSE133 = "alphapose133"
REFINED_FACE = 478  # MediaPipe face mesh with refine_face_landmarks (10 iris points more)

# kind -> header components in file order: (name, points); the face count is a parameter
COMPONENTS: dict[str, list[tuple[str, int]]] = {
    MEDIAPIPE: [
        ("POSE_LANDMARKS", 33),
        ("FACE_LANDMARKS", 468),
        ("LEFT_HAND_LANDMARKS", 21),
        ("RIGHT_HAND_LANDMARKS", 21),
        ("POSE_WORLD_LANDMARKS", 33),
    ],
    OPENPOSE: [
        ("pose_keypoints_2d", 25),
        ("face_keypoints_2d", 70),
        ("hand_left_keypoints_2d", 21),
        ("hand_right_keypoints_2d", 21),
    ],
    ALPHAPOSE133: [  # pose-format's AlphaPose 133 loader: COCO-WholeBody, names with _133
        ("BODY_133", 23),
        ("FACE_133", 68),
        ("LEFT_HAND_133", 21),
        ("RIGHT_HAND_133", 21),
    ],
    WHOLEBODY: [  # pose-format's MMPose whole-body and OpenPifPaf estimators (COCO-WholeBody)
        ("BODY", 23),
        ("FACE", 68),
        ("LEFT_HAND", 21),
        ("RIGHT_HAND", 21),
    ],
}
STREAM_COMPONENTS = {  # stream -> component, per kind
    MEDIAPIPE: {
        "pose": "POSE_LANDMARKS",
        "face": "FACE_LANDMARKS",
        "hand_l": "LEFT_HAND_LANDMARKS",
        "hand_r": "RIGHT_HAND_LANDMARKS",
    },
    OPENPOSE: {
        "pose": "pose_keypoints_2d",
        "face": "face_keypoints_2d",
        "hand_l": "hand_left_keypoints_2d",
        "hand_r": "hand_right_keypoints_2d",
    },
    WHOLEBODY: {"pose": "BODY", "face": "FACE", "hand_l": "LEFT_HAND", "hand_r": "RIGHT_HAND"},
    ALPHAPOSE133: {
        "pose": "BODY_133",
        "face": "FACE_133",
        "hand_l": "LEFT_HAND_133",
        "hand_r": "RIGHT_HAND_133",
    },
}
DEFAULT_DIMS = {
    MEDIAPIPE: 3,
    OPENPOSE: 2,
    WHOLEBODY: 2,
    ALPHAPOSE133: 2,
}  # XYZC and XYC, as the tools write
# what pose-format's reduce_holistic keeps (by point name): the body without face, hands and
# feet, and the face contours (written out here, independent of the importer's tables)
REDUCED_POSE_NAMES = [
    "LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_ELBOW", "RIGHT_ELBOW",
    "LEFT_WRIST", "RIGHT_WRIST", "LEFT_HIP", "RIGHT_HIP",
]  # fmt: skip
REDUCED_POSE_INDEX = [11, 12, 13, 14, 15, 16, 23, 24]  # their MediaPipe PoseLandmark values
REDUCED_FACE_INDEX = [0, 7, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67, 70, 78, 80, 81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136, 144, 145, 146, 148, 149, 150, 152, 153, 154, 155, 157, 158, 159, 160, 161, 162, 163, 172, 173, 176, 178, 181, 185, 191, 234, 246, 249, 251, 263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291, 293, 295, 296, 297, 300, 308, 310, 311, 312, 314, 317, 318, 321, 323, 324, 332, 334, 336, 338, 356, 361, 362, 365, 373, 374, 375, 377, 378, 379, 380, 381, 382, 384, 385, 386, 387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415, 454, 466]  # fmt: skip
REDUCED_POINT_NAMES = {
    "POSE_LANDMARKS": REDUCED_POSE_NAMES,
    "FACE_LANDMARKS": [str(i) for i in REDUCED_FACE_INDEX],
}


class PoseSample(NamedTuple):
    path: Path
    data: np.ndarray  # [frames, people, points, dims] as written (masked points included)
    confidence: np.ndarray  # [frames, people, points]
    offsets: dict[str, tuple[int, int]]  # component -> (first point, points)
    width: int = 640  # the header's video width


def components(
    kind: str = MEDIAPIPE, face_points: int | None = None, names: Iterable[str] | None = None
) -> list[tuple[str, int]]:
    """(name, points) of a kind's header; `face_points` overrides the face count, `names`
    keeps only those components (a header that lacks some)."""
    out = []
    for name, points in COMPONENTS[kind]:
        if face_points is not None and name.lower().startswith("face"):
            points = face_points
        if names is None or name in names:
            out.append((name, points))
    return out


def pose_header(
    parts: Sequence[tuple[str, int]],
    dims: int,
    width: int = 640,
    height: int = 480,
    point_names: dict[str, Sequence[str]] | None = None,
) -> Any:
    """A pose-format PoseHeader with `parts` [(name, points)], points in XYC or XYZC, named
    `<component>_<i>` unless `point_names` gives a component's names."""
    from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions

    point_format = "XYZC" if dims == 3 else "XYC"
    header_components = [
        PoseHeaderComponent(
            name=name,
            points=list((point_names or {}).get(name, [f"{name}_{i}" for i in range(points)])),
            limbs=[(0, 1)],
            colors=[(255, 0, 0)],
            point_format=point_format,
        )
        for name, points in parts
    ]
    return PoseHeader(
        version=0.2,
        dimensions=PoseHeaderDimensions(width=width, height=height, depth=0),
        components=header_components,
    )


def write_pose_file(
    path: Path,
    kind: str = MEDIAPIPE,
    *,
    frames: int = 4,
    people: int = 1,
    dims: int | None = None,
    width: int = 640,
    height: int = 480,
    face_points: int | None = None,
    names: Iterable[str] | None = None,
    missing: Iterable[tuple[int, str, int]] = (),
    seed: int = 0,
    point_names: dict[str, Sequence[str]] | None = None,
) -> PoseSample:
    """Write one .pose file of random pixel coordinates; `missing` lists (frame, component,
    point) to write with confidence 0; `point_names` names the points of components (their
    count then follows: REDUCED_POINT_NAMES writes a reduce_holistic file). Returns the
    arrays written."""
    from pose_format import Pose
    from pose_format.numpy import NumPyPoseBody

    dims = DEFAULT_DIMS[kind] if dims is None else dims
    parts = [
        (name, len(point_names[name]) if point_names and name in point_names else points)
        for name, points in components(kind, face_points, names)
    ]
    offsets, start = {}, 0
    for name, points in parts:
        offsets[name] = (start, points)
        start += points

    rng = np.random.default_rng(seed)
    scale = np.array([width, height, 1.0][:dims], dtype=np.float32)
    data = (rng.random((frames, people, start, dims)) * scale).astype(np.float32)
    confidence = rng.uniform(0.5, 1.0, (frames, people, start)).astype(np.float32)
    for frame, name, point in missing:
        confidence[frame, :, offsets[name][0] + point] = 0.0

    header = pose_header(parts, dims, width, height, point_names)
    body = NumPyPoseBody(fps=25.0, data=data, confidence=confidence)  # masks confidence 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        Pose(header, body).write(f)
    return PoseSample(path, data, confidence, offsets, width)


def write_pose_tree(
    root: Path,
    kind: str = MEDIAPIPE,
    labels: Sequence[str] = ("hello", "thanks"),
    per_label: int = 2,
    flat: bool = False,
    **file_options: object,
) -> list[PoseSample]:
    """`root/<label>/<label>_<i>.pose` for each label (flat: `root/<label>_<i>.pose`, the
    labels then only in the names), `per_label` files each, seeds 0, 1, ... in that order."""
    samples = []
    for li, label in enumerate(labels):
        for i in range(per_label):
            folder = root if flat else root / label
            seed = li * per_label + i
            path = folder / f"{label}_{i}.pose"
            samples.append(write_pose_file(path, kind, seed=seed, **file_options))
    return samples
