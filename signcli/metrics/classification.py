"""Classification metrics from scores and class ids, in numpy (no scikit-learn).

Conventions (scikit-learn's, with zero_division=0):

- macro-F1 averages F1 over the classes present in the truth or in the predictions: a class
  predicted but never true, or true but never predicted, counts with F1 = 0; a class absent
  from both does not count.
- balanced accuracy is the mean recall over the classes present in the truth.
- top-k caps k at the number of classes (top-5 of 3 classes is 1.0).

Per-class values that are undefined (the recall of a class with no true sample, the
precision of a class never predicted, the F1 of a class absent from both) are NaN here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ClassScores:
    """Per-class counts and scores [C]; NaN where a score is undefined."""

    support: np.ndarray  # true samples of each class
    predicted: np.ndarray  # samples predicted as each class
    correct: np.ndarray  # true positives (the diagonal of the confusion matrix)
    precision: np.ndarray
    recall: np.ndarray  # = per-class accuracy
    f1: np.ndarray


@dataclass
class HeadMetrics:
    """Everything `eval` reports for one head."""

    top1: float
    top5: float
    macro_f1: float
    balanced_accuracy: float
    confusion: np.ndarray  # [C, C] int64, true rows x predicted columns
    classes: ClassScores


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax [N, C] -> [N, C] float32, stable for large logits."""
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices [N, min(k, C)] of the highest scores, best first (ties: lower index first)."""
    N, C = scores.shape
    k = min(k, C)
    if k < C:  # partial selection: O(N C) instead of sorting every row
        candidates = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        candidates = np.broadcast_to(np.arange(C), (N, C))
    values = np.take_along_axis(scores, candidates, axis=1)
    order = np.lexsort((candidates, -values), axis=1)  # by score, then by index
    return np.take_along_axis(candidates, order, axis=1)


def topk_accuracy(scores: np.ndarray, true: np.ndarray, k: int) -> float:
    """Share of samples whose true class is among the k highest scores."""
    if len(true) == 0:
        return float("nan")
    return float((top_k(scores, k) == true[:, None]).any(axis=1).mean())


def confusion_matrix(true: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts [C, C] int64: row = true class, column = predicted class."""
    index = true.astype(np.int64) * num_classes + pred.astype(np.int64)
    counts = np.bincount(index, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def class_scores(confusion: np.ndarray) -> ClassScores:
    """Precision, recall and F1 of every class from a confusion matrix."""
    return scores_from_counts(
        confusion.sum(axis=1), confusion.sum(axis=0), np.diagonal(confusion).copy()
    )


def scores_from_counts(
    support: np.ndarray, predicted: np.ndarray, correct: np.ndarray
) -> ClassScores:
    """Precision, recall and F1 of every class from its true, predicted and correct counts."""
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(support > 0, correct / support, np.nan)
        precision = np.where(predicted > 0, correct / predicted, np.nan)
        # 2PR / (P + R) = 2 TP / (support + predicted); 0 when either is positive and TP = 0
        total = support + predicted
        f1 = np.where(total > 0, 2 * correct / total, np.nan)
    return ClassScores(support, predicted, correct, precision, recall, f1)


@dataclass
class GroupScores:
    """Gloss scores of the samples of one group (one value of a labels column)."""

    group: str
    samples: int
    top1: float
    macro_f1: float  # over the classes present in the group's truth or predictions


def group_scores(
    true: np.ndarray, pred: np.ndarray, groups: list[str], num_classes: int
) -> list[GroupScores]:
    """Top-1 and macro-F1 per group, worst top-1 first (ties by name).

    Counts per class with bincount, O(N + groups x C): no confusion matrix per group.
    """
    if len(groups) == 0:
        return []
    names, inverse = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse, minlength=len(names)))[:-1]
    scores = []
    for name, members in zip(names, np.split(order, bounds), strict=True):
        t, p = true[members], pred[members]
        hit = t == p
        classes = scores_from_counts(
            np.bincount(t, minlength=num_classes),
            np.bincount(p, minlength=num_classes),
            np.bincount(t[hit], minlength=num_classes),
        )
        scores.append(GroupScores(str(name), len(members), float(hit.mean()), macro_f1(classes)))
    return sorted(scores, key=lambda g: (g.top1, g.group))


def macro_f1(classes: ClassScores) -> float:
    """Mean F1 over the classes present in the truth or the predictions."""
    present = (classes.support + classes.predicted) > 0
    return float(classes.f1[present].mean()) if present.any() else float("nan")


def balanced_accuracy(classes: ClassScores) -> float:
    """Mean recall over the classes present in the truth."""
    present = classes.support > 0
    return float(classes.recall[present].mean()) if present.any() else float("nan")


def head_metrics(scores: np.ndarray, true: np.ndarray) -> HeadMetrics:
    """Top-1/top-5, macro-F1, balanced accuracy and the confusion matrix of one head.

    `scores` [N, C] are logits or probabilities (only their order matters); `true` [N] ids.
    """
    pred = scores.argmax(axis=1)
    confusion = confusion_matrix(true, pred, scores.shape[1])
    classes = class_scores(confusion)
    return HeadMetrics(
        top1=float((pred == true).mean()) if len(true) else float("nan"),
        top5=topk_accuracy(scores, true, 5),
        macro_f1=macro_f1(classes),
        balanced_accuracy=balanced_accuracy(classes),
        confusion=confusion,
        classes=classes,
    )
