"""`eval`: run a checkpoint's model over a split and report how it does.

    result = evaluate(Path("run/best.pt"), Path("data/val"), Path("data/val_labels.csv"))
    result = evaluate(Path("ms/best.pt"), index=Path("data_ms/test_index.csv"))  # multi-stream
    result.summary["gloss_top1"], result.out_dir

The model is rebuilt from the checkpoint alone. The split is read in the layout the model
was trained on, as training reads its validation split (sequences longer than
model.max_len resampled to it): a folder of `.npz`, or for the multi-stream layout the ids
of an index CSV, from the stream folders under `data_dir` (`face/`, `hand_l/`, ...) or by
default those the run trained on, with labels by default from the run's labels CSV. It is
checked against the model (streams, input width, label range) before any prediction.
Prediction runs in inference mode and float32, in batches of similar length (less padding
to compute; results come back in the split's order); `loss` is the training loss (label
smoothing included), so eval on the validation split repeats the val_loss of
metrics.jsonl. What is scored and written is the run's task's (tasks/base.py
`Task.write_eval`; classify: top-1/top-5, macro-F1, per-class, confusion, predictions
with top-5, in numpy: metrics.py). When the labels CSV has a group column (`group_by`,
else the run's `data.group_by`, else `signer`), the task reports per group too (per
signer: does the model generalise to people it never saw?).
Files: report.py, written to `out_dir`, by default
`<checkpoint folder>/eval-<checkpoint stem>-<data folder name, or index name>` (e.g.
`run/eval-best-val`, `run/eval-best-test_index`), so evaluations of best.pt and last.pt on
val and test sit side by side.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from signcli.core.atomic import check_folder, ensure_folder
from signcli.core.errors import DataError, UsageError
from signcli.core.task_specs import has_text_targets
from signcli.core.write_targets import check_write_target
from signcli.data.dataset import Batch, SampleDataset, collate_streams
from signcli.data.labels import read_labels
from signcli.data.multistream import STREAM_SETTINGS, load_multistream_split, stream_dirs
from signcli.data.npz_split import _raise_label_problems, load_npz_split
from signcli.data.sample import Sample, SampleSplit, attach_texts
from signcli.engine.device import make_precision, resolve_device
from signcli.engine.inference import predict
from signcli.engine.restore import load_model_from_checkpoint
from signcli.engine.threads import ThreadGovernor, step_work
from signcli.metrics import report
from signcli.metrics.html_report import write_html_report
from signcli.settings import Settings
from signcli.tasks import build_task
from signcli.tasks.base import EvalContext
from signcli.tasks.language_model import LMOptions, build_language_model
from signcli.tasks.text_task import HYPOTHESES_FILE, REFERENCES_FILE

DEFAULT_BATCH_SIZE = 64  # CPU: as fast as 16, faster than 256 (benchmarks/bench_eval.py)
DEFAULT_GROUP_COLUMN = "signer"  # grouped by when the labels have it and nothing else is said


@dataclass
class EvalResult:
    """eval.json's content, where the files went, and where the time went."""

    summary: dict[str, Any]
    out_dir: Path
    timings_s: dict[str, float] = field(default_factory=dict)  # restore, read, collate, ...
    warnings: list[str] = field(default_factory=list)


# every file eval may write into its --out folder (the report's and the text tasks')
EVAL_OUTPUT_FILES = (*report.EVAL_FILES, HYPOTHESES_FILE, REFERENCES_FILE)


def default_out_dir(checkpoint: Path, data_name: str | Path, options: str = "") -> Path:
    """`<checkpoint folder>/eval-<checkpoint stem>-<data name><options>`; a path gives its
    name; `options` names the decoding options given (`decoding_suffix`)."""
    name = Path(data_name).resolve().name if isinstance(data_name, Path) else data_name
    return Path(checkpoint).parent / f"eval-{Path(checkpoint).stem}-{name}{options}"


def decoding_suffix(
    beam_size: int | None, length_penalty: float | None, lm: LMOptions | None
) -> str:
    """The decoding options given on the command line, for the default folder name: a plain
    eval and an `--lm-order 3` eval of one checkpoint write side by side
    (`eval-best-val`, `eval-best-val-lm3`), never into each other."""
    parts = []
    if beam_size is not None:
        parts.append(f"beam{beam_size}")
    if length_penalty is not None:
        parts.append(f"lp{length_penalty:g}")
    if lm is not None and lm.wanted:
        parts.append(f"lm{lm.order}")
        if lm.weight is not None:
            parts.append(f"w{lm.weight:g}")
        if lm.bonus is not None:
            parts.append(f"b{lm.bonus:g}")
        if lm.texts is not None:
            parts.append(Path(lm.texts).stem)
    return "".join(f"-{part}" for part in parts)


def refuse_earlier_eval(out_dir: Path, overwrite: bool) -> None:
    """An evaluation is never replaced silently: UsageError when `out_dir` holds one
    (its eval.json) unless `overwrite`."""
    if not overwrite and (Path(out_dir) / report.SUMMARY_FILE).exists():
        raise UsageError(
            f"{out_dir} holds an earlier evaluation ({report.SUMMARY_FILE})",
            hint="pass --overwrite to replace it, or --out DIR for another folder",
        )


@dataclass
class _EvalData:
    split: SampleSplit
    labelled: bool
    source: dict[str, Any]  # where the samples came from, for eval.json
    name: str  # the data's name in the default output folder


def evaluate(
    checkpoint: Path,
    data_dir: Path | None = None,
    labels_csv: Path | None = None,
    *,
    index: Path | None = None,
    key: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    out_dir: Path | None = None,
    no_labels: bool = False,
    device: str = "auto",
    group_by: str | None = None,
    text_csv: Path | None = None,
    beam_size: int | None = None,
    length_penalty: float | None = None,
    trust_decoder_class: bool = False,
    lm_order: int = 0,
    lm_weight: float | None = None,
    lm_bonus: float | None = None,
    lm_texts: Path | None = None,
    overwrite: bool = False,
) -> EvalResult:
    """Evaluate `checkpoint` on the `.npz` files of `data_dir`, or (multi-stream models)
    on the ids of `index`, and write the report files.

    Without labels (`no_labels`) only predictions are written. `group_by` names a column of
    the labels CSV to report per group of (default: see `_group_column`).
    `trust_decoder_class` allows a stored decoder class that is not signcli's own
    (signcli/engine/trust.py). A folder that holds an evaluation is refused (UsageError) unless
    `overwrite`; the default folder's name carries the decoding options given.
    ctc models: `lm_order` > 0 adds an n-gram language model of `lm_texts` (default: the
    run's training texts) to the beam search, weighted by `lm_weight` (default 1.0) with
    `lm_bonus` per token (default 1.0); see tasks/language_model.py.
    UsageError/DataError/CheckpointError (exit 2) for anything that keeps the evaluation
    from running.
    """
    checkpoint = Path(checkpoint)
    if labels_csv is not None and no_labels:
        raise UsageError("--labels and --no-labels exclude each other", hint="drop one of them")
    if group_by is not None and no_labels:
        raise UsageError(
            "--group-by needs labels: per-group accuracy compares with the true glosses",
            hint="drop --no-labels or --group-by",
        )
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1 (got {batch_size})")
    if out_dir is not None:  # before the model runs, not after
        check_folder(Path(out_dir), "--out")
        refuse_earlier_eval(Path(out_dir), overwrite)
    lm_options = LMOptions(lm_order, lm_weight, lm_bonus, lm_texts)
    timer = _Timer()
    with timer("restore"):
        restored = restore_for_inference(
            checkpoint,
            trust_decoder_class=trust_decoder_class,
            beam_size=beam_size,
            length_penalty=length_penalty,
            lm_options=lm_options,
        )
    model, settings, labels = restored.model, restored.settings, restored.labels
    input_dims, task, lm_record = restored.input_dims, restored.task, restored.lm_record
    text_task = has_text_targets(settings.model.task)
    if text_task and labels_csv is not None:
        raise UsageError(
            f"--labels is for classification; {checkpoint} is a {task.name} model",
            hint="give its texts with --text CSV (file,text; multi-stream: meta.csv id;texto)",
        )
    if text_csv is not None and not text_task:
        raise UsageError(
            f"--text is for the text tasks; {checkpoint} is a {task.name} model",
            hint="give its labels with --labels CSV",
        )
    with timer("read"):
        data_dir, labels_csv, index = _dataset_split(
            settings, data_dir, labels_csv, index, multi=bool(stream_dirs(settings.data))
        )
        if text_task:  # its targets are texts; a labels CSV of the run is not read
            labels_csv = None
        if stream_dirs(settings.data):
            if key is not None:
                raise UsageError("--key applies to .npz folders, not the multi-stream layout")
            data = _read_streams(
                settings, checkpoint, data_dir, labels_csv, index, no_labels or text_task
            )
        else:
            if index is not None:
                raise UsageError(
                    f"--index is for multi-stream models; {checkpoint} reads .npz folders",
                    hint="pass --data-dir DIR with the .npz files to evaluate",
                )
            key = key or settings.data.key
            data = _read_npz(settings, data_dir, labels_csv, key, no_labels or text_task)
        if text_task and not no_labels:
            data = _with_texts(data, settings, text_csv, checkpoint)
    split, labelled = data.split, data.labelled
    _check_inputs(split, input_dims, key, checkpoint, data.source)
    if labelled:
        task.check_eval_targets(split, labels, checkpoint)
    warnings = list(split.warnings)
    group_column = _group_column(split, settings, group_by, warnings) if labelled else None
    if out_dir is None:
        options = decoding_suffix(beam_size, length_penalty, lm_options)
        out_dir = default_out_dir(checkpoint, data.name, options)
        refuse_earlier_eval(out_dir, overwrite)
    out_dir = Path(out_dir)
    _check_out_files(out_dir, [checkpoint, labels_csv, text_csv, index, lm_texts])

    torch_device = resolve_device(device)
    model.to(torch_device)
    order = _longest_first(split.dataset)
    threads = inference_threads(model, split.dataset, batch_size)
    threads.apply()
    try:
        with timer("predict"):
            predictions = predict(
                model,
                _batches(split.dataset, order, batch_size, timer, task.collate),
                torch_device,
                make_precision("float32", torch_device),
                task.loss_module(settings.optim) if labelled else None,
                task=task,
            )
    finally:
        threads.restore()
    timer.timings_s["predict"] -= timer.timings_s.get("collate", 0.0)  # the model's time only
    back = np.argsort(order)  # loader order -> split order

    summary = {
        "checkpoint": str(checkpoint.absolute()),
        **data.source,
        "model": settings.model.name,
        "task": task.name,
        "num_samples": len(split.ids),
    }
    if "length_penalty" in task.spec.eval_options:  # the decoding, beside the beam size
        summary["length_penalty"] = settings.text.length_penalty
    context = EvalContext(
        checkpoint,
        settings,
        labels,
        split,
        labelled,
        {name: _in_order(value, back) for name, value in predictions.outputs.items()},
        predictions.loss,
        group_column,
        out_dir,
        timer,
    )
    with timer("write"):
        ensure_folder(out_dir, "eval output folder")
    summary.update(task.write_eval(context))
    if lm_record is not None:
        summary["lm"] = lm_record
    with timer("write"):
        context.files.append(
            write_html_report(out_dir, summary, checkpoint, settings.training.monitor)
        )
        _finish_files(out_dir, summary, context.files)
    return EvalResult(summary, out_dir, timer.timings_s, warnings)


@dataclass
class RestoredForInference:
    """A checkpoint's model and its task, ready to predict as eval does."""

    model: Any
    settings: Settings
    labels: dict[str, Any]
    input_dims: dict[str, int]
    task: Any
    lm_record: dict[str, Any] | None  # eval.json's `lm`, when a language model is used


def _set_decoding(settings: Settings, flag: str, key: str, value: float | None) -> None:
    """`settings.text.<key>` = `value` (None: the run's), checked as the setting is:
    UsageError naming the flag (`--beam-size 100000: Input should be less than or equal to
    256`), where pydantic's ValidationError escaped as an unexpected error."""
    from pydantic import ValidationError

    if value is None:
        return
    try:
        setattr(settings.text, key, value)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"] if exc.errors() else "not a valid value"
        raise UsageError(f"{flag} {value}: {reason} (text.{key})") from None


def restore_for_inference(
    checkpoint: Path,
    *,
    trust_decoder_class: bool = False,
    beam_size: int | None = None,
    length_penalty: float | None = None,
    lm_options: LMOptions | None = None,
) -> RestoredForInference:
    """The model of `checkpoint` and its task set up for decoding: the text tasks' beam
    (`beam_size`, `length_penalty` override the run's text settings) and a ctc model's
    language model. Shared by `eval` and `predict`, so both decode the same way;
    UsageError naming the flag for options the model's task does not take."""
    model, settings, labels, input_dims = load_model_from_checkpoint(
        checkpoint, trust_decoder_class=trust_decoder_class
    )
    task = build_task(settings.model.task)
    _set_decoding(settings, "--beam-size", "beam_size", beam_size)
    _set_decoding(settings, "--length-penalty", "length_penalty", length_penalty)
    task.prepare_eval(settings, labels, str(checkpoint))
    lm_options = lm_options or LMOptions()
    if beam_size is not None and "beam_size" not in task.spec.eval_options:
        raise UsageError(f"--beam-size is for the text tasks; {checkpoint} is a {task.name} model")
    if length_penalty is not None and "length_penalty" not in task.spec.eval_options:
        raise UsageError(
            f"--length-penalty is for translate's beam search; {checkpoint} is a {task.name} model"
        )
    lm_options.check(task.spec, checkpoint)
    lm_record = None
    if lm_options.wanted:
        lm, lm_record = build_language_model(lm_options, settings, checkpoint, task.tokenizer)
        task.use_language_model(
            lm, lm_record["weight"], lm_record["bonus"], keep_beam=beam_size is not None
        )
    return RestoredForInference(model, settings, labels, input_dims, task, lm_record)


def inference_threads(model: Any, dataset: SampleDataset, batch_size: int) -> ThreadGovernor:
    """The math threads of a prediction pass (engine/threads.py): a forward pass is a
    third of a training step's work."""
    lengths = dataset.lengths(read=False)
    frames = float(lengths.mean()) if lengths is not None and len(lengths) else 64.0
    parameters = sum(p.numel() for p in model.parameters())
    work = step_work(parameters, min(batch_size, len(dataset)) * frames) / 3
    return ThreadGovernor.for_work("auto", work)


def _in_order(value: Any, back: np.ndarray) -> Any:
    """Gathered outputs in loader order -> the split's order (numpy for tensors)."""
    if hasattr(value, "numpy"):
        return value.numpy()[back]
    return [value[int(i)] for i in back]


# ---------------------------------------------------------------------------------------
# Checks


def _dataset_split(
    settings: Settings,
    data_dir: Path | None,
    labels_csv: Path | None,
    index: Path | None,
    *,
    multi: bool,
) -> tuple[Path | None, Path | None, Path | None]:
    """(data_dir, labels, index) to evaluate: `data_dir` as given, or, when it is a dataset
    root (a `signcli import` output, or train/ + val/ beside their labels CSVs), its
    validation split; without `data_dir`, the validation split the run was trained with."""
    from signcli.core.manifest import MANIFEST_NAME, dataset_settings

    if data_dir is None:
        if multi:
            return None, labels_csv, index or settings.data.val_index
        if settings.data.val_dir is None:
            return None, labels_csv, index
        return settings.data.val_dir, labels_csv or settings.data.val_labels, index
    root = Path(data_dir)
    is_root = (root / MANIFEST_NAME).is_file() or (
        not multi and (root / "train").is_dir() and not any(root.glob("*.npz"))
    )
    if not is_root:
        return data_dir, labels_csv, index
    given = dataset_settings(root)
    if multi:
        if "data.val_index" not in given and index is None:
            raise UsageError(f"dataset {root} has no validation ids", hint="pass --index CSV")
        return root, labels_csv or given.get("data.labels"), index or given.get("data.val_index")
    if "data.val_dir" not in given:
        raise UsageError(
            f"dataset {root} has no validation split",
            hint=f"pass --data-dir {root / 'train'} (and its labels) to score training data",
        )
    return given["data.val_dir"], labels_csv or given.get("data.val_labels"), index


def _read_npz(
    settings: Settings, data_dir: Path | None, labels_csv: Path | None, key: str, no_labels: bool
) -> _EvalData:
    """The `.npz` folder of a single-stream model."""
    if data_dir is None:
        raise UsageError(
            "no data to evaluate: the run has no validation folder",
            hint="pass --data-dir DIR (a folder of .npz, or a dataset root)",
        )
    data_dir = Path(data_dir)
    if labels_csv is None and not no_labels:
        sibling = data_dir.parent / f"{data_dir.name}_labels.csv"
        hint = f"pass --labels {sibling}" if sibling.is_file() else "pass --labels CSV"
        raise UsageError(
            f"no labels for {data_dir}: metrics need a labels CSV",
            hint=f"{hint}, or --no-labels to write predictions only",
        )
    split = load_npz_split(
        "data",
        data_dir,
        labels_csv,
        key=key,
        max_len=settings.model.max_len,
        require_labels=False,
    )
    source = {"data_dir": str(data_dir.absolute())}
    if labels_csv is not None:
        source["labels"] = str(Path(labels_csv).absolute())
    source["key"] = key
    return _EvalData(split, labels_csv is not None, source, data_dir.resolve().name)


def _read_streams(
    settings: Settings,
    checkpoint: Path,
    data_dir: Path | None,
    labels_csv: Path | None,
    index: Path | None,
    no_labels: bool,
) -> _EvalData:
    """The ids of `index` in the multi-stream layout the model was trained on: stream
    folders `data_dir/<stream>` or the run's own, labels from `labels_csv` or the run's."""
    trained = stream_dirs(settings.data)
    if index is None:
        stored = settings.data.val_index
        hint = f", e.g. the run's validation ids: --index {stored}" if stored else ""
        raise UsageError(
            f"{checkpoint} is a multi-stream model: name the ids to evaluate",
            hint=f"pass --index CSV (column video_id or id){hint}",
        )
    if data_dir is not None:
        dirs = {stream: Path(data_dir) / stream for stream in trained}
        where = f"under --data-dir {data_dir}"
    else:
        dirs = trained
        where = f"where {checkpoint} was trained (pass --data-dir ROOT for others)"
    for stream, folder in dirs.items():
        if not folder.is_dir():
            raise UsageError(
                f"no {stream} folder {folder} ({where})",
                hint=f"the model reads the streams {', '.join(trained)}: one folder each, "
                f"named as the stream ({STREAM_SETTINGS[stream][1]} in training)",
            )
    if labels_csv is None and not no_labels:
        labels_csv = settings.data.labels
        if labels_csv is None or not Path(labels_csv).is_file():
            raise UsageError(
                "no labels: metrics need a labels CSV (id,gloss[,cat])",
                hint="pass --labels CSV, or --no-labels to write predictions only",
            )
    table = None
    if labels_csv is not None and not no_labels:
        table = read_labels(labels_csv)
        _raise_label_problems(table)
    split = load_multistream_split("data", dirs, Path(index), table, max_len=settings.model.max_len)
    source: dict[str, Any] = {
        "index": str(Path(index).absolute()),
        "stream_dirs": {stream: str(folder.absolute()) for stream, folder in dirs.items()},
    }
    if table is not None:
        source["labels"] = str(Path(labels_csv).absolute())
    return _EvalData(split, table is not None, source, Path(index).stem)


def _with_texts(
    data: _EvalData, settings: Settings, text_csv: Path | None, checkpoint: Path
) -> _EvalData:
    """The texts of a text task's split: `--text`, else for multi-stream the run's meta.csv,
    for the run's validation folder the run's `data.val_text`, for another folder its
    sibling `<folder>_text.csv` (a dataset root's `val_text.csv`)."""
    from signcli.text.files import load_texts, sibling_text_file

    split = data.split
    path = text_csv
    if path is None:
        if stream_dirs(settings.data):
            path = settings.data.meta
        else:
            folder = Path(data.source["data_dir"])
            sibling = sibling_text_file(folder)
            if settings.data.val_dir is not None and folder == Path(settings.data.val_dir):
                path = settings.data.val_text
            if path is None and sibling.is_file():
                path = sibling
    if path is None:
        raise UsageError(
            f"no texts for the samples {checkpoint} is evaluated on: metrics need them",
            hint="pass --text CSV (file,text; multi-stream: meta.csv id;texto), or "
            "--no-labels to write hypotheses only",
        )
    attach_texts(split, load_texts(Path(path), split.ids, "--text"), Path(path))
    data.source["text"] = str(Path(path).absolute())
    return _EvalData(split, True, data.source, data.name)


def _check_inputs(
    split: SampleSplit,
    input_dims: dict[str, int],
    key: str | None,
    checkpoint: Path,
    source: dict[str, Any],
) -> None:
    if set(split.input_dims) != set(input_dims):
        raise DataError(
            f"{checkpoint} takes the streams {sorted(input_dims)}, the data provides "
            f"{sorted(split.input_dims)}",
            hint="evaluate on data of the layout the model was trained on",
        )
    for name, width in split.input_dims.items():
        if width != input_dims[name]:
            what = f"key {key}" if key is not None else f"stream {name}"
            where = source.get("data_dir") or source["stream_dirs"][name]
            raise DataError(
                f"the samples in {where} have width D = {width} ({what}), "
                f"but {checkpoint} was trained on D = {input_dims[name]}",
                hint="evaluate on data with the landmarks (or features) the model was trained "
                "on; check --key",
            )


def _group_column(
    split: SampleSplit, settings: Settings, requested: str | None, warnings: list[str]
) -> str | None:
    """The labels column to report per group of: `requested` (--group-by), which must
    exist; else the run's `data.group_by` when these labels have it; else `signer` when
    they have it; else none. Columns are matched as read_labels stores them, lowercased."""
    available = split.label_columns
    if requested is not None:
        column = requested.strip().lower()
        if column not in available:
            raise DataError(
                f"{split.labels_path}: no column {requested!r} to group by; its columns are "
                f"{', '.join(available) or 'only the sample id'}",
                hint="pass --group-by with one of them, or add the column to the labels CSV",
            )
        return column
    # data.group_by: the run's own group column, when its settings have one
    run_column = getattr(settings.data, "group_by", None)
    if run_column:
        column = str(run_column).strip().lower()
        if column in available:
            return column
        warnings.append(
            f"the run groups by {run_column!r} (data.group_by) but {split.labels_path} has no "
            "such column: no per-group report by it"
        )
    return DEFAULT_GROUP_COLUMN if DEFAULT_GROUP_COLUMN in available else None


# ---------------------------------------------------------------------------------------
# Batches


def _longest_first(dataset: SampleDataset) -> np.ndarray:
    """Sample order by decreasing length: batches of similar length pad little."""
    lengths = np.array([dataset[i].length for i in range(len(dataset))])
    return np.argsort(-lengths, kind="stable")


def _batches(
    dataset: SampleDataset,
    order: np.ndarray,
    batch_size: int,
    timer: _Timer,
    collate: Callable[[list[Sample]], Batch] = collate_streams,
) -> Iterator[Batch]:
    for start in range(0, len(order), batch_size):
        with timer("collate"):
            batch = collate([dataset[int(i)] for i in order[start : start + batch_size]])
        yield batch


# ---------------------------------------------------------------------------------------
# Outputs


def _check_out_files(out_dir: Path, inputs: list[Path | None]) -> None:
    """UsageError unless every file eval may write into `out_dir` is neither one of its
    `inputs` (checkpoint, labels, texts, index, LM texts) nor a run's own file."""
    for name in EVAL_OUTPUT_FILES:
        check_write_target(out_dir / name, "--out", inputs=inputs)


def _finish_files(out_dir: Path, summary: dict[str, Any], files: list[str]) -> None:
    """eval.json last (its `files` lists what the task wrote); remove eval files an earlier
    eval left that this one does not write (a --no-labels run over a labelled one), so the
    folder never mixes two. Only in a folder where an eval.json shows an earlier eval: a
    folder of the user's own (--out .) keeps its per_class.csv."""
    files = [*files, report.SUMMARY_FILE]
    earlier_eval = (out_dir / report.SUMMARY_FILE).is_file()
    summary["out_dir"] = str(out_dir.absolute())
    summary["files"] = sorted(files)
    report.write_summary(out_dir / report.SUMMARY_FILE, summary)
    for name in report.EVAL_FILES if earlier_eval else ():
        if name not in files:
            (out_dir / name).unlink(missing_ok=True)


class _Timer:
    """Wall seconds per named phase, summed over repeated entries."""

    def __init__(self) -> None:
        self.timings_s: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.timings_s[name] = self.timings_s.get(name, 0.0) + elapsed
