"""Augmentation: NaN stays NaN, streams keep one length, draws repeat per (seed, epoch, i)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signcli.data.augment import Augmenter, augment, mirror
from signcli.data.dataset import Sample, collate_streams
from signcli.settings import AugmentSettings

WIDTHS = {"face": 24, "hand_l": 63, "hand_r": 63, "pose": 30}


def only(**chosen) -> AugmentSettings:
    """The transforms a test names, every other one off (some are on by default)."""
    off = dict.fromkeys(AugmentSettings.probability_keys(), 0.0)
    return AugmentSettings(**{**off, **chosen})


ALL_ON = only(mirror_p=1, affine_p=1, speed_p=1, crop_p=1, frame_drop_p=1,
                         jitter_p=1, landmark_dropout_p=1)  # fmt: skip
MIRROR_AXIS = 0.0  # x -> -x: a mirror twice is then exactly the identity in floats


@st.composite
def samples(draw) -> Sample:
    """Random streams [T, L * 3] with whole landmarks and whole frames missing (NaN)."""
    T = draw(st.integers(1, 24))
    names = draw(st.lists(st.sampled_from(sorted(WIDTHS)), min_size=1, max_size=4, unique=True))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    streams = {}
    for name in names:
        points = rng.normal(size=(T, WIDTHS[name] // 3, 3)).astype(np.float32)
        points[rng.random(points.shape[:2]) < draw(st.floats(0, 0.5))] = np.nan
        points[rng.random(T) < 0.2] = np.nan  # stream not detected in a frame
        streams[name] = points.reshape(T, -1)
    return Sample("s", streams, {"gloss": 0})


def one(setting: AugmentSettings, sample: Sample, seed: int = 0) -> Sample:
    return augment(sample, setting, np.random.default_rng(seed))


def landmark_nan(array: np.ndarray) -> np.ndarray:
    return np.isnan(array.reshape(len(array), -1, 3))


@given(samples(), st.integers(0, 1000))
@settings(max_examples=60, deadline=None)
def test_every_transform_keeps_one_length_and_no_inf(sample: Sample, seed: int) -> None:
    out = augment(sample, ALL_ON, np.random.default_rng(seed))
    lengths = {a.shape[0] for a in out.streams.values()}
    assert len(lengths) == 1 and lengths.pop() >= 1
    assert set(out.streams) == set(sample.streams)
    for name, array in out.streams.items():
        assert array.dtype == np.float32 and array.shape[1] == WIDTHS[name]
        assert not np.isinf(array).any()
        nan = landmark_nan(array)
        assert (nan.all(-1) | ~nan.any(-1)).all()  # x, y, z missing together
    batch = collate_streams([out, sample])
    assert batch.mask.sum(1).tolist() == batch.lengths.tolist()


@given(samples(), st.integers(0, 1000))
@settings(max_examples=40, deadline=None)
def test_geometry_and_jitter_keep_exactly_the_missing_landmarks(sample: Sample, seed: int) -> None:
    geometric = only(affine_p=1, jitter_p=1)
    out = one(geometric, sample, seed)
    for name, array in sample.streams.items():
        np.testing.assert_array_equal(np.isnan(out.streams[name]), np.isnan(array))


@given(samples())
@settings(max_examples=40, deadline=None)
def test_mirror_swaps_hands_and_twice_is_identity(sample: Sample) -> None:
    once = mirror(sample.streams, MIRROR_AXIS)
    if "hand_l" in sample.streams and "hand_r" in sample.streams:
        np.testing.assert_array_equal(np.isnan(once["hand_l"]), np.isnan(sample.streams["hand_r"]))
        right = sample.streams["hand_r"].reshape(len(once["hand_l"]), -1, 3)
        np.testing.assert_array_equal(once["hand_l"].reshape(right.shape)[..., 0], -right[..., 0])
    twice = mirror(once, MIRROR_AXIS)
    for name, array in sample.streams.items():
        np.testing.assert_array_equal(twice[name], array)


def test_mirror_swaps_left_and_right_pose_landmarks() -> None:
    pose = np.arange(30, dtype=np.float32).reshape(1, 30)
    out = mirror({"pose": pose})["pose"].reshape(10, 3)
    np.testing.assert_array_equal(out[2, 1:], pose.reshape(10, 3)[3, 1:])  # shoulders swap
    assert out[2, 0] == 1.0 - pose.reshape(10, 3)[3, 0]


@given(samples(), st.integers(0, 1000))
@settings(max_examples=40, deadline=None)
def test_temporal_transforms_only_pick_frames(sample: Sample, seed: int) -> None:
    temporal = only(speed_p=1, crop_p=1, frame_drop_p=1, frame_drop_rate=0.5)
    out = one(temporal, sample, seed)
    for name, array in sample.streams.items():
        for row in out.streams[name]:
            assert any(np.array_equal(row, frame, equal_nan=True) for frame in array)


@given(samples(), st.integers(0, 1000))
@settings(max_examples=40, deadline=None)
def test_landmark_dropout_only_adds_missing(sample: Sample, seed: int) -> None:
    out = one(only(landmark_dropout_p=1, landmark_dropout_rate=0.3), sample, seed)
    for name, array in sample.streams.items():
        assert not (np.isnan(array) & ~np.isnan(out.streams[name])).any()
        kept = ~np.isnan(out.streams[name])
        np.testing.assert_array_equal(out.streams[name][kept], array[kept])


def test_speed_never_exceeds_max_len() -> None:
    sample = Sample("s", {"hand_l": np.zeros((10, 63), np.float32)}, {"gloss": 0})
    slow = only(speed_p=1, speed_min=0.5, speed_max=0.5)
    epoch = SimpleNamespace(epoch=1)
    assert Augmenter(slow, 0, epoch)(sample, 0).length == 20
    assert Augmenter(slow, 0, epoch, max_len=12)(sample, 0).length == 12


def test_draws_depend_on_seed_epoch_and_index_only() -> None:
    rng = np.random.default_rng(0)
    sample = Sample("s", {k: rng.normal(size=(9, d)).astype(np.float32)
                          for k, d in WIDTHS.items()}, {"gloss": 1})  # fmt: skip
    epoch = SimpleNamespace(epoch=1)
    augmenter = Augmenter(ALL_ON, 7, epoch)
    first = augmenter(sample, 3)
    for name, array in augmenter(sample, 3).streams.items():
        np.testing.assert_array_equal(array, first.streams[name])
    epoch.epoch = 2
    assert not all(
        a.shape == first.streams[k].shape and np.allclose(a, first.streams[k], equal_nan=True)
        for k, a in augmenter(sample, 3).streams.items()
    )
    assert sample.streams["face"].shape == (9, 24)  # the cached sample is never changed


def test_mix_streams_takes_the_stream_of_a_same_gloss_sample_of_the_batch() -> None:
    def sample(name: str, value: float, T: int, gloss: int) -> Sample:
        streams = {"hand_l": np.full((T, 63), value, np.float32),
                   "pose": np.full((T, 30), value, np.float32)}  # fmt: skip
        return Sample(name, streams, {"gloss": gloss})

    samples = [sample("a", 0, 4, 1), sample("b", 1, 6, 1), sample("c", 2, 5, 2),
               sample("d", 3, 5, 1)]  # fmt: skip
    mix = only(mix_streams={"hand_l": 1.0})
    augmenter = Augmenter(mix, 0, SimpleNamespace(epoch=1), gloss=[1, 1, 2, 1],
                          load=samples.__getitem__)  # fmt: skip
    out = augmenter(samples[0], 0, [0, 1, 2])  # b is the only other gloss-1 sample here
    assert out.streams["hand_l"].shape == (4, 63) and (out.streams["hand_l"] == 1).all()
    assert (out.streams["pose"] == 0).all()
    out = augmenter(samples[0], 0, [0, 3])
    assert (out.streams["hand_l"] == 3).all()
    alone = augmenter(samples[0], 0, [0, 2])  # no partner in the batch: unchanged
    assert (alone.streams["hand_l"] == 0).all()


def test_defaults_and_validation() -> None:
    defaults = AugmentSettings()
    on = {key for key in AugmentSettings.probability_keys() if getattr(defaults, key) > 0}
    assert on == {"speed_p", "frame_drop_p", "affine_p", "landmark_dropout_p", "position_p"}
    assert not only().enabled and only(jitter_p=0.5).enabled
    with pytest.raises(ValueError, match="speed_min"):
        AugmentSettings(speed_min=1.3)
    with pytest.raises(ValueError, match="0..1"):
        AugmentSettings(mix_streams={"hand_l": 2.0})


def test_a_column_layout_lets_single_stream_keypoints_mirror_with_hands_swapped() -> None:
    from signcli.core.column_layout import layout_columns
    from signcli.data.synthetic import STREAM_COLUMNS, make_samples

    x = make_samples(1, num_gloss=2, seed=5)[0].x  # [T, 156]: hand_l, hand_r, pose
    columns = layout_columns({"hand_l": (0, 63), "hand_r": (63, 126), "pose": (126, 156)}, 156)
    augmenter = Augmenter(only(mirror_p=1), 0, SimpleNamespace(epoch=1),
                          columns=columns)  # fmt: skip
    out = augmenter(Sample("s", {"x": x}, {"gloss": 0}), 0).streams["x"]
    assert out.shape == x.shape and out.dtype == np.float32
    left, right = x[:, STREAM_COLUMNS["hand_l"]], out[:, STREAM_COLUMNS["hand_r"]]
    np.testing.assert_allclose(right[:, 0::3], 1.0 - left[:, 0::3])  # x flipped in the image
    np.testing.assert_array_equal(right[:, 1::3], left[:, 1::3])  # y kept
    pose_in, pose_out = (a[:, STREAM_COLUMNS["pose"]].reshape(len(a), 10, 3) for a in (x, out))
    np.testing.assert_array_equal(pose_out[:, 2, 1:], pose_in[:, 3, 1:])  # shoulders swap
    without_layout = Augmenter(only(mirror_p=1), 0, SimpleNamespace(epoch=1))
    np.testing.assert_array_equal(
        without_layout(Sample("s", {"x": x}, {"gloss": 0}), 0).streams["x"], x
    )  # no layout: the columns' meaning is unknown, so no mirror


def test_mirror_names_streams_whose_sides_it_cannot_swap() -> None:
    from signcli.data.augment import mirror_gaps

    assert mirror_gaps({"face": 24, "hand_l": 63, "hand_r": 63, "pose": 30}) == []
    assert mirror_gaps({"pose": 99}) == []  # MediaPipe's 33 landmarks
    assert mirror_gaps({"face": 468 * 3, "pose": 69}) == []  # MediaPipe's face mesh, COCO's body
    assert mirror_gaps({"face": 478 * 3}) == []  # the mesh with irises
    (gap,) = mirror_gaps({"face": 100 * 3, "pose": 30})
    assert "100-landmark face" in gap and "keep their order" in gap
    (gap,) = mirror_gaps({"hand_r": 63})  # a one-hand import
    assert "only hand_r is present" in gap
