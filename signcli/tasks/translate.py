"""`translate`: a spoken-language sentence per clip (docs/architecture.md, "Tasks" and
"Text targets").

The encoder output `memory [B, T, d]` feeds a text decoder with cross-attention
(text/decoder.py `TextDecoder`, or the user's `model.decoder_class` with
`model.decoder_kwargs`). Targets are token ids padded with PAD (`tokens [B, L]`,
`token_lengths [B]`); the forward pass turns them into the decoder's inputs
`[BOS y1..yn]` and outputs `[y1..yn EOS]` (teacher forcing, at most
`model.max_target_len` inputs). The loss is label-smoothed cross-entropy over the real
output positions (`optim.label_smoothing`), plus `model.ctc_weight` times a CTC loss of
the target tokens on the encoder frames (the joint CTC of the sign-translation
literature). The weight is a model setting because it decides whether the model has a
CTC head (0: none, nothing to export or to keep in sync across DDP ranks).

Texts, tokenizer, collate, metrics and eval files are the text tasks' (tasks/text_task.py).
Validation decodes greedily (in eval mode `forward` adds the batch's search, which needs
the decoder, and `decode` runs it); eval searches with `text.beam_size` and
`text.length_penalty` (`prepare_eval`). Metrics compare the normalised references with
the decoded hypotheses: val_bleu, val_chrf (sacrebleu) and val_wer (jiwer). The export is
two graphs (export/onnx.py, export/text.py): the encoder (streams, mask -> memory) and one
decoder step (memory, memory_mask, tokens -> logits).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from signcli.tasks.text_task import TextTask
from signcli.text.decoder import BOS_ID, EOS_ID, PAD_ID

if TYPE_CHECKING:
    from signcli.data.dataset import Batch
    from signcli.settings import ModelSettings, OptimSettings, Settings

TOKENS, TOKEN_LENGTHS = "tokens", "token_lengths"  # the collated text targets
DECODER, CTC = "decoder", "ctc"  # the heads
MEMORY = "memory"  # the encoder graph's output
SEARCH = "search"  # eval mode: the search of the batch, run by `decode`
BUILTIN_DEFAULTS = {"num_layers": 2}  # TextDecoder's layers unless --decoder-kwargs says


def teacher_forcing(
    tokens: Tensor, lengths: Tensor, max_target_len: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Padded targets [B, S] of `lengths` [B] -> (inputs [B, L] = BOS y1..yn, outputs
    [B, L] = y1..yn EOS, PAD after each end), a target cut to max_target_len - 1 tokens;
    also the cut lengths. On the device, without a host sync."""
    keep = max_target_len - 1
    tokens = tokens[:, :keep]
    lengths = lengths.clamp(max=keep)
    B, S = tokens.shape
    steps = torch.arange(S + 1, device=tokens.device).unsqueeze(0)  # [1, S+1]
    real = steps < lengths.unsqueeze(1)  # positions of y1..yn
    padded = torch.cat([tokens, tokens.new_full((B, 1), PAD_ID)], dim=1)
    outputs = torch.where(real, padded, torch.full_like(padded, PAD_ID))
    outputs = torch.where(steps == lengths.unsqueeze(1), torch.full_like(outputs, EOS_ID), outputs)
    shifted = torch.cat([tokens.new_full((B, 1), BOS_ID), tokens], dim=1)
    inputs = torch.where(steps <= lengths.unsqueeze(1), shifted, torch.full_like(shifted, PAD_ID))
    return inputs, outputs, lengths


def encoder_attention_shape(model: ModelSettings) -> tuple[int, int]:
    """(num_heads, ff_dim) the built-in decoder takes unless `model.decoder_kwargs` says:
    the encoder's options of those names (the task reads them, core/task_specs.py), or for
    a model without them (gru) what `auto` gives model.d_model, as it did when every model
    had them."""
    from signcli.auto_size import attention_shape

    values = model.model_dump()
    auto_heads, auto_ff = attention_shape(int(model.d_model))
    num_heads, ff_dim = values.get("num_heads"), values.get("ff_dim")
    return (
        num_heads if isinstance(num_heads, int) else auto_heads,
        ff_dim if isinstance(ff_dim, int) else auto_ff,
    )


def build_decoder(in_dim: int, model: ModelSettings, vocab_size: int) -> nn.Module:
    """`model.decoder_class` (a user's, loaded by text/decoder.py `load_decoder_class`:
    UsageError exit 2 naming it) or TextDecoder, with `model.decoder_kwargs`."""
    from signcli.text.decoder import TextDecoder, load_decoder_class, parse_decoder_kwargs

    fixed = {
        "max_target_len": model.max_target_len,
        "pad_id": PAD_ID,
        "bos_id": BOS_ID,
        "eos_id": EOS_ID,
    }
    if model.decoder_class:
        return load_decoder_class(
            model.decoder_class, model.decoder_kwargs, in_dim, vocab_size, **fixed
        )
    num_heads, ff_dim = encoder_attention_shape(model)
    options = {
        **BUILTIN_DEFAULTS,
        "num_heads": num_heads,
        "ff_dim": ff_dim,
        "dropout": model.dropout,
        **parse_decoder_kwargs(model.decoder_kwargs, "TextDecoder"),
    }
    options.pop("d_model", None)  # the encoder's, as for a user's class
    return TextDecoder(vocab_size, in_dim, **options, **fixed)


class JointCTC(nn.Module):
    """The joint CTC head: log-probs [B, T, V] of the target tokens per encoder frame, and
    its weight in the loss (`model.ctc_weight`, rebuilt from the settings, not a weight)."""

    def __init__(self, in_dim: int, vocab_size: int, weight: float) -> None:
        super().__init__()
        from signcli.text.ctc import CTCHead

        self.head = CTCHead(in_dim, vocab_size)
        self.weight = float(weight)

    def forward(self, memory: Tensor, mask: Tensor | None = None, *_: Tensor) -> Tensor:
        """Log-probs [B, T, V]; the mask and the decoder's tokens are not read (frames are
        independent, and the loss goes by the lengths)."""
        return self.head(memory)


class TranslateLoss(nn.Module):
    """Label-smoothed cross-entropy of the decoder (mean over real target tokens) plus
    the joint CTC head's weight times the CTC loss of the same tokens on the encoder
    frames."""

    def __init__(self, optim: OptimSettings) -> None:
        super().__init__()
        self.smoothing = optim.label_smoothing

    def forward(self, outputs: Mapping[str, Any], targets: Mapping[str, Tensor]) -> Tensor:
        from signcli.text.ctc import ctc_loss
        from signcli.text.decoder import label_smoothed_loss

        loss = label_smoothed_loss(outputs["logits"], outputs["targets"], PAD_ID, self.smoothing)
        if CTC in outputs:
            cut = outputs["target_lengths"]
            tokens = targets[TOKENS][:, : outputs["targets"].shape[1]]
            ctc = ctc_loss(outputs[CTC], outputs["mask"], tokens, cut)
            loss = loss + outputs["ctc_weight"] * ctc
        return loss


class TranslateTask(TextTask):
    length_penalty: float = 1.0  # beam search at eval (text.length_penalty)

    def set_search(self, beam_size: int, length_penalty: float = 1.0) -> None:
        """How `forward` decodes in eval mode: greedy (beam 1) or beam search."""
        self.beam_size, self.length_penalty = int(beam_size), float(length_penalty)

    def prepare_eval(self, settings: Settings, labels: Mapping[str, Any], source: str) -> None:
        super().prepare_eval(settings, labels, source)
        self.set_search(settings.text.beam_size, settings.text.length_penalty)

    # ------------------------------------------------------------------ model

    def build_heads(
        self, in_dim: int, model: ModelSettings, labels: Mapping[str, Any]
    ) -> nn.ModuleDict:
        vocab = int(labels["num_tokens"])  # the output ids: the tokenizer's vocabulary
        heads = {DECODER: build_decoder(in_dim, model, vocab)}
        if model.ctc_weight > 0:
            heads[CTC] = JointCTC(in_dim, vocab, model.ctc_weight)
        return nn.ModuleDict(heads)

    def forward(self, model: nn.Module, batch: Batch) -> dict[str, Any]:
        """Teacher forcing on the batch's targets (the decoder's logits, the targets they
        are scored against, the joint CTC log-probs), through one call of the model so that
        a DDP or compiled wrapper sees it all; in eval mode (the plain module: validation,
        eval) also the search that `decode` runs."""
        outputs: dict[str, Any] = {"mask": batch.mask}
        teacher = TOKENS in batch.targets
        if teacher:
            inputs, targets, cut = teacher_forcing(
                batch.targets[TOKENS],
                batch.targets[TOKEN_LENGTHS],
                _max_target_len(_unwrap(model).heads[DECODER]),
            )
            outputs.update(targets=targets, target_lengths=cut)
        if model.training:
            if not teacher:
                raise ValueError("translate trains on batches with texts (tokens)")
            heads = model(batch.streams, batch.mask, inputs)
        else:
            memory = model.forward_features(batch.streams, batch.mask)
            heads = model.forward_head(memory, batch.mask, inputs) if teacher else {}
            # run by `decode` only: a loss alone needs no search
            outputs[SEARCH] = functools.partial(
                self.search, model.heads[DECODER], memory, batch.mask
            )
        if DECODER in heads:
            outputs["logits"] = heads[DECODER]
        if CTC in heads:
            outputs[CTC] = heads[CTC]
            outputs["ctc_weight"] = _unwrap(model).heads[CTC].weight
        return outputs

    def search(self, decoder: nn.Module, memory: Tensor, mask: Tensor) -> list[list[int]]:
        """Greedy (beam_size 1) or beam search: token ids per sample, without BOS/EOS."""
        from signcli.text.decoder import beam_search, greedy_search

        memory = memory.float()
        if self.beam_size <= 1:
            return greedy_search(decoder, memory, mask)
        return beam_search(decoder, memory, mask, self.beam_size, self.length_penalty)

    def decode(self, outputs: Mapping[str, Any], batch: Batch) -> list[list[int]]:
        return outputs[SEARCH]()

    def loss_module(self, optim: OptimSettings) -> nn.Module:
        return TranslateLoss(optim)

    def head_parameter_parts(
        self, model: ModelSettings, width: int, sizes: Mapping[str, Any]
    ) -> dict[str, tuple[int, str]]:
        """TextDecoder (tied embeddings; model.decoder_kwargs may set its num_layers, ff_dim,
        positions) and the joint CTC head. A user's decoder class counts as its embedding and
        output layer only, the least it holds (it is not built to count)."""
        from signcli.models.size import linear as _linear
        from signcli.models.size import norm as _norm

        d, vocab = width, int(sizes["num_tokens"])
        kwargs = model.decoder_kwargs if isinstance(model.decoder_kwargs, dict) else {}
        embedding = vocab * d + vocab  # tied input/output matrix + output bias
        parts = {"decoder embedding": (embedding, f"model.num_tokens={vocab} x d={d}")}
        if not model.decoder_class:
            layers = _int(kwargs.get("num_layers", 2))
            ff = _int(kwargs.get("ff_dim") or encoder_attention_shape(model)[1])
            layer = 2 * 4 * _linear(d, d) + 3 * _norm(d) + _linear(d, ff) + _linear(ff, d)
            learned = model.max_target_len * d if kwargs.get("positions") == "learned" else 0
            parts["decoder blocks"] = (
                layers * layer + _norm(d) + learned,
                f"decoder num_layers={layers} x (d={d}, ff_dim={ff})",
            )
        if model.ctc_weight > 0:
            parts["ctc head"] = (
                _norm(d) + _linear(d, vocab),
                f"model.ctc_weight > 0: d={d} x {vocab}",
            )
        return parts

    def smoke_shapes(
        self, batch: Batch, model: ModelSettings, sizes: Mapping[str, Any]
    ) -> dict[str, tuple[int, ...]]:
        # teacher forcing: logits per target position, and its targets
        frames, length = batch.mask.shape[1], int(batch.targets["token_lengths"].max()) + 1
        vocab = int(sizes["num_tokens"])
        expected = {
            "mask": (len(batch), frames),
            "logits": (len(batch), length, vocab),
            "targets": (len(batch), length),
            "target_lengths": (len(batch),),
        }
        if model.ctc_weight > 0:
            expected["ctc"] = (len(batch), frames, vocab)
        return expected

    # ------------------------------------------------------------------ export

    def onnx_output_names(self, model: nn.Module) -> list[str]:
        return [MEMORY]

    def onnx_forward(
        self, model: nn.Module, streams: Mapping[str, Tensor], mask: Tensor
    ) -> tuple[Tensor, ...]:
        """The encoder graph: memory [B, T, d] (the decoder-step graph reads it with the
        mask; export/text.py)."""
        return (model.forward_features(streams, mask),)


def _unwrap(model: nn.Module) -> nn.Module:
    """The SignModel inside a DDP (`module`) or torch.compile (`_orig_mod`) wrapper."""
    for attribute in ("module", "_orig_mod"):
        inner = getattr(model, attribute, None)
        if isinstance(inner, nn.Module):
            return _unwrap(inner)
    return model


def _max_target_len(decoder: nn.Module) -> int:
    return int(getattr(decoder, "max_target_len", 64))


def _int(value: object) -> int:
    """A size from decoder_kwargs (user input): a non-negative int, else 0 (the decoder's
    constructor reports the bad value)."""
    return value if isinstance(value, int) and value > 0 else 0
