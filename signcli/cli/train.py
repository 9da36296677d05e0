"""`signcli train MODEL`: the main job. Parses flags into settings and calls the engine.

The flags people type are declared here; the other flags that set one setting each are
generated from the settings model (`GENERATED_FLAGS`, cli/_setting_options.py), and every
setting can be given with --config or --set (`signcli settings` lists them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from signcli.cli import _run
from signcli.cli._options import ConfigOpt, DeviceOpt, QuietOpt, SetOpt
from signcli.cli._setting_options import setting_flags

DATA = "Data"
MULTISTREAM = "Multi-stream data"
TEXT = "Text targets"
OPTIM = "Optimisation"
TRAINING = "Training"
MODEL = "Model"
OUTPUT = "Output"

# The declared options that each set one setting, by parameter name: `train --help` shows
# the settings model's default of each (cli/_defaults.py). None = not given: a config file
# may set it.
TYPED_FLAGS = {
    "train_dir": "data.train_dir",
    "val_dir": "data.val_dir",
    "train_labels": "data.train_labels",
    "val_labels": "data.val_labels",
    "task": "model.task",
    "lr": "optim.lr",
    "epochs": "training.epochs",
    "batch_size": "training.batch_size",
    "seed": "training.seed",
    "device": "training.device",
    "work_dir": "training.work_dir",
}
# The other flags, by help panel: one per settings key, named after its last part
# (`data.num_workers` -> --num-workers), with the field's type, docstring and default.
GENERATED_FLAGS = {
    DATA: ("data.val_fraction", "data.group_by", "data.key", "data.num_workers",
           "data.pin_memory", "data.prefetch_factor", "data.cache", "data.layout"),
    MULTISTREAM: ("data.face_dir", "data.hand_left_dir", "data.hand_right_dir", "data.pose_dir",
                  "data.train_index", "data.val_index", "data.labels", "data.meta",
                  "data.normalize"),
    TEXT: ("data.train_text", "data.val_text", "text.tokenizer_file"),
    MODEL: ("model.num_gloss", "model.num_cat", "model.d_model", "model.num_layers",
            "model.dropout", "model.fusion", "model.decoder_class", "model.decoder_kwargs"),
    OPTIM: ("optim.weight_decay", "optim.optimizer", "optim.scheduler", "optim.warmup_steps",
            "optim.grad_clip", "optim.accumulate", "optim.label_smoothing"),
    TRAINING: ("training.length_buckets", "training.compile", "training.precision",
               "training.early_stop", "training.monitor", "training.deterministic",
               "training.save_every_steps"),
    OUTPUT: ("training.log_csv", "training.log_every", "training.tensorboard"),
}  # fmt: skip
# The training guide's names of generated flags.
FLAG_ALIASES = {"training.early_stop": ("--patience",), "text.tokenizer_file": ("--tokenizer",)}
# Every option that sets one setting, {parameter name: dotted key}.
SETTING_OF_OPTION = {
    **TYPED_FLAGS,
    **{key.rsplit(".", 1)[-1]: key for keys in GENERATED_FLAGS.values() for key in keys},
}

ModelArg = Annotated[
    str, typer.Argument(help="transformer (keypoints), gru (features), multistream.")
]
DataArg = Annotated[
    Path | None,
    typer.Argument(
        metavar="[DATA]",
        help="Dataset root: a folder written by `signcli import` (its signcli-dataset.json "
        "gives paths, layout and mirror pairs), or one holding train/, train_labels.csv, val/, "
        "val_labels.csv. Flags override what it gives.",
        show_default=False,
    ),
]
TrainDirOpt = Annotated[
    Path | None,
    typer.Option("--train-dir", "--keypoints-train", help="Folder of training .npz.",
                 rich_help_panel=DATA),
]  # fmt: skip
ValDirOpt = Annotated[
    Path | None,
    typer.Option("--val-dir", "--keypoints-val", help="Folder of validation .npz.",
                 rich_help_panel=DATA),
]  # fmt: skip
FeaturesTrainOpt = Annotated[
    Path | None,
    typer.Option(help="Folder of training feature .npz (--train-dir with --key X2048).",
                 rich_help_panel=DATA),
]  # fmt: skip
FeaturesValOpt = Annotated[
    Path | None,
    typer.Option(help="Folder of validation feature .npz (--val-dir with --key X2048).",
                 rich_help_panel=DATA),
]  # fmt: skip
TrainLabelsOpt = Annotated[
    Path | None,
    typer.Option("--train-labels", "--labels-train-csv", help="Training labels CSV.",
                 rich_help_panel=DATA),
]  # fmt: skip
ValLabelsOpt = Annotated[
    Path | None,
    typer.Option("--val-labels", "--labels-val-csv", help="Validation labels CSV.",
                 rich_help_panel=DATA),
]  # fmt: skip
AugmentOpt = Annotated[
    bool,
    typer.Option(
        "--augment/--no-augment",
        help="Augment the training split (data.augment: speed and frame drop, and for "
        "body-part streams affine and landmark dropout); --no-augment sets every "
        "transform's probability to 0.",
        rich_help_panel=DATA,
    ),
]
MixStreamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--mix-stream",
        metavar="STREAM[:P]",
        help="With probability P (default 0.5), take STREAM from another training sample "
        "of the same gloss; repeatable. Other augmentations: --set data.augment.KEY=VALUE.",
        rich_help_panel=MULTISTREAM,
    ),
]
TaskOpt = Annotated[
    str | None,
    typer.Option(
        help="What the run learns: classify (one gloss per clip), ctc (a gloss sequence "
        "per clip) or translate (a sentence), from --train-text/--meta texts.",
        rich_help_panel=MODEL,
    ),
]
LrOpt = Annotated[float | None, typer.Option(help="Peak learning rate.", rich_help_panel=OPTIM)]
EpochsOpt = Annotated[
    int | None,
    typer.Option(
        help="Epochs to train (auto: enough for 3,000 optimizer steps, 30 to 200).",
        rich_help_panel=TRAINING,
    ),
]
BatchSizeOpt = Annotated[
    int | None,
    typer.Option(
        help="Samples per batch (auto: 32; down to 8 for sets of fewer than ~470 clips, so "
        "that they get 3,000 optimizer steps in 200 epochs).",
        rich_help_panel=TRAINING,
    ),
]
SeedOpt = Annotated[int | None, typer.Option(help="Seed of every RNG.", rich_help_panel=TRAINING)]
AmpOpt = Annotated[
    bool, typer.Option("--amp", help="Same as --precision amp.", rich_help_panel=TRAINING)
]
InitCheckpointOpt = Annotated[
    Path | None,
    typer.Option(help="Warm start: load model weights only from a checkpoint.",
                 rich_help_panel=TRAINING),
]  # fmt: skip
InitStrictOpt = Annotated[
    bool,
    typer.Option("--init-strict/--no-init-strict",
                 help="Mismatched warm-start weights are an error (or a warning).",
                 rich_help_panel=TRAINING),
]  # fmt: skip
WorkDirOpt = Annotated[
    str | None,  # not Path: Path("") is Path("."), and an empty value must be refused
    typer.Option("--work-dir", "--output-dir", "-o", metavar="PATH", help="Run folder.",
                 rich_help_panel=OUTPUT),
]  # fmt: skip
OverwriteOpt = Annotated[
    bool, typer.Option(help="Replace the run already in --work-dir.", rich_help_panel=OUTPUT)
]


def train(
    ctx: typer.Context,
    model: ModelArg,
    data: DataArg = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    train_dir: TrainDirOpt = None,
    val_dir: ValDirOpt = None,
    features_train: FeaturesTrainOpt = None,
    features_val: FeaturesValOpt = None,
    train_labels: TrainLabelsOpt = None,
    val_labels: ValLabelsOpt = None,
    augment: AugmentOpt = True,
    mix_stream: MixStreamOpt = None,
    task: TaskOpt = None,
    lr: LrOpt = None,
    epochs: EpochsOpt = None,
    batch_size: BatchSizeOpt = None,
    seed: SeedOpt = None,
    device: DeviceOpt = None,
    amp: AmpOpt = False,
    init_checkpoint: InitCheckpointOpt = None,
    init_strict: InitStrictOpt = True,
    work_dir: WorkDirOpt = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Train MODEL and write config.json, labels.json, metrics.jsonl, last.pt and best.pt.

    Each finished epoch prints one line of its metrics; a `*` at the end marks a new best of
    --monitor, the epoch saved as best.pt. --early-stop N ends the run after N epochs without
    one (`signcli resume WORK_DIR --early-stop 0` trains on).

    The flags below set the common settings; every setting (`signcli settings` lists each
    key with its type, default and description) can be given in a --config file or with
    --set SECTION.KEY=VALUE. Later wins: defaults < --config < flags < --set."""
    with _run.guarded():
        from signcli.core.errors import UsageError
        from signcli.engine.recipes import start_run
        from signcli.settings import augment_off, load_settings

        flags = setting_flags(ctx)  # the generated flags, by settings key
        problems = _flag_conflicts(
            amp=amp,
            precision=flags["training.precision"],
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
        flags.update(
            {
                "model.name": model,
                "model.task": task,
                "data.dataset": _absolute(data),
                "data.train_dir": train_dir or features_train,
                "data.val_dir": val_dir or features_val,
                "data.train_labels": train_labels,
                "data.val_labels": val_labels,
                "data.key": flags["data.key"] or ("X2048" if uses_features else None),
                "data.augment.mix_streams": _mix_streams(mix_stream),
                "optim.lr": lr,
                "training.epochs": epochs,
                "training.batch_size": batch_size,
                "training.seed": seed,
                "training.device": device,
                "training.work_dir": work_dir,
                "training.precision": "amp" if amp else flags["training.precision"],
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
