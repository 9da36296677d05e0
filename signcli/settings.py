"""The one settings model every command shares, and how it is loaded.

Sources, later wins (docs/architecture.md, "Settings"):

    defaults < --config FILE (YAML or JSON) < command-line flags < --set section.key=value

All sources are merged into one nested dict and validated once, so every problem
comes back together, one line each (`optim.lrr: unknown key (did you mean optim.lr?)`).
Torch-free: `--help` and `validate-npz` import this module.
"""

from __future__ import annotations

import difflib
import json
import re
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from signcli.core.errors import SettingsError, UsageError, did_you_mean
from signcli.core.limits import (
    MAX_CLASSES,
    MAX_HEADS,
    MAX_LAYERS,
    MAX_LEN,
    MAX_WORKERS,
    Limit,
)
from signcli.core.model_catalog import (
    UNKNOWN_OPTION,
    all_options,
    foreign_options,
    model_entry,
    option_default,
    option_field,
    option_owners,
    validate_options,
)
from signcli.core.streams import STREAM_NAMES, StreamName
from signcli.core.structured import read_structured_file, value_problem
from signcli.core.task_specs import DEFAULT_TASK
from signcli.upgrade import cache_from_bool

# The metrics `training.monitor` may name, and whether each is minimised, are declared by
# the run's task (signcli/core/task_specs.py, torch-free), so a metric the task never writes
# is a settings error before training.

DEFAULT_AUGMENT_P = 0.5  # the transforms on by default (see AugmentSettings)


class _Section(BaseModel):
    # allow_inf_nan=False: `inf`, `1e400` and `nan` are refused by every float field (a
    # learning rate of inf passes `gt=0`), as "expected a finite number", naming the key
    model_config = ConfigDict(
        extra="forbid",
        use_attribute_docstrings=True,
        validate_assignment=True,
        allow_inf_nan=False,
    )


Auto = Literal["auto"]  # sized from the training set when the run starts (signcli/auto_size.py)


class AugmentSettings(_Section):
    """Training-split augmentation (signcli.data.augment). On by default: speed, frame drop,
    for body-part streams (multi-stream layout or `data.layout`) affine and landmark
    dropout, and for a skeleton without a landmark set whose coordinates are known position,
    each with p = 0.5; mirror, crop and jitter are off. Draws depend on (seed,
    epoch, sample), so runs and resumes repeat."""

    mirror_p: float = Field(0.0, ge=0.0, le=1.0)
    """Probability of a horizontal mirror (hands and left/right pose landmarks swap)."""
    affine_p: float = Field(DEFAULT_AUGMENT_P, ge=0.0, le=1.0)
    """Probability of a random 2-D rotation, scale, shear and translation (all streams)."""
    rotate_deg: float = Field(15.0, ge=0.0, le=180.0)
    """affine: largest rotation, degrees either way."""
    scale: float = Field(0.1, ge=0.0, lt=1.0)
    """affine: scale drawn from 1 - scale .. 1 + scale."""
    shear: float = Field(0.1, ge=0.0)
    """affine: largest horizontal shear factor either way."""
    translate: float = Field(0.05, ge=0.0)
    """affine: largest shift either way, in the stream's coordinate units."""
    speed_p: float = Field(DEFAULT_AUGMENT_P, ge=0.0, le=1.0)
    """Probability of temporal resampling by a speed factor."""
    speed_min: float = Field(0.8, gt=0.0)
    """speed: slowest factor (< 1 gives more frames, at most model.max_len)."""
    speed_max: float = Field(1.2, gt=0.0)
    """speed: fastest factor."""
    crop_p: float = Field(0.0, ge=0.0, le=1.0)
    """Probability of a random temporal crop."""
    crop_min: float = Field(0.8, gt=0.0, le=1.0)
    """crop: smallest share of the frames kept."""
    frame_drop_p: float = Field(DEFAULT_AUGMENT_P, ge=0.0, le=1.0)
    """Probability of dropping random frames."""
    frame_drop_rate: float = Field(0.1, ge=0.0, lt=1.0)
    """frame_drop: share of frames dropped (at least one is kept)."""
    jitter_p: float = Field(0.0, ge=0.0, le=1.0)
    """Probability of Gaussian jitter on the coordinates."""
    jitter_sd: float = Field(0.01, ge=0.0)
    """jitter: standard deviation, in the stream's coordinate units."""
    landmark_dropout_p: float = Field(DEFAULT_AUGMENT_P, ge=0.0, le=1.0)
    """Probability of setting random landmarks to missing."""
    landmark_dropout_rate: float = Field(0.05, ge=0.0, le=1.0)
    """landmark_dropout: share of landmarks dropped."""
    position_p: float = Field(DEFAULT_AUGMENT_P, ge=0.0, le=1.0)
    """Probability of moving and resizing a skeleton without a landmark set (single-stream
    keypoints, no `data.layout`: affine does not know its x and y there) whose joints
    `data.coords` / `data.joints` describe: one scale about the skeleton's centre in the
    batch and one shift per axis, so it moves whole. It stands for a new signer's place and
    size in the frame, which the raw columns carry."""
    position_columns: bool = False
    """position also moves columns of unknown meaning (no data.coords), each by its own
    shift: +2.4 points on unseen speakers on boston104_words' 6 hand-track columns, -2.3 on
    traduttore's 225 MediaPipe columns read as unknown (independent shifts bend a hand)."""
    position_scale: Annotated[float, Field(ge=0.0, lt=1.0)] | Auto = "auto"
    """position: scale drawn from 1 - position_scale .. 1 + position_scale. auto: 0.2 for
    the known joints of a small set (fewer than 2,000 training clips), whose few signers'
    places and sizes the raw positions would otherwise teach; 0.1 otherwise
    (docs/defaults.md, rounds 5-6)."""
    position_shift: Annotated[float, Field(ge=0.0)] | Auto = "auto"
    """position: largest shift either way, in standard deviations over the batch's real
    frames: of the joints' columns on that axis (their mean), or of the column itself.
    auto: 1.0 for the known joints of a small set, 0.5 otherwise (as position_scale)."""
    position_rotate: float = Field(15.0, ge=0.0, le=180.0)
    """position, joints only: largest turn in the x-y plane about the skeleton's centre,
    degrees either way (0: none). Unlike the move and resize it reaches the joints'
    per-sample normalised channels, which do not depend on place or size (docs/defaults.md,
    round 5: +0.8 on traduttore's 10-per-class cut, +0.6 to +1.1 on boston's unseen speakers)."""
    mix_streams: dict[StreamName, float] = Field(default_factory=dict)
    """{stream: p}: with probability p the stream comes from another sample of its gloss."""

    @model_validator(mode="after")
    def _speed_range(self) -> AugmentSettings:
        if self.speed_max < self.speed_min:
            raise ValueError(f"speed_max={self.speed_max} must be >= speed_min={self.speed_min}")
        return self

    @field_validator("mix_streams")
    @classmethod
    def _probabilities(cls, mix: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in mix.items() if not 0.0 <= v <= 1.0}
        if bad:
            raise ValueError(f"probabilities must be in 0..1 (got {bad})")
        return mix

    @classmethod
    def probability_keys(cls) -> list[str]:
        """The `*_p` fields: one probability per transform."""
        return [name for name in cls.model_fields if name.endswith("_p")]

    @property
    def enabled(self) -> bool:
        probabilities = [getattr(self, name) for name in self.probability_keys()]
        return any(p > 0 for p in probabilities) or any(p > 0 for p in self.mix_streams.values())


def augment_off() -> dict[str, Any]:
    """Dotted settings that turn every augmentation off (`train --no-augment`)."""
    off: dict[str, Any] = {f"data.augment.{key}": 0.0 for key in AugmentSettings.probability_keys()}
    return {**off, "data.augment.mix_streams": {}}


class DataSettings(_Section):
    dataset: Path | None = None
    """A dataset root (`train DATA`): its `signcli-dataset.json` manifest (written by
    `signcli import`), or its `train/`, `train_labels.csv`, `val/`, `val_labels.csv`, gives
    the data paths, layout and mirror pairs below, unless they are set otherwise."""
    train_dir: Path | None = None
    """Folder of training `.npz` files (one sample per file)."""
    val_dir: Path | None = None
    """Folder of validation `.npz` files; without it the monitor falls back to train_loss."""
    train_labels: Path | None = None
    """Labels CSV of the training split: `file,gloss,cat,occluded` (0-based ids)."""
    val_labels: Path | None = None
    """Labels CSV of the validation split."""
    val_fraction: float | None = Field(None, gt=0.0, lt=1.0)
    """Without a validation split: carve this share of the training samples (stratified by
    gloss, seeded by training.seed) into one; the ids of each side go to WORK_DIR/split.json."""
    group_by: str | None = None
    """With val_fraction: a labels-CSV column (e.g. `signer`, `session`) whose groups are
    kept whole on one side of the split, so validation sees unseen groups only."""
    key: str = "X"
    """Array key inside each `.npz`: `X` for keypoints [T, D], `X2048` for CNN features."""
    num_workers: Annotated[int, Field(ge=0)] | Auto = "auto"
    """DataLoader worker processes (training and validation loaders); 0 loads in the main
    process. auto: 0 on CPU (the main process reads cached samples faster than a worker
    hands them over, and augmentation runs on the batch), several on CUDA so that reading
    overlaps the GPU's step (docs/training.md, "Input pipeline"). At most
    SIGNCLI_MAX_WORKERS (256)."""
    pin_memory: bool = True
    """Pin host memory for faster, non-blocking copies to the GPU; ignored on CPU."""
    prefetch_factor: int | None = Field(None, ge=1, le=1024)
    """Batches each worker loads ahead (default 2, 4 on CUDA); used only with workers. At
    most 1024: the loader queues prefetch_factor x num_workers batch requests one by one
    when an epoch starts (10**8 of them hung the run for minutes)."""
    cache: Literal["auto", "off", "memory", "mmap"] = "auto"
    """How samples are held: memory (every file read up front into RAM), mmap (packed
    once into a cache file under cache_dir, then memory-mapped by every run and worker),
    off (each file read when used). auto: memory up to 1 GiB of files, mmap beyond, so
    that resident memory stays flat for large sets (docs/architecture.md, "Dataset caches")."""
    cache_dir: Path | None = None
    """Folder of the mmap caches; default $SIGNCLI_CACHE_DIR, else $XDG_CACHE_HOME/signcli,
    else ~/.cache/signcli (never the dataset folder, which may be read-only or shared)."""
    face_dir: Path | None = None
    """Multi-stream layout: folder of face `<id>.npy`/`.npz` arrays [T, D_face]."""
    hand_left_dir: Path | None = None
    """Multi-stream layout: folder of left-hand arrays [T, 21 * 3] (MediaPipe hand order)."""
    hand_right_dir: Path | None = None
    """Multi-stream layout: folder of right-hand arrays [T, 21 * 3]."""
    pose_dir: Path | None = None
    """Multi-stream layout: folder of pose arrays [T, L * 3] (10 upper-body or 33 landmarks)."""
    train_index: Path | None = None
    """Multi-stream layout: CSV of the training ids (column `video_id` or `id`)."""
    val_index: Path | None = None
    """Multi-stream layout: CSV of the validation ids."""
    labels: Path | None = None
    """Multi-stream layout: labels CSV `id,gloss[,cat]` of every split (0-based ids)."""
    meta: Path | None = None
    """Multi-stream layout: `meta.csv` (`id;texto`), the text targets of the text tasks
    (ctc, translate) for every split."""
    train_text: Path | None = None
    """Text tasks, single stream: training texts `file,text` (default: train_text.csv beside the training folder, as in a dataset root)."""
    val_text: Path | None = None
    """Text tasks, single stream: validation texts `file,text` (default: val_text.csv beside the validation folder)."""
    layout: dict[StreamName, tuple[int, int]] | None = None
    """Single-stream keypoints: column ranges of body-part streams in `X`, as
    STREAM=START:STOP comma-separated, e.g. `hand_l=0:63,pose=126:156` (ends multiples of
    3); the model splits `X`
    into those streams, to normalise, augment and fuse them like the multi-stream layout."""
    mirror_pairs: dict[StreamName, list[tuple[int, int]]] | None = None
    """Left/right landmark pairs per stream that swap under a mirror (from the dataset
    manifest); streams not named use the pairs known for MediaPipe's and OpenPose's poses."""
    landmark_set: str | None = None
    """The detector's landmark set (e.g. mediapipe-holistic), from the dataset manifest;
    recorded in checkpoints and in the ONNX metadata."""
    stream_landmarks: dict[StreamName, list[int]] | None = None
    """Streams that keep a subset of their detector's landmarks (face:lips): the indices
    kept, in column order, from the dataset manifest; in the ONNX metadata for demos."""
    normalize: bool = True
    """Normalise each body-part stream (multi-stream layout, or `layout`) in its own frame
    of reference, inside the model."""
    normalize_streams: list[StreamName] = Field(default_factory=lambda: list(STREAM_NAMES))
    """Streams that `normalize` applies to (hands: wrist/hand size; pose: shoulders; face)."""
    coords: Literal["auto", "xyz", "xy", "none"] = "auto"
    """What the columns of single-stream keypoints `X` hold, for `sample_normalize`: xyz or
    xy = joints one after another (x, y[, z] of joint 0, then of joint 1, ...); none =
    channels of unknown meaning, each normalised on its own. auto: from `joints` when set
    (X has 2 or 3 x joints columns), else guessed from the training clips when a run
    starts (columns of one axis move together; too few joints to tell, or no such
    pattern: none) and stored in config.json. Body-part streams (`layout`, the
    multi-stream layout) are x, y, z per landmark whatever this says."""
    joints: int | None = Field(None, ge=1)
    """Joints per frame of `X` (from the dataset manifest, or by hand): with coords auto,
    X's width / joints says xy or xyz; with xy or xyz, checked against X's width."""
    sample_normalize: bool | Auto = "auto"
    """Feed each stream also per-sample normalised, beside the raw channels: with known
    coordinates, the joints centred on their mean over the clip and scaled by their RMS
    spread (signer position and size drop out); with unknown columns (coords none), each
    channel centred and scaled over the clip. Streams that `normalize` puts in their own
    frame of reference (body parts) are not normalised again. Inside the model, over real
    frames only, NaN-aware. auto: on for keypoints (key X) whose coords are known (coords
    xy / xyz, or joints), off otherwise (scaling each unknown column on its own hurt)."""
    motion: Literal["auto", "off", "velocity", "acceleration"] = "auto"
    """Motion channels beside the others: velocity (frame-to-frame difference), or
    velocity and acceleration; of the normalised channels when `sample_normalize` is on,
    else of the raw ones. auto: velocity for a skeleton signcli has no landmark set for
    (single-stream keypoints X without `layout`), off for body-part streams and CNN
    features: on boston104_words's unseen speakers velocity gained 5.8 points
    (docs/defaults.md)."""
    raw_channels: bool | Auto = "auto"
    """Keep the raw channels (absolute positions) beside the normalised and motion ones
    (off: the encoder reads only those; needs sample_normalize or motion). auto: on. Round 4
    left out the raw positions of small sets of known joints; round 6 keeps them and moves
    those skeletons twice as far in training instead (position_shift and position_scale
    auto), which beat leaving them out on every small set measured, classify and ctc
    (docs/defaults.md)."""
    augment: AugmentSettings = AugmentSettings()
    """Augmentation of the training split (off in validation and eval)."""

    @field_validator("num_workers")
    @classmethod
    def _workers_within_limit(cls, workers: int | str) -> int | str:
        # core/limits.py: each worker is a process importing torch; a stored config.json
        # passes here too
        if isinstance(workers, int) and workers > MAX_WORKERS.value():
            raise ValueError(MAX_WORKERS.at_most())
        return workers

    @field_validator("cache", mode="before")
    @classmethod
    def _cache_from_bool(cls, value: Any) -> Any:
        return cache_from_bool(value)  # runs written before the modes (signcli/upgrade.py)

    @field_validator("group_by")
    @classmethod
    def _column_name(cls, column: str | None) -> str | None:
        # labels.read_labels lower-cases the header, so the column is matched the same way
        if column is None:
            return None
        if not column.strip():
            raise ValueError("expected a labels-CSV column name, e.g. signer")
        return column.strip().lower()

    @model_validator(mode="after")
    def _some_channels(self) -> DataSettings:
        if self.raw_channels is False and self.sample_normalize is False and self.motion == "off":
            raise ValueError(
                "data.raw_channels: off leaves the encoder nothing to read unless "
                "data.sample_normalize or data.motion is on"
            )
        return self

    @field_validator("layout", mode="before")
    @classmethod
    def _parse_layout(cls, value: Any) -> Any:
        from signcli.core.column_layout import parse_layout

        return parse_layout(value) if isinstance(value, str) else value

    @field_validator("layout")
    @classmethod
    def _check_layout(cls, layout: dict[str, tuple[int, int]] | None) -> Any:
        from signcli.core.column_layout import check_layout

        problems = check_layout(layout) if layout is not None else []
        if problems:
            raise ValueError("; ".join(problems))
        return layout


class TextSettings(_Section):
    """Text targets of the text tasks (ctc, translate; docs/architecture.md, "Text targets"):
    the tokenizer trained on the training texts (or loaded), and decoding. Ignored by
    classify."""

    tokenizer: Literal["word", "bpe"] = "word"
    """word: one token per whitespace-separated word (glosses); bpe: byte-pair pieces."""
    tokenizer_file: Path | None = None
    """A local tokenizer.json to use instead of training one (--tokenizer)."""
    vocab_size: int | None = Field(None, ge=5)
    """Largest vocabulary, special tokens included (default: every word; bpe 1000)."""
    lowercase: bool = False
    """Lower-case texts before tokenising, in training and scoring alike."""
    strip_punctuation: bool = False
    """Remove punctuation before tokenising, in training and scoring alike."""
    beam_size: int = Field(1, ge=1, le=256)
    """Decoding beam at eval (1 = greedy); validation decodes greedily."""
    length_penalty: float = Field(1.0, ge=0.0, le=10.0)
    """translate, beam search: hypotheses ranked by score / length ** length_penalty
    (0: summed log-probability, which favours short outputs; 1: per-token mean)."""

    @field_validator("vocab_size")
    @classmethod
    def _vocab_within_limits(cls, value: int | None) -> int | None:
        # the vocabulary is the output layer (model.num_tokens): the same bound, checked
        # before a tokenizer is trained for it
        if value is not None and value > MAX_CLASSES.value():
            raise ValueError(MAX_CLASSES.at_most())
        return value


class ModelSettings(_Section):
    """Which model and task, their sizes, and the model's own options: beyond the fields
    below, the keys that model `name` declares with it (core/model_catalog.py; `signcli
    settings model` lists them), flat keys of this section like the others."""

    model_config = ConfigDict(extra="allow")  # the model's options: _options_of_the_model

    task: str = DEFAULT_TASK
    """What the run learns (docs/architecture.md, "Tasks"): classify (one gloss per clip),
    ctc (a gloss sequence per clip) or translate (a sentence)."""
    name: str = "transformer"
    """Registered model (core/model_catalog.py): transformer (keypoints), gru (features),
    multistream (face/hands/pose)."""
    num_gloss: int | None = Field(None, ge=1)
    """classify: gloss classes; None takes the count from the labels."""
    num_cat: int | None = Field(None, ge=0)
    """classify: category classes (0 = no category head); None takes the count from the
    labels."""
    num_tokens: int | None = Field(None, ge=1)
    """Text tasks (ctc, translate): the output ids, the size of the run's tokenizer
    vocabulary; set by the run from its tokenizer (text.vocab_size asks for a size)."""
    d_model: Annotated[int, Field(ge=8)] | Auto = "auto"
    """Width of the encoder's output features (auto: from the training-set size)."""
    num_layers: Annotated[int, Field(ge=1)] | Auto = "auto"
    """Transformer blocks, or stacked GRU layers (auto: from the training-set size)."""
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] | Auto = "auto"
    """Dropout probability inside the encoder and before each head (auto: more for less data)."""
    max_len: int = Field(512, ge=1)
    """Longest sequence the model takes; longer ones are resampled to this many frames."""
    pooling: Literal["mean", "max", "cls"] = "mean"
    """Temporal pooling of the heads over real frames (cls: a learned query attends to them)."""
    max_target_len: int = Field(64, ge=2, le=4096)
    """translate: longest decoder input in tokens (BOS + the target; longer targets are cut
    to max_target_len - 1 tokens + EOS); search stops after max_target_len - 1 tokens."""
    decoder_class: str | None = None
    """translate: `module:Class` of a user's decoder instead of the built-in TextDecoder
    (the interface: docs/architecture.md, "Text targets"); the module must be importable
    by train, resume, eval and export-onnx alike, and the last three import it only with
    --trust-decoder-class (signcli/engine/trust.py: a stored run may be anyone's)."""
    decoder_kwargs: dict[str, Any] = Field(default_factory=dict)
    """translate: keyword arguments of the decoder (JSON object with --decoder-kwargs), e.g.
    `{"num_layers": 3}` for TextDecoder (default: 2 layers, the encoder's heads, ff_dim
    and dropout)."""
    ctc_weight: float = Field(0.0, ge=0.0)
    """translate: weight of a joint CTC loss of the target tokens on the encoder frames
    (0 = none; > 0 adds a CTC head to the model)."""

    @field_validator("name")
    @classmethod
    def _known_model(cls, name: str) -> str:
        model_entry(name)  # ValueError naming the closest and all models
        return name

    def unused_options(self) -> list[str]:
        """Warnings for options of other models set for a model that does not read them
        (core/model_catalog.py), unless the task reads them (translate's decoder)."""
        from signcli.core.task_specs import task_spec

        reads = task_spec(self.task).model_options
        return foreign_options(self.name, self.__pydantic_extra__ or {}, reads)

    @field_validator("task")
    @classmethod
    def _known_task(cls, task: str) -> str:
        from signcli.core.task_specs import availability_problem

        problem = availability_problem(task)  # ValueError for an unknown task
        if problem is not None:
            raise ValueError(problem)
        return task

    @field_validator("decoder_kwargs", mode="before")
    @classmethod
    def _kwargs_from_json(cls, kwargs: Any) -> Any:
        """--decoder-kwargs and --set give a JSON object as text."""
        if isinstance(kwargs, str):
            try:
                return json.loads(kwargs) if kwargs.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"not valid JSON ({exc.msg} at character {exc.pos}); "
                    'give a JSON object, e.g. {"num_layers": 3}'
                ) from None
        return kwargs

    @field_validator("decoder_kwargs")
    @classmethod
    def _decoder_sizes_within_limits(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        # a checkpoint's decoder options are sizes a file sets, like the encoder's: the same
        # bounds (the parameter count does not catch thousands of tiny layers)
        for key, limit in (("num_layers", MAX_LAYERS), ("num_heads", MAX_HEADS)):
            value = kwargs.get(key)
            if isinstance(value, int) and value > limit.value():
                raise ValueError(f"{key}: {limit.at_most()}")
        return kwargs

    @field_validator("num_gloss", "num_cat", "num_tokens", "num_layers", "max_len")
    @classmethod
    def _within_limits(cls, value: int | str | None, info: Any) -> int | str | None:
        # signcli/core/limits.py: a checkpoint's stored settings pass here too, before any model
        # is built from them
        if isinstance(value, int) and value > _MODEL_LIMITS[info.field_name].value():
            raise ValueError(_MODEL_LIMITS[info.field_name].at_most())
        return value

    @model_validator(mode="after")
    def _sizes_of_the_task(self) -> ModelSettings:
        """Gloss and category classes are classify's, output ids the text tasks': a count
        of the other kind would be ignored, so it is refused (stored runs from before
        model.num_tokens are read by signcli/upgrade.py)."""
        from signcli.core.task_specs import has_text_targets

        if has_text_targets(self.task):
            given = [k for k in ("num_gloss", "num_cat") if getattr(self, k) not in (None, 0)]
            if given:
                raise ValueError(
                    f"model.{given[0]}: a {self.task} run has no classes; its output ids "
                    "(model.num_tokens) come from its tokenizer (text.vocab_size)"
                )
        elif self.num_tokens is not None:
            raise ValueError(
                f"model.num_tokens: output ids of the text tasks; a {self.task} run counts "
                "classes (model.num_gloss, model.num_cat)"
            )
        return self

    @model_validator(mode="after")
    def _options_of_the_model(self) -> ModelSettings:
        """The keys beyond the fields above are the options of the model `name` names,
        declared with it (core/model_catalog.py): validated by its options class, its
        defaults filled in, so config.json keeps every option of the run's model."""
        given = self.__pydantic_extra__ or {}
        context = {"d_model": self.d_model}
        self.__pydantic_extra__ = validate_options(self.name, given, context)
        return self


_MODEL_LIMITS: dict[str, Limit] = {
    "num_gloss": MAX_CLASSES,
    "num_cat": MAX_CLASSES,
    "num_tokens": MAX_CLASSES,
    "num_layers": MAX_LAYERS,
    "max_len": MAX_LEN,
}


class OptimSettings(_Section):
    optimizer: Literal["adamw", "sgd"] = "adamw"
    """AdamW (no decay on norms and biases) or SGD with momentum."""
    lr: float = Field(1e-3, gt=0.0)
    """Peak learning rate."""
    weight_decay: float = Field(0.05, ge=0.0)
    """Decoupled weight decay, applied to weight matrices only."""
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    """SGD momentum."""
    scheduler: Literal["none", "steplr", "cosine", "plateau"] = "cosine"
    """Learning-rate schedule after warmup."""
    warmup_steps: int = Field(0, ge=0)
    """Optimizer steps of linear warmup from 0 to lr (0 = none)."""
    step_size: int = Field(10, ge=1)
    """steplr: epochs between decays."""
    gamma: float = Field(0.1, gt=0.0, le=1.0)
    """steplr: decay factor."""
    plateau_patience: int = Field(2, ge=0)
    """plateau: epochs without improvement of the monitor before the lr is cut."""
    plateau_factor: float = Field(0.5, gt=0.0, lt=1.0)
    """plateau: factor the lr is multiplied by."""
    min_lr: float = Field(0.0, ge=0.0)
    """cosine/plateau: lower bound of the learning rate."""
    grad_clip: float = Field(1.0, ge=0.0)
    """Clip the gradient norm at this value, or disable if == 0."""
    accumulate: int = Field(1, ge=1)
    """Batches whose gradients are summed before each optimizer step."""
    label_smoothing: float = Field(0.1, ge=0.0, lt=1.0)
    """Cross-entropy label smoothing, every head."""
    cat_loss_weight: float = Field(0.5, ge=0.0)
    """Weight of the category head's loss in the sum."""


class TrainingSettings(_Section):
    epochs: Annotated[int, Field(ge=1)] | Auto = "auto"
    """Epochs to train (auto: enough optimizer steps for small sets, at least 30)."""
    batch_size: Annotated[int, Field(ge=1)] | Auto = "auto"
    """Samples per batch (per optimizer step: batch_size * accumulate). auto: 32, smaller
    (down to 8) for a training set too small to make enough optimizer steps in the most
    epochs `auto` gives (signcli/auto_size.py)."""
    ema: Annotated[float, Field(gt=0.0, lt=1.0)] | Literal["auto", "off"] = "off"
    """Exponential moving average of the weights, updated after every optimizer step with
    this decay (warmed up: min(decay, (1 + n) / (10 + n)) at the n-th update); validation
    scores it and best.pt / last.pt hold it as the model (the raw weights are kept beside
    it, so resume is exact). auto: a decay that averages over about a tenth of the run's
    optimizer steps (signcli/auto_size.py); off (default: no gain measured yet,
    docs/defaults.md): the trained weights are the model."""
    length_buckets: bool = True
    """Batch clips of similar length together: on clips of 3-28 frames, 6% of the batch
    frames are padding instead of 52%, twice the samples/s at the same accuracy
    (docs/benchmarks.md, accuracy); the order stays a pure function of (seed, epoch)."""
    compile: bool = False
    """torch.compile the model's training forward and backward, one graph per batch shape
    (clips padded to a multiple of 32 frames). The first epoch pays the compile;
    docs/benchmarks.md has what it gains or loses on CPU and CUDA. Checkpoints are the same
    either way, and resume stays exact."""
    compile_backend: str = "inductor"
    """torch.compile backend: inductor, or aot_eager / eager to isolate a compile problem."""
    precision: Literal["float32", "bf16", "amp"] = "float32"
    """float32; bf16 autocast (CPU and CUDA); amp = fp16 autocast + GradScaler (CUDA only)."""
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    """auto picks cuda, then mps, then cpu."""
    threads: Annotated[int, Field(ge=1, le=4096)] | Auto = "auto"
    """Math threads of torch (intra-op). auto: signcli chooses from the cores the process
    may use, torchrun's processes, the size of a step and what other work keeps busy, and
    follows the load as the run goes (engine/threads.py); OMP_NUM_THREADS or a
    torch.set_num_threads call of yours is kept."""
    seed: int = Field(0, ge=0, le=2**32 - 1)
    """Seed of every RNG (python, numpy, torch, data order); numpy's seeds are 32-bit."""
    deterministic: bool = False
    """Use deterministic kernels only, so that runs and resumes repeat bit for bit."""
    early_stop: int = Field(0, ge=0)
    """Stop after this many epochs without improvement of the monitor (0 = never)."""
    monitor: str | None = None
    """Metric for best.pt and early stopping, one the task produces (classify: default
    val_gloss_top1); the task declares which are minimised (losses, error rates)."""
    work_dir: Path = Path("runs/train")
    """Folder of config.json, labels.json, metrics.jsonl and checkpoints."""
    save_every_steps: int = Field(0, ge=0)
    """Also write last.pt every N optimizer steps (0 = only at epoch ends)."""
    log_every: int = Field(50, ge=1)
    """Steps between plain log lines when stdout is not a terminal."""
    tensorboard: bool = False
    """Write TensorBoard logs under WORK_DIR/tensorboard (needs signcli[tensorboard])."""
    log_csv: Path | None = None
    """Also append per-epoch metrics to this CSV file."""

    @field_validator("work_dir", mode="before")
    @classmethod
    def _not_empty(cls, work_dir: Any) -> Any:
        # Path("") is Path("."): an empty value would write the run into the current folder
        if isinstance(work_dir, str) and not work_dir.strip():
            raise ValueError("expected a run folder, e.g. runs/exp1, not an empty path")
        return work_dir


class Settings(_Section):
    """Everything a run needs; stored as WORK_DIR/config.json and inside every checkpoint."""

    data: DataSettings = DataSettings()
    """Where the samples come from and how they are loaded."""
    model: ModelSettings = ModelSettings()
    """Which encoder and heads, and their sizes."""
    optim: OptimSettings = OptimSettings()
    """Optimizer, schedule and loss."""
    training: TrainingSettings = TrainingSettings()
    """Epochs, batches, precision, device, seeds, checkpoints and logs."""
    text: TextSettings = TextSettings()
    """Text targets (tasks ctc, translate): tokenizer and decoding."""

    @model_validator(mode="after")
    def _monitor_of_the_task(self) -> Settings:
        """training.monitor: the task's default when not given; else a metric the task
        produces (core/task_specs.py), so best.pt and early stopping can follow it."""
        from signcli.core.task_specs import monitor_problem, task_spec

        task = self.model.task
        if self.training.monitor is None:
            self.training.monitor = task_spec(task).default_monitor
            return self
        problem = monitor_problem(task, self.training.monitor)
        if problem is not None:
            raise ValueError(f"{MONITOR_KEY}: {problem} (--monitor)")
        return self


MONITOR_KEY = "training.monitor"


def _monitor_problems(merged: Mapping[str, Any]) -> list[str]:
    """The training.monitor problem of raw settings whose task is known, as the Settings
    validator says it (for when other problems keep that validator from running)."""
    from signcli.core.task_specs import TASKS, monitor_problem

    model, training = merged.get("model"), merged.get("training")
    task = model.get("task", DEFAULT_TASK) if isinstance(model, dict) else DEFAULT_TASK
    monitor = training.get("monitor") if isinstance(training, dict) else None
    if not isinstance(task, str) or task not in TASKS or not isinstance(monitor, str):
        return []  # a task of the wrong type is the validator's problem, reported as such
    problem = monitor_problem(task, monitor)
    return [] if problem is None else [f"{MONITOR_KEY}: {problem} (--monitor)"]


def monitor_mode(metric: str, task: str = DEFAULT_TASK) -> Literal["min", "max"]:
    """Whether `metric` is minimised or maximised, as the task declares it (core/task_specs.py);
    a metric no task declares is maximised."""
    from signcli.core.task_specs import metric_mode

    return metric_mode(metric, task) or metric_mode(metric) or "max"


# ---------------------------------------------------------------------------------------
# Loading


def load_settings(
    config: Path | None = None,
    flags: Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
    base: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge `base` < config file < dataset < flags (dotted keys; None = not given) < `--set`
    overrides.

    A dataset root (`data.dataset`, `train DATA`) is one layer above the config file: it
    says where the data is as a whole, so the config file's data locations (folders,
    labels, texts, indexes) and the data's description (key, layout, mirror pairs) give
    way to it, and a config's folder never pairs with the dataset's labels. Flags and
    `--set` still override any of it. Raises SettingsError listing every problem, or
    UsageError for an unreadable file.
    """
    merged: dict[str, Any] = json.loads(json.dumps(dict(base or {}), default=str))
    problems = _check_sections(merged)
    if config is not None:
        from_file = read_settings_file(config)
        problems += _check_sections(from_file, where=f"{config}: ")
        _deep_update(merged, from_file)
    given: list[tuple[str, Any]] = [(k, v) for k, v in (flags or {}).items() if v is not None]
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(f"--set {item!r}: expected section.key=value, e.g. optim.lr=3e-4")
            continue
        try:
            value = _parse_override(key, raw.strip())
        except (ValueError, RecursionError) as exc:  # JSON that Python cannot build
            reason = "nested too deeply" if isinstance(exc, RecursionError) else value_problem(exc)
            problems.append(f"--set {key}: cannot read the value: {reason}")
            continue
        given.append((key, value))
    dataset = next((v for k, v in reversed(given) if k == "data.dataset"), None)
    if dataset is None and isinstance(merged.get("data"), dict):
        dataset = merged["data"].get("dataset")
    if dataset is not None and not problems:
        val_fraction = next((v for k, v in reversed(given) if k == "data.val_fraction"), None)
        if val_fraction is None and isinstance(merged.get("data"), dict):
            val_fraction = merged["data"].get("val_fraction")
        _apply_dataset(merged, Path(str(dataset)), carve=val_fraction is not None)
    for dotted, value in given:
        _set_dotted(merged, dotted, value)
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        problems.extend(describe_errors(exc))
        if not any(problem.startswith(MONITOR_KEY) for problem in problems):
            # the check across sections runs only once every field is valid: say it too
            problems.extend(_monitor_problems(merged))
    except ValueError as exc:  # a non-mapping where a section was expected
        problems.append(str(exc))
    if problems:
        raise SettingsError(problems)
    return settings


DATA_PATH_KEYS = (  # every path of DataSettings, made absolute by with_absolute_paths
    "dataset",
    *("train_dir", "val_dir", "train_labels", "val_labels"),
    *("face_dir", "hand_left_dir", "hand_right_dir", "pose_dir"),
    *("train_index", "val_index", "labels", "meta"),
    "cache_dir",
    *("train_text", "val_text"),
)


def with_absolute_paths(settings: Settings) -> Settings:
    """A copy of `settings` with every path absolute (`~` expanded). Paths from a config file
    or `--set` are relative to where signcli runs; config.json keeps them absolute so that
    `resume` works from any folder. `start_run` and `Trainer` both apply it."""
    settings = settings.model_copy(deep=True)
    for name in DATA_PATH_KEYS:
        value = getattr(settings.data, name)
        if value is not None:
            setattr(settings.data, name, _absolute(value))
    settings.training.work_dir = _absolute(settings.training.work_dir)
    if settings.text.tokenizer_file is not None:
        settings.text.tokenizer_file = _absolute(settings.text.tokenizer_file)
    if settings.training.log_csv is not None:
        settings.training.log_csv = _absolute(settings.training.log_csv)
    return settings


def _absolute(path: Path) -> Path:
    return Path(path).expanduser().absolute()


# what a dataset root replaces in a config file: where the data is, and what it is
DATASET_REPLACES = (
    *(key for key in DATA_PATH_KEYS if key not in ("dataset", "cache_dir")),
    "key",
    "layout",
    "mirror_pairs",
    "landmark_set",
    "stream_landmarks",
)


def _apply_dataset(merged: dict[str, Any], root: Path, *, carve: bool) -> None:
    """The dataset layer (`load_settings`): the config file's data locations and data
    description are dropped, then the settings dataset `root` gives (core/manifest.py) set.
    Its signer column becomes `data.group_by` only for a split carved at training
    (`carve`) and where the config file names no group column of its own."""
    from signcli.core.manifest import SIGNER_KEY, dataset_settings

    given = dataset_settings(root)
    data = merged.get("data")
    if isinstance(data, dict):
        for key in DATASET_REPLACES:
            data.pop(key, None)
    signer = given.pop(SIGNER_KEY, None)
    if carve and signer is not None and not (isinstance(data, dict) and data.get("group_by")):
        given[SIGNER_KEY] = signer
    for dotted, value in given.items():
        _set_dotted(merged, dotted, str(value) if isinstance(value, Path) else value)


def read_settings_file(path: Path) -> dict[str, Any]:
    """Read a YAML or JSON settings file into a dict; errors name the file and line."""
    path = Path(path)
    data = read_structured_file(path, "settings file", hint="check the --config path")
    if data is None:  # an empty file
        return {}
    if not isinstance(data, dict):
        raise UsageError(
            f"{path}: expected a mapping of sections (data, model, optim, training), "
            f"got {type(data).__name__}"
        )
    return data


def settings_keys(model: type[BaseModel] = Settings, prefix: str = "") -> list[str]:
    """Every valid dotted key, e.g. `optim.lr`, nested sections included
    (`data.augment` and `data.augment.mirror_p`), and every model's options (`model.fusion`)."""
    keys = [f"{prefix}{key}" for key in all_options()] if model is ModelSettings else []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys.extend(settings_keys(annotation, f"{prefix}{name}."))
            if not prefix:
                continue  # the top-level sections themselves are not keys
        keys.append(f"{prefix}{name}")
    return keys


def _check_sections(
    data: dict[str, Any], model: type[BaseModel] = Settings, prefix: str = "", where: str = ""
) -> list[str]:
    """A problem for each section (`model`, `data.augment`) that is not a mapping, which would
    otherwise be dropped silently by the first flag set inside it. Such a section is replaced
    by {} in `data`, so that the other problems are still found; `model:` left empty (None)
    is an empty section."""
    problems = []
    for name, field in model.model_fields.items():
        section = field.annotation
        if name not in data or not (isinstance(section, type) and issubclass(section, BaseModel)):
            continue
        key, value = f"{prefix}{name}", data[name]
        if isinstance(value, dict):
            problems += _check_sections(value, section, f"{key}.", where)
            continue
        if value is not None:
            problems.append(f"{where}{key}: expected a mapping of {key} keys (got {_shown(value)})")
        data[name] = {}
    return problems


def _deep_update(target: dict[str, Any], source: Mapping[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = value


def _set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = target
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[leaf] = value


def setting_field(dotted: str) -> FieldInfo | None:
    """The pydantic field of a dotted key, nested sections included (data.augment.mirror_p),
    and a model's option (model.fusion: as the first model declaring it has it); None for
    no key."""
    model: Any = Settings
    field = None
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        fields = getattr(model, "model_fields", None)
        if fields is None:
            return None
        if part not in fields:
            return option_field(part) if model is ModelSettings and i == len(parts) - 1 else None
        field = fields[part]
        model = field.annotation
    return field


def setting_description(dotted: str) -> str:
    """The docstring of a dotted key; a model's option first names the models that read it
    (`model.fusion`: "multistream: how the streams of a frame are combined ...")."""
    field = setting_field(dotted)
    text = " ".join((field.description or "").split()) if field is not None else ""
    section, _, leaf = dotted.rpartition(".")
    if section != "model" or leaf in ModelSettings.model_fields or not text:
        return text
    if text[1:2].islower():  # "Attention heads" reads "transformer: attention heads"
        text = text[0].lower() + text[1:]
    return f"{', '.join(option_owners(leaf))}: {text}"


def setting_default(dotted: str) -> Any:
    """The default of a dotted key, e.g. `optim.lr` -> 0.001, as default settings hold it
    (training.monitor: the default task's metric; a model's option: its model's default)."""
    value: Any = Settings()
    section, _, leaf = dotted.rpartition(".")
    if section == "model" and leaf not in ModelSettings.model_fields:
        return option_default(leaf)
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def _field_annotation(dotted: str) -> Any:
    field = setting_field(dotted)
    return None if field is None else field.annotation


def _parse_override(dotted: str, raw: str) -> Any:
    """Keep the value a string and let pydantic type it per field, except where a string
    cannot express the type: None for optional fields, lists and dicts from JSON/commas.
    ValueError (a number of more than 4,300 digits) or RecursionError (brackets nested
    beyond the interpreter's depth) for JSON that Python cannot build."""
    annotation = _field_annotation(dotted)
    if annotation is None:
        return raw
    args = typing.get_args(annotation)
    optional = type(None) in args
    if optional and raw.lower() in ("none", "null", "~", ""):
        return None
    inner = [a for a in args if a is not type(None)] if optional else [annotation]
    origin = typing.get_origin(inner[0]) if len(inner) == 1 else None
    if origin in (list, tuple, set, dict):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:  # a dict's own validator may parse its text form
            return raw if origin is dict else [p.strip() for p in raw.split(",") if p.strip()]
    return raw


AUTO_BRANCH = "literal['auto']"


def _merge_auto_branches(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A value that fits neither branch of `number | "auto"` gives one error per branch;
    keep the number's (it says what was wrong), at the field's own key, noting `auto`."""

    def is_auto_branch(loc: Sequence[Any]) -> bool:  # `auto`, or `auto` and other words
        return bool(loc) and str(loc[-1]).startswith(AUTO_BRANCH.rstrip("]"))

    words_of = {  # field -> "auto" / "auto or off"
        tuple(e["loc"][:-1]): " or ".join(re.findall(r"'([^']*)'", str(e["loc"][-1])))
        for e in errors
        if is_auto_branch(e["loc"])
    }
    merged = []
    for error in errors:
        loc = tuple(error["loc"])
        if loc[:-1] in words_of:
            if is_auto_branch(loc):
                continue
            error = {**error, "loc": loc[:-1], "msg": f"{error['msg']}, or {words_of[loc[:-1]]}"}
        merged.append(dict(error))
    return merged


def describe_errors(exc: ValidationError) -> list[str]:
    """One line per problem of a failed `Settings.model_validate`, as `load_settings` says
    them (key, what was expected, the value)."""
    return [_describe(error) for error in _merge_auto_branches(exc.errors())]


def _describe(error: Mapping[str, Any]) -> str:
    """One line per pydantic error: key, bad value, what was expected, closest valid key."""
    loc = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        candidates = settings_keys() if "." in loc else list(Settings.model_fields)
        close = difflib.get_close_matches(loc, candidates, n=1, cutoff=0.6)
        if not close and "." in loc:  # a typo in the section name: compare the key alone
            leaf = loc.rsplit(".", 1)[1]
            close = [k for k in candidates if k.rsplit(".", 1)[1] == leaf][:1]
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"{loc}: unknown key{hint}"
    message = str(error["msg"])
    if error["type"] == UNKNOWN_OPTION:  # the message names the model and its options
        return f"{loc}: {message}"
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if not loc:  # a check across sections (Settings' own validator): the message names the key
        return message
    got = error.get("input")
    if error["type"] == "literal_error" and isinstance(got, str):
        options = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
        message += did_you_mean(got, options)
    if message.startswith("Input should be "):
        message = "expected " + message.removeprefix("Input should be ")
    return f"{loc}: {message} (got {_shown(got)})"


def _shown(value: Any) -> str:
    """A bad value as the user wrote it: strings quoted, the rest as JSON."""
    return repr(value) if isinstance(value, str) else json.dumps(value, default=str)
