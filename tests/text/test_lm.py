"""The token n-gram LM (text/lm.py): a distribution for every history, floors for the
unseen, determinism, and the beam search it steers (text/ctc.py `beam_decode(lm=...)`)."""

from __future__ import annotations

import math

import pytest
import torch

from signcli.text.ctc import beam_decode, greedy_decode
from signcli.text.lm import END, NGramLM
from tests.text.ctc_reference import sequence_log_prob

VOCAB = 7  # ids 0..6; the sentences use 4..6 (0-3 are the tokenizer's specials)
SENTENCES = [[4, 5, 6], [4, 5], [5, 4, 6, 6], [4, 5, 6]]


def total(lm: NGramLM, history: list[int]) -> float:
    return sum(math.exp(lm.log_prob(history, t)) for t in range(VOCAB)) + math.exp(
        lm.end_log_prob(history)
    )


@pytest.mark.parametrize("order", [1, 2, 3])
def test_every_history_gives_a_distribution_over_the_ids_and_the_end(order: int) -> None:
    lm = NGramLM.fit(SENTENCES, order, VOCAB)
    for history in ([], [4], [4, 5], [6, 6], [1, 2], [5, 4, 6, 6, 4]):  # seen and unseen
        assert total(lm, history) == pytest.approx(1.0, abs=1e-9)
    assert lm.sentences == len(SENTENCES)


def test_unseen_tokens_get_a_finite_floor_below_what_was_seen() -> None:
    lm = NGramLM.fit(SENTENCES, 3, VOCAB)
    unseen = lm.log_prob([4, 5], 2)  # id 2 never occurs
    assert math.isfinite(unseen)
    assert unseen < lm.log_prob([4, 5], 6) and unseen < lm.log_prob([4, 5], END)
    assert lm.log_prob([4], 5) > lm.log_prob([4], 4)  # "4 5" seen thrice, "4 4" never
    # the sentence log-probability is the chain of its tokens and the end
    chain = lm.log_prob([], 4) + lm.log_prob([4], 5) + lm.end_log_prob([4, 5])
    assert lm.sentence_log_prob([4, 5]) == pytest.approx(chain)


def test_the_model_is_the_same_whatever_the_sentence_order() -> None:
    a = NGramLM.fit(SENTENCES, 3, VOCAB)
    b = NGramLM.fit(list(reversed(SENTENCES)), 3, VOCAB)
    queries = [(h, t) for h in ([], [4], [5, 4], [6, 6]) for t in [*range(VOCAB), END]]
    assert [a.log_prob(h, t) for h, t in queries] == [b.log_prob(h, t) for h, t in queries]


def test_bad_orders_and_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="order"):
        NGramLM.fit(SENTENCES, 0, VOCAB)
    with pytest.raises(ValueError, match="token id 9"):
        NGramLM.fit([[4, 9]], 2, VOCAB)
    with pytest.raises(ValueError, match="token id 7"):
        NGramLM.fit(SENTENCES, 2, VOCAB).log_prob([4], 7)


def ambiguous_frames() -> torch.Tensor:
    """[1, 5, 4]: "1" clearly, then 3 slightly more likely than 2 for two frames."""
    rows = [
        [0.05, 0.9, 0.025, 0.025],
        [0.9, 0.05, 0.025, 0.025],
        [0.1, 0.05, 0.4, 0.45],
        [0.1, 0.05, 0.4, 0.45],
        [0.9, 0.05, 0.025, 0.025],
    ]
    return torch.tensor([rows]).log()


def test_the_lm_picks_the_sequence_it_knows_where_the_frames_hesitate() -> None:
    frames = ambiguous_frames()
    assert beam_decode(frames, beam_size=4) == [[1, 3]]  # acoustics alone
    lm = NGramLM.fit([[1, 2]] * 5 + [[2, 1]], 2, 4)
    for size in (1, 4):  # a beam of 1 keeps "1 2" only if the LM ranks during the search
        assert beam_decode(frames, beam_size=size, lm=lm, lm_weight=1.0, lm_bonus=0.0) == [[1, 2]]


def test_weight_and_bonus_zero_give_the_plain_beam() -> None:
    generator = torch.Generator().manual_seed(1)
    log_probs = (torch.randn(8, 10, 6, generator=generator) * 2).log_softmax(-1)
    lengths = torch.randint(3, 11, (8,), generator=generator)
    lm = NGramLM.fit([[1, 2, 3], [4, 5], [3, 3, 1]], 3, 6)
    plain = beam_decode(log_probs, lengths, beam_size=4)
    assert beam_decode(log_probs, lengths, beam_size=4, lm=lm, lm_weight=0.0, lm_bonus=0.0) == plain
    steered = beam_decode(log_probs, lengths, beam_size=4, lm=lm, lm_weight=2.0, lm_bonus=0.5)
    assert steered != plain  # the case is not trivial

    def combined(b: int, ids: list[int]) -> float:
        acoustic = sequence_log_prob(log_probs[b], int(lengths[b]), ids)
        return acoustic + 2.0 * lm.sentence_log_prob(ids) + 0.5 * len(ids)

    greedy = greedy_decode(log_probs, lengths)
    for b in range(8):  # never worse than greedy by the score it ranks with
        assert combined(b, steered[b]) >= combined(b, greedy[b]) - 1e-5
