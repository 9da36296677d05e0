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
    # stream -> another landmark count the detector gives -> its pairs (MediaPipe's face
    # with refined irises: 478 points, the 468 and then the irises)
    variants: dict[str, dict[int, list[tuple[int, int]]]] = field(default_factory=dict)

    def pairs_of(self, stream: str, count: int | None = None) -> list[tuple[int, int]]:
        """The mirror pairs of `stream` when it has `count` landmarks (default: the set's
        own count); none for a count the set does not know."""
        if count is None or count == self.streams.get(stream):
            return list(self.mirror_pairs.get(stream, []))
        return list(self.variants.get(stream, {}).get(count, []))


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

# MediaPipe Face Mesh (468, and 478 with refine_landmarks' two irises): the left/right pairs
# are the vertices that mirror onto each other in MediaPipe's canonical face model
# (modules/face_geometry/data/face_model_with_iris.obj, vertex i = landmark i): (x, y, z) of
# one is (-x, y, z) of the other to 1e-6, and no other vertex comes within 0.05 of that.
# 28 landmarks lie on the midline (x = 0) and pair with nothing; 220 pairs cover the rest of
# the 468. FACEMESH_LEFT_EYE / RIGHT_EYE, the eyebrows, the lips and the face oval of
# MediaPipe's face_mesh_connections map onto each other under these pairs (tests check it).
MEDIAPIPE_FACE_PAIRS = [
    (3, 248), (7, 249), (20, 250), (21, 251), (22, 252), (23, 253), (24, 254), (25, 255),
    (26, 256), (27, 257), (28, 258), (29, 259), (30, 260), (31, 261), (32, 262), (33, 263),
    (34, 264), (35, 265), (36, 266), (37, 267), (38, 268), (39, 269), (40, 270), (41, 271),
    (42, 272), (43, 273), (44, 274), (45, 275), (46, 276), (47, 277), (48, 278), (49, 279),
    (50, 280), (51, 281), (52, 282), (53, 283), (54, 284), (55, 285), (56, 286), (57, 287),
    (58, 288), (59, 289), (60, 290), (61, 291), (62, 292), (63, 293), (64, 294), (65, 295),
    (66, 296), (67, 297), (68, 298), (69, 299), (70, 300), (71, 301), (72, 302), (73, 303),
    (74, 304), (75, 305), (76, 306), (77, 307), (78, 308), (79, 309), (80, 310), (81, 311),
    (82, 312), (83, 313), (84, 314), (85, 315), (86, 316), (87, 317), (88, 318), (89, 319),
    (90, 320), (91, 321), (92, 322), (93, 323), (95, 324), (96, 325), (97, 326), (98, 327),
    (99, 328), (100, 329), (101, 330), (102, 331), (103, 332), (104, 333), (105, 334), (106, 335),
    (107, 336), (108, 337), (109, 338), (110, 339), (111, 340), (112, 341), (113, 342), (114, 343),
    (115, 344), (116, 345), (117, 346), (118, 347), (119, 348), (120, 349), (121, 350), (122, 351),
    (123, 352), (124, 353), (125, 354), (126, 355), (127, 356), (128, 357), (129, 358), (130, 359),
    (131, 360), (132, 361), (133, 362), (134, 363), (135, 364), (136, 365), (137, 366), (138, 367),
    (139, 368), (140, 369), (141, 370), (142, 371), (143, 372), (144, 373), (145, 374), (146, 375),
    (147, 376), (148, 377), (149, 378), (150, 379), (153, 380), (154, 381), (155, 382), (156, 383),
    (157, 384), (158, 385), (159, 386), (160, 387), (161, 388), (162, 389), (163, 390), (165, 391),
    (166, 392), (167, 393), (169, 394), (170, 395), (171, 396), (172, 397), (173, 398), (174, 399),
    (176, 400), (177, 401), (178, 402), (179, 403), (180, 404), (181, 405), (182, 406), (183, 407),
    (184, 408), (185, 409), (186, 410), (187, 411), (188, 412), (189, 413), (190, 414), (191, 415),
    (192, 416), (193, 417), (194, 418), (196, 419), (198, 420), (201, 421), (202, 422), (203, 423),
    (204, 424), (205, 425), (206, 426), (207, 427), (208, 428), (209, 429), (210, 430), (211, 431),
    (212, 432), (213, 433), (214, 434), (215, 435), (216, 436), (217, 437), (218, 438), (219, 439),
    (220, 440), (221, 441), (222, 442), (223, 443), (224, 444), (225, 445), (226, 446), (227, 447),
    (228, 448), (229, 449), (230, 450), (231, 451), (232, 452), (233, 453), (234, 454), (235, 455),
    (236, 456), (237, 457), (238, 458), (239, 459), (240, 460), (241, 461), (242, 462), (243, 463),
    (244, 464), (245, 465), (246, 466), (247, 467),
]  # fmt: skip
# the irises of the 478-point mesh: 468 / 473 the centres, then four points each, in
# opposite left-right order (469 is the right iris's point toward the nose, 476 the left's)
MEDIAPIPE_IRIS_PAIRS = [(468, 473), (469, 476), (470, 475), (471, 474), (472, 477)]
MEDIAPIPE_FACE_REFINED_PAIRS = MEDIAPIPE_FACE_PAIRS + MEDIAPIPE_IRIS_PAIRS

MEDIAPIPE_HOLISTIC = LandmarkSet(
    name="mediapipe-holistic",
    streams={"face": 468, "hand_l": 21, "hand_r": 21, "pose": 33},
    mirror_pairs={"pose": MEDIAPIPE_POSE_PAIRS, "face": MEDIAPIPE_FACE_PAIRS},
    subsets={"face": {"lips": MEDIAPIPE_LIPS}},
    variants={"face": {478: MEDIAPIPE_FACE_REFINED_PAIRS}},
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

# COCO-WholeBody (133 = body 17 + feet 6 + face 68 + hands 2 x 21), what MMPose's and
# OpenPifPaf's whole-body models (and AlphaPose's 133-point one) give. Body: 0 nose, then
# left/right pairs of eyes, ears, shoulders, elbows, wrists, hips, knees, ankles (1..16),
# then left big toe, small toe, heel (17-19) and right (20-22). Face: the 68 iBUG points, the
# first 68 of OpenPose's face, so the same pairs without the pupils.
COCO_WHOLEBODY_PAIRS = [
    (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16),
    (17, 20), (18, 21), (19, 22),
]  # fmt: skip
IBUG68_FACE_PAIRS = [pair for pair in OPENPOSE_FACE_PAIRS if max(pair) < 68]

COCO_WHOLEBODY = LandmarkSet(
    name="coco-wholebody",
    streams={"face": 68, "hand_l": 21, "hand_r": 21, "pose": 23},
    mirror_pairs={"pose": COCO_WHOLEBODY_PAIRS, "face": IBUG68_FACE_PAIRS},
    subsets={"face": {"lips": OPENPOSE_LIPS}},
)

LANDMARK_SETS = {s.name: s for s in (MEDIAPIPE_HOLISTIC, OPENPOSE_BODY25_HANDS, COCO_WHOLEBODY)}
