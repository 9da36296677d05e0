"""Batch augmentation: the per-sample transforms' distributions, on a padded batch at once."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from signcli.core.column_layout import layout_columns
from signcli.data.augment import Augmenter, mirror
from signcli.data.batch_augment import BatchAugmenter, per_sample_settings
from signcli.data.dataset import Batch, Sample, collate_streams
from signcli.settings import AugmentSettings

WIDTHS = {"face": 24, "hand_l": 63, "hand_r": 63, "pose": 30}
LAYOUT = {"hand_l": (0, 63), "hand_r": (63, 126), "pose": (126, 156)}  # synthetic X [T, 156]


def only(**chosen) -> AugmentSettings:
    """The transforms a test names, every other one off (some are on by default)."""
    off = dict.fromkeys(AugmentSettings.probability_keys(), 0.0)
    return AugmentSettings(**{**off, **chosen})


def make_samples(n: int, seed: int = 0, widths: dict = WIDTHS, glosses: int = 8) -> list[Sample]:
    """Streams [T, L * 3] near the image centre with whole landmarks missing (NaN)."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(n):
        T = int(rng.integers(3, 25))
        streams = {}
        for name, width in widths.items():
            points = rng.uniform(0.2, 0.8, size=(T, width // 3, 3)).astype(np.float32)
            points[rng.random(points.shape[:2]) < 0.1] = np.nan
            streams[name] = points.reshape(T, width)
        samples.append(Sample(f"s{i}", streams, {"gloss": int(rng.integers(glosses))}))
    return samples


def per_sample(setting: AugmentSettings, samples: list[Sample], **kw) -> list[Sample]:
    """The per-sample path (data/augment.py), every sample's batch the whole list."""
    augmenter = Augmenter(setting, 0, SimpleNamespace(epoch=1), gloss=[s.targets["gloss"] for s in samples],
                          load=samples.__getitem__, **kw)  # fmt: skip
    batch = list(range(len(samples)))
    return [augmenter(s, i, batch) for i, s in enumerate(samples)]


def batched(
    setting: AugmentSettings, samples: list[Sample], batch_size: int = 64, **kw
) -> list[Batch]:
    widths = {k: v.shape[1] for k, v in samples[0].streams.items()}
    augmenter = BatchAugmenter(setting, 0, widths, **kw)
    chunks = [samples[i : i + batch_size] for i in range(0, len(samples), batch_size)]
    return [augmenter(collate_streams(c), 1, i) for i, c in enumerate(chunks)]


def statistics(frames: list[np.ndarray], lengths: list[int]) -> dict[str, float]:
    """What the transforms change, over real frames: length, missing share, x and y."""
    points = np.concatenate([f.reshape(len(f), -1, 3) for f in frames])  # [frames, L, 3]
    return {
        "length": float(np.mean(lengths)),
        "length_sd": float(np.std(lengths)),
        "missing": float(np.isnan(points[..., 0]).mean()),
        "x_mean": float(np.nanmean(points[..., 0])),
        "x_sd": float(np.nanstd(points[..., 0])),
        "y_mean": float(np.nanmean(points[..., 1])),
        "y_sd": float(np.nanstd(points[..., 1])),
    }


def sample_statistics(samples: list[Sample], name: str) -> dict[str, float]:
    return statistics([s.streams[name] for s in samples], [s.length for s in samples])


def batch_statistics(batches: list[Batch], name: str) -> dict[str, float]:
    frames, lengths = [], []
    for batch in batches:
        for row, n in zip(batch.streams[name].numpy(), batch.lengths.tolist(), strict=True):
            frames.append(row[:n])
            lengths.append(n)
    return statistics(frames, lengths)


# the tolerance of each statistic: ~4 standard errors at 1,024 samples (~14k frames)
TOLERANCE = {"length": 0.45, "length_sd": 0.35, "missing": 0.007, "x_mean": 0.005,
             "x_sd": 0.005, "y_mean": 0.005, "y_sd": 0.005}  # fmt: skip
SETTINGS = {
    "defaults": AugmentSettings(),
    "everything": AugmentSettings(
        mirror_p=0.5,
        crop_p=0.5,
        jitter_p=0.5,
        landmark_dropout_rate=0.2,
        speed_min=0.5,
        speed_max=1.5,
        rotate_deg=30.0,
    ),  # fmt: skip
    "temporal": only(speed_p=0.7, crop_p=0.5, frame_drop_p=0.5, frame_drop_rate=0.4),
}


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_batches_have_the_statistics_of_per_sample_augmentation(name: str) -> None:
    setting = SETTINGS[name]
    samples = make_samples(1024)
    reference = per_sample(setting, samples)
    batches = batched(setting, samples)
    unchanged = sample_statistics(samples, "hand_l")
    for stream in ("hand_l", "pose"):
        want, got = sample_statistics(reference, stream), batch_statistics(batches, stream)
        for key, tolerance in TOLERANCE.items():
            assert abs(got[key] - want[key]) <= tolerance, (stream, key, got[key], want[key])
    # the transforms did something the statistics see (not a test of two no-ops)
    changed = sample_statistics(reference, "hand_l")
    assert any(abs(changed[k] - unchanged[k]) > 2 * TOLERANCE[k] for k in TOLERANCE)


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The two-sample Kolmogorov-Smirnov statistic: the largest gap between the two
    empirical distribution functions."""
    points = np.sort(np.concatenate([a, b]))
    cdf = lambda x: np.searchsorted(np.sort(x), points, side="right") / len(x)  # noqa: E731
    return float(np.abs(cdf(a) - cdf(b)).max())


def ks_limit(n: int, m: int, alpha: float = 1e-3) -> float:
    """The KS statistic two samples of one law exceed with probability `alpha`."""
    return float(np.sqrt(-np.log(alpha / 2) / 2 * (n + m) / (n * m)))


def affine_of(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """[a, b, c, d, shift x, shift y] of the map (x, y) -> M ((x, y) - 0.5) + 0.5 + shift
    that took frame `before` [L * 3] to `after` (least squares over its landmarks)."""
    xy, out = before.reshape(-1, 3)[:, :2] - 0.5, after.reshape(-1, 3)[:, :2] - 0.5
    design = np.column_stack([xy, np.ones(len(xy))])  # [L, 3]
    (a, c), (b, d), shift = np.linalg.lstsq(design, out, rcond=None)[0]
    return np.array([a, b, c, d, *shift])


def test_per_sample_draws_follow_the_per_sample_laws() -> None:
    """Affine parameters, lengths, dropped landmarks, mirrors and mixes per sample: the
    same laws on both paths (KS tests; shares within 4 standard errors)."""
    samples = make_samples(1024, seed=5, widths={"hand_l": 63, "hand_r": 63}, glosses=200)
    for sample in samples:  # recoverable maps: no landmark missing
        sample.streams = {k: np.nan_to_num(v, nan=0.5) for k, v in sample.streams.items()}
    n = len(samples)

    def both(setting: AugmentSettings) -> tuple[list[Sample], list[Batch]]:
        return per_sample(setting, samples), batched(setting, samples)

    def rows(batches: list[Batch], name: str) -> list[np.ndarray]:
        return [r[:k] for b in batches for r, k in zip(b.streams[name].numpy(), b.lengths.tolist(),
                                                          strict=True)]  # fmt: skip

    turned = only(affine_p=1, rotate_deg=30, scale=0.2, shear=0.2, translate=0.1)
    want, got = both(turned)
    laws = [np.array([affine_of(s.streams["hand_l"][0], o.streams["hand_l"][0])
                      for s, o in zip(samples, want, strict=True)]),
            np.array([affine_of(s.streams["hand_l"][0], r[0])
                      for s, r in zip(samples, rows(got, "hand_l"), strict=True)])]  # fmt: skip
    for parameter in range(6):
        assert ks_distance(laws[0][:, parameter], laws[1][:, parameter]) < ks_limit(n, n), parameter

    timed = only(speed_p=0.5, speed_min=0.6, speed_max=1.8, crop_p=0.5, frame_drop_p=0.5,
                 frame_drop_rate=0.3)  # fmt: skip
    want, got = both(timed)
    ratio = [np.array([o.length / s.length for s, o in zip(samples, want, strict=True)]),
             np.concatenate([b.lengths.numpy() for b in got]) / [s.length for s in samples]]  # fmt: skip
    assert ks_distance(*ratio) < ks_limit(n, n)

    dropped = only(landmark_dropout_p=0.5, landmark_dropout_rate=0.3)
    want, got = both(dropped)
    share = [np.array([np.isnan(o.streams["hand_r"]).mean() for o in want]),
             np.array([np.isnan(r).mean() for r in rows(got, "hand_r")])]  # fmt: skip
    assert ks_distance(*share) < ks_limit(n, n)

    def within(count: int, total: int, p: float) -> bool:
        return abs(count - p * total) <= 4 * np.sqrt(total * p * (1 - p))

    (flips,) = batched(only(mirror_p=0.3), samples, batch_size=n)
    left = flips.streams["hand_l"].numpy()
    mirrored = [
        np.allclose(left[i, : s.length], mirror(s.streams)["hand_l"]) for i, s in enumerate(samples)
    ]
    assert within(sum(mirrored), n, 0.3)
    (mixed,) = batched(only(mix_streams={"hand_l": 0.3}), samples, batch_size=n)
    gloss = np.array([s.targets["gloss"] for s in samples])
    has_partner = np.array([(gloss == g).sum() > 1 for g in gloss])
    changed = [not np.array_equal(mixed.streams["hand_l"][i, : s.length].numpy(), s.streams["hand_l"])
               for i, s in enumerate(samples)]  # fmt: skip
    assert not np.any(np.array(changed) & ~has_partner)
    assert within(sum(changed), int(has_partner.sum()), 0.3)


def test_a_mirror_is_the_per_sample_mirror_exactly() -> None:
    samples = make_samples(12)
    (batch,) = batched(only(mirror_p=1), samples)
    for i, sample in enumerate(samples):
        want = mirror(sample.streams)
        for name, array in want.items():
            np.testing.assert_array_equal(batch.streams[name][i, : sample.length].numpy(), array)


def test_a_layout_mirrors_single_stream_keypoints_as_the_per_sample_path_does() -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (3, 7, 156)).astype(np.float32)
    samples = [Sample(f"s{i}", {"x": x[i]}, {"gloss": 0}) for i in range(3)]
    columns = layout_columns(LAYOUT, 156)
    want = per_sample(only(mirror_p=1), samples, columns=columns)
    (batch,) = batched(only(mirror_p=1), samples, columns=columns)
    for i, sample in enumerate(want):
        np.testing.assert_allclose(batch.streams["x"][i].numpy(), sample.streams["x"], atol=1e-6)


def test_frames_are_picked_padding_is_zero_and_missing_stays_missing() -> None:
    samples = make_samples(40, seed=3)
    setting = only(speed_p=1, speed_min=0.5, speed_max=1.5, crop_p=1, frame_drop_p=1,
                   frame_drop_rate=0.5, mirror_p=0.5)  # fmt: skip
    (batch,) = batched(setting, samples)
    assert batch.mask.sum(1).tolist() == batch.lengths.tolist() and batch.lengths.min() >= 1
    for i, sample in enumerate(samples):
        n = int(batch.lengths[i])
        for name, padded in batch.streams.items():
            rows = padded[i].numpy()
            assert (rows[n:] == 0).all()  # padding as collate pads
            source, flipped = sample.streams[name], mirror(sample.streams)
            for row in rows[:n]:  # each frame one of the sample's, mirrored or not
                assert any(np.array_equal(row, f, equal_nan=True) for f in source) or any(
                    np.array_equal(row, f, equal_nan=True) for f in flipped[name]
                )
    geometric = only(affine_p=1, jitter_p=1)
    (batch,) = batched(geometric, samples)
    for i, sample in enumerate(samples):
        for name, array in sample.streams.items():
            got = batch.streams[name][i, : sample.length].numpy()
            np.testing.assert_array_equal(np.isnan(got), np.isnan(array))
            assert not np.array_equal(got, array, equal_nan=True)


def test_speed_never_exceeds_max_len() -> None:
    samples = [Sample("s", {"hand_l": np.zeros((10, 63), np.float32)}, {"gloss": 0})]
    slow = only(speed_p=1, speed_min=0.5, speed_max=0.5)
    assert batched(slow, samples)[0].lengths.tolist() == [20]
    assert batched(slow, samples, max_len=12)[0].lengths.tolist() == [12]


def test_draws_depend_on_seed_epoch_batch_and_rank_only() -> None:
    samples = make_samples(16, seed=4)
    batch = collate_streams(samples)
    before = {k: v.clone() for k, v in batch.streams.items()}
    setting = AugmentSettings(mirror_p=0.5, jitter_p=0.5, mix_streams={"hand_l": 0.5})
    augmenter = BatchAugmenter(setting, 7, WIDTHS)

    def same(a: Batch, b: Batch) -> bool:
        return all(a.streams[k].shape == b.streams[k].shape and
                   torch.equal(a.streams[k].nan_to_num(9), b.streams[k].nan_to_num(9))
                   for k in a.streams)  # fmt: skip

    first = augmenter(batch, 1, 3)
    assert same(first, augmenter(batch, 1, 3))
    assert same(first, BatchAugmenter(setting, 7, WIDTHS)(batch, 1, 3))  # a new process
    assert not same(first, augmenter(batch, 2, 3))
    assert not same(first, augmenter(batch, 1, 4))
    assert not same(first, BatchAugmenter(setting, 7, WIDTHS, rank=1)(batch, 1, 3))
    assert all(
        torch.equal(before[k].nan_to_num(9), v.nan_to_num(9)) for k, v in batch.streams.items()
    )


def test_mix_streams_takes_the_stream_of_a_same_gloss_sample_of_the_batch() -> None:
    def sample(name: str, value: float, T: int, gloss: int) -> Sample:
        streams = {"hand_l": np.full((T, 63), value, np.float32),
                   "pose": np.full((T, 30), value, np.float32)}  # fmt: skip
        return Sample(name, streams, {"gloss": gloss})

    samples = [sample("a", 1, 4, 1), sample("b", 2, 6, 1), sample("c", 3, 5, 2)]
    (batch,) = batched(only(mix_streams={"hand_l": 1.0}), samples)
    hand, pose = batch.streams["hand_l"], batch.streams["pose"]
    assert (hand[0, :4] == 2).all() and (hand[1, :6] == 1).all()  # a and b swap hands
    assert (hand[2, :5] == 3).all()  # c has no partner: unchanged
    assert (pose[:, :4] == torch.tensor([1.0, 2, 3])[:, None, None]).all()
    assert (hand[0, 4:] == 0).all()  # resampled to a's 4 frames


def test_stream_mixing_stays_per_sample_under_torchrun_only() -> None:
    setting = AugmentSettings(mix_streams={"hand_l": 0.5})
    assert per_sample_settings(setting, 1) is None
    assert per_sample_settings(AugmentSettings(), 2) is None
    mixing = per_sample_settings(setting, 2)
    assert mixing is not None and mixing.mix_streams == {"hand_l": 0.5}
    assert not any(getattr(mixing, key) for key in AugmentSettings.probability_keys())
    assert BatchAugmenter(setting, 0, WIDTHS, mix=False).mix == {}


def test_under_torchrun_the_dataset_mixes_and_the_batch_does_the_rest() -> None:
    from signcli.data.batch_augment import training_augmenter
    from signcli.settings import load_settings

    def split() -> SimpleNamespace:
        dataset = SimpleNamespace(transform=None, raw=lambda i: None)
        return SimpleNamespace(input_dims=WIDTHS, gloss=np.zeros(4, int), dataset=dataset)

    mixing = load_settings(overrides=['data.augment.mix_streams={"hand_l": 0.5}'])
    sampler = SimpleNamespace(epoch=1)
    alone, shared = split(), split()
    one = training_augmenter(alone, mixing, sampler, SimpleNamespace(rank=0, world_size=1))
    two = training_augmenter(shared, mixing, sampler, SimpleNamespace(rank=1, world_size=2))
    assert one is not None and one.mix == {"hand_l": 0.5} and alone.dataset.transform is None
    assert two is not None and two.mix == {} and two.rank == 1
    assert shared.dataset.transform.settings.mix_streams == {"hand_l": 0.5}
    off = load_settings(overrides=["data.augment.speed_p=0", "data.augment.frame_drop_p=0",
                                   "data.augment.affine_p=0", "data.augment.landmark_dropout_p=0",
                                   "data.augment.position_p=0"])  # fmt: skip
    assert training_augmenter(split(), off, sampler, SimpleNamespace(rank=0, world_size=1)) is None


def skeleton_samples(n: int, seed: int = 0) -> list[Sample]:
    """Single-stream X of 6 columns in pixels (no landmark set), some values missing."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(n):
        T = int(rng.integers(3, 25))
        x = (rng.normal(150.0, 30.0, (1, 6)) + rng.normal(0.0, 5.0, (T, 6))).astype(np.float32)
        x[rng.random(x.shape) < 0.1] = np.nan
        samples.append(Sample(f"s{i}", {"x": x}, {"gloss": int(rng.integers(4))}))
    return samples


def test_position_shifts_each_column_within_its_spread_and_scales_about_the_mean() -> None:
    samples = skeleton_samples(48, seed=6)
    batch = collate_streams(samples)
    x = batch.streams["x"].numpy()
    seen = batch.mask.numpy()[:, :, None] & ~np.isnan(x)
    mean = np.where(seen, x, 0).sum((0, 1)) / seen.sum((0, 1))
    spread = np.sqrt(np.where(seen, (x - mean) ** 2, 0).sum((0, 1)) / seen.sum((0, 1)))

    shifted = BatchAugmenter(only(position_p=1, position_scale=0.0, position_shift=0.5), 0,
                             {"x": 6}, positions=0)(batch, 1, 0)  # fmt: skip
    shifts = []
    for i, sample in enumerate(samples):
        got = shifted.streams["x"][i, : sample.length].numpy()
        np.testing.assert_array_equal(np.isnan(got), np.isnan(sample.streams["x"]))
        offset = got - sample.streams["x"]  # one shift a column over the clip
        for column in range(6):
            values = offset[:, column][~np.isnan(offset[:, column])]
            if len(values):
                np.testing.assert_allclose(values, values[0], atol=1e-3)
                assert abs(values[0]) <= 0.5 * spread[column] + 1e-3
                shifts.append(values[0] / spread[column])
        assert (shifted.streams["x"][i, sample.length :] == 0).all()
    assert np.std(shifts) > 0.2  # U(-0.5, 0.5) has sd 0.29: columns move apart

    scaled = BatchAugmenter(only(position_p=1, position_scale=0.3, position_shift=0.0), 0,
                            {"x": 6}, positions=0)(batch, 1, 0)  # fmt: skip
    for i, sample in enumerate(samples):
        got = scaled.streams["x"][i, : sample.length].numpy()
        ratio = (got - mean) / (sample.streams["x"] - mean)  # one factor a sample, every column
        ratio = ratio[np.isfinite(ratio) & (np.abs(sample.streams["x"] - mean) > 1.0)]
        np.testing.assert_allclose(ratio, ratio[0], rtol=1e-3)
        assert 0.7 - 1e-4 <= ratio[0] <= 1.3 + 1e-4


def test_position_only_moves_a_skeleton_without_a_landmark_set() -> None:
    samples = skeleton_samples(8, seed=7)
    batch = collate_streams(samples)
    setting = only(position_p=1)
    untouched = BatchAugmenter(setting, 0, {"x": 6})(batch, 1, 0)  # positions off
    assert torch.equal(untouched.streams["x"].nan_to_num(9), batch.streams["x"].nan_to_num(9))

    from signcli.settings import Settings

    def augmenter(**data) -> BatchAugmenter:  # for a training split of X [T, 156]
        split = SimpleNamespace(input_dims={"x": 156})
        return BatchAugmenter.for_split(split, Settings.model_validate({"data": data}))

    assert augmenter(coords="xyz").positions == 3  # joints: moved whole, by default
    assert augmenter(coords="xy").positions == 2
    assert augmenter().positions is None  # columns of unknown meaning: left alone...
    columns = {"position_columns": True}
    assert augmenter(augment=columns).positions == 0  # ...unless asked, each on its own
    assert augmenter(layout=LAYOUT, augment=columns).positions is None  # affine's streams
    assert augmenter(coords="xyz", key="X2048").positions is None  # CNN features


def test_position_moves_and_resizes_joints_whole() -> None:
    samples = skeleton_samples(32, seed=8)  # 3 joints x (x, y)
    batch = collate_streams(samples)
    setting = only(position_p=1, position_scale=0.2, position_shift=0.5, position_rotate=0)
    moved = BatchAugmenter(setting, 0, {"x": 6}, positions=2)(batch, 1, 0)
    for i, sample in enumerate(samples):
        before = sample.streams["x"].reshape(sample.length, 3, 2)
        after = moved.streams["x"][i, : sample.length].numpy().reshape(sample.length, 3, 2)
        np.testing.assert_array_equal(np.isnan(after), np.isnan(before))
        # a similarity without rotation: the vector between two joints only scales
        seen = ~np.isnan(before).any(2).any(1)
        if seen.sum() < 1:
            continue
        span_before = before[seen, 0] - before[seen, 1]
        span_after = after[seen, 0] - after[seen, 1]
        ratio = span_after / span_before
        ratio = ratio[np.abs(span_before) > 1.0]
        np.testing.assert_allclose(ratio, ratio[0], rtol=1e-3)
        assert 0.8 - 1e-4 <= ratio[0] <= 1.2 + 1e-4


def test_position_turns_joints_whole_in_the_x_y_plane_and_leaves_z() -> None:
    rng = np.random.default_rng(9)
    samples = [  # 4 joints x (x, y, z), each clip its own length, some joints missing
        Sample(f"s{i}", {"x": rng.normal(0.0, 50.0, (T, 12)).astype(np.float32)}, {"gloss": 0})
        for i, T in enumerate(rng.integers(3, 20, 24))
    ]
    samples[0].streams["x"][1, 3:6] = np.nan
    batch = collate_streams(samples)
    setting = only(position_p=1, position_scale=0.0, position_shift=0.0, position_rotate=30)
    turned = BatchAugmenter(setting, 0, {"x": 12}, positions=3)(batch, 1, 0)
    angles = []
    for i, sample in enumerate(samples):
        before = sample.streams["x"].reshape(sample.length, 4, 3)
        after = turned.streams["x"][i, : sample.length].numpy().reshape(sample.length, 4, 3)
        np.testing.assert_array_equal(np.isnan(after), np.isnan(before))
        np.testing.assert_allclose(after[..., 2], before[..., 2], atol=1e-4)  # z stays
        # a turn about one centre: the vector between two joints keeps its length and
        # turns by the sample's one angle
        span_before = (before[:, 0] - before[:, 2])[:, :2]
        span_after = (after[:, 0] - after[:, 2])[:, :2]
        np.testing.assert_allclose(
            np.linalg.norm(span_after, axis=1), np.linalg.norm(span_before, axis=1), rtol=1e-4
        )
        angle = np.arctan2(span_after[:, 1], span_after[:, 0]) - np.arctan2(
            span_before[:, 1], span_before[:, 0]
        )
        angle = np.rad2deg((angle + np.pi) % (2 * np.pi) - np.pi)
        np.testing.assert_allclose(angle, angle[0], atol=1e-2)
        assert abs(angle[0]) <= 30 + 1e-3
        angles.append(angle[0])
    assert np.std(angles) > 8  # U(-30, 30) has sd 17: samples turn apart

    still = only(position_p=1, position_rotate=0)
    unturned = BatchAugmenter(still, 0, {"x": 12}, positions=3)(batch, 1, 0)
    for i, sample in enumerate(samples):  # 0 turns nothing: spans only scale
        before = sample.streams["x"].reshape(sample.length, 4, 3)
        after = unturned.streams["x"][i, : sample.length].numpy().reshape(sample.length, 4, 3)
        a, b = (before[:, 0] - before[:, 2])[:, :2], (after[:, 0] - after[:, 2])[:, :2]
        sine = (a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]) / (
            np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
        )
        np.testing.assert_allclose(sine, 0, atol=1e-4)  # sin 15 degrees is 0.26


def test_the_torch_ops_of_other_devices_augment_as_the_cpu_path_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On the CPU rows are copied through numpy; on other devices (CUDA) by index_select /
    index_copy_ / index_fill_: the same batch, bit for bit."""
    import signcli.data.batch_augment as batch_augment

    samples = make_samples(40, seed=6)
    setting = AugmentSettings(mirror_p=0.5, jitter_p=0.5, crop_p=0.5,
                              mix_streams={"hand_l": 0.5, "pose": 0.5})  # fmt: skip
    cpu = batched(setting, samples, batch_size=16)
    monkeypatch.setattr(batch_augment, "_on_host", lambda v: False)
    other = batched(setting, samples, batch_size=16)
    for a, b in zip(cpu, other, strict=True):
        assert torch.equal(a.lengths, b.lengths) and torch.equal(a.mask, b.mask)
        for name in a.streams:
            assert torch.equal(a.streams[name].nan_to_num(9), b.streams[name].nan_to_num(9))
    before = collate_streams(samples[:16]).streams["hand_l"]
    assert cpu[0].streams["hand_l"].shape != before.shape or not torch.equal(
        cpu[0].streams["hand_l"].nan_to_num(9), before.nan_to_num(9)
    )  # augmented: not a comparison of two copies of the input
