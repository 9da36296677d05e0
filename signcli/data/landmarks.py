"""Landmark sets of the detectors signcli imports from: streams, counts, mirror pairs.

Torch- and numpy-free plain data, shared by the importers (`signcli import`), the mirror
augmentation (pairs by landmark count) and the per-stream normalisation (shoulders).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LandmarkSet:
    """The landmarks a detector gives: the streams, their landmark counts (source order),
    left/right pairs that swap under a horizontal mirror, and named subsets of landmarks
    (`face:lips`)."""

    name: str
    streams: dict[str, int]
    mirror_pairs: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    subsets: dict[str, dict[str, list[int]]] = field(default_factory=dict)


# MediaPipe Pose (33): left/right pairs of eyes, ears, mouth corners, shoulders ... feet
MEDIAPIPE_POSE_PAIRS = [
    (1, 4), (2, 5), (3, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16), (17, 18),
    (19, 20), (21, 22), (23, 24), (25, 26), (27, 28), (29, 30), (31, 32),
]  # fmt: skip
# MediaPipe Face Mesh FACEMESH_LIPS: the 40 landmarks of the outer and inner lip contours,
# the subset most sign recognisers keep of the 468-landmark mesh
MEDIAPIPE_LIPS = [
    61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 146, 91, 181, 84, 17, 314, 405, 321, 375,
    78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308,
]  # fmt: skip

MEDIAPIPE_HOLISTIC = LandmarkSet(
    name="mediapipe-holistic",
    streams={"face": 468, "hand_l": 21, "hand_r": 21, "pose": 33},
    mirror_pairs={"pose": MEDIAPIPE_POSE_PAIRS},
    subsets={"face": {"lips": MEDIAPIPE_LIPS}},
)

# OpenPose BODY_25: 0 nose, 1 neck, 2-4 right arm, 5-7 left arm, 8 mid hip, 9-11 right leg,
# 12-14 left leg, 15/16 eyes, 17/18 ears, 19-21 left foot, 22-24 right foot
OPENPOSE_BODY25_PAIRS = [
    (2, 5), (3, 6), (4, 7), (9, 12), (10, 13), (11, 14), (15, 16), (17, 18),
    (19, 22), (20, 23), (21, 24),
]  # fmt: skip
# OpenPose face (70) = the 68 iBUG points + 2 pupils: jaw 0-16, brows 17-26, nose 27-35,
# eyes 36-47, mouth 48-67, pupils 68/69
OPENPOSE_FACE_PAIRS = [
    *((i, 16 - i) for i in range(8)),
    (17, 26), (18, 25), (19, 24), (20, 23), (21, 22), (31, 35), (32, 34),
    (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),
    (48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67), (68, 69),
]  # fmt: skip
OPENPOSE_LIPS = list(range(48, 68))

OPENPOSE_BODY25_HANDS = LandmarkSet(
    name="openpose-body25-hands",
    streams={"face": 70, "hand_l": 21, "hand_r": 21, "pose": 25},
    mirror_pairs={"pose": OPENPOSE_BODY25_PAIRS, "face": OPENPOSE_FACE_PAIRS},
    subsets={"face": {"lips": OPENPOSE_LIPS}},
)

LANDMARK_SETS = {s.name: s for s in (MEDIAPIPE_HOLISTIC, OPENPOSE_BODY25_HANDS)}
