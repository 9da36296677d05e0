"""Small sources in the `mp-folders` and `openpose` import formats, written into a tmp dir.

For the format tests and for end-to-end `signcli import` tests:

    write_mp_folders(root)      ROOT/<label>/<sequence>/<frame>.npy, returns the vectors
    write_openpose(root)        ROOT/<label>/<video>/*_keypoints.json (or flat), returns
                                the keypoints written for each video's one person

Values are drawn away from 0 (no part reads as "not detected") from a seeded generator,
so a test can compare what a reader returns with what was written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# --- mp-folders -------------------------------------------------------------------------

MP_WIDTH = 1662  # pose 33x4 + face 468x3 + left hand 21x3 + right hand 21x3
MP_WIDTH_NO_FACE = 258  # pose 33x4 + left hand 21x3 + right hand 21x3


def mp_vector(
    pose: np.ndarray, face: np.ndarray | None, hand_l: np.ndarray, hand_r: np.ndarray
) -> np.ndarray:
    """One frame as the tutorial's `extract_keypoints` saves it: pose [33, 4] (x, y, z,
    visibility), face [468, 3] (None: the 258-wide variant), hands [21, 3]; all flattened."""
    parts = [pose, face, hand_l, hand_r] if face is not None else [pose, hand_l, hand_r]
    return np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1) for p in parts])


def write_mp_sequence(folder: Path, vectors: np.ndarray | Sequence[np.ndarray]) -> list[Path]:
    """`folder/0.npy, 1.npy, ...`, one per vector (frame t is `t.npy`, unpadded)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for t, vector in enumerate(vectors):
        path = folder / f"{t}.npy"
        np.save(path, np.asarray(vector))
        paths.append(path)
    return paths


def write_mp_folders(
    root: Path,
    labels: Sequence[str] = ("hello", "thanks"),
    sequences: int = 2,
    frames: int = 12,
    width: int = MP_WIDTH,
    seed: int = 0,
) -> dict[tuple[str, str], np.ndarray]:
    """`root/<label>/<0..sequences-1>/<0..frames-1>.npy` of `width` (1662 or 258) values in
    0.1..1 (float64, as the tutorial saves them). Returns (label, sequence) -> [T, width]."""
    if width not in (MP_WIDTH, MP_WIDTH_NO_FACE):
        raise ValueError(f"width {width}: the tutorial saves {MP_WIDTH} or {MP_WIDTH_NO_FACE}")
    rng = np.random.default_rng(seed)
    written = {}
    for label in labels:
        for s in range(sequences):
            vectors = rng.uniform(0.1, 1.0, size=(frames, width))
            write_mp_sequence(root / label / str(s), vectors)
            written[(label, str(s))] = vectors
    return written


# --- openpose ---------------------------------------------------------------------------

OPENPOSE_KEYS = {
    "pose": "pose_keypoints_2d",
    "hand_l": "hand_left_keypoints_2d",
    "hand_r": "hand_right_keypoints_2d",
    "face": "face_keypoints_2d",
}
OPENPOSE_POINTS = {"pose": 25, "hand_l": 21, "hand_r": 21, "face": 70}


def openpose_person(parts: dict[str, np.ndarray | None]) -> dict:
    """One entry of `people`: each part [L, 3] (x, y, confidence) flattened to a list;
    a part given as None (or left out) is written as `[]`, as OpenPose does without
    `--face` / `--hand`."""
    person: dict = {"person_id": [-1]}
    for stream, key in OPENPOSE_KEYS.items():
        part = parts.get(stream)
        person[key] = [] if part is None else np.asarray(part, dtype=float).reshape(-1).tolist()
    return person


def write_openpose_video(folder: Path, frames: Sequence[Sequence[dict]]) -> list[Path]:
    """`folder/<folder name>_<t, 12 digits>_keypoints.json` per frame, as OpenPose's
    `--write_json` names them; each frame is its list of `openpose_person` entries."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for t, people in enumerate(frames):
        path = folder / f"{folder.name}_{t:012d}_keypoints.json"
        path.write_text(json.dumps({"version": 1.3, "people": list(people)}))
        paths.append(path)
    return paths


def random_openpose_parts(
    rng: np.random.Generator, frames: int, face: bool = True
) -> dict[str, np.ndarray]:
    """stream -> [T, L, 3]: pixel x, y in 10..500 and confidence in 0.1..1."""
    parts = {}
    for stream, points in OPENPOSE_POINTS.items():
        if stream == "face" and not face:
            continue
        xy = rng.uniform(10.0, 500.0, size=(frames, points, 2))
        confidence = rng.uniform(0.1, 1.0, size=(frames, points, 1))
        parts[stream] = np.concatenate([xy, confidence], axis=-1)
    return parts


def write_openpose(
    root: Path,
    labels: Sequence[str] = ("hello", "thanks"),
    videos: int = 2,
    frames: int = 12,
    flat: bool = False,
    face: bool = True,
    seed: int = 0,
) -> dict[tuple[str | None, str], dict[str, np.ndarray]]:
    """One person per frame in each video: `root/<label>/<label>_<v>/*_keypoints.json`, or
    with `flat`, `root/<label>_<v>/*_keypoints.json` (the label then only in the folder
    name, for a --labels CSV). Without `face`, face lists are empty. Returns
    (label or None when flat, video) -> stream -> [T, L, 3] (x, y, confidence)."""
    rng = np.random.default_rng(seed)
    written = {}
    for label in labels:
        for v in range(videos):
            video = f"{label}_{v}"
            parts = random_openpose_parts(rng, frames, face=face)
            folder = root / video if flat else root / label / video
            write_openpose_video(
                folder,
                [[openpose_person({s: p[t] for s, p in parts.items()})] for t in range(frames)],
            )
            written[(None if flat else label, video)] = parts
    return written
