"""Tasks by name, torch-free: what each task is and which metrics it produces.

A task is the kind of target a run learns (docs/architecture.md, "Tasks"): `classify`
(one gloss per clip), `ctc` (a gloss sequence per clip, no alignment) and `translate`
(spoken-language text). Its declaration here is what settings validation and
`metrics-check` read without importing torch: the metrics it writes to metrics.jsonl,
each with the direction in which it improves, so that `--monitor` and rules name only
metrics the run will have, and best.pt and early stopping follow the right direction.
The implementation (signcli/tasks/base.py `Task`) is imported only by `signcli.tasks.build_task`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from signcli.core.errors import did_you_mean

Mode = Literal["min", "max"]
DEFAULT_TASK = "classify"  # a stored config.json or checkpoint without model.task


@dataclass(frozen=True)
class MetricSpec:
    """A metric of metrics.jsonl that `training.monitor` may name."""

    name: str
    mode: Mode  # "min": lower is better (losses, error rates); "max": higher is better
    doc: str = ""


# every task's run logs these (the loop computes them); val_loss only with a validation split
LOOP_METRICS = (
    MetricSpec("train_loss", "min", "mean training loss of the epoch"),
    MetricSpec("val_loss", "min", "mean validation loss, the training loss's formula"),
)
# logged by the loop too, but not monitorable: counters and timings
LOOP_KEYS = ("epoch", "step", "lr", "epoch_s", "samples_per_s", "train_pad_share")


@dataclass(frozen=True)
class TaskSpec:
    """A task's declaration: its name, what it learns, the metrics it adds to the loop's,
    the metric `training.monitor` defaults to, and where its `Task` class lives
    (`module:Class`; None while the task is declared but not implemented)."""

    name: str
    summary: str
    metrics: tuple[MetricSpec, ...]
    default_monitor: str
    implementation: str | None
    text_targets: bool = False  # targets are texts (tokenised), not class ids
    # the `eval` options a model of this task takes: beam_size, length_penalty, lm (--lm-*)
    eval_options: tuple[str, ...] = ()
    # the export's greedy check: "ctc" (per-frame log-probabilities) or "decoder_step" (the
    # encoder graph plus a decoder-step graph, written beside it); None: none
    onnx_greedy: Literal["ctc", "decoder_step"] | None = None
    # options of the models (core/model_catalog.py) that the task reads too, whichever
    # model encodes: translate's decoder takes the encoder's heads and ff_dim by default
    model_options: tuple[str, ...] = ()

    @property
    def all_metrics(self) -> tuple[MetricSpec, ...]:
        """The monitorable metrics of a run of this task: the loop's, then the task's."""
        return (*LOOP_METRICS, *self.metrics)

    @property
    def metric_names(self) -> list[str]:
        return [metric.name for metric in self.all_metrics]

    @property
    def logged_keys(self) -> list[str]:
        """Every key a run of this task may write to metrics.jsonl (hooks may add more)."""
        return [*LOOP_KEYS, *self.metric_names]

    @property
    def log_columns(self) -> tuple[str, ...]:
        """The columns of --log-csv: the epoch, the losses, the validation metrics this
        task produces, and the learning rate."""
        validation = [n for n in self.metric_names if n.startswith("val_") and n != "val_loss"]
        return ("epoch", "train_loss", "val_loss", *validation, "lr")

    def mode(self, metric: str) -> Mode:
        """The direction in which `metric` improves; KeyError for a metric of no task."""
        for spec in self.all_metrics:
            if spec.name == metric:
                return spec.mode
        raise KeyError(metric)

    @property
    def available(self) -> bool:
        return self.implementation is not None


_WER = MetricSpec("val_wer", "min", "word (gloss) error rate of the decoded validation clips")
TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            "classify",
            "one gloss (and optionally a category) per clip",
            (
                MetricSpec("train_gloss_top1", "max", "gloss accuracy on the batches as trained"),
                MetricSpec("val_gloss_top1", "max", "validation gloss accuracy"),
                MetricSpec("val_gloss_top5", "max", "validation gloss top-5 accuracy"),
                MetricSpec("val_cat_top1", "max", "validation category accuracy (with a cat head)"),
            ),
            "val_gloss_top1",
            "signcli.tasks.classify:ClassifyTask",
        ),
        TaskSpec(
            "ctc",
            "a gloss sequence per clip, without alignment (CTC head on the encoder)",
            (_WER,),
            "val_wer",
            "signcli.tasks.ctc:CTCTask",
            text_targets=True,
            eval_options=("beam_size", "lm"),
            onnx_greedy="ctc",
        ),
        TaskSpec(
            "translate",
            "a spoken-language sentence per clip (text decoder on the encoder)",
            (
                _WER,
                MetricSpec("val_bleu", "max", "corpus BLEU-4 of the decoded sentences"),
                MetricSpec("val_chrf", "max", "corpus chrF of the decoded sentences"),
            ),
            "val_bleu",
            "signcli.tasks.translate:TranslateTask",
            text_targets=True,
            eval_options=("beam_size", "length_penalty"),
            onnx_greedy="decoder_step",
            model_options=("num_heads", "ff_dim"),
        ),
    )
}


def has_text_targets(name: str) -> bool:
    """Whether task `name` learns texts (read from text files, tokenised) rather than class
    ids; False for an unknown task (the settings refuse it)."""
    spec = TASKS.get(name)
    return spec is not None and spec.text_targets


def task_spec(name: str) -> TaskSpec:
    """The declaration of task `name`; ValueError naming the known tasks otherwise."""
    spec = TASKS.get(name)
    if spec is None:
        hint = did_you_mean(name, TASKS)
        raise ValueError(f"unknown task {name!r}{hint}; tasks: {', '.join(TASKS)}")
    return spec


def availability_problem(name: str) -> str | None:
    """Why task `name` cannot be trained in this version, or None when it can."""
    spec = task_spec(name)
    if spec.available:
        return None
    ready = ", ".join(n for n, s in TASKS.items() if s.available)
    return f"task {name!r} is not available yet in this version (available: {ready})"


def monitor_problem(task: str, metric: str) -> str | None:
    """Why `training.monitor` cannot be `metric` for a run of `task`, or None: the task
    never writes that metric, so best.pt would never be written and early stopping could
    never count."""
    spec = task_spec(task)
    if metric in spec.metric_names:
        return None
    hint = did_you_mean(metric, spec.metric_names)
    others = [n for n, s in TASKS.items() if n != task and metric in s.metric_names]
    where = f"; {metric} is a metric of task {', '.join(others)}" if others else ""
    return (
        f"task {task} does not produce {metric}{hint}{where}; "
        f"it produces: {', '.join(spec.metric_names)}"
    )


def metric_mode(metric: str, task: str | None = None) -> Mode | None:
    """The direction in which `metric` improves, by the declaration of `task` (or of any
    task when None); None for a metric no task declares."""
    specs: Iterable[TaskSpec] = (task_spec(task),) if task is not None else TASKS.values()
    for spec in specs:
        try:
            return spec.mode(metric)
        except KeyError:
            continue
    return None
