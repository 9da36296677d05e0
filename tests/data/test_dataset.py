"""collate pads and masks; the epoch order is a pure function of (seed, epoch)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from signcli.data.dataset import (
    EpochBatchSampler,
    Sample,
    SampleDataset,
    collate_streams,
    resample_frames,
)


def _sample(i: int, T: int, D: int = 3) -> Sample:
    x = np.full((T, D), float(i + 1), dtype=np.float32)
    x[0, 0] = np.nan
    return Sample(f"s{i}", {"x": x}, {"gloss": i, "cat": 0})


def test_collate_pads_and_masks() -> None:
    batch = collate_streams([_sample(0, 2), _sample(1, 4)])
    assert batch.streams["x"].shape == (2, 4, 3)
    assert batch.lengths.tolist() == [2, 4]
    assert batch.mask.tolist() == [[True, True, False, False], [True] * 4]
    assert torch.all(batch.streams["x"][0, 2:] == 0)  # padding is 0, never NaN
    assert torch.isnan(batch.streams["x"][0, 0, 0])  # missing landmarks stay marked
    assert batch.targets["gloss"].tolist() == [0, 1] and batch.ids == ["s0", "s1"]


def test_resample_frames_keeps_ends() -> None:
    x = np.arange(10, dtype=np.float32)[:, None]
    out = resample_frames(x, 4)
    assert out.shape == (4, 1) and out[0, 0] == 0 and out[-1, 0] == 9
    assert resample_frames(x, 20) is x


def test_sampler_order_depends_on_seed_and_epoch_only() -> None:
    a = EpochBatchSampler(10, 3, shuffle=True, seed=1)
    b = EpochBatchSampler(10, 3, shuffle=True, seed=1)
    a.set_epoch(2)
    b.set_epoch(2)
    assert list(a) == list(b)
    b.set_epoch(3)
    assert list(a) != list(b)
    assert sorted(i for batch in a for i in batch) == list(range(10))
    assert a.batch_sizes() == [3, 3, 3, 1]


def test_sampler_starts_mid_epoch() -> None:
    full = EpochBatchSampler(10, 3, shuffle=True, seed=0)
    full.set_epoch(1)
    tail = EpochBatchSampler(10, 3, shuffle=True, seed=0)
    tail.set_epoch(1, start_batch=2)
    assert list(tail) == list(full)[2:] and len(tail) == 2


def test_dataset_caches_and_transforms() -> None:
    reads = []

    def load(i: int) -> Sample:
        reads.append(i)
        return _sample(i, 8)

    data = SampleDataset(
        3, load, max_len=4, transform=lambda s, i, batch: Sample(s.id, s.streams, {"gloss": 9})
    )
    assert data[1].targets == {"gloss": 9}
    assert data[1].length == 4 and data.raw(1).targets["gloss"] == 1
    assert reads == [1]


def test_a_transform_sees_the_batch_the_loader_asks_for() -> None:
    seen = []

    def transform(sample: Sample, index: int, batch) -> Sample:
        seen.append((index, list(batch)))
        return sample

    data = SampleDataset(5, lambda i: _sample(i, 3), transform=transform)
    sampler = EpochBatchSampler(5, 2, shuffle=True, seed=4)
    loader = torch.utils.data.DataLoader(data, batch_sampler=sampler, collate_fn=collate_streams)
    batches = [batch.ids for batch in loader]
    order = [b for b in sampler]
    assert seen == [(i, b) for b in order for i in b]
    assert batches == [[f"s{i}" for i in b] for b in order]


def test_length_buckets_keep_every_sample_and_cut_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(18, 190, size=1000)
    plain = EpochBatchSampler(1000, 32, shuffle=True, seed=3)
    bucketed = EpochBatchSampler(1000, 32, shuffle=True, seed=3, lengths=lengths)

    def share(sampler):
        batches = list(sampler)
        padded = sum(int(lengths[b].max()) * len(b) for b in batches)
        return 1 - lengths.sum() / padded

    for epoch in (1, 2):
        bucketed.set_epoch(epoch)
        assert sorted(i for b in bucketed for i in b) == list(range(1000))
    assert share(plain) > 0.3 and share(bucketed) < 0.05
    # a pure function of (seed, epoch): a fresh sampler, or a resume mid-epoch, agrees
    again = EpochBatchSampler(1000, 32, shuffle=True, seed=3, lengths=lengths)
    again.set_epoch(2)
    assert list(again) == list(bucketed)
    again.set_epoch(2, start_batch=5)
    assert list(again) == list(bucketed)[5:]
    bucketed.set_epoch(3)
    assert list(bucketed) != list(again)  # the batches change from epoch to epoch
    with pytest.raises(ValueError, match="3 lengths for 1000 samples"):
        EpochBatchSampler(1000, 32, shuffle=True, lengths=[1, 2, 3])
