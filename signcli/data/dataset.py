"""Samples to batches: the torch Dataset, the epoch sampler and `collate_streams`.

A sample (data/sample.py, numpy only) is a mapping of stream name to float32 `[T, D]`
(NaN = landmark not detected, kept as is: the model's input stage turns it into 0 plus a
missing indicator) with its targets and id. collate pads every stream to the longest T of
the batch and returns `lengths [B]` and `mask [B, T]` (True = real frame); the targets
are collated by the run's task (tasks/base.py `Task.collate_targets`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from signcli.data.sample import SINGLE_STREAM, Sample, resample_frames

__all__ = [  # Sample, SINGLE_STREAM and resample_frames live in data/sample.py (numpy only)
    "SINGLE_STREAM",
    "Batch",
    "EpochBatchSampler",
    "Sample",
    "SampleDataset",
    "collate_streams",
    "int_targets",
    "resample_frames",
]


@dataclass
class Batch:
    """Padded streams `{name: [B, T, D]}`, `lengths [B]`, `mask [B, T]`, targets `{name: [B]}`
    (classify; text tasks: token ids `[B, L]` and their lengths) and, for text tasks, the
    raw texts (what metrics score, rather than ids that lost unknown words)."""

    ids: list[str]
    streams: dict[str, torch.Tensor]
    lengths: torch.Tensor
    mask: torch.Tensor
    targets: dict[str, torch.Tensor]
    texts: list[str] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def to(self, device: torch.device, non_blocking: bool = False) -> Batch:
        move = lambda t: t.to(device, non_blocking=non_blocking)  # noqa: E731
        return Batch(
            self.ids,
            {k: move(v) for k, v in self.streams.items()},
            move(self.lengths),
            move(self.mask),
            {k: move(v) for k, v in self.targets.items()},
            self.texts,
        )

    def pad_time(self, multiple: int) -> Batch:
        """The batch with its time axis padded (zeros, mask False) to a multiple of
        `multiple` frames: fewer distinct shapes for a compiled model; padding cannot change
        an output (every model masks it)."""
        T = self.mask.shape[1]
        extra = -T % multiple
        if extra == 0:
            return self
        pad = lambda t: torch.nn.functional.pad(t, (0, 0, 0, extra))  # noqa: E731 [B, T, D]
        return Batch(
            self.ids,
            {k: pad(v) for k, v in self.streams.items()},
            self.lengths,
            torch.nn.functional.pad(self.mask, (0, extra)),
            self.targets,
            self.texts,
        )

    def pin_memory(self) -> Batch:
        """Called by DataLoader(pin_memory=True) on custom batch types."""
        return Batch(
            self.ids,
            {k: v.pin_memory() for k, v in self.streams.items()},
            self.lengths.pin_memory(),
            self.mask.pin_memory(),
            {k: v.pin_memory() for k, v in self.targets.items()},
            self.texts,
        )


def int_targets(samples: Sequence[Sample]) -> dict[str, torch.Tensor]:
    """Integer targets stacked to `[B]` per key (classification's class ids)."""
    return {
        key: torch.tensor([s.targets[key] for s in samples], dtype=torch.long)
        for key in samples[0].targets
    }


def collate_streams(
    samples: Sequence[Sample],
    collate_targets: Callable[[Sequence[Sample]], dict[str, torch.Tensor]] = int_targets,
) -> Batch:
    """Pad each stream with zeros to the longest T in the batch; mask marks real frames.
    `collate_targets` turns the samples' targets into tensors (the run's task's)."""
    lengths = torch.tensor([s.length for s in samples], dtype=torch.long)
    B, T = len(samples), int(lengths.max())
    streams: dict[str, torch.Tensor] = {}
    for name in samples[0].streams:
        arrays = [s.streams[name] for s in samples]
        if all(array.shape[0] == T for array in arrays):  # no padding: one copy
            padded = np.stack(arrays).astype(np.float32, copy=False)
        else:
            padded = np.zeros((B, T, arrays[0].shape[1]), dtype=np.float32)
            for i, array in enumerate(arrays):
                padded[i, : array.shape[0]] = array
        streams[name] = torch.from_numpy(padded)
    mask = torch.arange(T)[None, :] < lengths[:, None]  # [B, T]
    return Batch([s.id for s in samples], streams, lengths, mask, collate_targets(samples))


class SampleDataset(Dataset):
    """Samples made by `load(i)`, optionally held in memory after the first read.

    `fill_cache` fills the cache up front (`data.cache` memory: training preloads the
    split in parallel, so that epochs never wait for the disk); with `data.cache` mmap,
    `load` reads from a packed cache file (data/packed.py) and `frames` comes from its
    index. A `transform(sample, index, batch)` (the training augmentation) also gets the
    indices of the batch that the DataLoader asks for together (`__getitems__`), so it can
    pair samples of one batch. Pickles without closures when `load` does (DataLoader
    workers started by spawn).
    """

    def __init__(
        self,
        count: int,
        load: Callable[[int], Sample],
        *,
        cache: bool = True,
        max_len: int | None = None,
        transform: Callable[[Sample, int, Sequence[int]], Sample] | None = None,
        frames: np.ndarray | None = None,
        count_frames: Callable[[int], int | None] | None = None,
    ) -> None:
        self.count = count
        self.load = load
        self.cache: dict[int, Sample] | None = {} if cache else None
        self.max_len = max_len
        self.transform = transform
        self.frames = frames  # [count] stored T of each sample, when known without reading
        self.count_frames = count_frames  # T of one sample without reading its values

    def lengths(self, read: bool = True) -> np.ndarray | None:
        """[count] frames of each sample as `raw` returns them (after max_len): from the
        packed index or the memory cache when there is one; else, with `read`, from each
        file's header (`count_frames`) or by reading the sample; None otherwise."""
        frames = self.frames
        if frames is None:
            cache = self.cache
            if cache is not None and len(cache) == self.count:
                return np.asarray([cache[i].length for i in range(self.count)], dtype=np.int64)
            if not read:
                return None
            frames = np.asarray([self._frames(i) for i in range(self.count)], dtype=np.int64)
        frames = np.asarray(frames, dtype=np.int64)
        return frames if self.max_len is None else np.minimum(frames, self.max_len)

    def _frames(self, index: int) -> int:
        known = self.count_frames(index) if self.count_frames is not None else None
        return known if known is not None else len(next(iter(self.load(index).streams.values())))

    def __len__(self) -> int:
        return self.count

    def fill_cache(self, samples: Sequence[Sample]) -> None:
        if self.cache is not None:
            self.cache.update(enumerate(samples))

    def __getitem__(self, index: int) -> Sample:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[Sample]:
        """The samples of one batch (DataLoader calls this with a batch sampler's batch)."""
        samples = [self.raw(i) for i in indices]
        if self.transform is None:
            return samples
        # under torchrun a rank reads its shard of the batch; partners come from the whole
        # batch (`group`, engine/distributed.py), as with one process
        batch = getattr(indices, "group", indices)
        return [self.transform(s, i, batch) for s, i in zip(samples, indices, strict=True)]

    def raw(self, index: int) -> Sample:
        """The sample as read (cached), before any transform such as augmentation."""
        sample = self.cache.get(index) if self.cache is not None else None
        if sample is None:
            sample = self.load(index)
            if self.max_len is not None:
                sample.streams = {
                    k: resample_frames(v, self.max_len) for k, v in sample.streams.items()
                }
            if self.cache is not None:
                self.cache[index] = sample
        return sample


BUCKET_BATCHES = 50  # length bucketing sorts windows of this many batches (see order())


class EpochBatchSampler(Sampler[list[int]]):
    """Batches of indices in an order that is a pure function of (seed, epoch), so that a
    resumed run sees the same order and can start at any batch of the epoch.

    With `lengths` (frames per sample), batches hold samples of similar length, so little
    of each batch is padding: the epoch's random permutation is cut into windows of
    BUCKET_BATCHES batches, each window is sorted by length and cut into batches, and the
    full batches are shuffled across the epoch. Every sample is still seen once an epoch,
    the mix of lengths still changes from epoch to epoch, and the order stays a pure
    function of (seed, epoch)."""

    def __init__(
        self,
        size: int,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        lengths: Sequence[int] | np.ndarray | None = None,
    ) -> None:
        self.size = size
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 1
        self.start_batch = 0
        self.lengths = None if lengths is None else np.asarray(lengths, dtype=np.int64)
        if self.lengths is not None and len(self.lengths) != size:
            raise ValueError(f"{len(self.lengths)} lengths for {size} samples")

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch = epoch
        self.start_batch = start_batch

    def order(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.size)
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(self.size)
        if self.lengths is None:
            return order
        window = self.batch_size * BUCKET_BATCHES
        for start in range(0, self.size, window):  # stable sort: ties keep their random order
            part = order[start : start + window]
            order[start : start + window] = part[np.argsort(self.lengths[part], kind="stable")]
        full = self.size // self.batch_size
        batches = order[: full * self.batch_size].reshape(full, self.batch_size)
        return np.concatenate(
            [batches[rng.permutation(full)].reshape(-1), order[full * self.batch_size :]]
        )

    def batch_sizes(self) -> list[int]:
        full, rest = divmod(self.size, self.batch_size)
        return [self.batch_size] * full + ([rest] if rest else [])

    def __len__(self) -> int:
        return math.ceil(self.size / self.batch_size) - self.start_batch

    def __iter__(self) -> Iterator[list[int]]:
        order = self.order()
        for start in range(self.start_batch * self.batch_size, self.size, self.batch_size):
            yield order[start : start + self.batch_size].tolist()

    def state_dict(self) -> dict[str, int]:
        return {"seed": self.seed, "epoch": self.epoch, "start_batch": self.start_batch}
