"""What the columns of a skeleton without a landmark set hold, read from the training clips.

    guess = guess_coords(clips)       # clips: [T, D] arrays of X
    guess.coords, guess.joints        # "xyz", 25 | "xy", 75 | "none", None
    settings, guess = with_guessed_coords(settings, train_dataset)   # when a run starts

A run whose data.coords is auto, without data.joints, on a skeleton without a landmark set
gets the guess written into its settings (config.json), so resume, eval and export rebuild
the model it trained; `--set data.coords=none` keeps the columns unknown.

Joints stored one after another (x, y, z of joint 0, then of joint 1, ...) give X a
period: the columns of one axis share a coordinate frame, so they move together (the
signer steps left: every x grows) and sit at similar values (depth far from x and y),
while the columns of different axes do neither. For each period that divides X's width
(2: xy, 3: xyz), the guess compares column pairs of one axis with pairs of different
axes, on two affinities: their correlation over the frames, and how close their means
are. Each contrast is set against the same contrast for random assignments of the columns
to axes (a permutation test, in standard deviations of those); a period is taken when one
of its two contrasts stands MIN_Z above chance and no other period comes close. Measured
(the better contrast): traduttore's 75 MediaPipe joints 86 (xyz), the same without z 37
(xy), one hand 38, phoenix_tiny's 50 joints 44, 8 pose joints 9.8; wrong periods stay
below 2, and 130 random CNN-like feature sets of 12-300 columns below 4.4. Few joints
cannot stand out: 4 or 5 pose joints score 4-5 and 6 columns (boston104_words: 3 joints,
x and y) at most 2, so they are left as none (what signcli did before it guessed), and
data.coords says what they are by hand.

Columns stored axis by axis (all x, then all y) have no such period: none.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from signcli.auto_size import COORDS, skeleton_without_layout
from signcli.data.sample import SINGLE_STREAM
from signcli.settings import Settings

MAX_CLIPS = 256  # clips read, spread evenly over the training split
MAX_CELLS = 2e9  # frames x columns^2 that the correlation may cost (frames subsampled)
MIN_FRAMES = 500
PERMUTATIONS = 100
MIN_Z = 6.0  # how far above chance a period's contrast must stand (noise: up to 4.4)
MARGIN_Z = 2.0  # ... and above every other period's
PERIODS = {name: count for name, count in COORDS.items() if count}  # xyz: 3, xy: 2


@dataclass(frozen=True)
class CoordsGuess:
    coords: str  # "xy", "xyz" or "none" (data.coords)
    joints: int | None  # X's width / coordinates per joint (None with none)
    scores: dict[str, float]  # period name -> its z above chance (best of the two)


def with_guessed_coords(settings: Settings, dataset: Any) -> tuple[Settings, CoordsGuess | None]:
    """`settings` with data.coords auto resolved from the training clips of `dataset` (xy or
    xyz with data.joints, or none), for single-stream keypoints without a landmark set and
    without data.joints; unchanged, with None, otherwise."""
    data = settings.data
    if data.coords != "auto" or data.joints is not None or not skeleton_without_layout(data):
        return settings, None
    guess = guess_coords(sample_clips(dataset))
    stored = settings.model_dump()
    stored["data"].update(coords=guess.coords, joints=guess.joints)
    return Settings.model_validate(stored), guess


def sample_clips(dataset: Any, key: str = SINGLE_STREAM) -> list[np.ndarray]:
    """Up to MAX_CLIPS clips of stream `key`, spread evenly over `dataset` (its `raw(i)`)."""
    return [
        np.asarray(dataset.raw(i).streams[key], dtype=np.float64) for i in even_picks(len(dataset))
    ]


def even_picks(count: int, limit: int = MAX_CLIPS) -> list[int]:
    """Up to `limit` indices spread evenly over range(count)."""
    if count <= 0:
        return []
    return np.unique(np.linspace(0, count - 1, min(count, limit)).round().astype(int)).tolist()


def guess_coords(clips: Sequence[np.ndarray]) -> CoordsGuess:
    """The period of X's columns (module docstring), or none when nothing stands out."""
    clips = [c for c in clips if c.ndim == 2 and len(c)]
    if not clips:
        return CoordsGuess("none", None, {})
    width = clips[0].shape[1]
    frames = _frames(clips, width)
    candidates = {
        name: period
        for name, period in PERIODS.items()
        if width % period == 0 and width // period >= 2
    }
    if frames is None or not candidates:
        return CoordsGuess("none", None, {})
    affinities = _affinities(frames)
    rng = np.random.default_rng(0)
    scores = {
        name: max(_z_above_chance(a, period, rng) for a in affinities)
        for name, period in candidates.items()
    }
    best = max(scores, key=scores.__getitem__)
    runner_up = max((z for name, z in scores.items() if name != best), default=-np.inf)
    if scores[best] < MIN_Z or scores[best] - runner_up < MARGIN_Z:
        return CoordsGuess("none", None, scores)
    return CoordsGuess(best, width // PERIODS[best], scores)


def _frames(clips: Sequence[np.ndarray], width: int) -> np.ndarray | None:
    """The clips' frames [N, D] (evenly subsampled to the MAX_CELLS budget), each column's
    missing values (NaN) set to its mean; None when too few frames or columns vary."""
    clips = [c for c in clips if c.shape[1] == width]
    frames = np.concatenate(clips)
    budget = max(MIN_FRAMES, int(MAX_CELLS / max(1, width) ** 2))
    if len(frames) > budget:
        frames = frames[np.linspace(0, len(frames) - 1, budget).round().astype(int)]
    frames = np.where(np.isfinite(frames), frames, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # columns missing throughout
        means = np.nanmean(frames, axis=0)
    frames = np.where(np.isnan(frames), np.nan_to_num(means)[None, :], frames)
    if len(frames) < 3 or np.count_nonzero(frames.std(axis=0) > 0) < 2:
        return None
    return frames


def _affinities(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[D, D] affinities of column pairs: correlation over the frames (0 for a constant
    column), and closeness of their means (minus the distance, in units of the means'
    spread)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        correlation = np.nan_to_num(np.corrcoef(frames, rowvar=False))
    means = frames.mean(axis=0)
    distance = np.abs(means[:, None] - means[None, :])
    spread = means.std()
    return correlation, -distance / spread if spread > 0 else np.zeros_like(distance)


def _contrast(affinity: np.ndarray, axes: np.ndarray, period: int) -> float:
    """Mean affinity of column pairs of one axis minus that of pairs of different axes."""
    onehot = np.eye(period)[axes]  # [D, period]
    blocks = onehot.T @ affinity @ onehot  # [period, period]: affinity summed per axis pair
    sizes = onehot.sum(axis=0)
    same_sum = np.trace(blocks) - np.trace(affinity)
    same_pairs = float((sizes * (sizes - 1)).sum())
    cross_sum = blocks.sum() - np.trace(blocks)
    cross_pairs = float(len(axes) ** 2 - (sizes**2).sum())
    return same_sum / same_pairs - cross_sum / cross_pairs


def _z_above_chance(affinity: np.ndarray, period: int, rng: np.random.Generator) -> float:
    """How many standard deviations the period's contrast stands above the contrasts of
    PERMUTATIONS random assignments of the columns to its axes."""
    axes = np.arange(len(affinity)) % period
    observed = _contrast(affinity, axes, period)
    chance = np.array(
        [_contrast(affinity, rng.permutation(axes), period) for _ in range(PERMUTATIONS)]
    )
    spread = chance.std()
    if spread <= 1e-12:
        return 0.0
    return float((observed - chance.mean()) / spread)
