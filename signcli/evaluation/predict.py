"""`predict`: a trained model (checkpoint or exported ONNX) over new files, one row each.

    result = predict_files(Path("runs/exp1/best.pt"), [Path("clip.npz"), Path("new/")])
    result.rows   # [{"id": "clip", "file": ..., "top1": "hello", "top1_prob": 0.93, ...}, ...]

Inputs are `.npz` sample files (key `X`, or the run's `data.key`), folders of them, a
dataset root (a `signcli import` output, or train/ + val/: its validation split, as
`eval --data-dir ROOT` takes), videos (MediaPipe Holistic keypoints extracted as
`signcli extract` does, laid out by the run's data settings; the `extract` extra), or
single recordings in the formats `signcli import` reads (a `.pose` file, an OpenPose JSON
folder, an asl-signs or asl-fingerspelling parquet, MediaPipe `.npy` frames: read by
data/recordings/ and laid out as import lays them out for the run's dataset). Samples are
read as eval reads them (longer than the model's max_len: resampled to it) and predicted
with eval's code: a checkpoint through
evaluation/run.py `restore_for_inference` and engine/inference.py `predict` (the text tasks
decode with the run's beam, ctc with eval's n-gram language model when asked), an ONNX
file through onnxruntime with its metadata (class names; ctc: tokenizer.json beside it).

Rows: classify: the top-k `top{i}` / `top{i}_prob` (class names where the model knows
them, else ids; `top1` is eval's prediction); text tasks: `text`. With a window (`window` frames every
`stride`), each input is cut into windows, each window classified, and neighbouring
windows with the same top-1 merged into a time-stamped segment (`start_s`, `end_s` at
`fps`, or a video's extraction rate).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from signcli.core.errors import DataError, UsageError
from signcli.core.files import check_input_file, sample_id
from signcli.core.task_specs import TASKS, has_text_targets
from signcli.data.npz import SampleReadError, list_npz_files, read_npz_array
from signcli.data.recordings.read import (
    KINDS_TEXT,
    RECORDING_SUFFIXES,
    ReadOptions,
    recording_format,
)
from signcli.data.sample import SINGLE_STREAM, Sample, resample_frames
from signcli.data.video import VIDEO_SUFFIXES

ONNX_SUFFIX = ".onnx"
DEFAULT_TOP_K = 5
DEFAULT_FPS = 30.0  # MediaPipe's usual capture rate; --fps for other recordings
EXTRACT_HINT = 'install the extract extra: pip install "signcli[extract]"'
BATCH_SIZE = 64  # eval's
OUT_FORMATS = (".csv", ".json", ".parquet")


@dataclass
class PredictResult:
    """The rows, what made them, and the inputs that could not be read (skipped)."""

    model: str
    task: str
    rows: list[dict[str, Any]]
    kind: str  # "classify", "text" or "segments"
    skipped: list[str] = field(default_factory=list)


@dataclass
class Recording:
    """One input: its id, file, frames [T, D] as stored and their rate (a video's
    extraction rate; None: `--fps`)."""

    id: str
    file: Path
    frames: np.ndarray
    fps: float | None = None


def predict_files(
    model_path: Path,
    inputs: Sequence[Path],
    *,
    top_k: int = DEFAULT_TOP_K,
    window: int | None = None,
    stride: int | None = None,
    fps: float | None = None,
    key: str | None = None,
    device: str = "auto",
    beam_size: int | None = None,
    lm_order: int = 0,
    lm_weight: float | None = None,
    lm_bonus: float | None = None,
    lm_texts: Path | None = None,
    trust_decoder_class: bool = False,
    read_options: ReadOptions | None = None,
) -> PredictResult:
    """Predict every sample of `inputs` with the checkpoint or ONNX file `model_path`.
    `fps`: the rate videos are sampled at (None: each video's own) and the rate of `.npz`
    frames and recordings for --window times (None: DEFAULT_FPS). `read_options`: import's
    per-format options (`--parts`, `--person`, `--min-confidence`) for recordings."""
    model_path = Path(model_path)
    _check_options(top_k, window, stride, fps)
    if os.path.lexists(model_path):  # a FIFO, device or folder: named, not "does not exist"
        check_input_file(model_path, "model file")
    if not model_path.is_file():
        raise UsageError(
            f"{model_path} does not exist",
            hint="pass a checkpoint (best.pt, last.pt) or a model from `signcli export-onnx`",
        )
    if model_path.suffix.lower() == ONNX_SUFFIX:
        if beam_size is not None or lm_order:
            raise UsageError(
                "--beam-size and --lm-order need the checkpoint: an ONNX ctc model decodes "
                "greedily here",
                hint=f"pass the checkpoint {model_path.stem}.pt the model was exported from",
            )
        runner: _Runner = _OnnxRunner(model_path)
    else:
        runner = _CheckpointRunner(
            model_path,
            device=device,
            beam_size=beam_size,
            lm=(lm_order, lm_weight, lm_bonus, lm_texts),
            trust_decoder_class=trust_decoder_class,
        )
    if window is not None and has_text_targets(runner.task):
        raise UsageError(
            f"--window slides a classifier; {model_path} is a {runner.task} model",
            hint="drop --window: a text model reads a whole recording",
        )
    recordings, skipped = read_recordings(
        collect_files(inputs),
        key or runner.key,
        runner.width,
        runner.data,
        fps=fps,
        read_options=read_options,
    )
    if not recordings:
        raise DataError(
            "none of the inputs could be read: " + "; ".join(skipped[:3]),
            hint="check .npz files with `signcli validate-npz`, videos with `signcli extract`, "
            "recordings with `signcli import --dry-run`",
        )
    if window is not None:
        rows = _segments(runner, recordings, window, stride or window, fps or DEFAULT_FPS, top_k)
        kind = "segments"
    else:
        samples = [
            Sample(r.id, {SINGLE_STREAM: _fit(r.frames, runner.max_len)}, {}) for r in recordings
        ]
        rows = runner.rows(samples, top_k)
        for row, recording in zip(rows, recordings, strict=True):
            row["file"] = str(recording.file)
        rows = [{"id": r["id"], "file": r["file"], **_without(r, "id", "file")} for r in rows]
        kind = "text" if has_text_targets(runner.task) else "classify"
    return PredictResult(str(model_path), runner.task, rows, kind, skipped)


def _check_options(top_k: int, window: int | None, stride: int | None, fps: float | None) -> None:
    if top_k < 1:
        raise UsageError(f"--top-k must be at least 1 (got {top_k})")
    if window is not None and window < 1:
        raise UsageError(f"--window must be at least 1 frame (got {window})")
    if stride is not None and window is None:
        raise UsageError("--stride needs --window", hint="e.g. --window 30 --stride 10")
    if stride is not None and stride < 1:
        raise UsageError(f"--stride must be at least 1 frame (got {stride})")
    if fps is not None and not fps > 0:
        raise UsageError(f"--fps must be above 0 (got {fps})")


def _without(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in keys}


def _fit(frames: np.ndarray, max_len: int | None) -> np.ndarray:
    """As eval reads a sample: longer than max_len is resampled to it."""
    return frames if max_len is None else resample_frames(frames, max_len)


# ---------------------------------------------------------------------------------------
# Inputs


def collect_files(inputs: Sequence[Path]) -> list[Path]:
    """The inputs one by one: `.npz` files, videos and recording files as given; a folder
    that is one recording (OpenPose JSON, per-frame `.npy`) as itself; a folder's `.npz`,
    or else its recording files and videos; a dataset root's validation split. UsageError
    naming an input that is none of these."""
    from signcli.core.manifest import MANIFEST_NAME, dataset_settings

    if not inputs:
        raise UsageError(
            "no inputs",
            hint=f"pass .npz files, folders of them, a dataset root, videos or recordings "
            f"({KINDS_TEXT})",
        )
    files: list[Path] = []
    for path in map(Path, inputs):
        if path.is_file():
            if path.suffix.lower() != ".npz" and not is_video(path) and not is_recording(path):
                raise UsageError(
                    f"{path}: not an .npz sample, a video ({', '.join(VIDEO_SUFFIXES)}) or a "
                    f"recording ({KINDS_TEXT})",
                    hint="convert other recordings with `signcli import` first",
                )
            files.append(path)
        elif path.is_dir():
            folder = path
            if (path / MANIFEST_NAME).is_file() or (
                (path / "train").is_dir() and not any(path.glob("*.npz"))
            ):
                val = dataset_settings(path).get("data.val_dir")
                if val is None:
                    raise UsageError(
                        f"dataset {path} has no validation split",
                        hint=f"pass {path / 'train'} to predict its training samples",
                    )
                folder = Path(val)
            found = list_npz_files(folder)
            if not found and recording_format(folder) is not None:
                found = [folder]  # one recording: OpenPose JSON or .npy frames
            if not found:
                found = sorted(p for p in folder.iterdir() if is_video(p) or is_recording(p))
            if not found:
                raise UsageError(
                    f"{folder} holds no .npz files, videos or recordings",
                    hint=f"recordings predict reads: {KINDS_TEXT}",
                )
            files.extend(found)
        else:
            if os.path.lexists(path):  # a FIFO or device: named, not "does not exist"
                check_input_file(path, "input")
            raise UsageError(f"{path} does not exist", hint="check the path")
    return list({file.resolve(): file for file in files}.values())  # each file once


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def is_recording(path: Path) -> bool:
    """A file or folder `data/recordings` reads (not a video, not an `.npz`)."""
    if path.is_file():
        return path.suffix.lower() in RECORDING_SUFFIXES
    return recording_format(path) is not None


def read_recordings(
    files: Sequence[Path],
    key: str,
    width: int | None,
    data: dict[str, Any] | None = None,
    *,
    fps: float | None = None,
    read_options: ReadOptions | None = None,
) -> tuple[list[Recording], list[str]]:
    """Each file's array `key` [T, D], checked as eval checks it; unreadable files and files
    of another width are skipped and named (a prediction of the others is still useful).
    A video's keypoints are extracted at `fps` (None: its own rate) and laid out by the
    run's `data` settings (landmark_set, layout, stream_landmarks); a model not trained on
    extracted keypoints is refused (UsageError), an undecodable video skipped. Any other
    recording is read as `import` reads it and laid out the same way: one of another
    landmark set or width is refused (UsageError naming the mismatch), an unreadable one
    skipped."""
    recordings, skipped = [], []
    for path in files:
        if is_recording(path):
            found, problem = _read_recording(path, width, data or {}, read_options)
            recordings += found
            if problem:
                skipped.append(problem)
            continue
        if is_video(path):
            recording, problem = _read_video(path, width, data or {}, fps)
            if recording is None:
                skipped.append(f"{path}: {problem}")
            else:
                recordings.append(recording)
            continue
        try:
            frames = read_npz_array(path, key)
        except SampleReadError as exc:
            skipped.append(str(exc))
            continue
        if width is not None and frames.shape[1] != width:
            skipped.append(f"{path}: {frames.shape[1]} columns, the model takes {width}")
            continue
        recordings.append(Recording(sample_id(path), path, frames))
    ids = [r.id for r in recordings]
    if len(set(ids)) < len(ids):  # same name in two folders: keep the rows apart
        for r in recordings:
            r.id = str(r.file.parent / r.id)
    return recordings, skipped


def _read_recording(
    path: Path, width: int | None, data: dict[str, Any], options: ReadOptions | None
) -> tuple[list[Recording], str]:
    """A recording (or each sequence of a fingerspelling parquet) as the model's samples,
    or none and why it was skipped."""
    from signcli.data.recordings.read import frames_for_model, read_recordings

    found = read_recordings(path, options)
    if isinstance(found, str):
        return [], found
    recordings = []
    for recording in found:
        frames = frames_for_model(
            recording,
            landmark_set=data.get("landmark_set"),
            layout=data.get("layout"),
            stream_landmarks=data.get("stream_landmarks"),
            width=width,
        )
        recordings.append(Recording(recording.id, path, frames))
    return recordings, ""


def _read_video(
    path: Path, width: int | None, data: dict[str, Any], fps: float | None
) -> tuple[Recording | None, str]:
    """A video's keypoints as the model's samples, or None and why it was skipped."""
    from signcli.data.holistic import (
        import_mediapipe,
        no_person_found,
        video_frames_for_model,
    )
    from signcli.data.video import VideoError, import_cv2

    try:
        import_cv2()
        import_mediapipe()
    except UsageError:
        return None, f"reading a video needs mediapipe and OpenCV: {EXTRACT_HINT}"
    try:
        frames, rate = video_frames_for_model(
            path,
            landmark_set=data.get("landmark_set"),
            layout=data.get("layout"),
            stream_landmarks=data.get("stream_landmarks"),
            width=width,
            fps=fps,
        )
    except VideoError as exc:
        return None, str(exc)
    if frames.shape[0] == 0:
        return None, "no frames extracted"
    if np.isnan(frames).all():  # as extract skips it: nothing for the model to see
        return None, no_person_found(len(frames))
    return Recording(path.stem, path, frames, rate), ""


# ---------------------------------------------------------------------------------------
# Models


class _Runner:
    task: str
    key: str
    width: int | None
    max_len: int | None
    data: dict[str, Any]  # landmark_set, layout, stream_landmarks: how to lay a video out

    def rows(self, samples: list[Sample], top_k: int) -> list[dict[str, Any]]:
        """One row per sample, in order."""
        raise NotImplementedError


def classify_rows(
    ids: Sequence[str], logits: np.ndarray, names: dict[int, str], top_k: int
) -> list[dict[str, Any]]:
    """The top-k classes (`top1` is eval's prediction) with their probabilities (softmax of
    the logits, ranked as eval ranks them)."""
    from signcli.metrics.classification import softmax
    from signcli.metrics.classification import top_k as top_k_ids

    k = min(top_k, logits.shape[1])
    probs = softmax(logits)  # [N, C]
    best = top_k_ids(logits, k)  # [N, k]
    rows = []
    for i, sample in enumerate(ids):
        row: dict[str, Any] = {"id": sample}
        for rank, cls in enumerate(best[i], 1):
            row[f"top{rank}"] = names.get(int(cls), str(int(cls)))
            row[f"top{rank}_prob"] = round(float(probs[i, cls]), 6)
        rows.append(row)
    return rows


class _CheckpointRunner(_Runner):
    """A checkpoint's model through eval's code (same restore, batches and decoding)."""

    def __init__(
        self,
        checkpoint: Path,
        *,
        device: str,
        beam_size: int | None,
        lm: tuple[int, float | None, float | None, Path | None],
        trust_decoder_class: bool,
    ) -> None:
        from signcli.engine.device import resolve_device
        from signcli.evaluation.run import restore_for_inference
        from signcli.tasks.classify import class_names
        from signcli.tasks.language_model import LMOptions

        restored = restore_for_inference(
            checkpoint,
            trust_decoder_class=trust_decoder_class,
            beam_size=beam_size,
            lm_options=LMOptions(*lm),
        )
        self.restored = restored
        settings = restored.settings
        if list(restored.input_dims) != [SINGLE_STREAM]:
            raise UsageError(
                f"{checkpoint} is a multi-stream model: predict reads single-stream .npz",
                hint="use `signcli eval CHECKPOINT --no-labels --index IDS.csv` for its layout",
            )
        self.task = restored.task.name
        self.key = settings.data.key
        self.width = restored.input_dims[SINGLE_STREAM]
        self.max_len = settings.model.max_len
        self.data = {
            "landmark_set": settings.data.landmark_set,
            "layout": settings.data.layout,
            "stream_landmarks": settings.data.stream_landmarks,
        }
        self.names = class_names(restored.labels, "gloss")
        self.device = resolve_device(device)
        restored.model.to(self.device)

    def rows(self, samples: list[Sample], top_k: int) -> list[dict[str, Any]]:
        from signcli.data.dataset import SampleDataset
        from signcli.engine.device import make_precision
        from signcli.engine.inference import predict
        from signcli.evaluation.run import inference_threads

        task = self.restored.task
        dataset = SampleDataset(len(samples), lambda i: samples[i])
        order = np.argsort(-np.array([s.length for s in samples]), kind="stable")
        batches = (
            task.collate([samples[int(i)] for i in order[start : start + BATCH_SIZE]])
            for start in range(0, len(order), BATCH_SIZE)
        )
        threads = inference_threads(self.restored.model, dataset, BATCH_SIZE)
        threads.apply()
        try:
            found = predict(
                self.restored.model,
                batches,
                self.device,
                make_precision("float32", self.device),
                task=task,
            )
        finally:
            threads.restore()
        back = np.argsort(order)
        ids = [samples[i].id for i in range(len(samples))]
        if not has_text_targets(self.task):
            return classify_rows(ids, found.outputs["gloss"].numpy()[back], self.names, top_k)
        texts = found.outputs["hypotheses"]
        return [{"id": i, "text": texts[int(b)]} for i, b in zip(ids, back, strict=True)]


class _OnnxRunner(_Runner):
    """A model from `signcli export-onnx` in onnxruntime: classify, and ctc (greedy)."""

    def __init__(self, path: Path) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise UsageError(
                f"{path}: running an ONNX model needs onnxruntime",
                hint='install it with: pip install "signcli[onnx]"',
            ) from None
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own error types
            raise UsageError(
                f"{path}: onnxruntime cannot load it ({type(exc).__name__})",
                hint="export the model again with `signcli export-onnx`",
            ) from None
        meta = self.session.get_modelmeta().custom_metadata_map
        self.task = meta.get("task", "classify")
        spec = TASKS.get(self.task)
        # what the graph's first output is, as the task declares it for its export:
        # None = class logits, "ctc" = per-frame log-probabilities decoded greedily here;
        # a decoder-step export needs the search of its checkpoint
        self.outputs = spec.onnx_greedy if spec is not None else "unknown"
        if self.outputs not in (None, "ctc"):
            raise UsageError(
                f"{path} is a {self.task} model: predict runs its checkpoint",
                hint="pass the checkpoint it was exported from (decoder search in PyTorch)",
            )
        try:
            layout = json.loads(meta["input_layout"])
            self.streams = list(layout["streams"])
            self.max_len = int(layout["max_time"])
            self.names = {int(k): v for k, v in json.loads(meta.get("gloss_names", "{}")).items()}
        except (KeyError, ValueError, TypeError):
            raise UsageError(
                f"{path}: not a signcli export (its metadata has no input layout)",
                hint="export the model with `signcli export-onnx`",
            ) from None
        if self.streams != [SINGLE_STREAM]:
            raise UsageError(
                f"{path} is a multi-stream model: predict reads single-stream .npz",
                hint="use `signcli eval CHECKPOINT --no-labels` for its layout",
            )
        self.width = int(layout["streams"][SINGLE_STREAM])
        self.data = {
            "landmark_set": layout.get("landmark_set"),
            "layout": layout.get("column_layout"),
            "stream_landmarks": layout.get("stream_landmarks"),
        }
        self.key = "X2048" if self.width == 2048 else "X"
        self.tokenizer = None
        if self.outputs == "ctc":
            from signcli.text.tokenizer import TextTokenizer

            tokenizer_file = path.parent / meta.get("tokenizer", "tokenizer.json")
            if not tokenizer_file.is_file():
                raise UsageError(
                    f"{path} is a ctc model and {tokenizer_file} is missing",
                    hint="keep the tokenizer.json export-onnx wrote beside the model",
                )
            self.tokenizer = TextTokenizer.load(tokenizer_file)

    def rows(self, samples: list[Sample], top_k: int) -> list[dict[str, Any]]:
        from signcli.data.dataset import collate_streams

        rows: list[dict[str, Any]] = []
        for start in range(0, len(samples), BATCH_SIZE):
            batch = collate_streams(samples[start : start + BATCH_SIZE], lambda _: {})
            feeds = {name: batch.streams[name].numpy() for name in self.streams}
            feeds["mask"] = batch.mask.numpy()
            outputs = self.session.run(None, feeds)
            if self.outputs is None:
                rows += classify_rows(batch.ids, outputs[0], self.names, top_k)
            else:
                rows += self._ctc_rows(batch.ids, outputs[0], batch.mask)
        return rows

    def _ctc_rows(self, ids: list[str], log_probs: np.ndarray, mask: Any) -> list[dict[str, Any]]:
        import torch

        from signcli.text.ctc import greedy_decode

        assert self.tokenizer is not None
        decoded = greedy_decode(torch.from_numpy(log_probs).float(), mask)
        return [
            {"id": i, "text": self.tokenizer.decode(tokens)}
            for i, tokens in zip(ids, decoded, strict=True)
        ]


# ---------------------------------------------------------------------------------------
# Windows


def window_starts(T: int, window: int, stride: int) -> list[int]:
    """First frames of the windows over T frames: every `stride`, the last one ending at T
    (a recording shorter than the window is one window)."""
    if T <= window:
        return [0]
    starts = list(range(0, T - window + 1, stride))
    if starts[-1] + window < T:
        starts.append(T - window)
    return starts


def _segments(
    runner: _Runner,
    recordings: list[Recording],
    window: int,
    stride: int,
    fps: float,
    top_k: int,
) -> list[dict[str, Any]]:
    """Classify each window; neighbouring windows with the same top-1 make one segment
    (its probability is the mean of theirs)."""
    samples, spans = [], []
    for r in recordings:
        T = r.frames.shape[0]
        for start in window_starts(T, window, stride):
            end = min(T, start + window)
            frames = _fit(r.frames[start:end], runner.max_len)
            samples.append(Sample(f"{r.id}@{start}", {SINGLE_STREAM: frames}, {}))
            spans.append((r, start, end))
    predicted = runner.rows(samples, top_k)
    rows: list[dict[str, Any]] = []
    for (recording, start, end), row in zip(spans, predicted, strict=True):
        last = rows[-1] if rows else None
        if last is not None and last["id"] == recording.id and last["gloss"] == row["top1"]:
            last["end_frame"] = end
            last["end_s"] = round(end / (recording.fps or fps), 3)
            last["_probs"].append(row["top1_prob"])
            continue
        rows.append(
            {
                "id": recording.id,
                "file": str(recording.file),
                "start_frame": start,
                "end_frame": end,
                "start_s": round(start / (recording.fps or fps), 3),
                "end_s": round(end / (recording.fps or fps), 3),
                "gloss": row["top1"],
                "_probs": [row["top1_prob"]],
            }
        )
    for row in rows:
        probs = row.pop("_probs")
        row["prob"] = round(float(np.mean(probs)), 6)
        row["windows"] = len(probs)
    return rows


# ---------------------------------------------------------------------------------------
# Output


def write_rows(path: Path, rows: list[dict[str, Any]], *, overwrite: bool = False) -> None:
    """`--out FILE`: CSV, JSON (a list of rows) or parquet by its extension, written
    atomically; an existing file is replaced only with `overwrite`."""
    from signcli.core.atomic import atomic_write, check_output_file

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in OUT_FORMATS:
        raise UsageError(
            f"--out {path}: unknown format {suffix or '(no extension)'!r}",
            hint="end the name with .csv, .json or .parquet",
        )
    check_output_file(path, "--out")
    if path.exists() and not overwrite:
        raise UsageError(f"--out {path} already exists", hint="pass --overwrite to replace it")
    if suffix == ".json":
        atomic_write(path, json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
    elif suffix == ".csv":
        import csv
        import io

        buffer = io.StringIO()
        columns = list(dict.fromkeys(k for row in rows for k in row))
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write(path, buffer.getvalue())
    else:
        from signcli.metrics.report import write_predictions

        columns = list(dict.fromkeys(k for row in rows for k in row))
        write_predictions(path, {c: [row.get(c) for row in rows] for c in columns})
