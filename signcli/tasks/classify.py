"""`classify`: one gloss (and optionally a category) per clip.

Targets are class ids from the labels CSV (`gloss`, optional `cat`; read by
data/npz_split.py and data/multistream.py, counted and range-checked by data/sources.py),
stacked to `[B]`. One `ClassifierHead` per target pools the encoder features over the
real frames and maps them to logits (`{"gloss": [B, num_gloss], "cat": [B, num_cat]}`);
the loss is label-smoothed cross-entropy per head, the cat head weighted in the sum.
Validation keeps the logits and reports val_gloss_top1/top5 and val_cat_top1; eval
writes per-class, confusion and per-group reports and predictions.parquet with top-5;
the ONNX graph outputs `<head>_logits`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from signcli.core.errors import DataError, excerpt
from signcli.tasks.base import EvalContext, Predictions, Task

if TYPE_CHECKING:
    from signcli.data.dataset import Batch
    from signcli.data.sample import Sample, SampleSplit
    from signcli.data.sources import TrainingData
    from signcli.metrics.classification import GroupScores, HeadMetrics
    from signcli.settings import ModelSettings, OptimSettings, Settings

TOP_K = 5  # classes kept per sample in eval's predictions.parquet


class HeadLoss(nn.Module):
    """Cross-entropy per head with label smoothing; the cat head is weighted in the sum."""

    def __init__(self, optim: OptimSettings) -> None:
        super().__init__()
        self.weights = {"gloss": 1.0, "cat": optim.cat_loss_weight}
        self.label_smoothing = optim.label_smoothing

    def forward(
        self, logits: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        total = torch.zeros((), device=next(iter(logits.values())).device)
        for head, head_logits in logits.items():
            if head in targets:
                loss = nn.functional.cross_entropy(
                    head_logits.float(), targets[head], label_smoothing=self.label_smoothing
                )
                total = total + self.weights.get(head, 1.0) * loss
        return total


def classification_heads(
    in_dim: int, num_gloss: int, num_cat: int, pooling: str, dropout: float
) -> nn.ModuleDict:
    """One ClassifierHead per target: gloss, and cat when num_cat > 0."""
    from signcli.models.heads import ClassifierHead

    classes = {"gloss": num_gloss, **({"cat": num_cat} if num_cat > 0 else {})}
    return nn.ModuleDict(
        {
            name: ClassifierHead(in_dim, count, pooling, dropout)  # type: ignore[arg-type]
            for name, count in classes.items()
        }
    )


def topk_accuracy(logits: Tensor, targets: Tensor, k: int) -> float:
    """Share of samples whose target is among the k highest logits (k capped at C)."""
    k = min(k, logits.shape[1])
    top = logits.topk(k, dim=1).indices  # [N, k]
    return float((top == targets[:, None]).any(dim=1).float().mean())


class ClassifyTask(Task):
    head_size_fields = {"num_gloss": "gloss classes", "num_cat": "category classes"}

    # ------------------------------------------------------------------ targets

    def resolve(self, settings: Settings, data: TrainingData) -> None:
        settings.model.num_gloss = data.num_gloss
        settings.model.num_cat = data.num_cat

    def collate_targets(self, samples: Sequence[Sample]) -> dict[str, Tensor]:
        from signcli.data.dataset import int_targets

        return int_targets(samples)

    # ------------------------------------------------------------------ model

    def build_heads(
        self, in_dim: int, model: ModelSettings, labels: Mapping[str, Any]
    ) -> nn.ModuleDict:
        return classification_heads(  # model: `auto` sizes resolved (models/registry.py)
            in_dim,
            int(labels["num_gloss"]),
            int(labels.get("num_cat") or 0),
            model.pooling,
            model.dropout,  # type: ignore[arg-type]
        )

    def loss_module(self, optim: OptimSettings) -> nn.Module:
        return HeadLoss(optim)

    def train_hits(self, outputs: Mapping[str, Tensor], targets: Mapping[str, Tensor]) -> Tensor:
        return (outputs["gloss"].detach().argmax(dim=1) == targets["gloss"]).sum()

    def train_metrics(self, hits: int | None, samples: int) -> dict[str, float]:
        # on the samples as trained: augmented, with dropout on (no extra forward pass)
        return {} if hits is None else {"train_gloss_top1": hits / max(1, samples)}

    # ------------------------------------------------------------------ validation

    def known_targets(self, targets: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Heads whose every target is known (-1 = unknown: eval without labels)."""
        return {k: v for k, v in targets.items() if bool((v >= 0).all())}

    def gather(self, outputs: Mapping[str, Tensor], batch: Batch) -> dict[str, Any]:
        return {head: value.float().cpu() for head, value in outputs.items()}

    def validation_metrics(self, predictions: Predictions) -> dict[str, float]:
        """val_gloss_top1/top5 and val_cat_top1 (when the head exists): the keys of
        docs/architecture.md, "metrics.jsonl"."""
        metrics: dict[str, float] = {}
        gloss = predictions.outputs["gloss"]
        metrics["val_gloss_top1"] = topk_accuracy(gloss, predictions.targets["gloss"], 1)
        metrics["val_gloss_top5"] = topk_accuracy(gloss, predictions.targets["gloss"], 5)
        if "cat" in predictions.outputs and "cat" in predictions.targets:
            metrics["val_cat_top1"] = topk_accuracy(
                predictions.outputs["cat"], predictions.targets["cat"], 1
            )
        return metrics

    # ------------------------------------------------------------------ eval

    def check_eval_targets(
        self, split: SampleSplit, labels: Mapping[str, Any], checkpoint: Path
    ) -> None:
        """DataError naming the labels line of a class id the checkpoint does not have."""
        _check_label_range(split, "gloss", split.gloss, labels["num_gloss"], checkpoint)
        if labels["num_cat"] > 0 and split.cat is not None:
            _check_label_range(split, "cat", split.cat, labels["num_cat"], checkpoint)

    def write_eval(self, context: EvalContext) -> dict[str, Any]:
        """Top-1/top-5, macro-F1, balanced accuracy (per group too), per-class and
        confusion reports, predictions.parquet with the top-5 classes."""
        from signcli.metrics import report
        from signcli.metrics.classification import group_scores, head_metrics

        split, labels, logits = context.split, context.labels, context.outputs
        summary: dict[str, Any] = {
            "num_classes": {head: int(value.shape[1]) for head, value in logits.items()}
        }
        with context.timer("metrics"):
            gloss = head_metrics(logits["gloss"], split.gloss) if context.labelled else None
            groups = None
            if gloss is not None:
                summary.update(_metrics(gloss, logits, split, context.loss))
                if context.group_column is not None:
                    pred = logits["gloss"].argmax(axis=1)
                    groups = group_scores(
                        split.gloss,
                        pred,
                        split.label_columns[context.group_column],
                        labels["num_gloss"],
                    )
                    summary["per_group"] = report.per_group_summary(context.group_column, groups)
            gloss_names = {**split.gloss_names, **class_names(labels, "gloss")}
            names = [gloss_names.get(i) for i in range(labels["num_gloss"])]
            columns = _prediction_columns(split, logits, names, context.labelled)
        with context.timer("write"):
            context.files += _write_files(context.out_dir, gloss, names, columns, groups)
        return summary

    # ------------------------------------------------------------------ export

    def head_parameter_parts(
        self, model: ModelSettings, width: int, sizes: Mapping[str, Any]
    ) -> dict[str, tuple[int, str]]:
        from signcli.models.size import linear, norm

        num_gloss, num_cat = int(sizes["num_gloss"]), int(sizes.get("num_cat") or 0)
        pooling = 2 * linear(width, width) + width if model.pooling == "cls" else 0
        heads = [("model.num_gloss", num_gloss)] + ([("model.num_cat", num_cat)] if num_cat else [])
        count = sum(norm(width) + pooling + linear(width, n) for _, n in heads)
        sized_by = " + ".join(f"{key}={n}" for key, n in heads) + f" x width {width}"
        return {"heads": (count, sized_by)}

    def smoke_shapes(
        self, batch: Batch, model: ModelSettings, sizes: Mapping[str, Any]
    ) -> dict[str, tuple[int, ...]]:
        num_cat = int(sizes.get("num_cat") or 0)
        return {
            "gloss": (len(batch), int(sizes["num_gloss"])),
            **({"cat": (len(batch), num_cat)} if num_cat else {}),
        }

    def onnx_output_names(self, model: nn.Module) -> list[str]:
        return [f"{head}_logits" for head in model.head_names]

    def onnx_outputs(self, outputs: Mapping[str, Tensor]) -> tuple[Tensor, ...]:
        return tuple(outputs.values())  # the heads' order: gloss, then cat


def _check_label_range(
    split: SampleSplit, head: str, ids: np.ndarray, count: int, checkpoint: Path
) -> None:
    bad = np.flatnonzero((ids < 0) | (ids >= count))
    if bad.size:
        i = int(bad[0])
        where = str(split.labels_path)
        if split.label_lines is not None:
            where += f", line {int(split.label_lines[i])}"
        raise DataError(
            f"{where}: {head} {int(ids[i])} of sample {excerpt(split.ids[i])} is outside the "
            f"checkpoint's classes 0..{count - 1} ({bad.size} sample(s) in all)",
            hint=f"{checkpoint} has {count} {head} classes; evaluate with labels of the "
            "classes it was trained on",
        )


def _metrics(
    gloss: HeadMetrics, logits: dict[str, np.ndarray], split: SampleSplit, loss: float | None
) -> dict[str, float]:
    """eval.json's metric keys; a head or a loss that is not there gives no key."""
    metrics = {} if loss is None else {"loss": loss}
    metrics.update(
        gloss_top1=gloss.top1,
        gloss_top5=gloss.top5,
        gloss_macro_f1=gloss.macro_f1,
        gloss_balanced_accuracy=gloss.balanced_accuracy,
    )
    if "cat" in logits and split.cat is not None:
        metrics["cat_top1"] = float((logits["cat"].argmax(axis=1) == split.cat).mean())
    return metrics


def _prediction_columns(
    split: SampleSplit, logits: dict[str, np.ndarray], names: list[str | None], labelled: bool
) -> dict[str, Any]:
    """predictions.parquet: ids, true and predicted classes, top-5 ids and probabilities,
    and gloss names when the labels name the classes."""
    from signcli.metrics.classification import softmax, top_k

    probs = softmax(logits["gloss"])  # [N, C]
    best = top_k(logits["gloss"], TOP_K)  # [N, k]; logits: ties the same as argmax
    pred = logits["gloss"].argmax(axis=1)
    columns: dict[str, Any] = {"id": split.ids}
    if labelled:
        columns["true_gloss"] = split.gloss
    columns["pred_gloss"] = pred
    columns["pred_prob"] = np.take_along_axis(probs, pred[:, None], axis=1)[:, 0]
    columns["top5_gloss"] = best
    columns["top5_prob"] = np.take_along_axis(probs, best, axis=1)
    if any(name is not None for name in names):
        if labelled:
            columns["true_gloss_name"] = [names[i] for i in split.gloss]
        columns["pred_gloss_name"] = [names[i] for i in pred]
    if "cat" in logits:
        if labelled and split.cat is not None:
            columns["true_cat"] = split.cat
        columns["pred_cat"] = logits["cat"].argmax(axis=1)
    return columns


def _write_files(
    out_dir: Path,
    gloss: HeadMetrics | None,
    names: list[str | None],
    columns: dict[str, Any],
    groups: list[GroupScores] | None = None,
) -> list[str]:
    """Write the classification files of an evaluation; returns their names."""
    from signcli.metrics import report
    from signcli.metrics.plots import plot_confusion

    files = [report.PREDICTIONS_FILE]
    report.write_predictions(out_dir / report.PREDICTIONS_FILE, columns)
    if gloss is not None:
        labels = [name if name is not None else str(i) for i, name in enumerate(names)]
        report.write_per_class(out_dir / report.PER_CLASS_FILE, gloss.classes, names)
        report.write_confusion_csv(out_dir / report.CONFUSION_CSV, gloss.confusion)
        title = f"gloss: top-1 {gloss.top1:.3f} on {int(gloss.confusion.sum())} samples"
        plot_confusion(out_dir / report.CONFUSION_PNG, gloss.confusion, labels, title)
        files += [report.PER_CLASS_FILE, report.CONFUSION_CSV, report.CONFUSION_PNG]
    if groups is not None:
        report.write_per_group(out_dir / report.PER_GROUP_FILE, groups)
        files.append(report.PER_GROUP_FILE)
    return files


def class_names(labels: dict[str, Any], head: str) -> dict[int, str]:
    """{class id: name} of one head ("gloss" or "cat") where the labels name them."""
    names = labels.get(f"{head}_names") or {}
    return {int(key): str(value) for key, value in names.items()}
