"""`signcli train MODEL`: the main job. Parses flags into settings and calls the engine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from signcli.cli import _run
from signcli.cli._options import ConfigOpt, DeviceOpt, KeyOpt, QuietOpt, SetOpt

DATA = "Data"
MULTISTREAM = "Multi-stream data"
TEXT = "Text targets"
OPTIM = "Optimisation"
TRAINING = "Training"
MODEL = "Model"
OUTPUT = "Output"

# The options that each set one setting, by parameter name: they give the flags layer of
# load_settings, and `train --help` shows the settings model's default of each
# (cli/_defaults.py). A flag left out (None) is "not given": a config file may set it.
SETTING_OF_OPTION = {
    "train_dir": "data.train_dir",
    "val_dir": "data.val_dir",
    "train_labels": "data.train_labels",
    "val_labels": "data.val_labels",
    "val_fraction": "data.val_fraction",
    "group_by": "data.group_by",
    "key": "data.key",
    "num_workers": "data.num_workers",
    "pin_memory": "data.pin_memory",
    "prefetch_factor": "data.prefetch_factor",
    "cache": "data.cache",
    "layout": "data.layout",
    "face_dir": "data.face_dir",
    "hand_left_dir": "data.hand_left_dir",
    "hand_right_dir": "data.hand_right_dir",
    "pose_dir": "data.pose_dir",
    "train_index": "data.train_index",
    "val_index": "data.val_index",
    "labels": "data.labels",
    "meta": "data.meta",
    "train_text": "data.train_text",
    "val_text": "data.val_text",
    "tokenizer_file": "text.tokenizer_file",
    "normalize": "data.normalize",
    "task": "model.task",
    "num_gloss": "model.num_gloss",
    "num_cat": "model.num_cat",
    "d_model": "model.d_model",
    "num_layers": "model.num_layers",
    "dropout": "model.dropout",
    "fusion": "model.fusion",
    "decoder_class": "model.decoder_class",
    "decoder_kwargs": "model.decoder_kwargs",
    "lr": "optim.lr",
    "weight_decay": "optim.weight_decay",
    "optimizer": "optim.optimizer",
    "scheduler": "optim.scheduler",
    "warmup_steps": "optim.warmup_steps",
    "grad_clip": "optim.grad_clip",
    "accumulate": "optim.accumulate",
    "label_smoothing": "optim.label_smoothing",
    "epochs": "training.epochs",
    "batch_size": "training.batch_size",
    "length_buckets": "training.length_buckets",
    "compile": "training.compile",
    "precision": "training.precision",
    "early_stop": "training.early_stop",
    "monitor": "training.monitor",
    "seed": "training.seed",
    "deterministic": "training.deterministic",
    "device": "training.device",
    "save_every_steps": "training.save_every_steps",
    "work_dir": "training.work_dir",
    "log_csv": "training.log_csv",
    "log_every": "training.log_every",
    "tensorboard": "training.tensorboard",
}


def train(
    model: Annotated[
        str, typer.Argument(help="transformer (keypoints), gru (features), multistream.")
    ],
    data: Annotated[
        Path | None,
        typer.Argument(
            metavar="[DATA]",
            help="Dataset root: a folder written by `signcli import` (its "
            "signcli-dataset.json gives paths, layout and mirror pairs), or one holding "
            "train/, train_labels.csv, val/, val_labels.csv. Flags override what it gives.",
            show_default=False,
        ),
    ] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    # -- data (the training guide's names work as aliases)
    train_dir: Annotated[
        Path | None,
        typer.Option(
            "--train-dir",
            "--keypoints-train",
            help="Folder of training .npz.",
            rich_help_panel=DATA,
        ),
    ] = None,
    val_dir: Annotated[
        Path | None,
        typer.Option(
            "--val-dir", "--keypoints-val", help="Folder of validation .npz.", rich_help_panel=DATA
        ),
    ] = None,
    features_train: Annotated[
        Path | None,
        typer.Option(
            help="Folder of training feature .npz (implies --key X2048).", rich_help_panel=DATA
        ),
    ] = None,
    features_val: Annotated[
        Path | None,
        typer.Option(
            help="Folder of validation feature .npz (implies --key X2048).", rich_help_panel=DATA
        ),
    ] = None,
    train_labels: Annotated[
        Path | None,
        typer.Option(
            "--train-labels",
            "--labels-train-csv",
            help="Training labels CSV.",
            rich_help_panel=DATA,
        ),
    ] = None,
    val_labels: Annotated[
        Path | None,
        typer.Option(
            "--val-labels", "--labels-val-csv", help="Validation labels CSV.", rich_help_panel=DATA
        ),
    ] = None,
    val_fraction: Annotated[
        float | None,
        typer.Option(
            help="Carve this share of the training samples into a validation split "
            "(stratified, seeded; ids in WORK_DIR/split.json).",
            rich_help_panel=DATA,
        ),
    ] = None,
    group_by: Annotated[
        str | None,
        typer.Option(
            metavar="COLUMN",
            help="With --val-fraction: keep each group of this labels column (e.g. signer) "
            "on one side of the split.",
            rich_help_panel=DATA,
        ),
    ] = None,
    key: KeyOpt = None,
    num_workers: Annotated[
        int | None, typer.Option(help="DataLoader workers.", rich_help_panel=DATA)
    ] = None,
    pin_memory: Annotated[
        bool | None,
        typer.Option(
            "--pin-memory/--no-pin-memory", help="Pin memory (CUDA).", rich_help_panel=DATA
        ),
    ] = None,
    prefetch_factor: Annotated[
        int | None, typer.Option(help="Batches prefetched per worker.", rich_help_panel=DATA)
    ] = None,
    cache: Annotated[
        str | None,
        typer.Option(
            metavar="auto|off|memory|mmap",
            help="memory: read every file into RAM first; mmap: pack the split once into a "
            "cache file (data.cache_dir, default ~/.cache/signcli) that later runs and "
            "workers memory-map, so RAM stays flat for large sets; off: read files as used. "
            "auto: memory up to 1 GiB of files, mmap beyond.",
            rich_help_panel=DATA,
        ),
    ] = None,
    layout: Annotated[
        str | None,
        typer.Option(
            metavar="LAYOUT",
            help="Body parts of X by column range, STREAM=START:STOP comma-separated (e.g. "
            "pose=126:156; STREAM: face, hand_l, hand_r, pose), normalised and augmented as "
            "streams.",
            rich_help_panel=DATA,
        ),
    ] = None,
    # -- multi-stream data
    face_dir: Annotated[
        Path | None,
        typer.Option(help="Folder of face <id>.npy/.npz.", rich_help_panel=MULTISTREAM),
    ] = None,
    hand_left_dir: Annotated[
        Path | None,
        typer.Option(help="Folder of left-hand <id>.npy/.npz.", rich_help_panel=MULTISTREAM),
    ] = None,
    hand_right_dir: Annotated[
        Path | None,
        typer.Option(help="Folder of right-hand <id>.npy/.npz.", rich_help_panel=MULTISTREAM),
    ] = None,
    pose_dir: Annotated[
        Path | None,
        typer.Option(help="Folder of pose <id>.npy/.npz.", rich_help_panel=MULTISTREAM),
    ] = None,
    train_index: Annotated[
        Path | None,
        typer.Option(help="CSV of training ids (video_id or id).", rich_help_panel=MULTISTREAM),
    ] = None,
    val_index: Annotated[
        Path | None,
        typer.Option(help="CSV of validation ids.", rich_help_panel=MULTISTREAM),
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(help="Labels CSV id,gloss[,cat] of every split.", rich_help_panel=MULTISTREAM),
    ] = None,
    meta: Annotated[
        Path | None,
        typer.Option(
            help="meta.csv (id;texto): the texts of the text tasks (ctc, translate).",
            rich_help_panel=MULTISTREAM,
        ),
    ] = None,
    train_text: Annotated[
        Path | None,
        typer.Option(
            help="Text tasks: training texts, CSV file,text (default: train_text.csv beside the training folder).",
            rich_help_panel=TEXT,
        ),
    ] = None,
    val_text: Annotated[
        Path | None,
        typer.Option(
            help="Text tasks: validation texts, CSV file,text (default: val_text.csv beside the validation folder).",
            rich_help_panel=TEXT,
        ),
    ] = None,
    tokenizer_file: Annotated[
        Path | None,
        typer.Option(
            "--tokenizer-file",
            "--tokenizer",
            help="Text tasks: a local tokenizer.json to use instead of training one on the "
            "training texts (other options: --set text.KEY=VALUE).",
            rich_help_panel=TEXT,
        ),
    ] = None,
    normalize: Annotated[
        bool | None,
        typer.Option(
            "--normalize/--no-normalize",
            help="Normalise each body-part stream in its own frame of reference (also with "
            "--layout).",
            rich_help_panel=MULTISTREAM,
        ),
    ] = None,
    augment: Annotated[
        bool,
        typer.Option(
            "--augment/--no-augment",
            help="Augment the training split (data.augment: speed and frame drop, and for "
            "body-part streams affine and landmark dropout); --no-augment sets every "
            "transform's probability to 0.",
            rich_help_panel=DATA,
        ),
    ] = True,
    mix_stream: Annotated[
        list[str] | None,
        typer.Option(
            "--mix-stream",
            metavar="STREAM[:P]",
            help="With probability P (default 0.5), take STREAM from another training sample "
            "of the same gloss; repeatable. Other augmentations: --set data.augment.KEY=VALUE.",
            rich_help_panel=MULTISTREAM,
        ),
    ] = None,
    # -- model
    task: Annotated[
        str | None,
        typer.Option(
            help="What the run learns: classify (one gloss per clip), ctc (a gloss sequence "
            "per clip, from --train-text/--meta texts).",
            rich_help_panel=MODEL,
        ),
    ] = None,
    num_gloss: Annotated[
        int | None,
        typer.Option(help="Gloss classes (default: from labels).", rich_help_panel=MODEL),
    ] = None,
    num_cat: Annotated[
        int | None,
        typer.Option(
            help="Category classes, 0 = none (default: from labels).", rich_help_panel=MODEL
        ),
    ] = None,
    d_model: Annotated[
        int | None,
        typer.Option(
            help="Encoder width (auto: from the training-set size).", rich_help_panel=MODEL
        ),
    ] = None,
    num_layers: Annotated[
        int | None,
        typer.Option(
            help="Encoder layers (auto: from the training-set size).", rich_help_panel=MODEL
        ),
    ] = None,
    dropout: Annotated[
        float | None,
        typer.Option(help="Dropout probability (auto: more for less data).", rich_help_panel=MODEL),
    ] = None,
    fusion: Annotated[
        str | None,
        typer.Option(help="multistream: concat, sum or attention.", rich_help_panel=MODEL),
    ] = None,
    decoder_class: Annotated[
        str | None,
        typer.Option(
            help="translate: module:Class of your own decoder (importable at eval and export too).",
            rich_help_panel=MODEL,
        ),
    ] = None,
    decoder_kwargs: Annotated[
        str | None,
        typer.Option(
            help="translate: JSON keyword arguments of the decoder, e.g. '{\"num_layers\": 3}'.",
            rich_help_panel=MODEL,
        ),
    ] = None,
    # -- optimisation
    lr: Annotated[
        float | None, typer.Option(help="Peak learning rate.", rich_help_panel=OPTIM)
    ] = None,
    weight_decay: Annotated[
        float | None, typer.Option(help="AdamW weight decay.", rich_help_panel=OPTIM)
    ] = None,
    optimizer: Annotated[
        str | None, typer.Option(help="adamw or sgd.", rich_help_panel=OPTIM)
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="none, steplr, cosine or plateau.", rich_help_panel=OPTIM)
    ] = None,
    warmup_steps: Annotated[
        int | None, typer.Option(help="Linear warmup steps.", rich_help_panel=OPTIM)
    ] = None,
    grad_clip: Annotated[
        float | None, typer.Option(help="Gradient norm clip, 0 = off.", rich_help_panel=OPTIM)
    ] = None,
    accumulate: Annotated[
        int | None, typer.Option(help="Batches per optimizer step.", rich_help_panel=OPTIM)
    ] = None,
    label_smoothing: Annotated[
        float | None, typer.Option(help="Label smoothing.", rich_help_panel=OPTIM)
    ] = None,
    # -- training
    epochs: Annotated[
        int | None,
        typer.Option(
            help="Epochs to train (auto: enough for 3,000 optimizer steps, 30 to 200).",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            help="Samples per batch (auto: 32; down to 8 for sets of fewer than ~470 "
            "clips, so that they get 3,000 optimizer steps in 200 epochs).",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    length_buckets: Annotated[
        bool | None,
        typer.Option(
            "--length-buckets/--no-length-buckets",
            help="Batch clips of similar length together (less padding, faster).",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    compile: Annotated[
        bool | None,
        typer.Option(
            "--compile/--no-compile",
            help="torch.compile the model for training (slower on CPU: see docs/benchmarks.md).",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    precision: Annotated[
        str | None, typer.Option(help="float32, bf16 or amp.", rich_help_panel=TRAINING)
    ] = None,
    amp: Annotated[
        bool, typer.Option("--amp", help="Same as --precision amp.", rich_help_panel=TRAINING)
    ] = False,
    early_stop: Annotated[
        int | None,
        typer.Option(
            "--early-stop",
            "--patience",
            help="Patience in epochs, 0 = off.",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    monitor: Annotated[
        str | None,
        typer.Option(
            help="Metric for best.pt and early stopping, one the task produces (the "
            "default is the task's own).",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of every RNG.", rich_help_panel=TRAINING)
    ] = None,
    deterministic: Annotated[
        bool | None,
        typer.Option(
            "--deterministic/--no-deterministic",
            help="Deterministic kernels only.",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    device: DeviceOpt = None,
    save_every_steps: Annotated[
        int | None, typer.Option(help="Also save last.pt every N steps.", rich_help_panel=TRAINING)
    ] = None,
    init_checkpoint: Annotated[
        Path | None,
        typer.Option(
            help="Warm start: load model weights only from a checkpoint.", rich_help_panel=TRAINING
        ),
    ] = None,
    init_strict: Annotated[
        bool,
        typer.Option(
            "--init-strict/--no-init-strict",
            help="Mismatched warm-start weights are an error (or a warning).",
            rich_help_panel=TRAINING,
        ),
    ] = True,
    # -- output
    work_dir: Annotated[
        str | None,  # not Path: Path("") is Path("."), and an empty value must be refused
        typer.Option(
            "--work-dir",
            "--output-dir",
            "-o",
            metavar="PATH",
            help="Run folder.",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace the run already in --work-dir.", rich_help_panel=OUTPUT)
    ] = False,
    log_csv: Annotated[
        Path | None, typer.Option(help="Also log epochs to this CSV.", rich_help_panel=OUTPUT)
    ] = None,
    log_every: Annotated[
        int | None, typer.Option(help="Steps between plain log lines.", rich_help_panel=OUTPUT)
    ] = None,
    tensorboard: Annotated[
        bool | None,
        typer.Option(
            "--tensorboard/--no-tensorboard",
            help="TensorBoard logs in WORK_DIR/tensorboard.",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Train MODEL and write config.json, labels.json, metrics.jsonl, last.pt and best.pt.

    Each finished epoch prints one line of its metrics; a `*` at the end marks a new best of
    --monitor, the epoch saved as best.pt. --early-stop N ends the run after N epochs without
    one (`signcli resume WORK_DIR --early-stop 0` trains on)."""
    options = dict(locals())  # by parameter name, for SETTING_OF_OPTION
    with _run.guarded():
        from signcli.core.errors import UsageError
        from signcli.engine.recipes import start_run
        from signcli.settings import augment_off, load_settings

        problems = _flag_conflicts(
            amp=amp,
            precision=precision,
            train_dir=train_dir,
            features_train=features_train,
            val_dir=val_dir,
            features_val=features_val,
        )
        if work_dir is not None and not work_dir.strip():
            problems.append(
                "--work-dir is empty: the run would be written into the current folder; "
                "give a run folder, e.g. --work-dir runs/exp1"
            )
        if problems:
            raise UsageError("\n".join(problems))
        uses_features = features_train is not None or features_val is not None
        flags = {key: options[name] for name, key in SETTING_OF_OPTION.items()}
        flags.update(  # the flags that are not one option's value as given
            {
                "model.name": model,
                "data.dataset": _absolute(data),
                "data.train_dir": train_dir or features_train,
                "data.val_dir": val_dir or features_val,
                "data.key": key or ("X2048" if uses_features else None),
                "data.augment.mix_streams": _mix_streams(mix_stream),
                "training.precision": "amp" if amp else precision,
            }
        )
        if not augment:  # above the config file, below --set: a --set may turn one back on
            flags.update(augment_off())
        settings = load_settings(config, flags, set_ or [])  # start_run makes paths absolute
        progress = _run.progress_hook(quiet)
        _run.setup_logging()
        try:
            start_run(
                settings,
                [progress],
                overwrite=overwrite,
                init_checkpoint=init_checkpoint,
                init_strict=init_strict,
            )
            _run.leave_process_group()
        finally:
            progress.close()


def _flag_conflicts(
    *,
    amp: bool,
    precision: str | None,
    train_dir: Path | None,
    features_train: Path | None,
    val_dir: Path | None,
    features_val: Path | None,
) -> list[str]:
    """Pairs of flags that say different things about one setting, one line each: refused
    rather than one of them silently winning."""
    problems = []
    if amp and precision is not None and precision != "amp":
        problems.append(
            f"--amp and --precision {precision} contradict each other "
            "(--amp is --precision amp); keep one"
        )
    for split, folder, features in (
        ("train", train_dir, features_train),
        ("val", val_dir, features_val),
    ):
        if folder is not None and features is not None:
            problems.append(
                f"--{split}-dir (--keypoints-{split}) and --features-{split} both give the "
                f"{'training' if split == 'train' else 'validation'} folder "
                f"({folder} and {features}); keep one "
                f"(--features-{split} is --{split}-dir with --key X2048)"
            )
    return problems


def _mix_streams(values: list[str] | None) -> dict[str, float] | None:
    """`--mix-stream hand_l:0.3 --mix-stream pose` -> {"hand_l": 0.3, "pose": 0.5}."""
    if not values:
        return None
    from signcli.core.errors import UsageError

    mix = {}
    for value in values:
        stream, _, p = value.partition(":")
        try:
            mix[stream.strip()] = float(p) if p else 0.5
        except ValueError:
            raise UsageError(
                f"--mix-stream {value!r}: P is not a number", hint="use STREAM[:P], e.g. hand_l:0.3"
            ) from None
    return mix


def _absolute(path: Path | None) -> Path | None:
    """DATA made absolute before the settings load: its manifest fills the data paths."""
    return None if path is None else path.expanduser().absolute()
