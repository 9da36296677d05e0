"""`--also-pose`: the keypoints of a video as a pose-format `.pose` file, beside the dataset.

The header is pose-format's own Holistic header (`holistic_components`: POSE_LANDMARKS 33,
FACE_LANDMARKS 468, LEFT_HAND_LANDMARKS 21, RIGHT_HAND_LANDMARKS 21, POSE_WORLD_LANDMARKS 33;
XYZC), and the values are what its `video_to_pose` stores: x, y in pixels, MediaPipe's raw z,
the pose's visibility as its confidence, 1 for a found face or hand and 0 (masked) for a part
not found. So pose-format's tools (viewer, normalisation, `signcli import pose`) read it as
one of theirs. Written to `NAME.tmp` and renamed, like every sample.
"""

from __future__ import annotations

import os
from pathlib import Path

from signcli.core.errors import UsageError
from signcli.data.holistic import VideoKeypoints

POSE_SUFFIX = ".pose"
POSES_FOLDER = "poses"  # OUT/poses/<id>.pose
POSE_FORMAT_HINT = 'pip install "signcli[extract]"  (it includes pose-format)'


def check_pose_format() -> None:
    """UsageError unless pose-format can be imported (before any video is read)."""
    try:
        import pose_format  # noqa: F401
    except ImportError as exc:
        raise UsageError(f"--also-pose needs pose-format ({exc})", hint=POSE_FORMAT_HINT) from None


def write_pose_file(path: Path, keypoints: VideoKeypoints) -> None:
    """Write `keypoints` as a `.pose` file at `path` (atomically)."""
    import numpy as np
    from pose_format import Pose
    from pose_format.numpy import NumPyPoseBody
    from pose_format.pose_header import PoseHeader, PoseHeaderDimensions
    from pose_format.utils.holistic import holistic_components

    streams = keypoints.streams
    width = max(keypoints.width, 1)
    unscale_z = np.asarray([1.0, 1.0, 1.0 / width], dtype=np.float32)  # z back to MediaPipe's

    def part(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        found = ~np.isnan(points[:, :, 0])  # [T, L]
        return np.nan_to_num(points * unscale_z), found.astype(np.float32)

    pose, pose_found = part(streams["pose"])
    face, face_conf = part(streams["face"])
    left, left_conf = part(streams["hand_l"])
    right, right_conf = part(streams["hand_r"])
    world_found = ~np.isnan(keypoints.pose_world[:, :, 0])
    world = np.nan_to_num(keypoints.pose_world)
    visibility = keypoints.pose_visibility * pose_found
    data = np.concatenate([pose, face, left, right, world], axis=1)[:, None]  # [T, 1, 576, 3]
    confidence = np.concatenate(
        [visibility, face_conf, left_conf, right_conf, keypoints.pose_visibility * world_found],
        axis=1,
    )[:, None]  # [T, 1, 576]
    header = PoseHeader(
        version=0.2,
        dimensions=PoseHeaderDimensions(width=keypoints.width, height=keypoints.height, depth=0),
        components=holistic_components("XYZC"),
    )
    body = NumPyPoseBody(fps=keypoints.fps or 0.0, data=data, confidence=confidence)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        Pose(header, body).write(handle)
    os.replace(tmp, path)
