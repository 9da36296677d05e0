"""The mirror pairs of every landmark set signcli names: well formed, an involution, and
right, checked against facts that do not come from the pair lists themselves: MediaPipe's
published face-mesh contours (face_mesh_connections: each eye, eyebrow and iris as a set of
landmark indices), the left/right point names of the body models, and a face that is
symmetric by construction."""

from __future__ import annotations

import numpy as np
import pytest

from signcli.data.augment import FACE_MIRROR_PAIRS, POSE_MIRROR_PAIRS, mirror
from signcli.data.landmarks import (
    COCO_WHOLEBODY,
    LANDMARK_SETS,
    MEDIAPIPE_FACE_PAIRS,
    MEDIAPIPE_FACE_REFINED_PAIRS,
    MEDIAPIPE_HOLISTIC,
    MEDIAPIPE_LIPS,
)
from signcli.data.recordings.pose_file import COCO_BODY_NAMES, MEDIAPIPE_POSE_NAMES

# MediaPipe face_mesh_connections, as sets of the landmarks each contour joins
RIGHT_EYE = {33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173}
LEFT_EYE = {263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398}
RIGHT_EYEBROW = {46, 53, 52, 65, 55, 70, 63, 105, 66, 107}
LEFT_EYEBROW = {276, 283, 282, 295, 285, 300, 293, 334, 296, 336}
RIGHT_IRIS = {469, 470, 471, 472}
LEFT_IRIS = {474, 475, 476, 477}
FACE_OVAL = {
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
}  # fmt: skip
MIDLINE = {0, 1, 4, 10, 13, 14, 17, 152, 168}  # lips' centre, nose tip, forehead, chin ...

EVERY_PAIR_LIST = (
    [
        (f"{s.name}:{stream}", count, pairs)
        for s in LANDMARK_SETS.values()
        for stream in s.streams
        for count, pairs in [(s.streams[stream], s.pairs_of(stream))]
        + [(n, p) for n, p in s.variants.get(stream, {}).items()]
    ]
    + [(f"augment:pose:{n}", n, p) for n, p in POSE_MIRROR_PAIRS.items()]
    + [(f"augment:face:{n}", n, p) for n, p in FACE_MIRROR_PAIRS.items()]
)


def swap_map(pairs, count: int) -> np.ndarray:
    order = np.arange(count)
    for a, b in pairs:
        order[a], order[b] = b, a
    return order


@pytest.mark.parametrize(
    ("name", "count", "pairs"), EVERY_PAIR_LIST, ids=[e[0] for e in EVERY_PAIR_LIST]
)
def test_pairs_are_disjoint_in_range_and_an_involution(name, count, pairs) -> None:
    flat = [i for pair in pairs for i in pair]
    assert all(0 <= i < count for i in flat), name
    assert len(flat) == len(set(flat)), f"{name}: a landmark in two pairs"
    assert all(a != b for a, b in pairs)
    order = swap_map(pairs, count)
    np.testing.assert_array_equal(order[order], np.arange(count))


def test_face_pairs_map_each_published_contour_onto_its_other_side() -> None:
    order = swap_map(MEDIAPIPE_FACE_REFINED_PAIRS, 478)
    assert {int(order[i]) for i in RIGHT_EYE} == LEFT_EYE
    assert {int(order[i]) for i in RIGHT_EYEBROW} == LEFT_EYEBROW
    assert {int(order[i]) for i in RIGHT_IRIS} == LEFT_IRIS
    assert {int(order[i]) for i in FACE_OVAL} == FACE_OVAL
    assert {int(order[i]) for i in MEDIAPIPE_LIPS} == set(MEDIAPIPE_LIPS)
    assert all(order[i] == i for i in MIDLINE)
    assert (int(order[33]), int(order[133]), int(order[61])) == (
        263,
        362,
        291,
    )  # eye, mouth corners
    assert len(MEDIAPIPE_FACE_PAIRS) == 220 and 468 - 2 * 220 == 28  # the midline landmarks
    assert MEDIAPIPE_FACE_REFINED_PAIRS[:220] == MEDIAPIPE_FACE_PAIRS
    assert int(order[468]) == 473  # the iris centres


@pytest.mark.parametrize("count", [468, 478])
def test_a_symmetric_face_is_its_own_mirror_image(count: int) -> None:
    """Points placed symmetrically about x = 0.5 by construction (each pair's second point
    the reflection of its first, midline landmarks on x = 0.5): mirroring leaves the face as
    it was, landmark by landmark. Without the swap every paired landmark would move."""
    pairs = MEDIAPIPE_FACE_PAIRS if count == 468 else MEDIAPIPE_FACE_REFINED_PAIRS
    rng = np.random.default_rng(0)
    face = rng.uniform(0.2, 0.8, size=(4, count, 3)).astype(np.float32)
    paired = {i for p in pairs for i in p}
    face[:, [i for i in range(count) if i not in paired], 0] = 0.5
    for a, b in pairs:
        face[:, b] = face[:, a]
        face[:, b, 0] = 1.0 - face[:, a, 0]
    out = mirror({"face": face.reshape(4, -1)})["face"].reshape(4, count, 3)
    np.testing.assert_allclose(out, face, atol=1e-6)
    unswapped = face.copy()
    unswapped[..., 0] = 1.0 - unswapped[..., 0]
    assert not np.allclose(unswapped, face)  # the test is not trivially true


@pytest.mark.parametrize(
    ("stream", "count"), [("face", 468), ("face", 478), ("face", 68), ("pose", 23), ("pose", 33)]
)
def test_mirroring_twice_is_the_identity(stream: str, count: int) -> None:
    points = np.random.default_rng(1).uniform(0, 1, size=(3, count * 3)).astype(np.float32)
    twice = mirror(mirror({stream: points}))[stream]
    np.testing.assert_allclose(twice, points, atol=1e-6)
    assert not np.allclose(mirror({stream: points})[stream], points)


@pytest.mark.parametrize(
    ("names", "pairs"),
    [
        (MEDIAPIPE_POSE_NAMES, MEDIAPIPE_HOLISTIC.mirror_pairs["pose"]),
        (COCO_BODY_NAMES, COCO_WHOLEBODY.mirror_pairs["pose"]),
    ],
)
def test_body_pairs_join_left_and_right_names(names, pairs) -> None:
    """Every name with a side is in a pair with the same name on the other side."""
    for a, b in pairs:
        assert names[a].lower().replace("left", "right") == names[b].lower(), (names[a], names[b])
    sided = {i for i, n in enumerate(names) if "left" in n.lower() or "right" in n.lower()}
    assert sided == {i for p in pairs for i in p}


def test_every_face_the_importers_write_has_its_pairs_known_to_mirror() -> None:
    for landmark_set in LANDMARK_SETS.values():
        for stream in ("face", "pose"):
            known = FACE_MIRROR_PAIRS if stream == "face" else POSE_MIRROR_PAIRS
            count = landmark_set.streams[stream]
            assert [tuple(p) for p in known[count]] == landmark_set.pairs_of(stream)
