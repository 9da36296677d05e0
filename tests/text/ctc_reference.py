"""The exact CTC probability of one target, the reference the decoders' tests compare
their answers with (torch's ctc_loss summed over every alignment)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from signcli.text.ctc import BLANK, pad_targets


def sequence_log_prob(
    log_probs: Tensor, length: int, target: Sequence[int], blank: int = BLANK
) -> float:
    """log P(target | frames) of one sample, summed over all alignments ([T, V] log-probs)."""
    if not len(target):
        return float(log_probs[:length, blank].sum())
    padded, lengths = pad_targets([target])
    nll = F.ctc_loss(
        log_probs[:length].float().unsqueeze(1),
        padded,
        torch.tensor([length]),
        lengths,
        blank=blank,
        reduction="sum",
        zero_infinity=False,
    )
    return -float(nll)
