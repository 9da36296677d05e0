"""Sign-aware augmentation of training samples (`Settings.data.augment`), numpy only.

    augmenter = Augmenter(settings.data.augment, seed, sampler, ...)
    dataset.transform = augmenter   # SampleDataset calls augmenter(sample, index, batch)

Training augments whole batches on its device instead (data/batch_augment.py: the same
transforms and distributions as tensor operations); this per-sample path is what that
module is checked against, and what still mixes streams under torchrun, where a sample's
partners may sit in another rank's shard of the batch.

Train split only: validation and eval datasets never get a transform. Every draw comes
from `np.random.default_rng([seed, epoch, index])`, and batches are a pure function of
(seed, epoch), so a sample is augmented the same way whatever the worker or an
interruption: runs repeat and `resume` stays exact.

Transforms, in order, each applied with its own probability:

    mirror      x -> 1 - x (the image flipped); hand_l <-> hand_r, and the left/right
                landmarks of the pose and the face swap (data.mirror_pairs, else the
                pairs known for the landmark count: data/landmarks.py)
    affine      one rotation, scale, shear and translation for all streams of the sample
    speed       temporal resampling by a factor (nearest frame), same frames for all streams
    crop        a random contiguous window of the frames
    frame_drop  random frames removed (at least one frame is kept)
    jitter      Gaussian noise on the coordinates of present landmarks
    dropout     random landmarks set to missing (NaN)
    mix_streams with probability P, stream S comes from another sample of the same gloss
                in the batch (resampled to this sample's frames)

They act on the landmarks as recorded (image coordinates, x and y in 0..1), before the
model's per-stream normalisation (models/normalize.py): the scene is transformed, then
each stream placed in its own frame, which undoes translation and scale for normalised
streams (rotation and shear remain).

Missing landmarks (NaN) stay missing: geometric transforms and jitter act per landmark
and NaN in gives NaN out, temporal transforms only pick frames, and every stream keeps
one length, so collate's mask stays right. Geometric transforms and mirror act on the
body-part streams (x, y, z per landmark): those of the multi-stream layout, or those that
a column layout (`data.layout`, core/column_layout.py) cuts out of single-stream keypoints, which
are split here, augmented and joined back. A single-stream `x` without a layout gets the
temporal transforms, and jitter when its width is a multiple of 3.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from signcli.core.column_layout import join_columns, layout_columns, split_columns
from signcli.core.errors import DataError
from signcli.core.streams import STREAM_NAMES
from signcli.data.landmarks import (
    COCO_WHOLEBODY_PAIRS,
    IBUG68_FACE_PAIRS,
    MEDIAPIPE_FACE_PAIRS,
    MEDIAPIPE_FACE_REFINED_PAIRS,
    MEDIAPIPE_POSE_PAIRS,
    OPENPOSE_BODY25_PAIRS,
    OPENPOSE_FACE_PAIRS,
)
from signcli.data.sample import SINGLE_STREAM, Sample
from signcli.settings import AugmentSettings, Settings

COORDS = 3  # x, y, z per landmark
IMAGE_CENTRE = 0.5  # centre of raw image coordinates (x, y in 0..1): mirror and affine pivot
# pose landmark count -> left/right pairs that swap under a mirror
POSE_MIRROR_PAIRS = {
    10: [(2, 3), (4, 5), (6, 7), (8, 9)],  # synthetic.POSE_LANDMARKS
    23: COCO_WHOLEBODY_PAIRS,
    25: OPENPOSE_BODY25_PAIRS,
    33: MEDIAPIPE_POSE_PAIRS,
}
# face landmark count -> pairs (8: synthetic.FACE_LANDMARKS)
FACE_MIRROR_PAIRS = {
    8: [(0, 1), (3, 4)],
    68: IBUG68_FACE_PAIRS,
    70: OPENPOSE_FACE_PAIRS,
    468: MEDIAPIPE_FACE_PAIRS,
    478: MEDIAPIPE_FACE_REFINED_PAIRS,
}

log = logging.getLogger("signcli")


def augmenter_for(
    split: Any, settings: Settings, epoch_source: Any, augment: AugmentSettings | None = None
) -> Augmenter:
    """The Augmenter of a training split (a `SampleSplit` of any layout), with `augment`
    rather than `settings.data.augment` when given."""
    data = settings.data
    augment = augment or data.augment
    columns = None
    widths = dict(split.input_dims)
    if data.layout is not None and list(split.input_dims) == [SINGLE_STREAM]:
        columns = layout_columns(data.layout, split.input_dims[SINGLE_STREAM])
        widths = {name: len(index) for name, index in columns.items()}
    pairs = dict(data.mirror_pairs or {})
    if augment.mirror_p > 0:
        for problem in mirror_gaps(widths, pairs):
            log.warning(problem)
    return Augmenter(
        augment,
        settings.training.seed,
        epoch_source,
        max_len=settings.model.max_len,
        gloss=split.gloss,
        load=split.dataset.raw,
        columns=columns,
        mirror_pairs=pairs,
    )


def mirror_gaps(
    widths: Mapping[str, int], given: Mapping[str, Sequence[tuple[int, int]]] | None = None
) -> list[str]:
    """What a mirror cannot do right for streams of these widths: a face or pose whose
    left/right landmark pairs are neither `given` (data.mirror_pairs, from the dataset
    manifest) nor known here is flipped without swapping sides. DataError when a given
    pair lies outside its stream."""
    given = given or {}
    for name, pairs in given.items():
        count = widths.get(name, 0) // COORDS
        outside = [p for p in pairs if name in widths and max(p) >= count]
        if outside:
            raise DataError(
                f"data.mirror_pairs: {name} has {count} landmarks, but pairs "
                f"{[list(p) for p in outside[:3]]} name landmarks beyond them",
                hint="fix mirror_pairs in the dataset manifest (indices within the stream)",
            )
    known = {"face": FACE_MIRROR_PAIRS, "pose": POSE_MIRROR_PAIRS}
    gaps = []
    for name, pairs in known.items():
        count = widths.get(name, 0) // COORDS
        if name in widths and name not in given and count not in pairs:
            gaps.append(
                f"mirror: the left/right landmark pairs of a {count}-landmark {name} are not "
                f"known (known: {', '.join(map(str, pairs))} landmarks); its x is flipped but "
                "its landmarks keep their order"
            )
    hands = [h for h in ("hand_l", "hand_r") if h in widths]
    if len(hands) == 1:  # a one-hand import (mp-folders --parts hand_r)
        gaps.append(
            f"mirror: only {hands[0]} is present, so a mirrored hand stays in {hands[0]} "
            "although it now looks like the other hand"
        )
    return gaps


class Augmenter:
    """`transform(sample, index, batch)` for `SampleDataset`; `epoch_source.epoch` is read
    at each call (the trainer's sampler), so draws depend on (seed, epoch, index) only,
    and stream partners on the batch (itself a function of seed and epoch)."""

    def __init__(
        self,
        settings: AugmentSettings,
        seed: int,
        epoch_source: Any,
        *,
        max_len: int | None = None,
        gloss: Sequence[int] | np.ndarray | None = None,
        load: Any = None,
        columns: Mapping[str, np.ndarray] | None = None,
        mirror_pairs: Mapping[str, Sequence[tuple[int, int]]] | None = None,
    ) -> None:
        self.settings = settings
        self.seed = seed
        self.epoch_source = epoch_source
        self.max_len = max_len
        self.gloss = np.asarray(gloss if gloss is not None else [], dtype=np.int64)
        self.load = load  # index -> Sample (unaugmented), for mix_streams
        self.columns = columns  # the column layout of single-stream `x`, if any
        self.mirror_pairs = dict(mirror_pairs or {})  # stream -> pairs, over the known ones

    def __call__(self, sample: Sample, index: int, batch: Sequence[int] = ()) -> Sample:
        rng = np.random.default_rng([self.seed, int(self.epoch_source.epoch), index])
        if self.columns is None:
            return augment(sample, self.settings, rng, self, index, batch)
        width = sample.streams[SINGLE_STREAM].shape[1]
        out = augment(self.split(sample), self.settings, rng, self, index, batch)
        return Sample(out.id, {SINGLE_STREAM: join_columns(out.streams, self.columns, width)},
                      out.targets)  # fmt: skip

    def split(self, sample: Sample) -> Sample:
        """Single-stream `x` cut into the streams of the column layout (if one is set)."""
        if self.columns is None:
            return sample
        streams = split_columns(sample.streams[SINGLE_STREAM], self.columns)
        return Sample(sample.id, streams, sample.targets)

    def partners(self, index: int, batch: Sequence[int]) -> list[int]:
        """The other samples of the batch with the gloss of sample `index`."""
        if not len(self.gloss):
            return []
        return [i for i in batch if i != index and self.gloss[i] == self.gloss[index]]


def augment(
    sample: Sample,
    settings: AugmentSettings,
    rng: np.random.Generator,
    context: Augmenter | None = None,
    index: int = 0,
    batch: Sequence[int] = (),
) -> Sample:
    """A new Sample: `sample` with the transforms of `settings` drawn from `rng`; stream
    mixing takes partners from `batch` (indices of the samples loaded together)."""
    a = settings
    streams = {k: v for k, v in sample.streams.items()}
    # draw every decision up front so one transform's size never shifts another's draws
    coins = rng.random(8)
    if context is not None and a.mix_streams and context.load is not None:
        streams = _mix(streams, a.mix_streams, rng, context, context.partners(index, batch))
    # frames first: the per-frame transforms below then touch only the frames kept
    T = next(iter(streams.values())).shape[0]
    frames = np.arange(T)
    if coins[2] < a.speed_p:
        frames = speed_frames(T, rng.uniform(a.speed_min, a.speed_max), context)
    if coins[3] < a.crop_p:
        frames = crop_frames(frames, rng.uniform(a.crop_min, 1.0), rng)
    if coins[4] < a.frame_drop_p:
        frames = drop_frames(frames, a.frame_drop_rate, rng)
    if len(frames) != T or not np.array_equal(frames, np.arange(T)):
        streams = {k: v[frames] for k, v in streams.items()}
    if coins[0] < a.mirror_p:
        streams = mirror(streams, pairs=context.mirror_pairs if context is not None else None)
    if coins[1] < a.affine_p:
        streams = affine(streams, _affine_matrix(a, rng), rng.uniform(-1, 1, 2) * a.translate)
    if coins[5] < a.jitter_p:
        streams = {k: jitter(v, a.jitter_sd, rng) if _is_keypoints(k, v) else v
                   for k, v in streams.items()}  # fmt: skip
    if coins[6] < a.landmark_dropout_p:
        streams = {k: drop_landmarks(v, a.landmark_dropout_rate, rng) if k in STREAM_NAMES else v
                   for k, v in streams.items()}  # fmt: skip
    return Sample(sample.id, streams, dict(sample.targets))


# ---------------------------------------------------------------------------------------
# Geometry: arrays [T, L * 3], landmark-major


def _points(array: np.ndarray) -> np.ndarray:
    T, D = array.shape
    return array.reshape(T, D // COORDS, COORDS)


def _swap(points: np.ndarray, pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    order = np.arange(points.shape[1])
    for left, right in pairs:
        order[left], order[right] = right, left
    return points[:, order]


def mirror(
    streams: Mapping[str, np.ndarray],
    centre: float = IMAGE_CENTRE,
    pairs: Mapping[str, Sequence[tuple[int, int]]] | None = None,
) -> dict:
    """Flip x about the image centre; the hands swap streams, left/right landmarks swap
    (`pairs` per stream, else the pairs known for the stream's landmark count)."""
    pairs = pairs or {}
    known = {"pose": POSE_MIRROR_PAIRS, "face": FACE_MIRROR_PAIRS}
    out = {}
    for name, array in streams.items():
        if name not in STREAM_NAMES:
            out[name] = array
            continue
        points = _points(array).copy()
        points[..., 0] = 2 * centre - points[..., 0]
        if name in pairs:
            points = _swap(points, pairs[name])
        elif name in known:
            points = _swap(points, known[name].get(points.shape[1], []))
        out[name] = points.reshape(array.shape)
    if "hand_l" in out and "hand_r" in out:
        out["hand_l"], out["hand_r"] = out["hand_r"], out["hand_l"]
    return out


def _affine_matrix(a: AugmentSettings, rng: np.random.Generator) -> np.ndarray:
    angle = math.radians(rng.uniform(-a.rotate_deg, a.rotate_deg))
    scale = rng.uniform(1 - a.scale, 1 + a.scale)
    shear = rng.uniform(-a.shear, a.shear)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return scale * rotation @ np.array([[1.0, shear], [0.0, 1.0]])  # [2, 2]


def affine(
    streams: Mapping[str, np.ndarray],
    matrix: np.ndarray,
    shift: np.ndarray,
    centre: float = IMAGE_CENTRE,
) -> dict:
    """x, y -> matrix @ ((x, y) - centre) + centre + shift, the same for every stream."""
    out = {}
    for name, array in streams.items():
        if name not in STREAM_NAMES:
            out[name] = array
            continue
        (a, b), (c, d) = matrix.tolist()
        points = _points(array).copy()
        x, y = points[..., 0] - centre, points[..., 1] - centre
        points[..., 0] = a * x + b * y + (centre + shift[0])
        points[..., 1] = c * x + d * y + (centre + shift[1])
        out[name] = points.reshape(array.shape)
    return out


def jitter(array: np.ndarray, sd: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise (NaN stays NaN)."""
    return array + np.float32(sd) * rng.standard_normal(array.shape, dtype=np.float32)


def drop_landmarks(array: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Whole landmarks (x, y, z together) set to NaN with probability `rate`."""
    T, D = array.shape
    if D % COORDS:
        return array
    dropped = np.repeat(rng.random((T, D // COORDS)) < rate, COORDS, axis=1)
    return np.where(dropped, np.float32(np.nan), array)


# ---------------------------------------------------------------------------------------
# Time: frame indices, applied to every stream alike


def speed_frames(T: int, speed: float, context: Augmenter | None = None) -> np.ndarray:
    """Nearest-frame resampling: speed > 1 plays faster (fewer frames); never past max_len."""
    count = max(1, round(T / speed))
    if context is not None and context.max_len is not None:
        count = min(count, context.max_len)
    return np.linspace(0, T - 1, count).round().astype(np.int64)


def crop_frames(frames: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """A contiguous window of at least `share` of the frames."""
    length = max(1, math.ceil(share * len(frames)))
    start = int(rng.integers(0, len(frames) - length + 1))
    return frames[start : start + length]


def drop_frames(frames: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Frames removed with probability `rate` each; at least one is kept."""
    keep = rng.random(len(frames)) >= rate
    if not keep.any():
        keep[int(rng.integers(0, len(frames)))] = True
    return frames[keep]


# ---------------------------------------------------------------------------------------
# Stream mixing


def _mix(
    streams: dict[str, np.ndarray],
    probabilities: Mapping[str, float],
    rng: np.random.Generator,
    context: Augmenter,
    partners: Sequence[int],
) -> dict[str, np.ndarray]:
    """Each named stream, with its probability, from one of `partners` (other samples of
    the same gloss), resampled to this sample's T."""
    draws = rng.random(len(probabilities))
    picks = rng.integers(0, max(1, len(partners)), len(probabilities))
    T = next(iter(streams.values())).shape[0]
    for (name, p), draw, pick in zip(sorted(probabilities.items()), draws, picks, strict=True):
        if draw < p and partners and name in streams:
            other = context.split(context.load(partners[int(pick)])).streams[name]
            streams[name] = other[np.linspace(0, len(other) - 1, T).round().astype(np.int64)]
    return streams


def _is_keypoints(name: str, array: np.ndarray) -> bool:
    return name in STREAM_NAMES or array.shape[1] % COORDS == 0
