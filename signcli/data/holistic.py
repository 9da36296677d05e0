"""MediaPipe Holistic on a video: `{stream: [T, L, 3]}` in the `mediapipe-holistic` landmark set.

mediapipe 0.10.14 ships in its wheel the models Holistic needs at model complexity 1 (pose
detection, pose_landmark_full, palm detection, hand_landmark_full, face detection,
face_landmark), so extraction runs offline. Complexity 0 (pose_landmark_lite) and 2
(pose_landmark_heavy) are not in the wheel: mediapipe downloads them on first use, so they
work only where that download was done once (`model_file_present` says whether it was).

What comes out, per frame kept (`video.read_frames`):

    pose    33   POSE_LANDMARKS          hand_l  21   LEFT_HAND_LANDMARKS
    face    468  FACE_LANDMARKS          hand_r  21   RIGHT_HAND_LANDMARKS

in pixels of the decoded frame: x * width, y * height, and z * width (MediaPipe's z is on
the scale of its 0..1 x), so the three axes share one unit whatever the aspect ratio, as
pose-format's estimator stores them. A part Holistic did not find in a frame is NaN for that
frame, never 0.

Left and right are the signer's own. Holistic crops each hand from the pose's wrist
(landmark 15 is the left wrist, 16 the right, from the person's point of view) and names the
hand after that wrist, so `left_hand_landmarks` is the signer's left hand, which on a video
of a signer facing the camera (not mirrored) appears on the right half of the image. It goes
to `hand_l`. (Standalone MediaPipe Hands differs: its handedness label assumes a mirrored
selfie image.) tests/data/test_holistic.py checks this on the real video in tests/data/videos.

Tracking state is reset at the start of every video, so a video's keypoints do not depend
on which video a worker processed before it: one run, a resumed run and shards agree.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signcli.core.errors import UsageError
from signcli.data.landmarks import MEDIAPIPE_HOLISTIC
from signcli.data.video import INSTALL_HINT, VideoError, output_fps, read_frames

if TYPE_CHECKING:
    import numpy as np

COORDS = 3  # x, y, z per landmark, as every dataset stores them
MODEL_COMPLEXITIES = (0, 1, 2)
# complexity -> the pose landmark model it loads (the other Holistic models are shared)
POSE_MODEL_FILE = {
    0: "pose_landmark_lite.tflite",
    1: "pose_landmark_full.tflite",  # in the 0.10.14 wheel
    2: "pose_landmark_heavy.tflite",
}
# Holistic's result attribute of each stream, in the landmark set's order
RESULT_FIELDS = {
    "face": "face_landmarks",
    "hand_l": "left_hand_landmarks",
    "hand_r": "right_hand_landmarks",
    "pose": "pose_landmarks",
}
POSE_LANDMARKS = MEDIAPIPE_HOLISTIC.streams["pose"]  # 33
STOP_CHECK_FRAMES = 8  # frames between looks at the stop flag and progress reports


@dataclass
class VideoKeypoints:
    """The keypoints of one video."""

    streams: dict[str, np.ndarray]  # stream -> [T, L, 3] float32 pixels, NaN = not found
    fps: float | None  # frame rate of the kept frames (None: the video gives none)
    width: int  # of the decoded frames
    height: int
    pose_visibility: np.ndarray  # [T, 33] MediaPipe's visibility of each pose landmark
    pose_world: np.ndarray  # [T, 33, 3] POSE_WORLD_LANDMARKS, metres about the hips

    @property
    def frames(self) -> int:
        return int(self.streams["pose"].shape[0])

    def found_frames(self) -> dict[str, int]:
        """Per stream, the frames in which Holistic found that part."""
        import numpy as np

        return {s: int((~np.isnan(a[:, 0, 0])).sum()) for s, a in self.streams.items()}


def no_person_found(frames: int) -> str:
    """Why a video gives no sample: Holistic found nobody in any of its `frames` frames
    (extract skips it; predict lists it as skipped, with the same words)."""
    return f"no person found: no pose, face or hand in any of its {frames} frames"


def import_mediapipe() -> Any:
    """mediapipe, or a UsageError that says which extra installs it."""
    try:
        import mediapipe
    except ImportError as exc:
        raise UsageError(f"signcli extract needs mediapipe ({exc})", hint=INSTALL_HINT) from None
    return mediapipe


def model_file_present(model_complexity: int) -> bool:
    """Whether the pose landmark model of this complexity is on disk (no download needed)."""
    from importlib.util import find_spec

    spec = find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        return False
    root = Path(next(iter(spec.submodule_search_locations)))
    return (root / "modules" / "pose_landmark" / POSE_MODEL_FILE[model_complexity]).is_file()


def check_model_complexity(model_complexity: int) -> None:
    """UsageError unless Holistic can run at this complexity without a download."""
    if model_complexity not in MODEL_COMPLEXITIES:
        raise UsageError(f"--model-complexity {model_complexity}: expected 0, 1 or 2")
    import_mediapipe()
    if not model_file_present(model_complexity):
        raise UsageError(
            f"--model-complexity {model_complexity} needs mediapipe's "
            f"{POSE_MODEL_FILE[model_complexity]}, which its wheel does not ship and which is "
            "not on this machine (mediapipe downloads it on first use)",
            hint="use --model-complexity 1 (shipped), or once, where there is a network: "
            f'python -c "import mediapipe as mp; mp.solutions.holistic.Holistic(model_complexity={model_complexity})"',
        )


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 sent to /dev/null while mediapipe's C++ runs: it logs a few lines
    per graph and per video (TFLite delegate, absl start-up, "feedback manager") that say
    nothing to a user and would tear the progress bar. SIGNCLI_DEBUG=1 keeps them."""
    if os.environ.get("SIGNCLI_DEBUG", "") not in ("", "0"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class HolisticDetector:
    """One MediaPipe Holistic graph, reused for many videos (reset between them)."""

    def __init__(self, model_complexity: int = 1) -> None:
        check_model_complexity(model_complexity)
        mediapipe = import_mediapipe()
        self.model_complexity = model_complexity
        with native_stderr_silenced():
            self._holistic = mediapipe.solutions.holistic.Holistic(
                static_image_mode=False,  # track between frames, as on a video
                model_complexity=model_complexity,
                smooth_landmarks=True,
                refine_face_landmarks=False,  # 468 face landmarks, the landmark set's
            )
        self._used = False

    def close(self) -> None:
        self._holistic.close()

    def detect(
        self,
        path: Path,
        fps: float | None = None,
        *,
        should_stop: Callable[[], bool] | None = None,
        on_frames: Callable[[int], None] | None = None,
    ) -> VideoKeypoints:
        """Run Holistic on every kept frame of `path`. VideoError when the video cannot be
        read; `should_stop()` returning True abandons it (VideoError "interrupted");
        `on_frames(n)` is told of every few frames done."""
        with native_stderr_silenced(), warnings.catch_warnings():
            # mediapipe 0.10.14 calls an API that protobuf 4.25 deprecates
            warnings.filterwarnings("ignore", "SymbolDatabase.GetPrototype", UserWarning)
            return self._detect(path, fps, should_stop, on_frames)

    def _detect(
        self,
        path: Path,
        fps: float | None,
        should_stop: Callable[[], bool] | None,
        on_frames: Callable[[int], None] | None,
    ) -> VideoKeypoints:
        import numpy as np

        info, frames = read_frames(path, fps)
        if self._used:
            self._holistic.reset()  # no tracking state from the previous video
        self._used = True
        counts = MEDIAPIPE_HOLISTIC.streams
        per_frame: dict[str, list[np.ndarray]] = {s: [] for s in counts}
        visibility: list[np.ndarray] = []
        world: list[np.ndarray] = []
        width = height = 0
        pending = 0
        for frame in frames:
            height, width = frame.shape[:2]
            scale = np.asarray([width, height, width], dtype=np.float32)
            result = self._holistic.process(frame)
            for stream, attribute in RESULT_FIELDS.items():
                found = getattr(result, attribute)
                per_frame[stream].append(
                    _points(found, counts[stream]) * scale
                    if found is not None
                    else np.full((counts[stream], COORDS), np.nan, dtype=np.float32)
                )
            pose = result.pose_landmarks
            visibility.append(
                np.asarray([p.visibility for p in pose.landmark], dtype=np.float32)
                if pose is not None
                else np.zeros(POSE_LANDMARKS, dtype=np.float32)
            )
            world.append(
                _points(result.pose_world_landmarks, POSE_LANDMARKS)
                if result.pose_world_landmarks is not None
                else np.full((POSE_LANDMARKS, COORDS), np.nan, dtype=np.float32)
            )
            pending += 1
            if pending == STOP_CHECK_FRAMES:
                if on_frames is not None:
                    on_frames(pending)
                pending = 0
                if should_stop is not None and should_stop():
                    frames.close()
                    raise VideoError("interrupted")
        if on_frames is not None and pending:
            on_frames(pending)
        streams = {s: np.stack(v).astype(np.float32, copy=False) for s, v in per_frame.items()}
        return VideoKeypoints(
            streams=streams,
            fps=output_fps(info.fps, fps),
            width=width,
            height=height,
            pose_visibility=np.stack(visibility),
            pose_world=np.stack(world),
        )


def _points(landmarks: Any, count: int) -> np.ndarray:
    """[count, 3] float32 x, y, z of a MediaPipe landmark list."""
    import numpy as np

    points = np.asarray([(p.x, p.y, p.z) for p in landmarks.landmark], dtype=np.float32)
    if points.shape != (count, COORDS):
        raise VideoError(f"mediapipe gave {points.shape[0]} landmarks where {count} were expected")
    return points


# (pid, complexity) -> its graph. mediapipe does not survive a fork: a child forked from a
# process that ran a graph aborts when it runs one (closed first or not), so extract's
# workers are spawned, and a caller that forks must run mediapipe only in spawned processes.
_DETECTORS: dict[tuple[int, int], HolisticDetector] = {}


def detector(model_complexity: int = 1) -> HolisticDetector:
    """This process's detector of this complexity (built on first use: about 1 s)."""
    key = (os.getpid(), model_complexity)
    if key not in _DETECTORS:
        _DETECTORS[key] = HolisticDetector(model_complexity)
    return _DETECTORS[key]


def extract_video(
    path: str | Path, *, fps: float | None = None, model_complexity: int = 1
) -> VideoKeypoints:
    """The MediaPipe Holistic keypoints of one video, as `extract` writes them.

    `result.streams` maps `face`, `hand_l`, `hand_r`, `pose` to `[T, L, 3]` float32 arrays
    (pixels, NaN where a part was not found); `fps` resamples before detection. Raises
    `VideoError` (its message says why) when the video cannot be decoded, and UsageError
    when mediapipe is not installed or the complexity's model is absent. This is the
    function `predict` calls on a video file; `keypoint_columns` then lays the streams out
    as the model's training data had them.
    """
    return detector(model_complexity).detect(Path(path), fps)


def keypoint_columns(
    streams: dict[str, np.ndarray],
    order: Sequence[str],
    stream_landmarks: dict[str, Sequence[int]] | None = None,
) -> np.ndarray:
    """`[T, D]` float32: the streams named in `order`, each cut to its kept landmarks
    (`stream_landmarks`, as the settings' `data.stream_landmarks` / the manifest's
    `source_landmarks` give them, e.g. the lips of `face:lips`), flattened landmark-major
    (x, y, z per landmark) and side by side: the `X` an extracted dataset's sample has.
    For a single-stream run, `order` is its `data.layout` sorted by first column; for a
    multi-stream run call it once per stream (`order=[stream]`)."""
    import numpy as np

    kept = stream_landmarks or {}
    columns = []
    for name in order:
        points = streams[name]  # [T, L, 3]
        if kept.get(name) is not None:
            points = points[:, list(kept[name])]
        columns.append(points.reshape(points.shape[0], -1))
    return np.concatenate(columns, axis=1).astype(np.float32, copy=False)


def video_frames_for_model(
    path: str | Path,
    *,
    landmark_set: str | None,
    layout: dict[str, Sequence[int]] | None,
    stream_landmarks: dict[str, Sequence[int]] | None = None,
    width: int | None = None,
    fps: float | None = None,
    model_complexity: int = 1,
) -> tuple[np.ndarray, float | None]:
    """A video as a single-stream model trained on extracted data reads it: `[T, D]` and the
    frame rate of its frames. `landmark_set`, `layout` and `stream_landmarks` are the run's
    `data.*` settings (from its checkpoint), `width` its input width. UsageError (naming the
    video) when the model was not trained on MediaPipe Holistic keypoints or its columns
    are not this layout's; VideoError when the video cannot be decoded."""
    if landmark_set != MEDIAPIPE_HOLISTIC.name:
        raise UsageError(
            f"{path}: a video gives {MEDIAPIPE_HOLISTIC.name} keypoints, but the model was "
            f"trained on {landmark_set or 'keypoints of no known landmark set'}",
            hint="predict videos with a model trained on data from `signcli extract`",
        )
    if layout:
        order = sorted(layout, key=lambda stream: layout[stream][0])
    else:  # no column layout recorded: the four streams side by side, as extract writes them
        order = list(MEDIAPIPE_HOLISTIC.streams)
    keypoints = extract_video(path, fps=fps, model_complexity=model_complexity)
    frames = keypoint_columns(keypoints.streams, order, stream_landmarks)
    if width is not None and frames.shape[1] != width:
        raise UsageError(
            f"{path}: its keypoints make {frames.shape[1]} columns ({', '.join(order)}), the "
            f"model takes {width}",
            hint="the run's data.layout / data.stream_landmarks do not describe its inputs",
        )
    return frames, keypoints.fps
