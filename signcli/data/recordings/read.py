"""Any single recording `import` can read, from its path, as the columns a model was
trained on.

    recordings = read_recordings(Path("clip.pose"))           # [Recording], or a reason
    X = frames_for_model(recordings[0], landmark_set="mediapipe-holistic",
                         layout={"hand_l": [0, 63], "hand_r": [63, 126]})   # [T, 126]

What a path is, by what it looks like:

    FILE.pose                     pose-format file (the `pose` format)
    FILE.parquet                  asl-signs (long: frame, type, landmark_index, x, y, z), or
                                  asl-fingerspelling (wide: sequence_id, frame, x_face_0 ...:
                                  one recording per sequence_id)
    FILE.npy                      one [T, W] MediaPipe sequence (`mp-folders`)
    FOLDER/*.json                 one OpenPose video (`openpose`)
    FOLDER/<frame>.npy            one MediaPipe sequence, a vector per frame (`mp-folders`)

`frames_for_model` applies the conversion `import` applies: the streams in the order of
the model's column layout (`data.layout`), each cut to the landmarks the dataset kept
(`data.stream_landmarks`: `face:lips`, a reduced pose-format face), flattened x, y, z per
landmark; a stream the recording lacks is NaN (not detected), as import writes it for a
sequence without that part. A recording of another landmark set, or whose streams do not
fill the model's columns, is refused naming the mismatch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from signcli.core.errors import UsageError
from signcli.data.landmarks import LANDMARK_SETS, LandmarkSet
from signcli.data.recordings.base import COORDS, Streams

POSE_SUFFIX = ".pose"
PARQUET_SUFFIX = ".parquet"
NPY_SUFFIX = ".npy"
JSON_SUFFIX = ".json"
RECORDING_SUFFIXES = (POSE_SUFFIX, PARQUET_SUFFIX, NPY_SUFFIX)
KINDS_TEXT = (
    ".pose files, asl-signs / asl-fingerspelling .parquet files, MediaPipe .npy sequences, "
    "OpenPose JSON folders, folders of per-frame .npy"
)
IMPORT_HINT = "import the recording with `signcli import` and predict the .npz it writes"


@dataclass
class Recording:
    """One recording as streams ({stream: [T, L, 3]}), with what it is."""

    id: str
    path: Path
    format: str  # the `signcli import` FORMAT that reads such recordings
    landmark_set: LandmarkSet
    streams: Streams


@dataclass(frozen=True)
class ReadOptions:
    """The per-format options `import` takes, with its defaults (None)."""

    parts: str | None = None  # mp-folders: --parts
    person: str | int | None = None  # openpose: --person
    min_confidence: float | None = None  # openpose: --min-confidence


def recording_format(path: Path) -> str | None:
    """The import FORMAT of a recording at `path`, or None when it is not one (an `.npz`,
    a video, a folder of samples). A parquet is called `asl-signs` until its columns are
    read."""
    from signcli.data.recordings.base import list_folder

    path = Path(path)
    if path.is_file():
        suffix = path.suffix.lower()
        return {POSE_SUFFIX: "pose", PARQUET_SUFFIX: "asl-signs", NPY_SUFFIX: "mp-folders"}.get(
            suffix
        )
    if not path.is_dir():
        return None
    _, json_files = list_folder(path, JSON_SUFFIX)
    if json_files:
        return "openpose"
    _, npy_files = list_folder(path, NPY_SUFFIX)
    if npy_files and _npy_dims(min(npy_files)) == 1:
        return "mp-folders"
    return None


def _npy_dims(path: Path) -> int | None:
    from signcli.data.recordings.mp_frames import npy_shape

    shape = npy_shape(path)
    return None if isinstance(shape, str) else len(shape)


def read_recordings(path: Path, options: ReadOptions | None = None) -> list[Recording] | str:
    """The recordings at `path` (one, or each sequence of an asl-fingerspelling parquet),
    or a one-line reason naming the file when it cannot be read. UsageError for a bad
    option (`--parts`, `--person`)."""
    from signcli.data.recordings.base import SourceFormatError

    path = Path(path)
    options = options or ReadOptions()
    kind = recording_format(path)
    try:
        if kind == "pose":
            return _read_pose(path)
        if kind == "openpose":
            return _read_openpose(path, options)
        if kind == "mp-folders":
            return _read_mp(path, options)
        if kind == "asl-signs":
            return _read_parquet(path)
    except SourceFormatError as exc:
        raise UsageError(str(exc)) from None
    return f"{path}: not a recording signcli reads ({KINDS_TEXT})"


def _one(path: Path, fmt: str, landmark_set: str, streams: Streams | str) -> list[Recording] | str:
    if isinstance(streams, str):
        return streams
    return [Recording(path.stem, path, fmt, LANDMARK_SETS[landmark_set], dict(streams))]


def _read_pose(path: Path) -> list[Recording] | str:
    from signcli.data.recordings.base import SourceFormatError
    from signcli.data.recordings.pose_file import (
        PoseRef,
        error_text,
        plan_header,
        read_header,
        read_streams,
    )

    try:
        header = read_header(path)
    except SourceFormatError:  # pose-format is not installed
        raise
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    except Exception as exc:  # noqa: BLE001 - a damaged file raises struct, EOF ... errors
        return f"{path}: not a readable .pose file ({error_text(exc)})"
    plan = plan_header(header)
    if isinstance(plan, str):
        return f"{path}: {plan}"
    streams = read_streams(PoseRef(str(path), plan.landmark_set, plan.units))
    return _one(path, "pose", plan.landmark_set, streams)


def _read_openpose(path: Path, options: ReadOptions) -> list[Recording] | str:
    from signcli.data.landmarks import OPENPOSE_BODY25_HANDS
    from signcli.data.recordings.openpose import (
        MIN_CONFIDENCE,
        VideoRef,
        parse_person,
        read_video,
    )

    threshold = MIN_CONFIDENCE if options.min_confidence is None else options.min_confidence
    ref = VideoRef(str(path), parse_person(options.person), float(threshold))
    return _one(path, "openpose", OPENPOSE_BODY25_HANDS.name, read_video(ref))


def _read_mp(path: Path, options: ReadOptions) -> list[Recording] | str:
    from signcli.data.landmarks import MEDIAPIPE_HOLISTIC
    from signcli.data.recordings.mp_frames import (
        MpRef,
        frame_files,
        layout_of,
        npy_shape,
        parse_parts,
        read_sequence,
    )

    per_frame = path.is_dir()
    first = frame_files(path)[0] if per_frame else path
    chosen = parse_parts(options.parts) if options.parts else None
    layout = layout_of(per_frame, npy_shape(first), chosen)
    if isinstance(layout, str):
        return layout if layout.startswith(str(first)) else f"{first}: {layout}"
    streams = read_sequence(MpRef(str(path), per_frame, layout))
    return _one(path, "mp-folders", MEDIAPIPE_HOLISTIC.name, streams)


def _read_parquet(path: Path) -> list[Recording] | str:
    """asl-signs (long) or asl-fingerspelling (wide), told apart by the columns."""
    import pyarrow.parquet as pq

    from signcli.core.files import open_input
    from signcli.data.landmarks import MEDIAPIPE_HOLISTIC
    from signcli.data.recordings import asl_fingerspelling, asl_signs
    from signcli.data.recordings.kaggle import one_line

    try:
        with open_input(path, "parquet file") as handle:  # a regular file: a FIFO would block
            names = pq.ParquetFile(handle).schema_arrow.names
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a reason, not a crash
        return f"{path}: unreadable parquet ({one_line(exc)})"
    holistic = MEDIAPIPE_HOLISTIC.name
    if "landmark_index" in names or "type" in names:
        return _one(path, "asl-signs", holistic, asl_signs.read_sequence(path))
    if asl_fingerspelling.SEQUENCE_COLUMN not in names:
        return (
            f"{path}: neither an asl-signs parquet (columns frame, type, landmark_index, x, y, "
            "z) nor an asl-fingerspelling one (sequence_id, frame, x_face_0 ...)"
        )
    sequences = asl_fingerspelling.sequence_ids(path)
    if isinstance(sequences, str):
        return sequences
    found = asl_fingerspelling.read_file(path, sequences)
    recordings = []
    for sequence, streams in found.items():
        if isinstance(streams, str):
            return streams  # a file with a broken sequence: the reason names it
        sequence_id = f"{path.stem}__{sequence}"
        recordings.append(
            Recording(sequence_id, path, "asl-fingerspelling", MEDIAPIPE_HOLISTIC, dict(streams))
        )
    return recordings or f"{path}: no sequences"


def frames_for_model(
    recording: Recording,
    *,
    landmark_set: str | None,
    layout: Mapping[str, Sequence[int]] | None,
    stream_landmarks: Mapping[str, Sequence[int]] | None = None,
    width: int | None = None,
) -> np.ndarray:
    """`[T, D]` float32: the recording as `import` would have written its `X` for the
    dataset the model was trained on (see the module docstring). `landmark_set`, `layout`
    and `stream_landmarks` are the run's `data.*` settings, `width` its input width.
    UsageError naming the recording and the mismatch when it does not fit."""
    where = f"{recording.path} ({recording.format})"
    if landmark_set is None or not layout:
        raise UsageError(
            f"{where}: the model records no landmark set or column layout (data.landmark_set, "
            "data.layout), so the recording's keypoints cannot be laid out as its columns",
            hint=f"predict with a model trained on a `signcli import` output, or {IMPORT_HINT}",
        )
    if recording.landmark_set.name != landmark_set:
        raise UsageError(
            f"{where}: gives {recording.landmark_set.name} keypoints, but the model was trained "
            f"on {landmark_set}",
            hint="predict it with a model trained on recordings of the same detector",
        )
    kept = stream_landmarks or {}
    T = len(next(iter(recording.streams.values())))
    order = sorted(layout, key=lambda stream: layout[stream][0])
    columns, end = [], 0
    for stream in order:
        first, last = (int(c) for c in layout[stream])
        if first != end:
            raise UsageError(
                f"{where}: the model's column layout leaves columns {end}:{first} to no stream",
                hint=IMPORT_HINT,
            )
        end = last
        columns.append(
            _stream_columns(recording, stream, T, (last - first) // COORDS, kept.get(stream))
        )
    frames = np.concatenate(columns, axis=1).astype(np.float32, copy=False)
    if width is not None and frames.shape[1] != width:
        raise UsageError(
            f"{where}: its streams make {frames.shape[1]} columns ({', '.join(order)}), the "
            f"model takes {width}",
            hint="the run's data.layout does not describe its inputs; " + IMPORT_HINT,
        )
    return frames


def _stream_columns(
    recording: Recording, stream: str, T: int, count: int, kept: Sequence[int] | None
) -> np.ndarray:
    """[T, count * 3]: one stream of the recording as the model's columns for it."""
    points = recording.streams.get(stream)
    if points is None:  # a part this recording has no keypoints of: not detected
        return np.full((T, count * COORDS), np.nan, np.float32)
    if kept is not None:
        if max(kept, default=-1) >= points.shape[1]:
            raise UsageError(
                f"{recording.path}: its {stream} has {points.shape[1]} landmarks, the model "
                f"keeps landmark {max(kept)} of it (data.stream_landmarks)",
                hint=IMPORT_HINT,
            )
        points = points[:, list(kept)]
    held = points.shape[1]
    base = recording.landmark_set.streams.get(stream)
    if held > count and count == base:  # MediaPipe's 478-point face (irises) for a 468 model
        points = points[:, :count]  # import keeps the first 468 when a source mixes them
    elif held != count:
        raise UsageError(
            f"{recording.path}: its {stream} has {held} landmarks ({held * COORDS} columns), "
            f"the model's {stream} columns take {count} ({count * COORDS})",
            hint=IMPORT_HINT,
        )
    return points.reshape(T, count * COORDS)
