"""The `Task` interface: everything about a run that depends on its kind of target.

The loop, the data readers and the encoders know no target: a task owns, for its kind
(docs/architecture.md, "Tasks"),

    targets   what the data resolved about them (class counts, a vocabulary), recorded in
              the settings and labels.json, and how a batch's targets are collated
    model     the head(s) on the encoder output [B, T, d], and the forward pass of a batch
              (a text decoder reads the targets as its input: teacher forcing)
    loss      the training loss of a batch, and what training counts on the fly
    metrics   the validation metrics it produces, declared by name and direction in
              core/task_specs.py (so settings and metrics-check need no torch)
    eval      the files and summary keys of `signcli eval`
    export    the outputs of the ONNX graph

`ClassifyTask` (tasks/classify.py) is today's classification. A text task (`ctc`,
`translate`) keeps its targets as token ids: `collate_targets` pads them ([B, L] plus
lengths), `build_heads` adds a CTC projection or a decoder, `gather` keeps decoded
hypotheses (lists of token ids) rather than logits, and `validation_metrics` scores them
(val_wer, val_bleu, val_chrf). This module imports torch only for type checking.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from signcli.core.task_specs import TaskSpec

if TYPE_CHECKING:
    import torch
    from torch import Tensor, nn

    from signcli.data.dataset import Batch
    from signcli.data.sample import Sample, SampleSplit
    from signcli.data.sources import TrainingData
    from signcli.settings import ModelSettings, OptimSettings, Settings


@dataclass
class Predictions:
    """What the task kept of every batch of a split, in loader order."""

    ids: list[str]
    outputs: dict[str, Any]  # classify: {head: [N, C]} float32 logits on CPU
    targets: dict[str, Any]  # classify: {head: [N]} int64 on CPU (-1 = unknown)
    loss: float | None  # mean loss per sample, when targets are known

    @property
    def logits(self) -> dict[str, Any]:
        """The classify task's name for `outputs`."""
        return self.outputs


@dataclass
class EvalContext:
    """What a task's `write_eval` gets: the evaluated split, the outputs the task gathered
    (`Task.gather`) in the split's order, and where to write."""

    checkpoint: Path
    settings: Settings
    labels: dict[str, Any]  # the checkpoint's labels.json content
    split: SampleSplit
    labelled: bool
    outputs: dict[str, Any]  # numpy arrays [N, ...] or lists of N items, split order
    loss: float | None
    group_column: str | None  # the labels column to report per group of (None: none)
    out_dir: Path
    timer: Callable[[str], AbstractContextManager[None]]  # `with timer("write"):` times a phase
    files: list[str] = field(default_factory=list)  # names of the files written


class Task:
    """Base class of the tasks; `spec` is the task's declaration (core/task_specs.py)."""

    # the counts that size the heads, each with what it counts: the model settings
    # (`model.<key>`, set by `resolve`) and labels.json keep them under these keys
    head_size_fields: ClassVar[dict[str, str]] = {}

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

    # ------------------------------------------------------------------ targets

    def resolve(self, settings: Settings, data: TrainingData) -> None:
        """Record in `settings` what the training data resolved about the targets (class
        counts, a vocabulary size), so that config.json rebuilds the model; raise a
        DataError/UsageError naming the file for targets the task cannot use."""

    def restore(self, labels: Mapping[str, Any], source: str = "checkpoint") -> None:
        """Take back what a run resolved about its targets from its stored labels (a
        checkpoint's, on resume), so that `resolve` does not derive it again (text tasks:
        the tokenizer, never trained again)."""

    def head_sizes(self, model: ModelSettings) -> dict[str, int]:
        """{key of `head_size_fields`: count} as `model` records them (0 where unset): the
        `sizes` the model is built and counted for (tasks/model.py, tasks/size.py)."""
        return {key: int(getattr(model, key) or 0) for key in self.head_size_fields}

    def labels_map(self, data: TrainingData) -> dict[str, Any]:
        """What describes the targets for eval and export: labels.json and the checkpoint's
        class maps (classify: class counts and names)."""
        return data.labels_map()

    def collate_targets(self, samples: Sequence[Sample]) -> dict[str, Tensor]:
        """The targets of a batch's samples as tensors."""
        raise NotImplementedError

    def collate(self, samples: Sequence[Sample]) -> Batch:
        """The DataLoader's collate_fn: padded streams and mask, and this task's targets."""
        from signcli.data.dataset import collate_streams

        return collate_streams(samples, self.collate_targets)

    # ------------------------------------------------------------------ model

    def build_heads(
        self, in_dim: int, model: ModelSettings, labels: Mapping[str, Any]
    ) -> nn.ModuleDict:
        """The head(s) on encoder features [B, T, in_dim], keyed by output name."""
        raise NotImplementedError

    def forward(self, model: nn.Module, batch: Batch) -> dict[str, Tensor]:
        """The model's outputs for a batch (already on the device)."""
        return model(batch.streams, batch.mask)

    def loss_module(self, optim: OptimSettings) -> nn.Module:
        """`loss(outputs, targets)`: a scalar tensor, the mean over the batch."""
        raise NotImplementedError

    def train_hits(
        self, outputs: Mapping[str, Tensor], targets: Mapping[str, Tensor]
    ) -> Tensor | None:
        """A count that training sums over the epoch's samples without an extra forward
        pass (classify: gloss argmax hits), as a tensor on the device; None: nothing."""
        return None

    def train_metrics(self, hits: int | None, samples: int) -> dict[str, float]:
        """The epoch's metrics from the summed `train_hits` (None: unknown after a resume
        from a checkpoint that predates the counter)."""
        return {}

    # ------------------------------------------------------------------ validation

    def known_targets(self, targets: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """The targets of a batch that are known (the loss is computed on those only)."""
        return dict(targets)

    def gather(self, outputs: Mapping[str, Tensor], batch: Batch) -> dict[str, Any]:
        """What validation and eval keep of a batch's outputs, on the CPU: tensors [B, ...]
        (concatenated over batches) or lists of B items (extended)."""
        raise NotImplementedError

    def validation_metrics(self, predictions: Predictions) -> dict[str, float]:
        """The task's metrics of metrics.jsonl (those its spec declares; val_loss is the
        loop's) from the gathered outputs of the validation split."""
        raise NotImplementedError

    # ------------------------------------------------------------------ eval and export

    def prepare_eval(self, settings: Settings, labels: Mapping[str, Any], source: str) -> None:
        """Before eval or export runs the model of a checkpoint: what the task needs of the
        stored run (text tasks: `restore` the tokenizer, the eval beam size)."""

    def check_eval_targets(
        self, split: SampleSplit, labels: Mapping[str, Any], checkpoint: Path
    ) -> None:
        """Before eval predicts: DataError naming the file and line of a target the
        checkpoint cannot score (classify: a class id it does not have)."""

    def write_eval(self, context: EvalContext) -> dict[str, Any]:
        """Write eval's task files into `context.out_dir`; return the summary keys they
        add (eval.json)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ size

    def head_parameter_parts(
        self, model: ModelSettings, width: int, sizes: Mapping[str, Any]
    ) -> dict[str, tuple[int, str]]:
        """{part: (parameters and buffers, the settings that size it)} of the heads
        `build_heads` would put on an encoder output `width` wide, counted without building
        them (tasks/size.py; models/size.py has the formulas of the common layers). By
        default none: the size check then counts the encoder alone, the least the model
        holds."""
        return {}

    # ------------------------------------------------------------------ smoke

    def smoke_text(self, sentence: Any) -> str:
        """The text target `signcli smoke` trains on for a synthetic signed sentence
        (data/synthetic_sentences.py); text tasks only."""
        return str(sentence.text)

    def smoke_shapes(
        self, batch: Batch, model: ModelSettings, sizes: Mapping[str, Any]
    ) -> dict[str, tuple[int, ...]]:
        """{output: shape} that `forward` must return for `batch` (its tensors only) from
        heads of these `sizes`, which `signcli smoke` checks."""
        raise NotImplementedError

    def onnx_output_names(self, model: nn.Module) -> list[str]:
        """The outputs of the exported graph, in order."""
        raise NotImplementedError

    def onnx_outputs(self, outputs: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """The model's outputs as the graph's output tuple (order of `onnx_output_names`)."""
        raise NotImplementedError

    def onnx_forward(
        self, model: nn.Module, streams: Mapping[str, torch.Tensor], mask: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """The exported graph's computation (default: the model, then `onnx_outputs`);
        translate's main graph is the encoder alone (its decoder step is a second graph)."""
        return self.onnx_outputs(model(streams, mask))
