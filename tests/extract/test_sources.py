"""Which videos SRC holds and what their labels are (no decoding: runs without the extra)."""

from __future__ import annotations

from pathlib import Path

import pytest

from signcli.core.errors import UsageError
from signcli.extract.sources import scan_videos


def _touch(*paths: Path) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0")


def test_label_folders_give_labels_and_ids(tmp_path):
    _touch(tmp_path / "thank you" / "b.MP4", tmp_path / "hello" / "a.webm",
           tmp_path / "hello" / "notes.txt", tmp_path / "hello" / ".hidden.mp4",
           tmp_path / "hello" / "deeper" / "c.mp4")  # fmt: skip
    scan = scan_videos(tmp_path)
    assert [(i.id, i.label, Path(i.ref).name) for i in scan.items] == [
        ("hello__a", "hello", "a.webm"),
        ("thank_you__b", "thank you", "b.MP4"),
    ]


def test_a_flat_folder_takes_labels_and_signers_from_the_csv(tmp_path):
    src = tmp_path / "src"
    _touch(src / "clip1.mp4", src / "clip2.avi", src / "clip3.mov")
    with pytest.raises(UsageError, match="give --labels CSV"):
        scan_videos(src)
    labels = tmp_path / "labels.csv"
    labels.write_text("video,sign,signer\nclip1.mp4,hello,p1\nclip2,thanks,p2\n")
    scan = scan_videos(src, labels)
    assert [(i.id, i.label, i.signer) for i in scan.items] == [
        ("clip1", "hello", "p1"),
        ("clip2", "thanks", "p2"),
    ]
    assert scan.skipped == [(str(src / "clip3.mov"), "not in labels.csv")]


def test_sources_extract_cannot_use_are_refused(tmp_path):
    _touch(tmp_path / "mixed" / "top.mp4", tmp_path / "mixed" / "hello" / "a.mp4")
    with pytest.raises(UsageError, match="both directly inside"):
        scan_videos(tmp_path / "mixed")
    _touch(tmp_path / "none" / "readme.txt")
    with pytest.raises(UsageError, match="no videos under"):
        scan_videos(tmp_path / "none")
    labels = tmp_path / "other.csv"
    labels.write_text("id,label\nsomething_else,hello\n")
    with pytest.raises(UsageError, match="none of the 1 videos"):
        scan_videos(tmp_path / "mixed" / "hello", labels)
