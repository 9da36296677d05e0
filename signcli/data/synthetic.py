"""Synthetic sign-like data: class-conditioned landmark trajectories, and features made from them.

Used by `smoke`, the tests and the bundled example; numpy only (no torch).

Each gloss class is a sign: a path of the dominant (right) hand through signing space, a
handshape that changes from a start to an end shape, a wrist rotation, and a second hand
that mirrors the first, moves on its own, holds still, or (one-handed signs) rests out of
frame. Every sample of a class varies the way signers do: speed and timing (a time warp,
holds at start and end), length (T in min_len..max_len), body scale, a small rotation and
offset, jitter of the movement, landmark noise, and hands not detected (NaN) for runs of
frames. Glosses share parts (minimal pairs, see POOL_SIZES), so the classes are learnable
but not at a glance: a 2-layer transformer (d_model 64) reaches about 0.94 val top-1 after
3 epochs on 20 classes x 40 samples. NaN is frequent (one-handed signs keep the other
hand mostly out of frame), so a model that does not handle it is at chance.

Keypoint layout (KEYPOINT_DIM = 52 landmarks x 3 = 156 columns, landmark-major: column
3 * landmark + c holds coordinate c of (x, y, z)), in MediaPipe-style image coordinates
(x, y in 0..1, y down; z a small relative depth):

    landmarks  0..20   left hand  (MediaPipe hand order: 0 wrist, 1-4 thumb, 5-8 index,
                                   9-12 middle, 13-16 ring, 17-20 pinky)
    landmarks 21..41   right hand (same order)
    landmarks 42..51   upper-body pose: POSE_LANDMARKS

A hand that is not detected has all 63 of its columns NaN in that frame; pose landmarks
are always present (pose wrists included, as with MediaPipe).

The multi-stream layout (`write_multistream_dataset`) splits those columns into the
streams `hand_l` [T, 63], `hand_r` [T, 63] and `pose` [T, 30], and adds `face` [T, 24]:
FACE_LANDMARKS placed around the pose nose and mouth (so they follow the head), with a
mouth that opens and closes by an amount that depends on the gloss (a mouthing).

Features (`make_features`, the IV3-GRU case, [T, 2048]) are a fixed random projection of
each frame's landmarks (NaN read as 0, plus a missing flag per hand) through a ReLU, plus
noise: non-negative like pooled CNN activations. A few frames (missing_rate / 4) are whole
NaN rows, frames the feature extractor could not read, so that the features model's
missing indicator is exercised too (and gets a gradient in `smoke`).
"""

from __future__ import annotations

import csv
import functools
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from signcli.data.npz import FEATURES_DIM, FEATURES_KEY

HAND_LANDMARKS = 21
POSE_LANDMARKS = (
    "nose",
    "mouth",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
)
NUM_LANDMARKS = 2 * HAND_LANDMARKS + len(POSE_LANDMARKS)  # 52
COORDS = 3  # x, y, z
KEYPOINT_DIM = NUM_LANDMARKS * COORDS  # 156
LEFT_HAND = slice(0, HAND_LANDMARKS)  # landmark indices
RIGHT_HAND = slice(HAND_LANDMARKS, 2 * HAND_LANDMARKS)
POSE = slice(2 * HAND_LANDMARKS, NUM_LANDMARKS)

FACE_LANDMARKS = (  # name: offset from the nose, in nose-to-mouth distances (y down)
    ("left_eye", (0.6, -0.6)),
    ("right_eye", (-0.6, -0.6)),
    ("nose_tip", (0.0, 0.0)),
    ("mouth_left", (0.5, 1.0)),
    ("mouth_right", (-0.5, 1.0)),
    ("upper_lip", (0.0, 0.85)),
    ("lower_lip", (0.0, 1.15)),
    ("chin", (0.0, 1.8)),
)
STREAM_COLUMNS = {  # stream -> its columns of the 156-column keypoint layout
    "hand_l": slice(LEFT_HAND.start * COORDS, LEFT_HAND.stop * COORDS),
    "hand_r": slice(RIGHT_HAND.start * COORDS, RIGHT_HAND.stop * COORDS),
    "pose": slice(POSE.start * COORDS, POSE.stop * COORDS),
}
STREAMS_SEED = 11  # face noise, mouthing phase and landmark dropout, per sample
LANDMARK_DROPOUT = 0.02  # multi-stream: single landmarks the detector misses (a hidden fingertip)

CLASS_SEED = 20240611  # class prototypes depend on the gloss only, never on a sample seed
FEATURES_SEED = 7  # the fixed landmark -> feature projection
BODY_CENTRE = np.array([0.5, 0.6])  # image point that rotation and scale turn around

# How performances of one sign vary (image units; a hand is HAND_SIZE = 0.09 long).
SPEED_SPREAD = 0.35  # log-sd of the time-warp exponent: slow starts, fast ends and back
MOVEMENT_JITTER = 0.4  # relative spread of movement amplitudes; phases vary by this (rad)
PLACE_JITTER = 0.03  # sd of where, relative to the body, the sign is made
SHAPE_JITTER = 0.15  # sd of finger curls (0..1) and, in rad, of wrist turns
SCALE_RANGE = (0.8, 1.2)  # body size / distance to the camera
ROTATION_SD = 0.1  # camera roll, rad
OFFSET_SD = 0.05  # position of the signer in the image
NOISE = 0.01  # landmark detection noise, per coordinate and frame
OCCLUDED_SHARE = 0.25  # `occluded` = a hand is missing in more than this share of frames

# Rest pose (image units) of the body landmarks that do not follow the hands.
_FACE = {"nose": (0.5, 0.36), "mouth": (0.5, 0.42)}
_SHOULDERS = {"left_shoulder": (0.62, 0.6), "right_shoulder": (0.38, 0.6)}
_HIPS = {"left_hip": (0.59, 0.98), "right_hip": (0.41, 0.98)}
_LEFT_REST = np.array([0.66, 0.95])  # where a left hand rests, low and out of frame

# Hand template (hand-local units; 1 = one hand length): finger base angles around the
# palm and segment lengths from knuckle to tip.
_FINGER_ANGLES = np.array([-1.1, -0.35, -0.08, 0.18, 0.42])  # thumb .. pinky, rad
_FINGER_SEGMENTS = np.array([[0.3, 0.25, 0.2], [0.35, 0.22, 0.18], [0.37, 0.24, 0.19],
                             [0.35, 0.22, 0.18], [0.3, 0.18, 0.15]])  # fmt: skip
_PALM = 0.45  # wrist to knuckles
HAND_SIZE = 0.09  # image units per hand length


@dataclass
class SyntheticSample:
    """One synthetic sample: `x` float32 [T, D] (NaN = not detected), gloss and category ids."""

    id: str
    x: np.ndarray
    gloss: int
    cat: int  # gloss % num_cat, or -1 without categories
    occluded: bool = False  # a hand is missing in more than OCCLUDED_SHARE of the frames


def gloss_category(gloss: int, num_cat: int) -> int:
    """The category of a gloss: a fixed function of the gloss (-1 when num_cat is 0)."""
    return gloss % num_cat if num_cat > 0 else -1


def gloss_name(gloss: int) -> str:
    return f"sign_{gloss:02d}"


# ---------------------------------------------------------------------------------------
# Classes


@dataclass
class _Sign:
    """What makes a gloss: where and how the hands move, their shapes and wrist turns."""

    right_centre: np.ndarray  # [2] image point the movement starts from
    right_path: np.ndarray  # [K, 2, 2] harmonic k, axis (x, y), (amplitude, phase)
    shapes: np.ndarray  # [2 hands, 2 (start, end), 5 fingers] curl 0..1
    turns: np.ndarray  # [2 hands, 2 (start, end)] wrist rotation, rad
    left_mode: str  # "mirror" | "own" | "hold" | "rest" (one-handed)
    left_centre: np.ndarray
    left_path: np.ndarray


# Like real signs, glosses share their parts: each is one combination of a location, a
# movement, a handshape change and a role of the other hand, so many glosses differ from
# another in one part only (minimal pairs). Glosses beyond the combinations get parts of
# their own.
POOL_SIZES = {"location": 5, "movement": 6, "handshape": 6, "left_mode": 4}
_LEFT_MODES = ("mirror", "own", "hold", "rest")


def _harmonics(rng: np.random.Generator) -> np.ndarray:
    amplitude = rng.normal(0.0, 0.06, (3, 2)) / np.arange(1, 4)[:, None]  # [K, xy]
    phase = rng.uniform(0.0, 2 * np.pi, (3, 2))
    return np.stack([amplitude, phase], axis=-1)  # [K, xy, 2]


@functools.lru_cache(maxsize=1)
def _parts() -> dict[str, list]:
    rng = np.random.default_rng(CLASS_SEED)
    return {
        "location": [
            np.array([rng.uniform(0.3, 0.5), rng.uniform(0.32, 0.62)])
            for _ in range(POOL_SIZES["location"])
        ],
        "movement": [_harmonics(rng) for _ in range(POOL_SIZES["movement"])],
        "handshape": [
            (rng.uniform(0.0, 1.0, (2, 2, 5)), rng.uniform(-0.8, 0.8, (2, 2)))
            for _ in range(POOL_SIZES["handshape"])
        ],
        "left_mode": list(_LEFT_MODES),
        "order": rng.permutation(math.prod(POOL_SIZES.values())).tolist(),
    }


def _make_sign(gloss: int) -> _Sign:
    parts = _parts()
    rng = np.random.default_rng([CLASS_SEED, gloss])
    if gloss < len(parts["order"]):
        combination, picks = parts["order"][gloss], {}
        for name, size in POOL_SIZES.items():
            combination, picks[name] = divmod(combination, size)
        centre = parts["location"][picks["location"]]
        path = parts["movement"][picks["movement"]]
        shapes, turns = parts["handshape"][picks["handshape"]]
        left_mode = parts["left_mode"][picks["left_mode"]]
    else:
        centre = np.array([rng.uniform(0.3, 0.5), rng.uniform(0.32, 0.62)])
        path = _harmonics(rng)
        shapes, turns = rng.uniform(0.0, 1.0, (2, 2, 5)), rng.uniform(-0.8, 0.8, (2, 2))
        left_mode = str(rng.choice(_LEFT_MODES))
    return _Sign(
        right_centre=centre,
        right_path=path,
        shapes=shapes,
        turns=turns,
        left_mode=left_mode,
        left_centre=np.array([rng.uniform(0.52, 0.68), rng.uniform(0.4, 0.68)]),
        left_path=_harmonics(rng),
    )


def _path(
    harmonics: np.ndarray, centre: np.ndarray, s: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Wrist positions [T, 2] at sign times s [T] in 0..1: centre + a sum of sines, with
    this performance's own amplitudes, phases and place."""
    K = len(harmonics)
    k = np.arange(1, K + 1)[:, None, None]  # [K, 1, 1]
    spread = rng.uniform(1.0 - MOVEMENT_JITTER, 1.0 + MOVEMENT_JITTER, (K, 2))
    amplitude = (harmonics[..., 0] * spread)[:, None, :]  # [K, 1, 2]
    phase = (harmonics[..., 1] + rng.normal(0.0, MOVEMENT_JITTER, (K, 2)))[:, None, :]
    centre = centre + rng.normal(0.0, PLACE_JITTER, 2)
    wave = amplitude * (np.sin(np.pi * k * s[None, :, None] + phase) - np.sin(phase))
    return centre + wave.sum(axis=0)  # [T, 2]


def _hand(wrist: np.ndarray, curl: np.ndarray, turn: np.ndarray, mirror: bool) -> np.ndarray:
    """21 hand landmarks [T, 21, 3] from wrist [T, 2], curls [T, 5] and rotation [T]."""
    T = len(wrist)
    points = np.zeros((T, HAND_LANDMARKS, 3))  # landmark 0, the wrist, at the origin
    for finger in range(5):
        angle = _FINGER_ANGLES[finger]
        direction = np.array([np.sin(angle), -np.cos(angle)])  # up the finger; image y is down
        xy = np.repeat((_PALM * (0.55 if finger == 0 else 1.0) * direction)[None], T, axis=0)
        z = np.zeros(T)
        first = 1 + 4 * finger  # landmarks first .. first + 3: knuckle .. tip
        points[:, first, :2] = xy
        bend = np.zeros(T)
        for joint, length in enumerate(_FINGER_SEGMENTS[finger], start=1):
            bend = bend + 1.1 * curl[:, finger]  # each joint bends further toward the palm
            xy = xy + length * np.cos(bend)[:, None] * direction
            z = z - length * np.sin(bend)
            points[:, first + joint, :2] = xy
            points[:, first + joint, 2] = z
    cos, sin = np.cos(turn)[:, None], np.sin(turn)[:, None]
    x, y = points[..., 0], points[..., 1]
    points[..., 0], points[..., 1] = cos * x - sin * y, sin * x + cos * y
    if mirror:
        points[..., 0] *= -1
    points *= HAND_SIZE
    points[..., :2] += wrist[:, None, :]
    return points


# ---------------------------------------------------------------------------------------
# Samples


def _sample_keypoints(
    sign: _Sign, rng: np.random.Generator, T: int, missing_rate: float
) -> np.ndarray:
    """One performance of `sign`: float32 [T, 156] with NaN where a hand is not detected."""
    frames = _as_recorded(_sign_points(sign, rng, T), rng)
    rest = np.full(T, sign.left_mode == "rest")
    return _drop_hands(frames, rng, missing_rate, rest)


def _sign_points(sign: _Sign, rng: np.random.Generator, T: int) -> np.ndarray:
    """The landmarks [T, 52, 3] of one performance of `sign` by a standard signer (no
    scale, rotation, offset or noise yet: `_as_recorded`)."""
    # timing: the sign runs from `start` to `end` of the clip at a warped speed, holding
    # its first and last posture outside that window
    start, end = rng.uniform(0.0, 0.2), rng.uniform(0.8, 1.0)
    u = np.clip((np.linspace(0.0, 1.0, T) - start) / (end - start), 0.0, 1.0)
    s = u ** np.exp(rng.normal(0.0, SPEED_SPREAD))  # [T]

    right_wrist = _path(sign.right_path, sign.right_centre, s, rng)
    if sign.left_mode == "mirror":
        left_wrist = right_wrist * np.array([-1.0, 1.0]) + np.array([1.0, 0.0])
    elif sign.left_mode == "own":
        left_wrist = _path(sign.left_path, sign.left_centre, s, rng)
    elif sign.left_mode == "hold":
        left_wrist = np.repeat(sign.left_centre[None], T, axis=0)
    else:
        left_wrist = np.repeat(_LEFT_REST[None], T, axis=0)

    def shape(hand: int) -> tuple[np.ndarray, np.ndarray]:
        curl = sign.shapes[hand, 0] + s[:, None] * (sign.shapes[hand, 1] - sign.shapes[hand, 0])
        curl = np.clip(curl + rng.normal(0.0, SHAPE_JITTER, 5), 0.0, 1.0)
        turn = sign.turns[hand, 0] + s * (sign.turns[hand, 1] - sign.turns[hand, 0])
        turn = turn + rng.normal(0.0, SHAPE_JITTER)
        return curl, turn

    points = np.zeros((T, NUM_LANDMARKS, COORDS))
    points[:, LEFT_HAND] = _hand(left_wrist, *shape(0), mirror=True)
    points[:, RIGHT_HAND] = _hand(right_wrist, *shape(1), mirror=False)
    pose = np.zeros((T, len(POSE_LANDMARKS), COORDS))
    rest = {**_FACE, **_SHOULDERS, **_HIPS}
    for i, name in enumerate(POSE_LANDMARKS):
        if name in rest:
            pose[:, i, :2] = rest[name]
    pose[:, POSE_LANDMARKS.index("left_wrist"), :2] = left_wrist
    pose[:, POSE_LANDMARKS.index("right_wrist"), :2] = right_wrist
    for side, wrist in (("left", left_wrist), ("right", right_wrist)):
        shoulder = np.array(_SHOULDERS[f"{side}_shoulder"])
        outward = 0.06 if side == "left" else -0.06
        elbow = shoulder + 0.5 * (wrist - shoulder) + np.array([outward, 0.1])
        pose[:, POSE_LANDMARKS.index(f"{side}_elbow"), :2] = elbow
    points[:, POSE] = pose
    return points


def _as_recorded(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Landmarks [T, 52, 3] as a camera records one signer: a body scale, a small rotation
    and offset, landmark noise; float32 [T, 156]."""
    T = len(points)
    scale = rng.uniform(*SCALE_RANGE)
    angle = rng.normal(0.0, ROTATION_SD)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    offset = rng.normal(0.0, OFFSET_SD, 2)
    xy = (points[..., :2] - BODY_CENTRE) @ rotation.T * scale + BODY_CENTRE + offset
    points[..., :2] = xy
    points[..., 2] *= scale
    points += rng.normal(0.0, NOISE, points.shape)
    return points.reshape(T, KEYPOINT_DIM).astype(np.float32)


def _drop_hands(
    frames: np.ndarray, rng: np.random.Generator, missing_rate: float, rest_left: np.ndarray
) -> np.ndarray:
    """Hands not detected (NaN) in runs of frames; a left hand resting out of frame
    (`rest_left` [T], the frames of one-handed signs) mostly so."""
    T = len(frames)
    for hand, part in ((0, LEFT_HAND), (1, RIGHT_HAND)):
        missing = _missing_frames(rng, T, missing_rate)
        if hand == 0 and rest_left.any():  # a resting hand is mostly out of frame
            missing |= (rng.random(T) < 0.8) & rest_left
        columns = slice(part.start * COORDS, part.stop * COORDS)
        frames[missing, columns] = np.nan
    return frames


def _missing_frames(rng: np.random.Generator, T: int, rate: float) -> np.ndarray:
    """Frames [T] where a hand is not detected: runs of 2..8 frames plus single dropouts,
    about `rate` of the frames on average."""
    missing = rng.random(T) < rate / 4
    target = rng.uniform(0.0, 2.0 * rate) * T
    while missing.sum() < target:
        length = int(rng.integers(2, 9))
        first = int(rng.integers(0, max(1, T - length + 1)))
        missing[first : first + length] = True
    return missing


def _select_columns(frames: np.ndarray, dim: int) -> np.ndarray:
    """Keep the 156-column layout, or for another width take evenly spaced columns of it
    (repeating when wider), so tests can ask for a small D with the same behaviour."""
    if dim == KEYPOINT_DIM:
        return frames
    columns = np.linspace(0, KEYPOINT_DIM - 1, dim).round().astype(np.int64) % KEYPOINT_DIM
    return np.ascontiguousarray(frames[:, columns])


def make_samples(
    n: int,
    num_gloss: int,
    num_cat: int = 0,
    dim: int = KEYPOINT_DIM,
    seed: int = 0,
    min_len: int = 24,
    max_len: int = 64,
    missing_rate: float = 0.1,
) -> list[SyntheticSample]:
    """`n` keypoint samples [T, dim], glosses balanced over `num_gloss` classes.

    The same seed gives the same samples; the classes themselves do not depend on the
    seed, so splits made with different seeds share them.
    """
    if num_gloss < 1 or n < 0 or not 1 <= min_len <= max_len or dim < 1:
        raise ValueError(
            f"need num_gloss >= 1, n >= 0, 1 <= min_len <= max_len and dim >= 1 "
            f"(got num_gloss={num_gloss}, n={n}, min_len={min_len}, max_len={max_len}, dim={dim})"
        )
    rng = np.random.default_rng(seed)
    glosses = rng.permutation(np.arange(n) % num_gloss)
    signs: dict[int, _Sign] = {}
    samples = []
    for i, gloss in enumerate(glosses.tolist()):
        if gloss not in signs:
            signs[gloss] = _make_sign(gloss)
        sign = signs[gloss]
        T = int(rng.integers(min_len, max_len + 1))
        frames = _sample_keypoints(sign, rng, T, missing_rate)
        hands_missing = [
            np.isnan(frames[:, part.start * COORDS]).mean() for part in (LEFT_HAND, RIGHT_HAND)
        ]
        samples.append(
            SyntheticSample(
                id=f"sample_{i:05d}",
                x=_select_columns(frames, dim),
                gloss=gloss,
                cat=gloss_category(gloss, num_cat),
                occluded=bool(max(hands_missing) > OCCLUDED_SHARE),
            )
        )
    return samples


def make_features(
    n: int,
    num_gloss: int,
    num_cat: int = 0,
    dim: int = FEATURES_DIM,
    seed: int = 0,
    min_len: int = 24,
    max_len: int = 64,
    missing_rate: float = 0.1,
) -> list[SyntheticSample]:
    """`n` per-frame feature samples [T, dim] from the keypoint samples (NaN rows: frames
    the extractor could not read)."""
    samples = make_samples(
        n, num_gloss, num_cat, KEYPOINT_DIM, seed, min_len, max_len, missing_rate
    )
    weights, bias = _feature_projection(dim)
    noise = np.random.default_rng([seed, FEATURES_SEED])
    for sample in samples:
        frames = sample.x
        missing = np.isnan(frames[:, [LEFT_HAND.start * COORDS, RIGHT_HAND.start * COORDS]])
        centred = np.nan_to_num((frames - 0.5) * 8.0, nan=0.0)  # landmarks to ~unit scale
        inputs = np.concatenate([centred, missing.astype(np.float32)], axis=1)  # [T, 158]
        features = inputs @ weights + bias + noise.normal(0.0, 0.3, (len(frames), dim))
        features = np.maximum(features, 0.0).astype(np.float32)
        features[noise.random(len(frames)) < missing_rate / 4] = np.nan  # unreadable frames
        sample.x = features
    return samples


def _feature_projection(dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The fixed projection [158, dim] and bias [dim] from landmarks to features."""
    rng = np.random.default_rng(FEATURES_SEED)
    inputs = KEYPOINT_DIM + 2
    weights = rng.normal(0.0, 1.0 / np.sqrt(inputs), (inputs, dim)).astype(np.float32)
    return weights, rng.normal(0.0, 0.5, dim).astype(np.float32)


# ---------------------------------------------------------------------------------------
# Files


def write_npz_dataset(
    root: Path,
    n_train: int,
    n_val: int,
    num_gloss: int,
    num_cat: int = 0,
    key: str = "X",
    dim: int | None = None,
    seed: int = 0,
) -> Path:
    """Write the single-stream layout (docs/architecture.md) under `root` and return `root`:

        root/train/train_00000.npz ...   key `key` [T, dim]
        root/val/val_00000.npz ...
        root/train_labels.csv            file,gloss,cat,occluded,gloss_name
        root/val_labels.csv

    key "X2048" writes features (dim 2048 by default), any other key keypoints (dim 156 by
    default). Without categories (num_cat = 0) the CSVs have no cat column.
    """
    root = Path(root)
    features = key == FEATURES_KEY
    dim = dim if dim is not None else (FEATURES_DIM if features else KEYPOINT_DIM)
    for index, (split, n) in enumerate((("train", n_train), ("val", n_val))):
        split_seed = int(np.random.default_rng([seed, index]).integers(2**31))
        if features:
            samples = make_features(n, num_gloss, num_cat, dim=dim, seed=split_seed)
        else:
            samples = make_samples(n, num_gloss, num_cat, dim=dim, seed=split_seed)
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        header = ["file", "gloss", *(["cat"] if num_cat > 0 else []), "occluded", "gloss_name"]
        rows = []
        for i, sample in enumerate(samples):
            name = f"{split}_{i:05d}.npz"
            np.savez(folder / name, **{key: sample.x})
            cat = [sample.cat] if num_cat > 0 else []
            rows.append([name, sample.gloss, *cat, int(sample.occluded), gloss_name(sample.gloss)])
        with open(root / f"{split}_labels.csv", "w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(header)
            writer.writerows(rows)
    return root


# ---------------------------------------------------------------------------------------
# Multi-stream layout


def keypoint_streams(sample: SyntheticSample, seed: int = 0) -> dict[str, np.ndarray]:
    """A 156-column keypoint sample as streams {face, hand_l, hand_r, pose} [T, D_stream],
    with LANDMARK_DROPOUT of single landmarks not detected (NaN)."""
    frames = sample.x
    if frames.shape[1] != KEYPOINT_DIM:
        raise ValueError(f"need the {KEYPOINT_DIM}-column layout, got width {frames.shape[1]}")
    rng = np.random.default_rng([seed, STREAMS_SEED, zlib.crc32(sample.id.encode())])
    streams = {name: frames[:, cols].copy() for name, cols in STREAM_COLUMNS.items()}
    streams = {"face": _face(streams["pose"], sample.gloss, rng), **streams}
    for array in streams.values():
        T, D = array.shape
        dropped = rng.random((T, D // COORDS)) < LANDMARK_DROPOUT  # [T, L]
        array[np.repeat(dropped, COORDS, axis=1)] = np.nan
    return streams


def _face(pose: np.ndarray, gloss: int, rng: np.random.Generator) -> np.ndarray:
    """FACE_LANDMARKS [T, 8 * 3] around the pose nose and mouth; the lower lip and chin
    move with a gloss-dependent mouthing."""
    T = len(pose)
    points = pose.reshape(T, len(POSE_LANDMARKS), COORDS)
    nose = points[:, POSE_LANDMARKS.index("nose")]  # [T, 3]
    unit = points[:, POSE_LANDMARKS.index("mouth")] - nose  # [T, 3], nose -> mouth
    opening = 0.3 * ((gloss * 7) % 5) / 4 * np.sin(np.linspace(0, np.pi, T) + rng.normal(0, 0.3))
    face = np.zeros((T, len(FACE_LANDMARKS), COORDS))
    perpendicular = np.stack([-unit[:, 1], unit[:, 0]], axis=-1)  # [T, 2]
    for i, (name, (across, down)) in enumerate(FACE_LANDMARKS):
        down_t = down + (opening if name in ("lower_lip", "chin") else np.zeros(T))  # [T]
        face[:, i, :2] = nose[:, :2] - across * perpendicular + down_t[:, None] * unit[:, :2]
        face[:, i, 2] = nose[:, 2]
    face += rng.normal(0.0, NOISE / 2, face.shape)
    return face.reshape(T, -1).astype(np.float32)


def write_multistream_dataset(
    root: Path,
    n_train: int,
    n_val: int,
    num_gloss: int,
    num_cat: int = 0,
    seed: int = 0,
) -> Path:
    """Write the multi-stream layout (docs/architecture.md) under `root` and return `root`:

        root/{face,hand_l,hand_r,pose}/<id>.npy    [T, D_stream], one T per sample
        root/train_index.csv, root/val_index.csv   video_id
        root/labels.csv                            id,gloss[,cat],gloss_name
        root/meta.csv                              id;texto  (the gloss name as text)

    The samples are those of `write_npz_dataset` with the same arguments (same seeds),
    so both layouts hold the same signs (here with LANDMARK_DROPOUT and a face added).
    """
    root = Path(root)
    for name in (*STREAM_COLUMNS, "face"):
        (root / name).mkdir(parents=True, exist_ok=True)
    labels = [["id", "gloss", *(["cat"] if num_cat > 0 else []), "gloss_name"]]
    meta = [["id", "texto"]]
    for index, (split, n) in enumerate((("train", n_train), ("val", n_val))):
        split_seed = int(np.random.default_rng([seed, index]).integers(2**31))
        ids = []
        for i, sample in enumerate(make_samples(n, num_gloss, num_cat, seed=split_seed)):
            sample.id = f"{split}_{i:05d}"
            for stream, array in keypoint_streams(sample, split_seed).items():
                np.save(root / stream / f"{sample.id}.npy", array)
            ids.append([sample.id])
            cat = [sample.cat] if num_cat > 0 else []
            labels.append([sample.id, sample.gloss, *cat, gloss_name(sample.gloss)])
            meta.append([sample.id, gloss_name(sample.gloss).replace("_", " ")])
        _write_csv(root / f"{split}_index.csv", [["video_id"], *ids])
    _write_csv(root / "labels.csv", labels)
    _write_csv(root / "meta.csv", meta, delimiter=";")
    return root


def _write_csv(path: Path, rows: list[list], delimiter: str = ",") -> None:
    with open(path, "w", newline="", encoding="utf-8") as file:
        csv.writer(file, delimiter=delimiter).writerows(rows)
