"""CTC over the encoder's frames: gloss sequences without alignment (task `ctc`, and the
optional joint CTC loss of `translate`; docs/architecture.md, "Text targets").

- `CTCHead`: encoder output [B, T, d_model] -> log-probabilities [B, T, V] over the
  tokenizer's ids, where id `blank` (the PAD id, 0) is the CTC blank. Per frame, no
  pooling; what padding frames get is ignored, since every use goes by the lengths.
- `ctc_loss`: torch's CTC with `zero_infinity=True`, input lengths from the mask, so a
  clip with fewer frames than its target needs (impossible alignment, loss inf) adds
  nothing instead of turning the epoch's loss into inf.
- `greedy_decode`: best id per frame, repeats collapsed, blanks dropped.
- `beam_decode`: CTC prefix beam search (Hannun et al. 2014) in log space, numpy, no
  language model. It scores label sequences summed over their alignments, where greedy
  scores one alignment, so it finds sequences greedy misses (greedy "" where "a" is more
  likely). Like every beam search it is not exact (a prefix pruned early is gone), so the
  final beam and greedy's answer are rescored exactly and the best wins: never worse
  than greedy. No new dependency (pyctcdecode and torchaudio's decoder bring
  KenLM/flashlight for language models, which nothing here uses): the ids a beam extends
  per frame are pruned to the `prune` most likely of that frame, O(T * beam * prune)
  in Python, fine for validation sets of hundreds of clips. With a token n-gram model
  (`lm`, text/lm.py; `eval --lm-order`) every prefix also carries
  `lm_weight * log P_LM(token | history) + lm_bonus` per token it emitted, the beam ranks
  by the sum, and the final choice (beam and greedy's answer alike) is by acoustic score
  over all alignments + `lm_weight` * LM log-probability (end of sentence included) +
  `lm_bonus` * length. Without `lm` nothing of this applies.

The mask is True on real frames and padding comes after them (collate pads at the end),
so `lengths = mask.sum(1)` are the real frames of each sample.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:
    from signcli.text.lm import NGramLM

BLANK = 0  # the PAD id of TextTokenizer


class CTCHead(nn.Module):
    """Per-frame log-probabilities [B, T, vocab_size] (blank included) from features [B, T, d]."""

    def __init__(self, d_model: int, vocab_size: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(d_model, vocab_size)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """`mask` is accepted for the heads' signature; frames are independent here."""
        logits = self.fc(self.dropout(self.norm(x)))
        return logits.float().log_softmax(dim=-1)


def pad_targets(targets: Sequence[Sequence[int]]) -> tuple[Tensor, Tensor]:
    """Lists of ids -> (padded [B, S] int64 with 0 after each end, lengths [B])."""
    lengths = torch.tensor([len(t) for t in targets], dtype=torch.long)
    padded = torch.zeros(
        len(targets), max(1, int(lengths.max()) if len(targets) else 1), dtype=torch.long
    )
    for i, target in enumerate(targets):
        if len(target):
            padded[i, : len(target)] = torch.as_tensor(list(target), dtype=torch.long)
    return padded, lengths


def ctc_loss(
    log_probs: Tensor,
    mask: Tensor,
    targets: Tensor,
    target_lengths: Tensor,
    blank: int = BLANK,
    reduction: str = "mean",
) -> Tensor:
    """CTC loss of log_probs [B, T, V] (a CTCHead's) for targets [B, S] (padded; `pad_targets`)
    of `target_lengths` [B]. `mean` divides each sample's loss by its target length and then
    averages (torch's convention); impossible alignments count 0 (zero_infinity)."""
    input_lengths = mask.sum(dim=1).long()
    return F.ctc_loss(
        log_probs.float().transpose(0, 1),  # [T, B, V]
        targets.long(),
        input_lengths,
        target_lengths.long(),
        blank=blank,
        reduction=reduction,
        zero_infinity=True,
    )


def _lengths(log_probs: Tensor, lengths: Tensor | Sequence[int] | None) -> list[int]:
    if lengths is None:
        return [log_probs.shape[1]] * log_probs.shape[0]
    if isinstance(lengths, Tensor) and lengths.dtype == torch.bool:  # a mask
        lengths = lengths.sum(dim=1)
    return [int(n) for n in lengths]


def greedy_decode(
    log_probs: Tensor, lengths: Tensor | Sequence[int] | None = None, blank: int = BLANK
) -> list[list[int]]:
    """Best path: argmax per real frame, repeats collapsed, blanks dropped. `lengths` [B]
    (or the bool mask [B, T])."""
    best = log_probs.argmax(dim=-1).cpu().tolist()  # [B, T]
    result = []
    for path, n in zip(best, _lengths(log_probs, lengths), strict=True):
        ids, previous = [], None
        for token in path[:n]:
            if token != previous and token != blank:
                ids.append(token)
            previous = token
        result.append(ids)
    return result


def _logsumexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    top = max(a, b)
    return top + math.log1p(math.exp(-abs(a - b)))


def beam_decode(
    log_probs: Tensor,
    lengths: Tensor | Sequence[int] | None = None,
    beam_size: int = 8,
    blank: int = BLANK,
    prune: int | None = None,
    *,
    lm: NGramLM | None = None,
    lm_weight: float = 1.0,
    lm_bonus: float = 1.0,
) -> list[list[int]]:
    """CTC prefix beam search per sample: the most likely label sequence the beam finds,
    each prefix scored over all its alignments (blank-ending and non-blank-ending parts
    kept apart, so "a a" needs a blank between and "a" repeated collapses). `prune`: ids
    considered per frame (the most likely; default max(beam_size, 16), all of a small
    vocabulary). At the end the beam's prefixes and greedy's answer are rescored exactly
    (all alignments, one batched CTC) and the best is returned, so the answer is never
    less likely than greedy's, whatever pruning dropped on the way.

    With `lm` the score of a sequence is its acoustic log-probability + `lm_weight` x its
    LM log-probability (end included) + `lm_bonus` x its length, in the beam (without the
    end, not known yet) and in the final rescoring; the answer is never worse than
    greedy's by that score."""
    if beam_size < 1:
        raise ValueError(f"beam_size must be at least 1, got {beam_size}")
    frames = log_probs.detach().float().cpu()  # [B, T, V]
    lengths = _lengths(log_probs, lengths)
    greedy = greedy_decode(frames, lengths, blank)
    values = frames.numpy()
    keep = min(values.shape[-1], prune if prune is not None else max(beam_size, 16))
    token_score = None
    if lm is not None:

        def token_score(prefix: tuple[int, ...], token: int) -> float:
            return lm_weight * lm.log_prob(prefix, token) + lm_bonus

    result = []
    for b, n in enumerate(lengths):
        if n == 0:  # no frames, no labels
            result.append([])
            continue
        candidates = _beam_one(values[b, :n], beam_size, blank, keep, token_score)
        if greedy[b] not in candidates:
            candidates.append(greedy[b])
        scores = _log_probs_of(frames[b, :n], candidates, blank)
        if lm is not None:
            scores = [
                score + lm_weight * lm.sentence_log_prob(ids) + lm_bonus * len(ids)
                for score, ids in zip(scores, candidates, strict=True)
            ]
        result.append(min(zip(scores, candidates, strict=True), key=lambda sc: (-sc[0], sc[1]))[1])
    return result


def _log_probs_of(frames: Tensor, targets: list[list[int]], blank: int) -> list[float]:
    """log P(target | frames [T, V]) of each target, all alignments (one batched CTC)."""
    T = frames.shape[0]
    padded, lengths = pad_targets(targets)
    nll = F.ctc_loss(
        frames.unsqueeze(1).expand(T, len(targets), frames.shape[-1]),
        padded,
        torch.full((len(targets),), T, dtype=torch.long),
        lengths,
        blank=blank,
        reduction="none",
        zero_infinity=False,
    )
    return (-nll).tolist()


def _add(beams: dict, prefix: tuple[int, ...], p_b: float, p_nb: float, extra: float) -> None:
    """Add the blank- and non-blank-ending probabilities of one way to reach `prefix`;
    `extra` (the LM's part) depends on the prefix alone, so every way brings the same."""
    entry = beams.setdefault(prefix, [-math.inf, -math.inf, extra])
    entry[0] = _logsumexp(entry[0], p_b)
    entry[1] = _logsumexp(entry[1], p_nb)


def _beam_one(
    frames: np.ndarray,
    beam_size: int,
    blank: int,
    keep: int,
    token_score: Callable[[tuple[int, ...], int], float] | None = None,
) -> list[list[int]]:
    """The prefixes of the final beam, best first. `token_score(prefix, token)`, when
    given, is added to a prefix's score for each token it emits (the LM's weighted
    log-probability and bonus); without it the extra part is 0 and ranks nothing."""
    NEG = -math.inf
    # prefix -> (p_b, p_nb, extra): extra is the sum of token_score over the prefix
    beams: dict[tuple[int, ...], tuple[float, float, float]] = {(): (0.0, NEG, 0.0)}
    for frame in frames:
        candidates = (
            np.argpartition(-frame, keep - 1)[:keep] if keep < len(frame) else range(len(frame))
        )
        candidates = [int(c) for c in candidates]
        if blank not in candidates:
            candidates.append(blank)
        following: dict[tuple[int, ...], list[float]] = {}
        add = functools.partial(_add, following)
        for prefix, (p_b, p_nb, extra) in beams.items():
            total = _logsumexp(p_b, p_nb)
            last = prefix[-1] if prefix else None
            for c in candidates:
                p = float(frame[c])
                if c == blank:
                    add(prefix, total + p, NEG, extra)
                    continue
                longer = prefix + (c,)
                if longer not in following:  # scored once per prefix and frame
                    grown = extra + token_score(prefix, c) if token_score else extra
                else:
                    grown = following[longer][2]
                if c == last:
                    add(prefix, NEG, p_nb + p, extra)  # the same label continues
                    add(longer, NEG, p_b + p, grown)  # a new label after a blank
                else:
                    add(longer, NEG, total + p, grown)
        ranked = sorted(
            following.items(),
            key=lambda item: (-(_logsumexp(item[1][0], item[1][1]) + item[1][2]), item[0]),
        )  # ties by the prefix itself: one answer whatever the dict order
        beams = {prefix: (p[0], p[1], p[2]) for prefix, p in ranked[:beam_size]}
    return [list(prefix) for prefix in beams]
