"""`openpose`: folders of OpenPose per-frame JSON, one folder per video (WLASL, How2Sign ...).

Two layouts, told apart by how deep the JSON files sit below SRC:

    SRC/<label>/<video>/*_keypoints.json    two levels: the label is the folder name
    SRC/<video>/*_keypoints.json            one level: no label (they come from --labels)

SRC holding both is refused (say which folder is which instead of guessing). Each video
folder is read by data/recordings/openpose.py (the frames, the keypoints, `--person` and
`--min-confidence`); the import's streams are those any video has (the scan reads each
video's first frame with people), NaN for videos without them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from signcli.core.limits import MAX_PEOPLE
from signcli.data.recordings.openpose import (
    KEYS,
    MIN_CONFIDENCE,
    VideoRef,
    as_ref,
    listing,
    parse_person,
    parts_present,
    read_video,
)
from signcli.importers.base import (
    OPENPOSE_BODY25_HANDS,
    ImportFormatError,
    Scan,
    SourceItem,
    Streams,
    safe_id,
)

LAYOUTS_TEXT = "SRC/<label>/<video>/*_keypoints.json or SRC/<video>/*_keypoints.json"


class OpenPose:
    """Folders of OpenPose `--write_json` output, one per video."""

    name = "openpose"
    landmark_set = OPENPOSE_BODY25_HANDS
    units = "pixels"
    description = "OpenPose JSON folders: SRC/<label>/<video>/*.json or SRC/<video>/*.json"
    options = ("person", "min_confidence")

    def scan(
        self, src: Path, person: str | int | None = None, min_confidence: float | None = None
    ) -> Scan:
        src = Path(src)
        rule = parse_person(person)
        threshold = MIN_CONFIDENCE if min_confidence is None else float(min_confidence)
        if not 0 <= threshold <= 1:
            raise ImportFormatError(f"--min-confidence {min_confidence}: expected 0..1")
        MAX_PEOPLE.value()  # a bad SIGNCLI_MAX_PEOPLE stops here, not in every worker
        if not src.is_dir():
            raise ImportFormatError(f"{src} is not a folder (expected {LAYOUTS_TEXT})")
        top_folders, top_files = listing(src)
        listings = {folder: listing(folder) for folder in top_folders}
        # the JSON files of each folder one level further down: videos, if SRC is labelled
        below = {video: listing(video)[1] for folders, _ in listings.values() for video in folders}
        flat = [folder for folder, (_, files) in listings.items() if files]
        nested = [video for video, files in below.items() if files]
        if not flat and not nested:
            where = " (JSON files directly in SRC: pass the folder above the video folders)"
            raise ImportFormatError(
                f"no OpenPose JSON folders under {src}: expected {LAYOUTS_TEXT}"
                + (where if top_files else "")
            )
        if flat and nested:
            raise ImportFormatError(
                f"{src} mixes two layouts: JSON files one level below SRC ({flat[0]}) and two "
                f"levels below ({nested[0]}); expected {LAYOUTS_TEXT}, one or the other"
            )
        items: list[SourceItem] = []
        skipped: list[tuple[str, str]] = []
        seen: dict[str, Path] = {}

        def add(video: Path, label: str | None) -> None:
            item_id = safe_id(label, video.name) if label is not None else safe_id(video.name)
            if item_id in seen:
                skipped.append(
                    (str(video), f"its id {item_id} is already taken by {seen[item_id]}")
                )
                return
            seen[item_id] = video
            ref = VideoRef(str(video), rule, threshold)
            items.append(SourceItem(id=item_id, ref=ref, label=label))

        for folder, (subfolders, files) in listings.items():
            if flat:  # SRC/<video>/*.json
                if files:
                    add(folder, None)
                else:
                    skipped.append((str(folder), "no .json frames in this video folder"))
                continue
            if not subfolders:  # SRC/<label>/<video>/*.json
                skipped.append((str(folder), "no video folders in this label folder"))
            for video in subfolders:
                if below[video]:
                    add(video, folder.name)
                else:
                    skipped.append((str(video), "no .json frames in this video folder"))
        present: set[str] = set()
        for item in items:
            present |= parts_present(Path(item.ref.path))
            if present == set(KEYS):
                break
        streams = {s: n for s, n in OPENPOSE_BODY25_HANDS.streams.items() if s in present}
        return Scan(items=items, skipped=skipped, streams=streams or None)

    def read(self, items: Sequence[SourceItem]) -> list[Streams | str]:
        return [read_video(as_ref(item.ref)) for item in items]


FORMAT = OpenPose()
