"""`openpose` with crowded frames: `--person`, the note of whom each clip took, the
confidence threshold and the bound on people per frame.

The frames are shaped like OpenPose's JSON of real scenes (people listed in the detector's
order, which changes from frame to frame; a bystander; someone at the edge of the picture
for a couple of frames; hand keypoints guessed at confidence 0.01).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from signcli.data.recordings.openpose import MIN_CONFIDENCE
from signcli.importers.base import ImportFormatError
from signcli.importers.openpose import FORMAT
from tests.importers.samples import openpose_person, write_openpose_video
from tests.importers.test_openpose import body, expected

FRAMES = 10


def crowded_clip(folder: Path) -> dict[str, list[dict[str, np.ndarray]]]:
    """A signer (x 300, hands moving a little), a larger static bystander (x 900) and,
    in frames 0-1 only, someone at the picture's edge (x 1800) swinging both arms wide.
    The JSON order of the people is shuffled in every frame. Returns each person's parts
    per frame (the edge person's list holds its two frames)."""
    rng = np.random.default_rng(5)
    people: dict[str, list[dict[str, np.ndarray]]] = {"signer": [], "bystander": [], "edge": []}
    frames = []
    for t in range(FRAMES):
        here = {
            "signer": body(300, 300, 200, swing=20 * np.sin(t)),
            "bystander": body(900, 350, 450),
        }
        if t < 2:
            here["edge"] = body(1800, 300, 150, swing=300 * (-1) ** t)
        for name, parts in here.items():
            people[name].append(parts)
        entries = [openpose_person(parts) for parts in here.values()]
        frames.append([entries[i] for i in rng.permutation(len(entries))])
    write_openpose_video(folder, frames)
    return people


def read_with(src: Path, **options):
    scan = FORMAT.scan(src, **options)
    [result] = FORMAT.read(scan.items)
    return result


def taken(streams, person_frames: list[dict[str, np.ndarray]]) -> bool:
    """Whether `streams` hold this person in every frame it has (and NaN elsewhere)."""
    pose = expected(np.stack([p["pose"] for p in person_frames]))
    return bool(np.array_equal(streams["pose"][: len(pose)], pose, equal_nan=True))


@pytest.mark.parametrize(
    ("person", "who"),
    [
        (None, "signer"),  # auto: the edge person is seen in 2 of 10 frames, no candidate
        ("auto", "signer"),
        ("most-moving", "edge"),  # its arms move most, over its two frames
        ("largest", "bystander"),
        ("0", "signer"),  # from the left
        ("1", "bystander"),
        ("2", "edge"),  # the first frame with 3 people: frame 0
    ],
)
def test_person_rules_take_one_track_for_the_whole_clip(tmp_path: Path, person, who) -> None:
    people = crowded_clip(tmp_path / "a" / "clip")
    streams = read_with(tmp_path, person=person)
    assert taken(streams, people[who])
    for other in set(people) - {who}:
        assert not taken(streams, people[other])
    if who == "edge":  # frames 2.. without that person: NaN, not somebody else
        assert np.isnan(streams["pose"][2:]).all()


def test_the_note_says_how_many_people_and_whom_it_took(tmp_path: Path) -> None:
    crowded_clip(tmp_path / "a" / "clip")
    note = read_with(tmp_path).note
    assert note["people"] == 3 and note["tracks"] == 3 and note["person"] == "auto"
    assert note["taken"] == {
        "frames": FRAMES,
        "of": FRAMES,
        "x": 300.0,
        "size": note["taken"]["size"],
    }
    assert 200 <= note["taken"]["size"] <= 260


def test_an_index_beyond_the_people_is_a_reason(tmp_path: Path) -> None:
    crowded_clip(tmp_path / "a" / "clip")
    reason = read_with(tmp_path, person="3")
    assert isinstance(reason, str)
    assert reason.endswith("--person 3: no frame has more than 3 people (at most 3)")
    with pytest.raises(ImportFormatError, match="--person nobody: expected auto, most-moving"):
        FORMAT.scan(tmp_path, person="nobody")


def test_keypoints_below_the_confidence_threshold_are_nan(tmp_path: Path) -> None:
    parts = body(300, 300, 200)
    parts["hand_r"][:5, 2] = 0.01  # guessed by OpenPose
    parts["hand_r"][5, 2] = MIN_CONFIDENCE  # at the threshold: kept
    write_openpose_video(tmp_path / "a" / "v", [[openpose_person(parts)]])
    streams = read_with(tmp_path)
    assert np.isnan(streams["hand_r"][0, :5]).all() and not np.isnan(streams["hand_r"][0, 5:]).any()
    streams = read_with(tmp_path, min_confidence=0.0)
    assert not np.isnan(streams["hand_r"]).any()
    streams = read_with(tmp_path, min_confidence=0.9)
    assert np.isnan(streams["hand_r"]).all()  # every hand keypoint is at 0.8
    with pytest.raises(ImportFormatError, match="--min-confidence 2"):
        FORMAT.scan(tmp_path, min_confidence=2)


def test_a_frame_with_more_people_than_the_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crowded_clip(tmp_path / "a" / "clip")
    monkeypatch.setenv("SIGNCLI_MAX_PEOPLE", "2")
    reason = read_with(tmp_path)
    assert isinstance(reason, str) and "_keypoints.json: the people listed is 3" in reason
    assert "SIGNCLI_MAX_PEOPLE" in reason
