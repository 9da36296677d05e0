"""Classification metrics in numpy, against values worked out by hand (scikit-learn's
conventions with zero_division=0)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from signcli.metrics.classification import (
    balanced_accuracy,
    class_scores,
    confusion_matrix,
    group_scores,
    head_metrics,
    macro_f1,
    softmax,
    top_k,
    topk_accuracy,
)

# 4 classes; class 3 is never true but predicted once, class 2 is true but never predicted
TRUE = np.array([0, 0, 0, 1, 1, 2, 2])
PRED = np.array([0, 0, 1, 1, 1, 0, 3])


def test_confusion_matrix_rows_are_true_columns_predicted() -> None:
    confusion = confusion_matrix(TRUE, PRED, 4)
    assert confusion.tolist() == [[2, 1, 0, 0], [0, 2, 0, 0], [1, 0, 0, 1], [0, 0, 0, 0]]


def test_per_class_scores_and_undefined_values() -> None:
    classes = class_scores(confusion_matrix(TRUE, PRED, 4))
    assert classes.support.tolist() == [3, 2, 2, 0]
    assert classes.predicted.tolist() == [3, 3, 0, 1]
    np.testing.assert_allclose(classes.recall[:3], [2 / 3, 1.0, 0.0])
    assert math.isnan(classes.recall[3])  # no true sample
    np.testing.assert_allclose(classes.precision[[0, 1, 3]], [2 / 3, 2 / 3, 0.0])
    assert math.isnan(classes.precision[2])  # never predicted
    np.testing.assert_allclose(classes.f1, [2 / 3, 0.8, 0.0, 0.0])


def test_macro_f1_counts_classes_in_truth_or_predictions() -> None:
    classes = class_scores(confusion_matrix(TRUE, PRED, 5))  # class 4: in neither, not counted
    assert macro_f1(classes) == pytest.approx((2 / 3 + 0.8 + 0.0 + 0.0) / 4)


def test_balanced_accuracy_is_mean_recall_over_true_classes() -> None:
    classes = class_scores(confusion_matrix(TRUE, PRED, 5))
    assert balanced_accuracy(classes) == pytest.approx((2 / 3 + 1.0 + 0.0) / 3)


def test_perfect_predictions() -> None:
    scores = np.eye(3)[[0, 1, 2, 2]]
    metrics = head_metrics(scores, np.array([0, 1, 2, 2]))
    assert metrics.top1 == metrics.top5 == metrics.macro_f1 == metrics.balanced_accuracy == 1.0


def test_top_k_is_sorted_best_first_with_ties_by_index() -> None:
    scores = np.array([[0.1, 0.7, 0.2, 0.7, 0.0, 0.3, 0.9]])
    assert top_k(scores, 3).tolist() == [[6, 1, 3]]
    assert top_k(scores, 7).tolist() == [[6, 1, 3, 5, 2, 0, 4]]
    assert top_k(scores, 10).shape == (1, 7)  # capped at C


def test_topk_accuracy() -> None:
    scores = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])
    true = np.array([1, 2, 2])
    assert topk_accuracy(scores, true, 1) == pytest.approx(1 / 3)
    assert topk_accuracy(scores, true, 2) == pytest.approx(2 / 3)
    assert topk_accuracy(scores, true, 5) == 1.0  # k capped at 3 classes


def test_softmax_is_stable_for_large_logits() -> None:
    probs = softmax(np.array([[1000.0, 1000.0, -1000.0], [0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(probs, [[0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-7)
    assert probs.dtype == np.float32


def test_group_scores_per_group_worst_first() -> None:
    # group a: TRUE 0 0 1, PRED 0 0 1 -> all right; group b: TRUE 0 1 2 2, PRED 1 1 0 3
    groups = ["a", "a", "b", "a", "b", "b", "b"]
    scores = group_scores(TRUE, PRED, groups, 4)
    assert [(g.group, g.samples) for g in scores] == [("b", 4), ("a", 3)]
    assert scores[0].top1 == pytest.approx(1 / 4) and scores[1].top1 == 1.0
    # b: F1 of class 0 = 0 (1 true, 1 predicted, 0 right), class 1 = 2/3, class 2 = 0,
    # class 3 = 0 (predicted, never true): mean over the 4 present classes
    assert scores[0].macro_f1 == pytest.approx((0 + 2 / 3 + 0 + 0) / 4)
    assert scores[1].macro_f1 == 1.0
    assert group_scores(TRUE[:0], PRED[:0], [], 4) == []
