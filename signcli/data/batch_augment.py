"""Augmentation of a collated batch as tensor operations, on the device that trains.

    augment = BatchAugmenter.for_split(split, settings)      # the training split
    batch = augment(batch.to(device), epoch, batch_index)    # engine/trainer.py, per batch

The transforms and their distributions are those of data/augment.py (its docstring says
what each does and why it acts on the landmarks as recorded); this module draws them for a
whole padded batch at once instead of one sample at a time, so the loader only reads and
collates, and on a GPU the augmentation is a few kernels per batch.

How: the real frames of the batch are gathered into one packed tensor `[N, D]` (N = the
frames of all samples after speed, crop and frame drop, whose plan is one source frame per
output frame); mirror, affine, jitter and landmark dropout act on the packed frames of the
samples they were drawn for (padding is never touched), and the frames are scattered back
into a zero-padded `[B, T', D]`. Body parts are contiguous column ranges (a multi-stream
tensor is one part; `data.layout` cuts single-stream `x` into ranges), so x and y are
strided views, never per-column gathers, which are slow on a CPU.

Draws come from generators seeded with (seed, epoch, batch index, rank): a batch is a pure
function of (seed, epoch) (EpochBatchSampler), so a resumed run augments every batch as
the uninterrupted one did, whatever the DataLoader workers. Per-sample parameters and the
frame plan are drawn on the CPU, the per-element draws (jitter, landmark dropout) on the
batch's device. Landmark dropout draws the gaps between dropped landmarks (geometric),
which is the same Bernoulli process as one draw per landmark at a few percent of the draws.

Order, as in data/augment.py: mix_streams, frames (speed, crop, frame drop: one plan for
every stream of a sample), mirror, affine, position, jitter, landmark dropout. NaN stays
NaN. position is batch-only (it reads the batch's column statistics): it moves and resizes
a skeleton without a landmark set (no data.layout) whose joints data.coords describes, where
affine has no x and y to turn (columns of unknown meaning only with position_columns).

mix_streams needs every partner of a sample in the batch: true with one process; under
torchrun a rank holds a shard of the batch, so there the per-sample Augmenter mixes in the
Dataset (`per_sample_settings`) and this module does the rest.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from signcli.auto_size import position_moves, skeleton_without_layout, stream_coords
from signcli.core.column_layout import layout_columns
from signcli.core.streams import STREAM_NAMES
from signcli.data.augment import (
    COORDS,
    FACE_MIRROR_PAIRS,
    IMAGE_CENTRE,
    POSE_MIRROR_PAIRS,
    augmenter_for,
    mirror_gaps,
)
from signcli.data.dataset import Batch
from signcli.data.sample import SINGLE_STREAM
from signcli.settings import AugmentSettings, DataSettings, Settings

HANDS = ("hand_l", "hand_r")
log = logging.getLogger("signcli")
Ranges = list[tuple[int, int]]  # half-open column ranges START:STOP


@dataclass
class TensorColumns:
    """Which columns of one batch tensor `[B, T, D]` each transform touches."""

    landmarks: Ranges  # body-part landmarks, whole (x, y, z): mirror, affine, dropout
    jitter: Ranges  # keypoint columns (body parts, and others of whole landmarks)
    mirror: torch.Tensor | None  # [D] column order of a mirror (pairs, a layout's hands)
    parts: dict[str, Ranges]  # body part -> its columns (mix_streams)


def _runs(index: np.ndarray) -> Ranges:
    """Sorted column indices -> the ranges of consecutive ones."""
    if not len(index):
        return []
    breaks = np.flatnonzero(np.diff(index) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [len(index)]])
    return [(int(index[a]), int(index[b - 1]) + 1) for a, b in zip(starts, stops, strict=True)]


def tensor_columns(
    width: int,
    parts: Mapping[str, np.ndarray],
    mirror_pairs: Mapping[str, Sequence[tuple[int, int]]],
) -> TensorColumns:
    """The columns of a tensor `width` wide made of `parts` (stream name -> its columns, as
    `layout_columns` gives them; a multi-stream tensor is one part), treated per part as
    data/augment.py treats that stream."""
    landmarks, jitter = [], []
    order = np.arange(width)
    known = {"pose": POSE_MIRROR_PAIRS, "face": FACE_MIRROR_PAIRS}
    for name, index in parts.items():
        index = np.asarray(index, dtype=np.int64)
        keypoints = len(index) % COORDS == 0
        if name in STREAM_NAMES and keypoints:
            landmarks.append(index)
            pairs = mirror_pairs.get(name, known.get(name, {}).get(len(index) // COORDS, []))
            for left, right in pairs:  # landmark `left` takes `right`'s place and back
                for c in range(COORDS):
                    a, b = index[COORDS * left + c], index[COORDS * right + c]
                    order[a], order[b] = b, a
        if name in STREAM_NAMES or keypoints:
            jitter.append(index)
    # a layout's hands swap columns under a mirror (the multi-stream hands swap tensors)
    if all(h in parts for h in HANDS) and len(parts["hand_l"]) == len(parts["hand_r"]):
        left, right = np.asarray(parts["hand_l"]), np.asarray(parts["hand_r"])
        order[left], order[right] = order[right].copy(), order[left].copy()

    def ranges(arrays: list[np.ndarray]) -> Ranges:
        return _runs(np.sort(np.concatenate(arrays))) if arrays else []

    return TensorColumns(
        ranges(landmarks),
        ranges(jitter),
        None if np.array_equal(order, np.arange(width)) else torch.from_numpy(order),
        {name: _runs(np.asarray(index)) for name, index in parts.items()},
    )


def _skeleton_coords(data: DataSettings, widths: Mapping[str, int]) -> int | None:
    """Coordinates per joint of a skeleton without a landmark set (0: columns of unknown
    meaning, moved only with data.augment.position_columns), None where position does not
    act (body-part streams, a layout, CNN features)."""
    if not skeleton_without_layout(data) or list(widths) != [SINGLE_STREAM]:
        return None
    try:
        coords = stream_coords(SINGLE_STREAM, widths[SINGLE_STREAM], data)
    except ValueError:  # data.coords / joints that do not fit X: the model refuses them
        coords = 0
    return coords if coords or data.augment.position_columns else None


def per_sample_settings(settings: AugmentSettings, world_size: int) -> AugmentSettings | None:
    """What the per-sample Augmenter (data/augment.py) still does in the Dataset: stream
    mixing under torchrun (partners sit in other ranks' shards), else nothing (None)."""
    if world_size <= 1 or not any(p > 0 for p in settings.mix_streams.values()):
        return None
    return settings.model_copy(update=dict.fromkeys(settings.probability_keys(), 0.0))


def training_augmenter(
    split: Any, settings: Settings, epoch_source: Any, world: Any
) -> BatchAugmenter | None:
    """The BatchAugmenter of a training split (None with augmentation off) for the process
    `world.rank` of `world.world_size`; under torchrun with stream mixing, the split's
    Dataset gets the per-sample Augmenter that mixes (it reads `epoch_source.epoch`)."""
    if not settings.data.augment.enabled:
        return None
    mixing = per_sample_settings(settings.data.augment, world.world_size)
    if mixing is not None:
        split.dataset.transform = augmenter_for(split, settings, epoch_source, mixing)
    return BatchAugmenter.for_split(split, settings, world.rank, world.world_size)


class BatchAugmenter:
    """`augmenter(batch, epoch, batch_index)` -> a new, augmented Batch (`batch` is left
    as it is)."""

    def __init__(
        self,
        settings: AugmentSettings,
        seed: int,
        widths: Mapping[str, int],
        *,
        columns: Mapping[str, np.ndarray] | None = None,
        mirror_pairs: Mapping[str, Sequence[tuple[int, int]]] | None = None,
        max_len: int | None = None,
        mix: bool = True,
        rank: int = 0,
        positions: int | None = None,
    ) -> None:
        self.settings = settings
        # the position transform, for a skeleton without a landmark set: its coordinates per
        # joint (0: columns of unknown meaning); None: off
        self.positions = positions
        self.seed = seed
        self.max_len = max_len
        self.rank = rank
        pairs = dict(mirror_pairs or {})
        if columns is not None:  # single-stream `x` cut into body parts by data.layout
            self.columns = {SINGLE_STREAM: tensor_columns(widths[SINGLE_STREAM], columns, pairs)}
        else:
            self.columns = {
                name: tensor_columns(width, {name: np.arange(width)}, pairs)
                for name, width in widths.items()
            }
        # the multi-stream hands swap tensors under a mirror (same width only)
        self.swap_hands = columns is None and all(h in widths for h in HANDS)
        self.swap_hands = self.swap_hands and widths["hand_l"] == widths["hand_r"]
        mixing = {k: p for k, p in settings.mix_streams.items() if p > 0}
        self.mix = dict(sorted(mixing.items())) if mix else {}

    @classmethod
    def for_split(
        cls, split: Any, settings: Settings, rank: int = 0, world_size: int = 1
    ) -> BatchAugmenter:
        """The augmenter of a training split (a `SampleSplit` of any layout)."""
        data = settings.data
        columns = None
        widths = dict(split.input_dims)
        if data.layout is not None and list(split.input_dims) == [SINGLE_STREAM]:
            columns = layout_columns(data.layout, split.input_dims[SINGLE_STREAM])
            widths = {name: len(index) for name, index in columns.items()}
        if data.augment.mirror_p > 0:  # DataError for pairs outside their stream
            for problem in mirror_gaps(widths, data.mirror_pairs):
                log.warning(problem)
        return cls(
            data.augment,
            settings.training.seed,
            dict(split.input_dims),
            columns=columns,
            mirror_pairs=data.mirror_pairs,
            max_len=settings.model.max_len,
            mix=world_size <= 1,
            rank=rank,
            positions=_skeleton_coords(data, widths),
        )

    def generators(
        self, epoch: int, batch_index: int, device: torch.device
    ) -> tuple[np.random.Generator, torch.Generator]:
        """(the plan's numpy generator, the device generator of the per-element draws)."""
        key = [self.seed, epoch, batch_index, self.rank]
        noise_seed = np.random.SeedSequence([*key, 1]).generate_state(1, np.uint64)[0]
        noise = torch.Generator(device=device).manual_seed(int(noise_seed >> np.uint64(1)))
        return np.random.default_rng(key), noise

    def __call__(self, batch: Batch, epoch: int, batch_index: int) -> Batch:
        a = self.settings
        device = batch.mask.device
        plan, noise = self.generators(epoch, batch_index, device)
        lengths = batch.lengths.cpu().numpy()  # [B]
        B, T = batch.mask.shape
        coins = plan.random((B, 8))  # one per transform, as data/augment.py draws them
        # the frame plan: output frame j of sample b is its frame index[b, j] (j < count[b])
        index, count = self._frames(lengths, coins, plan)  # [B, W'], [B]
        W = int(count.max())
        real = np.arange(W)[None, :] < count[:, None]  # [B, W]
        index = np.where(real, index[:, :W], 0)  # padding: frame 0, zeroed at the end
        to = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device, non_blocking=True)  # noqa: E731
        picked = (np.arange(B)[:, None] * T + index).reshape(-1)
        out = {  # [B, W, D]; the transforms below may touch padding: it is zeroed at the end
            name: take_rows(v.reshape(B * T, -1), picked).view(B, W, -1)
            for name, v in batch.streams.items()
        }
        if self.mix and "gloss" in batch.targets:
            gloss = batch.targets["gloss"].cpu().numpy()
            self._mix(out, batch.streams, gloss, lengths, index, plan)

        def rows(chosen: np.ndarray) -> np.ndarray | None:  # the chosen samples
            found = np.flatnonzero(chosen)
            return found if len(found) else None

        flip, turned = coins[:, 0] < a.mirror_p, coins[:, 1] < a.affine_p
        if flip.any() or turned.any():
            maps = self._affine_parameters(B, plan) if turned.any() else None  # [B, 6]
            self._geometry(out, flip, turned, maps)
        moved = rows(coins[:, 7] < a.position_p) if self.positions is not None else None
        if moved is not None:
            self._position(out, to(real), moved, plan)
        if (shake := rows(coins[:, 5] < a.jitter_p)) is not None:
            for name, v in out.items():
                sub = take_rows(v, shake)  # [R, W, D]
                for start, stop in self.columns[name].jitter:
                    shape = (len(shake), W, stop - start)
                    noise_ = torch.randn(shape, generator=noise, device=device)
                    sub[:, :, start:stop] += a.jitter_sd * noise_
                put_rows(v, shake, sub)
        hidden = np.flatnonzero(coins[:, 6] < a.landmark_dropout_p)
        if len(hidden):
            frames = to((hidden[:, None] * W + np.arange(W)).reshape(-1))  # rows of [B * W, D]
            for name, v in out.items():
                rate = a.landmark_dropout_rate
                _drop_landmarks(
                    v.view(B * W, -1), self.columns[name].landmarks, frames, rate, noise
                )
        padding = np.flatnonzero(~real)
        for v in out.values():
            fill_rows(v.view(B * W, -1), padding, 0.0)
        return Batch(batch.ids, out, to(count), to(real), batch.targets, batch.texts)

    # ------------------------------------------------------------------ the frames

    def _frames(
        self, lengths: np.ndarray, coins: np.ndarray, plan: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """The source frame of each output frame `[B, W]` (valid below the new lengths) and
        the new lengths `[B]`: speed, then crop, then frame drop (data/augment.py's
        speed_frames, crop_frames, drop_frames for every sample at once)."""
        a = self.settings
        B = len(lengths)
        draws = plan.random((B, 4))
        frames = lengths.astype(np.float64)
        # speed: nearest-frame resampling to round(T / speed) frames, never past max_len
        sped = coins[:, 2] < a.speed_p
        resampled = np.maximum(1, np.round(frames / plan.uniform(a.speed_min, a.speed_max, B)))
        if self.max_len is not None:
            resampled = np.minimum(resampled, self.max_len)
        count = np.where(sped, resampled, frames).astype(np.int64)
        width = int(count.max())
        j = np.arange(width, dtype=np.float64)[None, :]  # [1, W]
        step = (frames - 1) / np.maximum(1, count - 1)
        index = np.where(sped[:, None], np.round(j * step[:, None]), j).astype(np.int64)
        # crop: a window of ceil(share * n) frames at a uniform start
        cropped = coins[:, 3] < a.crop_p
        if cropped.any():
            share = a.crop_min + (1.0 - a.crop_min) * draws[:, 1]
            kept = np.maximum(1, np.ceil(share * count)).astype(np.int64)
            start = np.where(cropped, np.floor(draws[:, 2] * (count - kept + 1)), 0)
            count = np.where(cropped, kept, count)
            window = np.minimum(start[:, None].astype(np.int64) + np.arange(width), width - 1)
            index = np.take_along_axis(index, window, 1)
        # frame drop: each frame kept with probability 1 - rate; at least one kept
        dropped = coins[:, 4] < a.frame_drop_p
        if dropped.any():
            real = np.arange(width)[None, :] < count[:, None]  # [B, W]
            keep = (plan.random((B, width)) >= a.frame_drop_rate) | ~dropped[:, None]
            keep &= real
            none = np.flatnonzero(~keep.any(1))
            if len(none):  # one random frame of the sample stays
                keep[none, np.floor(draws[none, 3] * count[none]).astype(np.int64)] = True
            order = np.argsort(~keep, axis=1, kind="stable")  # kept frames first, in order
            index = np.take_along_axis(index, order, 1)
            count = keep.sum(1)
        return index, count

    # ------------------------------------------------------------------ geometry

    def _geometry(
        self,
        out: dict[str, torch.Tensor],
        flip: np.ndarray,
        turned: np.ndarray,
        maps: np.ndarray | None,
    ) -> None:
        """The mirror of the `flip` samples, then the affine map (`maps` [B, 6]) of the
        `turned` ones [B]. Each sample's rows are copied out and back once: the mirrored
        ones (those also turned last, a block that the affine map changes in place), then
        the turned ones that are not mirrored."""
        both = flip & turned
        mirrored = np.concatenate([np.flatnonzero(flip & ~turned), np.flatnonzero(both)])
        turned_only = np.flatnonzero(turned & ~flip)
        device = next(iter(out.values())).device
        to = lambda a: torch.from_numpy(a).to(device, non_blocking=True)  # noqa: E731
        hands = HANDS if self.swap_hands and all(h in out for h in HANDS) else ()
        moved: dict[str, torch.Tensor] = {}
        for name, v in out.items():
            cols = self.columns[name]
            if len(mirrored) and (cols.mirror is not None or cols.landmarks or name in hands):
                sub = take_rows(v, mirrored)  # [R, W, D]
                moved[name] = sub = self._mirror(sub, cols)
                if both.any() and cols.landmarks:
                    _affine(sub[len(mirrored) - int(both.sum()) :], cols.landmarks, to(maps[both]))
            if len(turned_only) and cols.landmarks:
                assert maps is not None
                _affine_rows(v, cols.landmarks, to(turned_only), to(maps[turned_only]))
        if hands and len(mirrored):  # the multi-stream hands swap tensors
            moved["hand_l"], moved["hand_r"] = moved["hand_r"], moved["hand_l"]
        for name, sub in moved.items():
            put_rows(out[name], mirrored, sub)

    @staticmethod
    def _mirror(sub: torch.Tensor, cols: TensorColumns) -> torch.Tensor:
        """Rows `sub` [R, W, D] mirrored: x -> 2 * centre - x, left/right landmarks swap
        (a new tensor, or `sub` changed in place)."""
        if cols.mirror is not None:
            R, W, D = sub.shape
            sub = sub.view(R * W, D).index_select(1, cols.mirror.to(sub.device)).view(R, W, D)
        across = torch.tensor(2 * IMAGE_CENTRE, dtype=sub.dtype, device=sub.device)
        for start, stop in cols.landmarks:
            x = sub[:, :, start:stop:COORDS]
            torch.sub(across, x, out=x)  # in one pass, as exact as -x + 2 * centre
        return sub

    def _affine_parameters(self, count: int, plan: np.random.Generator) -> np.ndarray:
        """`count` random affine maps `[count, 6]` float32: the matrix a, b, c, d
        (scale * rotation @ [[1, shear], [0, 1]]) and the shift x, y."""
        a = self.settings
        angle = np.radians(plan.uniform(-a.rotate_deg, a.rotate_deg, count))
        scale = plan.uniform(1 - a.scale, 1 + a.scale, count)
        shear = plan.uniform(-a.shear, a.shear, count)
        shift = plan.uniform(-1, 1, (2, count)) * a.translate
        cos, sin = np.cos(angle), np.sin(angle)
        matrix = np.stack([cos, cos * shear - sin, sin, sin * shear + cos]) * scale
        return np.concatenate([matrix, shift]).T.astype(np.float32)

    def _position(
        self,
        out: dict[str, torch.Tensor],
        real: torch.Tensor,
        samples: np.ndarray,
        plan: np.random.Generator,
    ) -> None:
        """For `samples`: columns -> centre + scale * (columns - centre) + shift * spread,
        from the batch's `real` frames [B, W] (NaN ignored), one scale a sample. Columns of
        unknown meaning (`positions` 0): each its own centre (mean), spread (standard
        deviation) and shift. Joints of `positions` coordinates: one centre, spread (the
        joints' mean) and shift per axis, so the skeleton moves and resizes whole, and turns
        in the x-y plane about the centre by up to `position_rotate` degrees."""
        a = self.settings
        count, coords = len(samples), self.positions
        most_scale, most_shift = position_moves(a)  # a run's settings say; else the base
        for v in out.values():
            seen = real[:, :, None] & ~torch.isnan(v)  # [B, W, D]
            counts, total = seen.sum((0, 1)), torch.where(seen, v, 0.0).sum((0, 1))  # [D]
            mean = total / counts.clamp_min(1)
            spread = (
                torch.where(seen, v - mean, 0.0).square().sum((0, 1)) / counts.clamp_min(1)
            ).sqrt()
            centre, axes = mean, v.shape[-1]
            if coords:  # per axis: the joints' values pooled, their spreads averaged
                joints = v.shape[-1] // coords
                axis_sum = total.view(joints, coords).sum(0)
                axis_frames = counts.view(joints, coords).sum(0).clamp_min(1)
                centre = (axis_sum / axis_frames).repeat(joints)
                spread = spread.view(joints, coords).mean(0).repeat(joints)
                axes = coords
            scale = plan.uniform(1 - most_scale, 1 + most_scale, (count, 1, 1))
            shift = plan.uniform(-most_shift, most_shift, (count, 1, axes))
            scale_t = torch.from_numpy(scale.astype(np.float32)).to(v.device, non_blocking=True)
            shift_t = torch.from_numpy(shift.astype(np.float32)).to(v.device, non_blocking=True)
            shift_t = shift_t.repeat(1, 1, v.shape[-1] // axes)
            offset = take_rows(v, samples) - centre  # [R, W, D]
            if coords and a.position_rotate > 0:
                turn = plan.uniform(-a.position_rotate, a.position_rotate, count)
                offset = _turn_xy(offset, np.deg2rad(turn), coords)
            moved = torch.addcmul(centre + shift_t * spread, scale_t, offset)
            put_rows(v, samples, moved)

    # ------------------------------------------------------------------ stream mixing

    def _mix(
        self,
        out: dict[str, torch.Tensor],
        streams: Mapping[str, torch.Tensor],
        gloss: np.ndarray,
        lengths: np.ndarray,
        index: np.ndarray,
        plan: np.random.Generator,
    ) -> None:
        """Each named stream, with its probability, from another sample of the batch with the
        same gloss (uniformly), resampled to this sample's frames. It comes before the frame
        plan, so output frame j of sample b (its frame index[b, j]) takes the partner's frame
        round(index[b, j] * (T_partner - 1) / (T_b - 1))."""
        B, W = index.shape
        same = gloss[:, None] == gloss[None, :]  # [B, B]
        np.fill_diagonal(same, False)
        partners = same.sum(1)
        draws = plan.random((B, len(self.mix), 2))
        T = next(iter(streams.values())).shape[1]
        for k, (name, p) in enumerate(self.mix.items()):
            chosen = np.flatnonzero((draws[:, k, 0] < p) & (partners > 0))
            if not len(chosen):
                continue
            nth = np.floor(draws[chosen, k, 1] * partners[chosen])  # [R]
            partner = (same[chosen].cumsum(1) > nth[:, None]).argmax(1)  # nth True of each row
            step = (lengths[partner] - 1) / np.maximum(1, lengths[chosen] - 1)
            frames = np.round(index[chosen] * step[:, None]).astype(np.int64)  # [R, W]
            origin = (partner[:, None] * T + frames).reshape(-1)
            for tensor_name, v in out.items():
                ranges = self.columns[tensor_name].parts.get(name)
                if not ranges:
                    continue
                source = streams[tensor_name].reshape(B * T, -1)
                for start, stop in ranges:
                    part = take_rows(source[:, start:stop], origin).view(len(chosen), W, -1)
                    put_rows(v, chosen, part, columns=slice(start, stop))


def _turn_xy(offset: torch.Tensor, angle: np.ndarray, coords: int) -> torch.Tensor:
    """Joints `[R, W, J * coords]` (offsets from a centre) turned by `angle` [R] radians in
    the x-y plane; z, where there is one, is left as it is."""
    R, W, D = offset.shape
    cos, sin = (
        torch.from_numpy(f(angle).astype(np.float32)).to(offset.device)[:, None, None]
        for f in (np.cos, np.sin)
    )
    joints = offset.reshape(R, W, D // coords, coords)
    x, y = joints[..., 0], joints[..., 1]
    turned = torch.stack([cos * x - sin * y, sin * x + cos * y], -1)
    return torch.cat([turned, joints[..., 2:]], -1).reshape(R, W, D)


def _affine(sub: torch.Tensor, ranges: Ranges, maps: torch.Tensor) -> None:
    """x, y -> matrix @ ((x, y) - centre) + centre + shift for each sample of `sub`
    [R, W, D] (in place); `maps` [R, 6] holds each one's a, b, c, d, shift x, shift y.
    x and y are strided views (no column gather)."""
    a, b, c, d, sx, sy = (maps[:, i, None, None] for i in range(6))  # each [R, 1, 1]
    for start, stop in ranges:
        xs, ys = sub[:, :, start:stop:COORDS], sub[:, :, start + 1 : stop : COORDS]  # [R, W, L]
        x, y = xs - IMAGE_CENTRE, ys - IMAGE_CENTRE
        # a * x + b * y + centre + shift, in two fused multiply-adds a coordinate
        torch.addcmul(IMAGE_CENTRE + sx, a, x, out=xs).addcmul_(b, y)
        torch.addcmul(IMAGE_CENTRE + sy, c, x, out=ys).addcmul_(d, y)


def _affine_rows(
    v: torch.Tensor, ranges: Ranges, samples: torch.Tensor, maps: torch.Tensor
) -> None:
    """`_affine` of the rows `samples` of `v` [B, W, D] in place: only their x and y
    columns are copied out and back (faster than whole rows when nothing else moves them)."""
    a, b, c, d, sx, sy = (maps[:, i, None, None] for i in range(6))  # each [R, 1, 1]
    for start, stop in ranges:
        xs, ys = v[:, :, start:stop:COORDS], v[:, :, start + 1 : stop : COORDS]  # [B, W, L]
        x = xs.index_select(0, samples).sub_(IMAGE_CENTRE)  # [R, W, L]
        y = ys.index_select(0, samples).sub_(IMAGE_CENTRE)
        # a * x + b * y + centre + shift, in two fused multiply-adds a coordinate
        xs.index_copy_(0, samples, torch.addcmul(IMAGE_CENTRE + sx, a, x).addcmul_(b, y))
        ys.index_copy_(0, samples, torch.addcmul(IMAGE_CENTRE + sy, c, x).addcmul_(d, y))


def _drop_landmarks(
    v: torch.Tensor, ranges: Ranges, rows: torch.Tensor, rate: float, noise: torch.Generator
) -> None:
    """Each landmark of `ranges` on packed `rows` set to NaN (x, y, z) with probability
    `rate`, independently: the gaps between dropped landmarks are geometric, so only about
    rate x the landmarks are drawn rather than one number per landmark."""
    landmarks = [(start, (stop - start) // COORDS) for start, stop in ranges]
    per_row = sum(n for _, n in landmarks)
    total = len(rows) * per_row
    if rate <= 0 or total == 0:
        return
    device = v.device
    if rate >= 1:
        dropped = torch.arange(total, device=device)
    else:
        # enough gaps to pass `total` but in ~1e-9 of cases; more are drawn if not
        mean = total * rate
        chunk = int(mean + 6 * math.sqrt(mean * (1 - rate)) + 16)
        positions, end = [], torch.tensor(-1, device=device)
        log_keep = math.log1p(-rate)
        while True:
            u = 1 - torch.rand(chunk, generator=noise, device=device, dtype=torch.float64)
            gaps = torch.floor(torch.log(u) / log_keep).long() + 1  # failures + the success
            steps = end + torch.cumsum(gaps, 0)
            positions.append(steps)
            end = steps[-1]
            if int(end) >= total:
                break
        dropped = torch.cat(positions)
        dropped = dropped[dropped < total]
    row, within = dropped // per_row, dropped % per_row  # [K] packed row r, its landmark
    if len(landmarks) == 1:  # one range (a layout's body parts, a stream): no search
        column = landmarks[0][0] + COORDS * within
    else:
        offsets = torch.tensor([s for s, _ in landmarks], device=device)
        bounds = torch.tensor([n for _, n in landmarks], device=device).cumsum(0)
        part = torch.bucketize(within, bounds, right=True)
        starts = torch.cat([bounds.new_zeros(1), bounds])[part]
        column = offsets[part] + COORDS * (within - starts)
    flat = (rows[row] * v.shape[1] + column)[:, None] + torch.arange(COORDS, device=device)
    fill_rows(v.view(-1), flat.reshape(-1), float("nan"))


# ---------------------------------------------------------------------- row copies
# Whole rows of the batch (samples of [B, W, D], frames of [B * W, D]) are copied out and
# back by index. On the CPU numpy does it on the tensors' own memory: its row copies and
# fills ran 2-3x faster than index_select / index_copy_ / index_fill_ in bench_pipeline's
# loop (T = 64), except a gather from a strided source (a column range), where
# index_select wins. On other devices (CUDA), the torch ops.
_HOST_DTYPES = (torch.float32, torch.float64, torch.float16)


def _on_host(v: torch.Tensor) -> bool:
    return v.device.type == "cpu" and v.dtype in _HOST_DTYPES and not v.requires_grad


def _index(index: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    if isinstance(index, torch.Tensor):
        return index.to(device, non_blocking=True)
    return torch.from_numpy(np.ascontiguousarray(index)).to(device, non_blocking=True)


def take_rows(v: torch.Tensor, index: np.ndarray) -> torch.Tensor:
    """`v.index_select(0, index)`: a new tensor (contiguous) of the rows `index` of `v`."""
    if _on_host(v) and v.is_contiguous():
        return torch.from_numpy(v.numpy()[index])
    return v.index_select(0, _index(index, v.device))


def put_rows(
    v: torch.Tensor, index: np.ndarray, rows: torch.Tensor, columns: slice | None = None
) -> None:
    """`v.index_copy_(0, index, rows)`: rows `index` of `v` become `rows`; with `columns`,
    the last axis's `columns` of those rows (numpy: twice as fast as through a view)."""
    if _on_host(v) and _on_host(rows) and rows.dtype == v.dtype:
        where = (index, Ellipsis) if columns is None else (index, Ellipsis, columns)
        v.numpy()[where] = rows.numpy()
    else:
        target = v if columns is None else v[..., columns]
        target.index_copy_(0, _index(index, v.device), rows)


def fill_rows(v: torch.Tensor, index: np.ndarray | torch.Tensor, value: float) -> None:
    """`v.index_fill_(0, index, value)`: rows (or elements, of a 1-D `v`) `index` set."""
    if _on_host(v):
        v.numpy()[index.numpy() if isinstance(index, torch.Tensor) else index] = value
    else:
        v.index_fill_(0, _index(index, v.device), value)
