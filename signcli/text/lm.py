"""A token-level n-gram language model for CTC beam search at eval (docs/architecture.md,
"Text targets"; `text/ctc.py` `beam_decode(lm=...)`, `eval --lm-order`).

CTC scores each frame on its own, so its beam cannot tell "JOHN LIKE" from "JOHN LIKE
LIKE" where the frames are ambiguous; continuous sign-language recognition adds a
language model of the gloss order (what it gains on real sentences: docs/benchmarks.md).

`NGramLM.fit(sentences, order, vocab_size)` counts the n-grams of token-id lists, each
sentence padded with `order - 1` start markers and closed by an end event. Probabilities
are interpolated absolute discounting (Ney et al. 1994): with c(h, w) the count of w after
history h, c(h) its total and T(h) the number of distinct w seen after h,

    P(w | h) = max(c(h, w) - d, 0) / c(h) + d * T(h) / c(h) * P(w | h minus its oldest token)

down to the uniform distribution over the `vocab_size` ids and the end event, and an
unseen history takes the shorter one's distribution. So for every history the ids and
the end event sum to 1, and a token never seen gets a floor share of the discounted mass:
no log 0, whatever the beam proposes. Pure Python counts (no KenLM: it needs a compiler
and its lmplz binary); a sentence set of thousands fits in milliseconds. Deterministic:
the probabilities are sums of counts, whatever order the dictionaries hold them in.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

START = -1  # history padding before a sentence's first token (a context, never predicted)
END = -2  # the end-of-sentence event (never a token id: those are >= 0)
DEFAULT_DISCOUNT = 0.5


class NGramLM:
    """P(token | the previous order - 1 tokens) over ids `0..vocab_size - 1` and END."""

    def __init__(
        self,
        order: int,
        vocab_size: int,
        counts: dict[tuple[int, ...], Counter[int]],
        discount: float = DEFAULT_DISCOUNT,
        sentences: int = 0,
    ) -> None:
        self.order = order
        self.vocab_size = vocab_size
        self.discount = discount
        self.sentences = sentences  # how many it was fitted on (eval.json records it)
        # per history: (total count, distinct followers, {token: count})
        self._counts = {h: (sum(c.values()), len(c), dict(c)) for h, c in counts.items()}
        self._cache: dict[tuple[tuple[int, ...], int], float] = {}

    @classmethod
    def fit(
        cls,
        sentences: Iterable[Sequence[int]],
        order: int,
        vocab_size: int,
        discount: float = DEFAULT_DISCOUNT,
    ) -> NGramLM:
        """Count the n-grams of every order 1..`order` of `sentences` (lists of token ids in
        `0..vocab_size - 1`). ValueError for an order < 1, a discount outside (0, 1), or an
        id outside the vocabulary."""
        if order < 1:
            raise ValueError(f"n-gram order must be at least 1, got {order}")
        if not 0 < discount < 1:
            raise ValueError(f"discount must be in (0, 1), got {discount}")
        if vocab_size < 1:
            raise ValueError(f"vocab_size must be at least 1, got {vocab_size}")
        counts: dict[tuple[int, ...], Counter[int]] = defaultdict(Counter)
        fitted = 0
        for sentence in sentences:
            ids = [int(t) for t in sentence]
            bad = [t for t in ids if not 0 <= t < vocab_size]
            if bad:
                raise ValueError(f"token id {bad[0]} outside the vocabulary 0..{vocab_size - 1}")
            padded = [START] * (order - 1) + ids + [END]
            for i in range(order - 1, len(padded)):
                for k in range(order):  # history lengths 0..order-1
                    counts[tuple(padded[i - k : i])][padded[i]] += 1
            fitted += 1
        return cls(order, vocab_size, counts, discount, fitted)

    def log_prob(self, history: Sequence[int], token: int) -> float:
        """log P(token | history): `history` is the sentence so far (its last order - 1
        ids count; a shorter one is padded with START), `token` an id or END."""
        if token != END and not 0 <= token < self.vocab_size:
            raise ValueError(f"token id {token} outside the vocabulary 0..{self.vocab_size - 1}")
        return math.log(self._prob(self._context(history), token))

    def end_log_prob(self, history: Sequence[int]) -> float:
        """log P(the sentence ends | history)."""
        return self.log_prob(history, END)

    def sentence_log_prob(self, ids: Sequence[int]) -> float:
        """log P of a whole sentence, its end included."""
        return sum(self.log_prob(ids[:i], t) for i, t in enumerate(ids)) + self.end_log_prob(ids)

    def _context(self, history: Sequence[int]) -> tuple[int, ...]:
        n = self.order - 1
        if n == 0:
            return ()
        tail = [int(t) for t in history[-n:]]
        return tuple([START] * (n - len(tail)) + tail)

    def _prob(self, context: tuple[int, ...], token: int) -> float:
        key = (context, token)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if context:
            lower = self._prob(context[1:], token)
        else:
            lower = 1.0 / (self.vocab_size + 1)  # uniform over the ids and END
        seen = self._counts.get(context)
        if seen is None:  # a history never seen: the shorter one's distribution
            p = lower
        else:
            total, distinct, followers = seen
            p = (
                max(followers.get(token, 0) - self.discount, 0.0) / total
                + self.discount * distinct / total * lower
            )
        self._cache[key] = p
        return p
