"""Text metrics: jiwer WER, sacrebleu BLEU and chrF on known pairs."""

from __future__ import annotations

import math

import pytest

from signcli.text.metrics import bleu, chrf, per_sample_wer, text_metrics, wer


def test_identical_texts_score_perfectly() -> None:
    texts = ["the man gives the book", "tomorrow the girl will not see the red car"]
    assert wer(texts, texts) == 0.0
    assert bleu(texts, texts) == pytest.approx(100.0)
    assert chrf(texts, texts) == pytest.approx(100.0)
    assert per_sample_wer(texts, texts) == [0.0, 0.0]


def test_known_word_error_rates() -> None:
    references = ["a b c", "d e"]
    hypotheses = ["a x c", "d e f"]  # one substitution, one insertion, 5 reference words
    assert wer(references, hypotheses) == pytest.approx(2 / 5)
    assert per_sample_wer(references, hypotheses) == pytest.approx([1 / 3, 1 / 2])
    assert per_sample_wer(["a b c d"], ["a d"]) == [0.5]  # two deletions
    assert per_sample_wer([""], ["x y"]) == [2.0]  # an empty reference counts the insertions
    assert wer([""], [""]) == 0.0 and math.isinf(wer([""], ["x"]))
    assert wer([], []) == 0.0


def test_bleu_and_chrf_order_hypotheses_by_quality() -> None:
    references = ["yesterday the man gave the red book to the girl"]
    close = ["yesterday the man gave the book to the girl"]
    far = ["yesterday the man took a cup"]
    assert 0.0 < bleu(references, far) < bleu(references, close) < 100.0
    assert 0.0 < chrf(references, far) < chrf(references, close) < 100.0
    assert bleu(references, [""]) == 0.0


def test_text_metrics_by_name_and_mismatched_lengths() -> None:
    scores = text_metrics(["a b"], ["a b"], ["wer", "bleu", "chrf"])
    assert set(scores) == {"wer", "bleu", "chrf"} and scores["wer"] == 0.0
    with pytest.raises(ValueError, match="unknown text metric"):
        text_metrics(["a"], ["a"], ["rouge"])
    with pytest.raises(ValueError, match="2 reference"):
        wer(["a", "b"], ["a"])
