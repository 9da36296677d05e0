"""`auto` model size and epoch count, from the number of training samples.

A 500-clip set and a 50,000-clip set should not get the same model: the wide model that
is excellent with thousands of clips memorises a few hundred (validation loss stalls
while the training loss keeps falling), and the 30 epochs that are plenty for thousands
of clips are a few hundred optimizer steps for a small set. `resolve_auto_settings` fills
every `auto` value once, when a run starts; config.json and the checkpoints record the
numbers, so resume, eval and export rebuild the same model. The tiers and the evidence
that chose them are in docs/models.md ("Defaults and the evidence for them").

    samples      d_model  layers  dropout
    < 2,000        128       2      0.3
    < 20,000       128       3      0.2
    >= 20,000      256       4      0.1

heads = d_model / 32, ff_dim = 2 * d_model. Epochs: enough to make MIN_STEPS optimizer
steps, at least MIN_EPOCHS and at most MAX_EPOCHS. Batch size: BATCH_SIZE, unless
MAX_EPOCHS of it would make fewer than MIN_STEPS steps (fewer than ~470 samples); then
the largest batch that makes them, at least MIN_BATCH_SIZE. On 161 sentences (task ctc)
batch 32 stopped at 1,200 steps in 200 epochs; the smaller batch reaches 3,000 steps in
fewer epochs and less time, and a lower error (docs/models.md, "Defaults and the evidence").
`training.ema: auto` averages over about a tenth of the run's steps; `data.sample_normalize:
auto` is on for keypoints whose coordinates are known, `data.motion: auto` adds velocity
channels to a skeleton without a landmark set (`resolved_inputs`). docs/defaults.md has the
evidence for each. `stream_coords` says what a stream's columns are (coordinates per joint,
0 = unknown) for the model's input stage and the batch augmentation alike.
"""

from __future__ import annotations

import math
from typing import Any

from signcli.core.errors import SettingsError
from signcli.core.streams import STREAM_NAMES
from signcli.settings import AugmentSettings, DataSettings, ModelSettings, Settings

# (fewer samples than this, d_model, num_layers, dropout), smallest tier first
SIZE_TIERS = (
    (2_000, 128, 2, 0.3),
    (20_000, 128, 3, 0.2),
    (math.inf, 256, 4, 0.1),
)
SMALL_SET = SIZE_TIERS[0][0]  # fewer training samples than this: the smallest tier
# position's (scale, shift) for the known joints of a small set and for everything else
POSITION_SMALL_JOINTS, POSITION = (0.2, 1.0), (0.1, 0.5)
HEAD_WIDTH = 32  # d_model / heads
MIN_STEPS = 3_000  # small sets need this many updates with augmentation on to converge
MIN_EPOCHS, MAX_EPOCHS = 30, 200
BATCH_SIZE, MIN_BATCH_SIZE = 32, 8
KEYPOINTS_KEY = "X"  # `auto` normalises keypoints per sample, not CNN features (X2048)
EMA_HORIZON_SHARE = 0.1  # `auto` EMA: average the last ~10% of the optimizer steps
EMA_DECAY_RANGE = (0.99, 0.9999)
COORDS = {"xyz": 3, "xy": 2, "none": 0}  # data.coords -> coordinates per joint
UNKNOWN_SIZE = 5_000  # a model built without a training set is sized as for a mid-sized one


def auto_size(num_samples: int) -> dict[str, Any]:
    """The model values `auto` stands for with `num_samples` training samples."""
    for limit, d_model, num_layers, dropout in SIZE_TIERS:
        if num_samples < limit:
            return {
                "d_model": d_model,
                "num_layers": num_layers,
                "num_heads": d_model // HEAD_WIDTH,
                "ff_dim": 2 * d_model,
                "dropout": dropout,
            }
    raise AssertionError("the last tier has no limit")


def auto_epochs(num_samples: int, batch_size: int, accumulate: int = 1) -> int:
    """Epochs that make at least MIN_STEPS optimizer steps, within MIN_EPOCHS..MAX_EPOCHS."""
    steps_per_epoch = _steps(num_samples, batch_size, accumulate)
    return int(min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(MIN_STEPS / steps_per_epoch))))


def auto_batch_size(num_samples: int, accumulate: int = 1, minimum: int = 1) -> int:
    """BATCH_SIZE, or the largest smaller batch (>= MIN_BATCH_SIZE) with which MAX_EPOCHS
    make MIN_STEPS optimizer steps; never below `minimum` (the processes of a torchrun)."""
    batch = BATCH_SIZE
    while (
        batch > MIN_BATCH_SIZE and _steps(num_samples, batch, accumulate) * MAX_EPOCHS < MIN_STEPS
    ):
        batch -= 1
    return max(minimum, batch)


def auto_ema_decay(total_steps: int) -> float:
    """An EMA decay that averages over about EMA_HORIZON_SHARE of the run's optimizer steps
    (1 / (1 - decay) steps), within EMA_DECAY_RANGE."""
    low, high = EMA_DECAY_RANGE
    decay = 1.0 - 1.0 / max(1.0, EMA_HORIZON_SHARE * total_steps)
    return round(min(high, max(low, decay)), 5)


def resolved_inputs(data: DataSettings) -> tuple[bool, str, bool]:
    """(sample_normalize, motion, raw_channels) with `auto` made a value (docs/defaults.md
    has the evidence): sample_normalize is on for keypoints (key X, not CNN features) whose
    coordinates are known (data.coords xy / xyz, or a data.joints count), off otherwise:
    scaling each column of unknown meaning on its own cost 6 points on boston104_words.
    motion is velocity for a skeleton without a landmark set (`skeleton_without_layout`),
    off otherwise. raw_channels is on: round 4 left the raw positions of small sets of
    joints out; round 6 keeps them and moves those skeletons further instead
    (`position_moves`)."""
    keypoints = data.key == KEYPOINTS_KEY
    normalize = data.sample_normalize
    if normalize == "auto":
        normalize = keypoints and _coords_known(data)
    motion = data.motion
    if motion == "auto":
        motion = "velocity" if skeleton_without_layout(data) else "off"
    raw = True if data.raw_channels == "auto" else data.raw_channels
    return bool(normalize), motion, bool(raw)


def position_moves(
    augment: AugmentSettings, data: DataSettings | None = None, num_samples: int | None = None
) -> tuple[float, float]:
    """position's (scale, shift) with `auto` made a value: POSITION_SMALL_JOINTS (twice as
    far) for a skeleton without a landmark set whose joints are known (`data`), on fewer
    than SMALL_SET training samples (`num_samples`): with its raw positions kept, a few
    hundred clips would learn where their few signers stand (docs/defaults.md, rounds 5-6:
    +1.2 on traduttore's 10-per-class cut, +1.5 / +2.8 on boston104_words' unseen / seen
    speakers, ctc WER -2.3 on boston104_sentences, against leaving the raw positions out;
    -0.7 on the whole traduttore set, hence small sets only). POSITION otherwise, and
    where the set is not known."""
    small_joints = (
        data is not None
        and num_samples is not None
        and num_samples < SMALL_SET
        and _coords_known(data)
        and skeleton_without_layout(data)
    )
    scale, shift = POSITION_SMALL_JOINTS if small_joints else POSITION
    return (
        scale if augment.position_scale == "auto" else augment.position_scale,
        shift if augment.position_shift == "auto" else augment.position_shift,
    )


def _coords_known(data: DataSettings) -> bool:
    """The columns of X are joints: said (data.coords xy / xyz, a data.joints count) or
    guessed before the run resolved its settings."""
    return bool(COORDS.get(data.coords)) or (data.coords == "auto" and data.joints is not None)


def skeleton_without_layout(data: DataSettings) -> bool:
    """Single-stream keypoints X that no column layout cuts into body parts (no `layout`,
    no stream folders): joints of any skeleton, or columns of unknown meaning."""
    streams = (data.face_dir, data.hand_left_dir, data.hand_right_dir, data.pose_dir)
    return data.key == KEYPOINTS_KEY and data.layout is None and all(s is None for s in streams)


def stream_coords(name: str, width: int, data: DataSettings) -> int:
    """Coordinates per joint of stream `name` (3, 2, or 0 = unknown). ValueError, naming the
    setting, when data.coords / data.joints do not fit the stream's width."""
    if name in STREAM_NAMES:
        return 3 if width % 3 == 0 else 0
    if data.layout:  # the columns of X outside every range: anything (confidences, ...)
        return 0
    joints = data.joints
    if data.coords == "auto":
        if joints is None:
            return 0
        for coords in (2, 3):
            if width == coords * joints:
                return coords
        raise ValueError(
            f"data.joints: X has {width} columns, neither 2 nor 3 x {joints} joints; "
            "set data.coords (xy, xyz or none) and the right data.joints"
        )
    coords = COORDS[data.coords]
    if coords and width % coords:
        raise ValueError(
            f"data.coords: {data.coords} needs a multiple of {coords} columns, X has {width}; "
            "set data.coords to what the columns hold (none: unknown)"
        )
    if coords and joints is not None and width != coords * joints:
        raise ValueError(
            f"data.joints: {joints} joints x {coords} coordinates is {coords * joints} "
            f"columns, X has {width}"
        )
    return coords


def auto_steps(num_samples: int, batch_size: int, accumulate: int = 1) -> int:
    """Optimizer steps an epoch makes."""
    return _steps(num_samples, batch_size, accumulate)


def _steps(num_samples: int, batch_size: int, accumulate: int) -> int:
    """Optimizer steps an epoch makes (the last batch and accumulation group may be short)."""
    return max(1, math.ceil(math.ceil(num_samples / batch_size) / accumulate))


def resolve_auto_model(model: ModelSettings, num_samples: int = UNKNOWN_SIZE) -> ModelSettings:
    """A copy of `model` with every `auto` size made a number (for `num_samples` training
    samples; without a training set, as for a mid-sized one): the shared sizes, and
    num_heads and ff_dim where the model has them (its options, core/model_catalog.py)."""
    sized = auto_size(num_samples)
    if model.d_model != "auto":  # an explicit width keeps its own heads and feed-forward
        sized.update(zip(("num_heads", "ff_dim"), attention_shape(model.d_model), strict=True))
        sized["d_model"] = model.d_model
    current = model.model_dump()
    update = {key: value for key, value in sized.items() if current.get(key) == "auto"}
    resolved = model.model_copy(update=update)
    num_heads = resolved.model_dump().get("num_heads")
    if isinstance(num_heads, int) and resolved.d_model % num_heads:
        # an explicit num_heads, an `auto` width
        raise SettingsError(
            [
                f"model.num_heads: {num_heads} must divide model.d_model, which is "
                f"auto ({resolved.d_model} for {num_samples} samples); set model.d_model too"
            ]
        )
    return resolved


def attention_shape(d_model: int) -> tuple[int, int]:
    """(num_heads, ff_dim) that `auto` gives attention blocks of width d_model."""
    return _heads_for(d_model), 2 * d_model


def resolve_auto_settings(settings: Settings, num_samples: int, world_size: int = 1) -> Settings:
    """A copy of `settings` with every `auto` model size, batch size and epoch count made a
    number (`world_size`: torchrun processes, which share the global batch)."""
    model_update = resolve_auto_model(settings.model, num_samples).model_dump()
    batch_size = settings.training.batch_size
    if batch_size == "auto":
        batch_size = auto_batch_size(num_samples, settings.optim.accumulate, world_size)
    training_update: dict[str, Any] = {"batch_size": batch_size}
    if settings.training.epochs == "auto":
        training_update["epochs"] = auto_epochs(num_samples, batch_size, settings.optim.accumulate)
    if settings.training.ema == "auto":
        steps = auto_steps(num_samples, batch_size, settings.optim.accumulate)
        training_update["ema"] = auto_ema_decay(
            steps * training_update.get("epochs", settings.training.epochs)
        )
    sample_normalize, motion, raw_channels = resolved_inputs(settings.data)
    data = settings.model_dump()
    data["model"].update(model_update)
    data["training"].update(training_update)
    data["data"].update(sample_normalize=sample_normalize, motion=motion, raw_channels=raw_channels)
    scale, shift = position_moves(settings.data.augment, settings.data, num_samples)
    data["data"]["augment"].update(position_scale=scale, position_shift=shift)
    return Settings.model_validate(data)


def _heads_for(d_model: int) -> int:
    """Heads of HEAD_WIDTH features where the width allows, else the largest divisor <= 8."""
    if d_model % HEAD_WIDTH == 0:
        return d_model // HEAD_WIDTH
    return max(h for h in range(1, 9) if d_model % h == 0)
