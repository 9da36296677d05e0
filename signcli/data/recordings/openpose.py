"""One OpenPose recording: a folder of per-frame `--write_json` files (WLASL, How2Sign ...).

A folder's frames are its `*_keypoints.json` files (all its `*.json` when it has none of
those), sorted by the last number in the name: `v07_000000000012_keypoints.json` is frame 12.
`signcli import openpose` reads a tree of such folders (importers/openpose.py);
`signcli predict` reads one folder as one recording.

Each frame is `{"people": [{"pose_keypoints_2d": [x, y, c] * 25, "hand_left_keypoints_2d":
[x, y, c] * 21, "hand_right_keypoints_2d": ..., "face_keypoints_2d": [x, y, c] * 70}, ...]}`.
A keypoint below `--min-confidence` (default MIN_CONFIDENCE; 0 = only confidence 0, the
points OpenPose did not find) is not detected: NaN (x, y and z); the others get z = 0.
OpenPose gives hand keypoints it guesses confidences of 0.01..0.05, which are noise. A part
whose list is empty or absent for every person of a video (OpenPose run without `--face`
or `--hand`) is not a stream of that video; the import's streams are those any video has
(the scan reads each video's first frame with people), NaN for videos without them. A
COCO-18 pose (18 keypoints) is refused: the landmark set is BODY_25. A frame listing more
than MAX_PEOPLE people (core/limits.py) is refused: no real frame has that many.

The person (`--person`). A video with never more than one person per frame: that person,
throughout. Otherwise people are linked into tracks across frames (each person to the
nearest track, by the neck or else the mid-shoulder, when it moved less than MAX_JUMP of
its size since that track was last seen), and one track is taken for the whole clip, so
the choice never changes between frames:

    auto         among the tracks seen in at least half as many frames as the longest
                 one (someone passing the edge of the picture for a few frames is no
                 candidate), the most moving; when nobody's hands move, the largest
    most-moving  the track whose hands moved most relative to its own neck, in units of
                 its size, summed over the clip: a static bystander scores ~0 however big;
                 a passer-by's walk moves the neck with the hands and scores little
    largest      the track of the largest median size (the longer side of the box of its
                 keypoints): the person nearest the camera
    INDEX        the INDEX-th person from the left (0 = leftmost) in the first frame with
                 more than INDEX people, followed through the clip

Ties go to the track seen in the most frames, then the biggest. Frames the chosen track
misses (or without people) are NaN; a video with nobody in any frame is refused. Each
item's note (import-report.json, the summary) says how many people its frames had at
most, how many tracks there were, and which was taken (frames seen, median x and size).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from signcli.core.files import open_input
from signcli.core.limits import MAX_JSON_BYTES, MAX_PEOPLE
from signcli.data.landmarks import OPENPOSE_BODY25_HANDS
from signcli.data.recordings.base import (
    COORDS,
    NotedStreams,
    SourceFormatError,
    Streams,
    list_folder,
)

FRAME_SUFFIX = ".json"
KEYPOINTS_SUFFIX = "_keypoints.json"  # what OpenPose's --write_json names its files
VALUES = 3  # x, y, confidence per keypoint in the JSON
COCO_POSE = 18  # keypoints of the COCO-18 body models, which this format does not read

# stream -> the key of its list in each person of the JSON
KEYS = {
    "face": "face_keypoints_2d",
    "hand_l": "hand_left_keypoints_2d",
    "hand_r": "hand_right_keypoints_2d",
    "pose": "pose_keypoints_2d",
}
NECK, R_SHOULDER, L_SHOULDER = 1, 2, 5  # BODY_25 indices
WRISTS = {"hand_r": 4, "hand_l": 7}  # BODY_25 wrist of each hand
# A track takes a person whose anchor moved at most this share of the person's size (the
# longer side of the box of its keypoints) since the track was last seen: signers move
# far less than that between frames, a second person stands further away.
MAX_JUMP = 0.5
# --min-confidence default: OpenPose's own renderer draws keypoints from 0.05 (hands) to 0.1
# (body); below 0.1 a hand keypoint is a guess more often than not
MIN_CONFIDENCE = 0.1
PERSON_RULES = ("auto", "most-moving", "largest")
# frames of each video the scan reads to learn which parts OpenPose wrote (face, hands):
# the first with people settles it, the flags hold for the whole run
PARTS_FRAMES_TRIED = 10


def listing(folder: Path) -> tuple[list[Path], list[Path]]:
    return list_folder(folder, FRAME_SUFFIX)


def frame_number(path: Path) -> tuple[int, str]:
    """Sort key of a frame file: the last number in its name (-1 when it has none)."""
    numbers = re.findall(r"\d+", path.name)
    return (int(numbers[-1]) if numbers else -1, path.name)


def frame_files(files: list[Path]) -> list[Path]:
    """The frames among a video folder's JSON files, in frame order."""
    keypoints = [p for p in files if p.name.lower().endswith(KEYPOINTS_SUFFIX)]
    return sorted(keypoints or files, key=frame_number)


@dataclass(frozen=True)
class VideoRef:
    """A video folder and whom to take in it (an import item's `ref`: picklable)."""

    path: str
    person: str | int = "auto"  # a PERSON_RULES rule or an index from the left
    min_confidence: float = MIN_CONFIDENCE


def parse_person(text: str | int | None) -> str | int:
    """`--person` -> a rule of PERSON_RULES or an index >= 0; SourceFormatError otherwise."""
    if text is None:
        return "auto"
    if isinstance(text, int) or str(text).strip().isdigit():
        return int(text)
    if str(text).strip() in PERSON_RULES:
        return str(text).strip()
    raise SourceFormatError(
        f"--person {text}: expected {', '.join(PERSON_RULES)}, or a number (0 = leftmost person)"
    )


def parts_present(folder: Path, frames_tried: int = PARTS_FRAMES_TRIED) -> set[str]:
    """The streams OpenPose wrote for a video (its `--face` / `--hand` flags hold for every
    frame): the non-empty parts of the people of its first frame that has people, looking
    at most `frames_tried` frames. Unreadable frames count as empty (`read` reports them)."""
    try:
        frames = frame_files(listing(folder)[1])[:frames_tried]
    except OSError:
        return set()
    for path in frames:
        try:
            data = json.loads(_read_frame(path))
        except (OSError, ValueError, RecursionError):
            continue
        people = data.get("people") if isinstance(data, dict) else None
        if not isinstance(people, list) or not people:
            continue
        return {
            stream
            for stream, key in KEYS.items()
            if any(isinstance(p, dict) and p.get(key) for p in people)
        }
    return set()


def as_ref(ref: VideoRef | str | Path) -> VideoRef:
    return ref if isinstance(ref, VideoRef) else VideoRef(str(ref))


@dataclass
class Person:
    """One person of one frame: its parts ([L, 3] x, y, confidence) and where it is."""

    parts: dict[str, np.ndarray]
    anchor: np.ndarray  # [2] neck, else mid-shoulder, else the centre of its pose or points
    size: float  # longer side of the box of its confident keypoints
    hands: dict[str, np.ndarray | None]  # hand -> [2] wrist (else hand centre) minus anchor


@dataclass
class Track:
    """One person followed across the frames of a video."""

    last: Person  # the person it was last seen as
    people: dict[int, Person] = field(default_factory=dict)  # frame -> person
    motion: float = 0.0  # hand motion relative to the anchor, in units of the person's size


def _parse_person(
    person: object, path: Path, min_confidence: float = 0.0
) -> dict[str, np.ndarray] | str:
    """The non-empty parts of one person of the JSON, [L, 3] each (confidence below
    `min_confidence` set to 0: not detected), or why not."""
    if not isinstance(person, dict):
        return f"{path}: a person is not a JSON object"
    parts: dict[str, np.ndarray] = {}
    for stream, key in KEYS.items():
        values = person.get(key)
        if values is None or (isinstance(values, list) and not values):
            continue  # this part was not detected for anybody (e.g. OpenPose without --face)
        try:
            array = np.asarray(values, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            return f"{path}: {key} is not a list of numbers"
        except OverflowError:  # an integer such as 10**400
            return f"{path}: {key} has a number beyond what a float holds"
        landmarks = OPENPOSE_BODY25_HANDS.streams[stream]
        if stream == "pose" and array.size == COCO_POSE * VALUES:
            return (
                f"{path}: {key} has {COCO_POSE} keypoints (a COCO-18 model); "
                f"this format reads BODY_25 ({landmarks})"
            )
        if array.size != landmarks * VALUES:
            return (
                f"{path}: {key} has {array.size} values, expected {landmarks * VALUES} "
                f"({landmarks} keypoints x (x, y, confidence))"
            )
        if not np.isfinite(array).all():
            return f"{path}: {key} has a non-finite value"
        part = array.reshape(landmarks, VALUES)
        part[part[:, 2] < min_confidence, 2] = 0.0
        parts[stream] = part
    return parts


def _locate(parts: dict[str, np.ndarray]) -> Person | None:
    """The person of these parts, or None when none of its keypoints is confident."""
    found = [p[p[:, 2] > 0, :2] for p in parts.values()]
    points = np.concatenate(found) if found else np.zeros((0, 2))
    if not len(points):
        return None
    pose = parts.get("pose")
    seen = pose[:, 2] > 0 if pose is not None else None
    if seen is not None and seen[NECK]:
        anchor = pose[NECK, :2]
    elif seen is not None and seen[R_SHOULDER] and seen[L_SHOULDER]:
        anchor = (pose[R_SHOULDER, :2] + pose[L_SHOULDER, :2]) / 2
    elif seen is not None and seen.any():
        anchor = pose[seen, :2].mean(axis=0)
    else:
        anchor = points.mean(axis=0)
    hands: dict[str, np.ndarray | None] = {}
    for hand, wrist in WRISTS.items():
        keypoints = parts.get(hand)
        if seen is not None and seen[wrist]:
            hands[hand] = pose[wrist, :2] - anchor
        elif keypoints is not None and (keypoints[:, 2] > 0).any():
            hands[hand] = keypoints[keypoints[:, 2] > 0, :2].mean(axis=0) - anchor
        else:
            hands[hand] = None
    size = float((points.max(axis=0) - points.min(axis=0)).max())
    return Person(parts=parts, anchor=anchor, size=size, hands=hands)


def _track(frames: list[list[Person]]) -> list[Track]:
    """People linked across frames: each frame's people go to the nearest tracks (one each,
    closest pairs first), or start a track when none is within MAX_JUMP of their size."""
    tracks: list[Track] = []
    for t, people in enumerate(frames):
        taken: set[int] = set()  # people of this frame given to a track
        if tracks and people:
            last = [track.last for track in tracks]
            distance = np.linalg.norm(
                np.stack([p.anchor for p in people])[None]
                - np.stack([p.anchor for p in last])[:, None],
                axis=-1,
            )  # [tracks, people]
            size = np.maximum(
                np.array([p.size for p in last])[:, None], np.array([p.size for p in people])[None]
            )
            ks, ps = np.nonzero(distance <= MAX_JUMP * size)
            linked: set[int] = set()  # tracks given a person of this frame
            for j in np.argsort(distance[ks, ps], kind="stable"):
                k, i = int(ks[j]), int(ps[j])
                if k in linked or i in taken:
                    continue
                track, person = tracks[k], people[i]
                for hand, now in person.hands.items():
                    before = track.last.hands[hand]
                    if now is not None and before is not None and size[k, i] > 0:
                        track.motion += float(np.linalg.norm(now - before)) / float(size[k, i])
                track.people[t] = person
                track.last = person
                linked.add(k)
                taken.add(i)
        for i, person in enumerate(people):
            if i not in taken:
                tracks.append(Track(last=person, people={t: person}))
    return tracks


def choose_signer(
    frames: list[list[Person]], rule: str | int = "auto", tracks: list[Track] | None = None
) -> Track | str | None:
    """The track taken by `rule` (see the module docstring); None when nobody is in any
    frame, a reason when an INDEX names a person no frame has. When no frame has two
    people, that one person is taken in every frame, however far it jumps (a detector
    glitch does not split it). `tracks`: `_track(frames)`, when the caller has them."""
    if all(len(people) <= 1 for people in frames):
        alone = {t: people[0] for t, people in enumerate(frames) if people}
        if isinstance(rule, int) and rule > 0 and alone:
            return f"--person {rule}: no frame has more than one person"
        return Track(last=alone[max(alone)], people=alone) if alone else None
    tracks = _track(frames) if tracks is None else tracks
    if not tracks:
        return None
    if isinstance(rule, int):
        return _track_at(frames, tracks, rule)

    def seen(track: Track) -> int:
        return len(track.people)

    def size(track: Track) -> float:
        return float(np.median([p.size for p in track.people.values()]))

    if rule == "largest":
        return max(tracks, key=lambda tr: (size(tr), seen(tr), tr.motion))
    if rule == "auto":
        longest = max(seen(tr) for tr in tracks)
        tracks = [tr for tr in tracks if 2 * seen(tr) >= longest]
        if max(tr.motion for tr in tracks) <= STILL:
            return max(tracks, key=lambda tr: (size(tr), seen(tr)))
    return max(tracks, key=lambda tr: (tr.motion, seen(tr), size(tr)))


# hand motion (in body sizes, summed over a clip) below which `auto` calls everyone still
STILL = 1e-6


def _track_at(frames: list[list[Person]], tracks: list[Track], index: int) -> Track | str:
    """The track of the `index`-th person from the left in the first frame with more than
    `index` people."""
    for t, people in enumerate(frames):
        if len(people) > index:
            person = sorted(people, key=lambda p: float(p.anchor[0]))[index]
            return next(tr for tr in tracks if tr.people.get(t) is person)
    most = max(len(people) for people in frames)
    return f"--person {index}: no frame has more than {index} people (at most {most})"


def _note(frames: list[list[Person]], tracks_count: int, taken: Track, rule: str | int) -> dict:
    """What import-report.json says of a clip: people, tracks, the rule and whom it took."""
    people = [p for p in taken.people.values()]
    return {
        "people": max(len(f) for f in frames),
        "tracks": tracks_count,
        "person": rule,
        "taken": {
            "frames": len(taken.people),
            "of": len(frames),
            "x": round(float(np.median([p.anchor[0] for p in people])), 1),
            "size": round(float(np.median([p.size for p in people])), 1),
        },
    }


def read_video(ref: VideoRef | Path | str) -> Streams | str:
    """The streams of the person taken in one video folder, or why it cannot be read."""
    ref = as_ref(ref)
    folder = Path(ref.path)
    try:
        frames = frame_files(listing(folder)[1])
    except OSError as error:
        return f"{folder}: cannot list the folder ({error})"
    if not frames:
        return f"{folder}: no .json frames"
    max_people = MAX_PEOPLE.value()
    people_per_frame: list[list[Person]] = []
    present: set[str] = set()
    for path in frames:
        try:
            data = json.loads(_read_frame(path))
        except (OSError, ValueError) as error:
            return f"{path}: unreadable JSON ({error})".replace("\n", " ")
        except RecursionError:  # brackets nested past the interpreter's depth
            return f"{path}: unreadable JSON (nested too deeply)"
        people = data.get("people") if isinstance(data, dict) else None
        if not isinstance(people, list):
            return f'{path}: no "people" list (not OpenPose keypoints JSON)'
        if len(people) > max_people:
            return f"{path}: {MAX_PEOPLE.exceeded('the people listed', len(people))}"
        found: list[Person] = []
        for entry in people:
            parts = _parse_person(entry, path, ref.min_confidence)
            if isinstance(parts, str):
                return parts
            present.update(parts)
            person = _locate(parts)
            if person is not None:
                found.append(person)
        people_per_frame.append(found)
    crowded = any(len(people) > 1 for people in people_per_frame)
    tracks = _track(people_per_frame) if crowded else None
    signer = choose_signer(people_per_frame, ref.person, tracks)
    if signer is None:
        return f"{folder}: no person detected in any of its {len(frames)} frames"
    if isinstance(signer, str):
        return f"{folder}: {signer}"
    streams: Streams = {}
    for stream in OPENPOSE_BODY25_HANDS.streams:
        if stream not in present:
            continue
        out = np.full(
            (len(frames), OPENPOSE_BODY25_HANDS.streams[stream], COORDS), np.nan, np.float32
        )
        for t, person in signer.people.items():
            part = person.parts.get(stream)
            if part is None:
                continue
            found = part[:, 2] > 0
            out[t, found, :2] = part[found, :2]
            out[t, found, 2] = 0.0
        streams[stream] = out
    note = _note(people_per_frame, len(tracks) if tracks else 1, signer, ref.person)
    return NotedStreams(streams, note)


def _read_frame(path: Path) -> bytes:
    """One frame's JSON: a regular file (a FIFO listed among the frames would block the
    import), at most MAX_JSON_BYTES (OSError otherwise, a reason for its sequence)."""
    with open_input(path, "OpenPose frame", limit=MAX_JSON_BYTES) as handle:
        return handle.read()
