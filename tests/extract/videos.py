"""Videos for the extract tests: the real signing clip in tests/data/videos, and what the
tests derive from it or make up with OpenCV (a mirrored copy, a scene with no person, a
damaged file)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

REAL_VIDEO = Path(__file__).resolve().parents[1] / "data" / "videos" / "signing.mp4"
REAL_FRAMES = 58  # frames of REAL_VIDEO (29.9 frames/s)


def write_video(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    """Write RGB frames [H, W, 3] uint8 as an MJPEG .avi (an encoder every OpenCV build has)."""
    import cv2

    height, width = frames[0].shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened(), f"OpenCV cannot write {path}"
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def real_frames() -> list[np.ndarray]:
    """The RGB frames of REAL_VIDEO."""
    from signcli.data.video import read_frames

    return list(read_frames(REAL_VIDEO)[1])


def write_mirrored(path: Path) -> Path:
    """REAL_VIDEO flipped left-right: the signer's right hand now looks like a left hand."""
    return write_video(path, [np.ascontiguousarray(f[:, ::-1]) for f in real_frames()], 29.9)


def write_no_person(path: Path, frames: int = 12) -> Path:
    """A slowly shifting colour gradient: a video in which there is nobody to find."""
    y, x = np.mgrid[0:120, 0:160]
    return write_video(
        path,
        [
            np.stack([(x + 4 * i) % 256, (y + 2 * i) % 256, np.full_like(x, 90)], -1).astype(
                np.uint8
            )
            for i in range(frames)
        ],  # fmt: skip
    )


def write_damaged(path: Path) -> Path:
    """The first 20 KB of REAL_VIDEO: an .mp4 cut before its index, which no decoder opens."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(REAL_VIDEO.read_bytes()[:20_000])
    return path
