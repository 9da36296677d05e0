"""`ctc`: a gloss sequence per clip, learnt without alignment (Connectionist Temporal
Classification on the encoder's frames; docs/architecture.md, "Tasks").

Head: `text.ctc.CTCHead`, per frame LayerNorm + Linear to the vocabulary (the PAD id 0 is
the CTC blank) and log-softmax, `{"ctc": [B, T, V]}`. Every encoder keeps one output per
input frame (none downsamples time), so the input lengths of the loss are the mask's;
`forward` checks it. Loss: torch's CTC loss with `zero_infinity` (a clip too short for
its target adds nothing instead of an infinite loss), mean over the batch of the loss per
target token. Decoding: greedy (best path) at validation; eval uses the prefix beam search
when `text.beam_size` > 1, with an n-gram language model when `eval --lm-order` asks
(`use_language_model`; tasks/language_model.py). Metric: `val_wer` (gloss error rate, jiwer) beside val_loss.
Training counts nothing on the fly (no train metric: accuracy of frames is meaningless
without an alignment). The ONNX graph outputs the log-probabilities, `ctc_log_probs`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from torch import Tensor, nn

from signcli.tasks.text_task import TextTask

if TYPE_CHECKING:
    from signcli.data.dataset import Batch
    from signcli.settings import ModelSettings, OptimSettings
    from signcli.text.lm import NGramLM

MASK_KEY = "mask"  # the batch's frame mask, passed to the loss and the decoder with the outputs


class CTCLoss(nn.Module):
    """`ctc_loss` of the head's log-probabilities against the padded token ids."""

    def forward(self, outputs: Mapping[str, Tensor], targets: Mapping[str, Tensor]) -> Tensor:
        from signcli.text.ctc import ctc_loss

        return ctc_loss(
            outputs["ctc"], outputs[MASK_KEY], targets["tokens"], targets["token_lengths"]
        )


class CTCTask(TextTask):
    lm: NGramLM | None = None  # eval --lm-order; validation never has one
    lm_weight = 1.0
    lm_bonus = 1.0

    def use_language_model(
        self, lm: NGramLM, weight: float, bonus: float, *, keep_beam: bool = False
    ) -> None:
        """Eval's beam adds `weight` x LM log-probability + `bonus` per token; an LM
        implies beam search, so a greedy run (beam 1) gets `LM_BEAM_SIZE`, unless the user
        asked for the beam size (`keep_beam`: `eval --beam-size 1` searches with one prefix)."""
        from signcli.tasks.language_model import LM_BEAM_SIZE

        self.lm, self.lm_weight, self.lm_bonus = lm, weight, bonus
        if self.beam_size == 1 and not keep_beam:
            self.beam_size = LM_BEAM_SIZE

    def build_heads(
        self, in_dim: int, model: ModelSettings, labels: Mapping[str, Any]
    ) -> nn.ModuleDict:
        from signcli.text.ctc import CTCHead

        # model.dropout is resolved from `auto` by then (models/registry.py)
        return nn.ModuleDict({"ctc": CTCHead(in_dim, int(labels["num_tokens"]), model.dropout)})  # type: ignore[arg-type]

    def forward(self, model: nn.Module, batch: Batch) -> dict[str, Tensor]:
        outputs = dict(model(batch.streams, batch.mask))
        frames, expected = outputs["ctc"].shape[1], batch.mask.shape[1]
        if frames != expected:  # an encoder that changes the time resolution
            raise RuntimeError(
                f"the encoder gave {frames} frames for {expected}: the ctc task needs one "
                "output per input frame (or input lengths that follow its downsampling)"
            )
        outputs[MASK_KEY] = batch.mask
        return outputs

    def loss_module(self, optim: OptimSettings) -> nn.Module:
        return CTCLoss()

    def decode(self, outputs: Mapping[str, Tensor], batch: Batch) -> list[list[int]]:
        from signcli.text.ctc import beam_decode, greedy_decode

        log_probs, mask = outputs["ctc"].float(), outputs[MASK_KEY]
        if self.lm is not None:
            return beam_decode(
                log_probs,
                mask,
                self.beam_size,
                lm=self.lm,
                lm_weight=self.lm_weight,
                lm_bonus=self.lm_bonus,
            )
        if self.beam_size > 1:
            return beam_decode(log_probs, mask, self.beam_size)
        return greedy_decode(log_probs, mask)

    def head_parameter_parts(
        self, model: ModelSettings, width: int, sizes: Mapping[str, Any]
    ) -> dict[str, tuple[int, str]]:
        from signcli.models.size import linear, norm

        # CTCHead: a LayerNorm and the projection to the vocabulary, per frame
        vocab = int(sizes["num_tokens"])
        count = norm(width) + linear(width, vocab)
        return {"heads": (count, f"model.num_tokens={vocab} x width {width}")}

    def smoke_text(self, sentence: Any) -> str:
        return str(sentence.gloss_text)  # ctc learns the gloss sequence

    def smoke_shapes(
        self, batch: Batch, model: ModelSettings, sizes: Mapping[str, Any]
    ) -> dict[str, tuple[int, ...]]:
        # log-probabilities per frame, and the mask the loss reads
        frames, vocab = batch.mask.shape[1], int(sizes["num_tokens"])
        return {"ctc": (len(batch), frames, vocab), "mask": (len(batch), frames)}

    def onnx_output_names(self, model: nn.Module) -> list[str]:
        return ["ctc_log_probs"]

    def onnx_outputs(self, outputs: Mapping[str, Tensor]) -> tuple[Tensor, ...]:
        return (outputs["ctc"],)
