"""SRC's videos as `importers.base.SourceItem`s: where each is, its id, label and signer.

    SRC/<label>/<name>.mp4   label folders: the folder name is the label; id <label>__<name>
    SRC/<name>.mp4           flat: the labels (and signers) come from --labels CSV; id <name>

Videos are the files whose suffix is in `video.VIDEO_SUFFIXES` (any case); names starting
with `.` are not looked at, and files deeper than SRC/<label>/ are not either. SRC with videos
both directly inside and in label folders is refused (which layout was meant is a guess).
With --labels, the CSV decides every label (as in `import`); its id column may name a
video by its id, its file name or its stem, and a video it does not list is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from signcli.core.errors import UsageError
from signcli.data.video import VIDEO_SUFFIXES
from signcli.importers.base import (
    MEDIAPIPE_HOLISTIC,
    Scan,
    SourceItem,
    list_folder,
    safe_id,
)


@dataclass(frozen=True)
class VideoSource:
    """What `importers/run.py`'s writer reads of a format: name, landmark set, units."""

    name: str = "extract"
    landmark_set = MEDIAPIPE_HOLISTIC
    units: str = "pixels"  # x * width, y * height, z * width of the decoded frames
    description: str = "videos through MediaPipe Holistic"


VIDEO_SOURCE = VideoSource()


def _videos(folder: Path) -> tuple[list[Path], list[Path]]:
    """Sub-folders and video files of `folder`, both sorted."""
    folders, files = list_folder(folder, "")
    videos = [f for f in files if f.suffix.lower() in VIDEO_SUFFIXES]
    return folders, sorted(videos)


def scan_videos(src: Path, labels: Path | None = None) -> Scan:
    """The videos of SRC with their labels; UsageError when SRC holds none, or when their
    labels cannot be known."""
    from signcli.importers.run import _read_label_csv

    folders, top = _videos(src)
    in_folders = {folder: _videos(folder)[1] for folder in folders}
    labelled = {f: v for f, v in in_folders.items() if v}
    if top and labelled:
        raise UsageError(
            f"{src} has videos both directly inside ({top[0].name}) and in label folders "
            f"({next(iter(labelled)).name}/)",
            hint="keep one layout: SRC/<label>/*.mp4, or SRC/*.mp4 with --labels CSV",
        )
    items: list[SourceItem] = []
    skipped: list[tuple[str, str]] = []
    if top:
        items = [SourceItem(id=safe_id(v.stem), ref=str(v), label=None) for v in top]
    else:
        for folder, videos in labelled.items():
            items += [
                SourceItem(id=safe_id(folder.name, v.stem), ref=str(v), label=folder.name)
                for v in videos
            ]
    if not items:
        raise UsageError(
            f"no videos under {src} (looked for {', '.join(VIDEO_SUFFIXES)} in SRC and "
            "SRC/<label>/)",
            hint="give the folder that holds the label folders",
        )
    if labels is None:
        if top:
            raise UsageError(
                f"the videos of {src} are not in label folders, so their labels are unknown",
                hint="give --labels CSV with columns id,label[,signer], or move each video "
                "into a folder named after its label",
            )
        return Scan(items=items, skipped=skipped)
    table = _read_label_csv(labels)
    kept = []
    for item in items:
        path = Path(item.ref)
        row = next(
            (table[k] for k in (item.id, safe_id(path.name), safe_id(path.stem)) if k in table),
            None,
        )
        if row is None:
            skipped.append((str(path), f"not in {labels.name}"))
            continue
        label, signer = row
        kept.append(replace(item, label=label, signer=signer))
    if not kept:
        raise UsageError(
            f"none of the {len(items)} videos of {src} is listed in {labels}",
            hint="its id column names each video by file name or stem (clip01.mp4 or clip01)",
        )
    return Scan(items=kept, skipped=skipped)
