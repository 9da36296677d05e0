"""CTC: head shapes, loss with impossible alignments, greedy and prefix beam decoding."""

from __future__ import annotations

import math

import pytest
import torch

from signcli.text.ctc import (
    CTCHead,
    beam_decode,
    ctc_loss,
    greedy_decode,
    pad_targets,
)
from tests.text.ctc_reference import sequence_log_prob


def frames(*rows: list[float]) -> torch.Tensor:
    """[1, T, V] log-probabilities from rows of probabilities."""
    return torch.tensor([rows], dtype=torch.float32).log()


def test_greedy_collapses_repeats_and_drops_blanks() -> None:
    # best path: a a _ a b b _ (blank 0, a 1, b 2), then two padding frames saying b
    best = [1, 1, 0, 1, 2, 2, 0, 2, 2]
    log_probs = torch.full((1, 9, 3), math.log(0.1))
    log_probs[0, range(9), best] = math.log(0.8)
    assert greedy_decode(log_probs, torch.tensor([7])) == [[1, 1, 2]]
    mask = torch.zeros(1, 9, dtype=torch.bool)
    mask[0, :7] = True
    assert greedy_decode(log_probs, mask) == [[1, 1, 2]]
    assert beam_decode(log_probs, [7], beam_size=4) == [[1, 1, 2]]
    assert greedy_decode(log_probs) == [[1, 1, 2, 2]]  # all 9 frames: a blank between the b runs


def test_beam_finds_the_sequence_greedy_misses() -> None:
    # greedy takes blank twice ("" has p 0.36); "a" sums three alignments (p 0.64)
    log_probs = frames([0.6, 0.4], [0.6, 0.4])
    assert greedy_decode(log_probs, [2]) == [[]]
    assert beam_decode(log_probs, [2], beam_size=2) == [[1]]
    assert math.exp(sequence_log_prob(log_probs[0], 2, [1])) == pytest.approx(0.64)


def test_beam_is_never_less_likely_than_greedy_on_random_frames() -> None:
    generator = torch.Generator().manual_seed(0)
    log_probs = (torch.randn(12, 10, 5, generator=generator) * 2).log_softmax(-1)
    lengths = torch.randint(3, 11, (12,), generator=generator)
    greedy = greedy_decode(log_probs, lengths)
    for size in (1, 4):
        beam = beam_decode(log_probs, lengths, beam_size=size)
        for b in range(12):
            n = int(lengths[b])
            assert (
                sequence_log_prob(log_probs[b], n, beam[b])
                >= sequence_log_prob(log_probs[b], n, greedy[b]) - 1e-5
            )
    wider = beam_decode(log_probs, lengths, beam_size=8)
    assert any(w != g for w, g in zip(wider, greedy, strict=True))  # the case is not trivial
    assert beam_decode(log_probs[:2], [0, 3], beam_size=4)[0] == []  # no frames, no labels
    with pytest.raises(ValueError, match="beam_size"):
        beam_decode(log_probs, lengths, beam_size=0)


def test_ctc_loss_is_finite_for_too_short_inputs_and_trains_the_head() -> None:
    torch.manual_seed(0)
    head = CTCHead(d_model=8, vocab_size=5)
    features = torch.randn(3, 6, 8)
    mask = torch.ones(3, 6, dtype=torch.bool)
    mask[1, 2:] = False  # 2 frames for 3 labels: no alignment exists
    mask[2, 4:] = False
    targets, lengths = pad_targets([[1, 2], [3, 3, 4], []])
    assert targets.tolist() == [[1, 2, 0], [3, 3, 4], [0, 0, 0]] and lengths.tolist() == [2, 3, 0]
    log_probs = head(features, mask)
    assert log_probs.shape == (3, 6, 5)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(3, 6))
    loss = ctc_loss(log_probs, mask, targets, lengths)
    assert torch.isfinite(loss)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in head.parameters())
    each = ctc_loss(head(features, mask), mask, targets, lengths, reduction="none")
    assert each[1] == 0.0 and each[0] > 0 and each[2] > 0  # the impossible one adds nothing
