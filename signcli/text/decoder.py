"""The text decoder of task `translate` (docs/architecture.md, "Text targets").

`TextDecoder` is a pre-norm transformer decoder over token ids: per layer causal
self-attention, cross-attention to the encoder output `memory [B, T, d_model]` (only its
real frames: `memory_mask [B, T]`, True = real), and a feed-forward block. Input and output
embeddings are one matrix (tied); positions are sinusoidal (a fixed table) or learned, up to
`max_target_len`. The attention is written with plain ops (matmul, masked_fill, softmax),
not nn.MultiheadAttention / nn.TransformerDecoder, whose fused fast paths trace badly to
ONNX; the causal mask is built from `arange` so the length stays symbolic in an export.

Sequences: a target of n tokens is trained as inputs [BOS, y1 .. yn] -> outputs
[y1 .. yn, EOS] (teacher forcing, `decoder_batch`), inputs padded with PAD after the end;
at most `max_target_len` inputs, so a longer target is cut to max_target_len - 1 tokens +
EOS. The causal mask alone keeps padding from reaching real positions (it only follows
them), and the loss ignores PAD targets.

Interface of a decoder (what `--decoder-class module:Class` must provide; TextDecoder is one):

    Class(vocab_size=int, d_model=int, **decoder_kwargs)   an nn.Module; it also gets those
        of max_target_len, pad_id, bos_id, eos_id its constructor names; a `d_model`
        attribute, if it has one, must equal the encoder's
    forward(memory [B,T,d], memory_mask [B,T] bool, tokens [B,L] int64) -> logits [B,L,V]
        position t may depend on tokens[:, :t+1] only
    step(memory, memory_mask, tokens) -> logits [B, V] of the token after tokens[:, -1]
        (exported to ONNX as the decoder-step graph)

`greedy_search` and `beam_search` work on any such module through `step` (no key/value
cache: targets are tens of tokens, and one graph for the whole prefix exports simply).
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from signcli.core.errors import UsageError

Positions = Literal["sinusoidal", "learned"]
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2  # TextTokenizer's


class Attention(nn.Module):
    """Multi-head scaled dot-product attention with a boolean `keep` mask (True = may attend)."""

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model {d_model} is not a multiple of num_heads {num_heads}")
        self.num_heads, self.head_dim = num_heads, d_model // num_heads
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, d_model)
        self.value = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def _heads(self, x: Tensor) -> Tensor:  # [B, N, d] -> [B, H, N, d/H]
        return x.reshape(x.shape[0], x.shape[1], self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, x: Tensor, source: Tensor, keep: Tensor) -> Tensor:
        """x [B, L, d] attends over source [B, S, d]; keep [B or 1, L or 1, S]."""
        q, k, v = (
            self._heads(self.query(x)),
            self._heads(self.key(source)),
            self._heads(self.value(source)),
        )
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)  # [B, H, L, S]
        scores = scores.masked_fill(~keep.unsqueeze(1), torch.finfo(scores.dtype).min)
        weights = self.dropout(scores.softmax(dim=-1))
        y = (weights @ v).transpose(1, 2)  # [B, L, H, d/H]
        return self.out(y.reshape(x.shape[0], x.shape[1], self.num_heads * self.head_dim))


class DecoderLayer(nn.Module):
    """Pre-norm: x + self-attention, x + cross-attention, x + feed-forward."""

    def __init__(self, d_model: int, num_heads: int, ff_dim: int, dropout: float) -> None:
        super().__init__()
        self.norm_self, self.norm_cross, self.norm_ff = (nn.LayerNorm(d_model) for _ in range(3))
        self.self_attention = Attention(d_model, num_heads, dropout)
        self.cross_attention = Attention(d_model, num_heads, dropout)
        self.ff = nn.Sequential(
            nn.Linear(d_model, ff_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff_dim, d_model)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, memory: Tensor, causal: Tensor, memory_keep: Tensor) -> Tensor:
        h = self.norm_self(x)
        x = x + self.dropout(self.self_attention(h, h, causal))
        x = x + self.dropout(self.cross_attention(self.norm_cross(x), memory, memory_keep))
        return x + self.dropout(self.ff(self.norm_ff(x)))


def sinusoidal_positions(length: int, d_model: int) -> Tensor:
    """The fixed table [length, d_model] of Vaswani et al. (sin on even, cos on odd columns)."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    rate = torch.exp(
        torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model)
    )
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)[:, : d_model // 2]
    return table


class TextDecoder(nn.Module):
    """Transformer decoder: (memory [B,T,d], memory_mask [B,T], tokens [B,L]) -> logits [B,L,V]."""

    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        num_layers: int = 2,
        num_heads: int = 4,
        ff_dim: int | None = None,
        dropout: float = 0.1,
        max_target_len: int = 64,
        positions: Positions = "sinusoidal",
        pad_id: int = PAD_ID,
        bos_id: int = BOS_ID,
        eos_id: int = EOS_ID,
    ) -> None:
        super().__init__()
        if positions not in ("sinusoidal", "learned"):
            raise ValueError(f"unknown positions {positions!r}: expected sinusoidal or learned")
        if max_target_len < 2:
            raise ValueError(
                f"max_target_len must be at least 2 (BOS and EOS), got {max_target_len}"
            )
        self.vocab_size, self.d_model, self.max_target_len = vocab_size, d_model, max_target_len
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        self.embedding = nn.Embedding(vocab_size, d_model)
        nn.init.normal_(self.embedding.weight, std=d_model**-0.5)
        if positions == "learned":
            self.positions = nn.Parameter(torch.randn(max_target_len, d_model) * 0.02)
        else:  # not in the state dict: the same table is rebuilt from the settings
            self.register_buffer(
                "positions", sinusoidal_positions(max_target_len, d_model), persistent=False
            )
        self.layers = nn.ModuleList(
            DecoderLayer(d_model, num_heads, ff_dim or 4 * d_model, dropout)
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.output_bias = nn.Parameter(torch.zeros(vocab_size))
        self.dropout = nn.Dropout(dropout)

    def forward(self, memory: Tensor, memory_mask: Tensor, tokens: Tensor) -> Tensor:
        """Teacher forcing: logits [B, L, V]; row t predicts the token after tokens[:, t]."""
        length = tokens.shape[1]
        if length > self.max_target_len:
            raise ValueError(
                f"{length} input tokens, more than max_target_len {self.max_target_len}: "
                "cut targets with decoder_batch"
            )
        # padding frames may hold anything (even Inf); 0 * Inf in the attention's sum would
        # be NaN, so they become 0 before any product, and the mask gives them weight 0
        memory = torch.where(memory_mask.unsqueeze(-1), memory, torch.zeros_like(memory))
        x = self.embedding(tokens) * math.sqrt(self.d_model) + self.positions[:length]
        x = self.dropout(x)
        steps = torch.arange(length, device=tokens.device)
        causal = (steps.unsqueeze(0) <= steps.unsqueeze(1)).unsqueeze(0)  # [1, L, L]
        memory_keep = memory_mask.unsqueeze(1)  # [B, 1, T]
        for layer in self.layers:
            x = layer(x, memory, causal, memory_keep)
        return self.norm(x) @ self.embedding.weight.t() + self.output_bias

    def step(self, memory: Tensor, memory_mask: Tensor, tokens: Tensor) -> Tensor:
        """Logits [B, V] of the next token after the prefixes tokens [B, L] (L <= max_target_len)."""
        return self.forward(memory, memory_mask, tokens)[:, -1]

    def greedy_search(
        self, memory: Tensor, memory_mask: Tensor, max_len: int | None = None
    ) -> list[list[int]]:
        return greedy_search(self, memory, memory_mask, max_len)

    def beam_search(
        self,
        memory: Tensor,
        memory_mask: Tensor,
        beam_size: int = 4,
        length_penalty: float = 1.0,
        max_len: int | None = None,
    ) -> list[list[int]]:
        return beam_search(self, memory, memory_mask, beam_size, length_penalty, max_len)


class DecoderStep(nn.Module):
    """The decoder-step graph for ONNX export: (memory, memory_mask, tokens) -> next_logits."""

    input_names = ("memory", "memory_mask", "tokens")
    output_names = ("next_logits",)

    def __init__(self, decoder: nn.Module) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, memory: Tensor, memory_mask: Tensor, tokens: Tensor) -> Tensor:
        return self.decoder.step(memory, memory_mask, tokens)


# ---------------------------------------------------------------------------------------
# Training


def decoder_batch(
    targets: Sequence[Sequence[int]],
    max_target_len: int,
    bos_id: int = BOS_ID,
    eos_id: int = EOS_ID,
    pad_id: int = PAD_ID,
) -> tuple[Tensor, Tensor]:
    """Teacher forcing: token lists -> (inputs [B, L] = BOS y1..yn, outputs [B, L] = y1..yn EOS),
    PAD after each end, a target cut to max_target_len - 1 tokens."""
    cut = [list(t)[: max_target_len - 1] for t in targets]
    length = max(1, max((len(t) + 1 for t in cut), default=1))
    inputs = torch.full((len(cut), length), pad_id, dtype=torch.long)
    outputs = torch.full((len(cut), length), pad_id, dtype=torch.long)
    for i, t in enumerate(cut):
        inputs[i, : len(t) + 1] = torch.tensor([bos_id, *t], dtype=torch.long)
        outputs[i, : len(t) + 1] = torch.tensor([*t, eos_id], dtype=torch.long)
    return inputs, outputs


def label_smoothed_loss(
    logits: Tensor, targets: Tensor, pad_id: int = PAD_ID, smoothing: float = 0.1
) -> Tensor:
    """Mean cross-entropy over the non-PAD target positions, with label smoothing
    (`smoothing` of the probability spread over the vocabulary)."""
    return F.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]),
        targets.reshape(-1),
        ignore_index=pad_id,
        label_smoothing=smoothing,
    )


# ---------------------------------------------------------------------------------------
# Search


def _ids(decoder: nn.Module, name: str, default: int) -> int:
    return int(getattr(decoder, name, default))


def _strip(rows: list[list[int]], eos_id: int) -> list[list[int]]:
    return [row[: row.index(eos_id)] if eos_id in row else row for row in rows]


@torch.no_grad()
def greedy_search(
    decoder: nn.Module, memory: Tensor, memory_mask: Tensor, max_len: int | None = None
) -> list[list[int]]:
    """The most likely token at each step, until EOS or max_len tokens (default: the
    decoder's max_target_len - 1, the longest a target is trained at). Ids without EOS."""
    bos, eos, pad = (
        _ids(decoder, "bos_id", BOS_ID),
        _ids(decoder, "eos_id", EOS_ID),
        _ids(decoder, "pad_id", PAD_ID),
    )
    max_len = max_len if max_len is not None else _ids(decoder, "max_target_len", 64) - 1
    B = memory.shape[0]
    tokens = torch.full((B, 1), bos, dtype=torch.long, device=memory.device)
    finished = torch.zeros(B, dtype=torch.bool, device=memory.device)
    for _ in range(max_len):
        following = decoder.step(memory, memory_mask, tokens).argmax(dim=-1)
        following = torch.where(finished, torch.full_like(following, pad), following)
        tokens = torch.cat([tokens, following.unsqueeze(1)], dim=1)
        finished |= following == eos
        if bool(finished.all()):
            break
    return _strip(tokens[:, 1:].tolist(), eos)


@torch.no_grad()
def beam_search(
    decoder: nn.Module,
    memory: Tensor,
    memory_mask: Tensor,
    beam_size: int = 4,
    length_penalty: float = 1.0,
    max_len: int | None = None,
) -> list[list[int]]:
    """Beam search: `beam_size` prefixes per sample ranked by summed log-probability; a
    prefix that emitted EOS keeps its score (it continues with PAD at no cost) and its
    length. The answer is the beam's best by score / length ** length_penalty (0: raw sum,
    which favours short outputs; 1: per-token mean). beam_size 1 is greedy_search."""
    if beam_size < 1:
        raise ValueError(f"beam_size must be at least 1, got {beam_size}")
    bos, eos, pad = (
        _ids(decoder, "bos_id", BOS_ID),
        _ids(decoder, "eos_id", EOS_ID),
        _ids(decoder, "pad_id", PAD_ID),
    )
    max_len = max_len if max_len is not None else _ids(decoder, "max_target_len", 64) - 1
    B, K, device = memory.shape[0], beam_size, memory.device
    memory = memory.repeat_interleave(K, dim=0)  # [B*K, T, d]
    memory_mask = memory_mask.repeat_interleave(K, dim=0)
    tokens = torch.full((B * K, 1), bos, dtype=torch.long, device=device)
    scores = torch.full((B, K), -math.inf, device=device)
    scores[:, 0] = 0.0  # one live prefix at the start, not K copies of it
    finished = torch.zeros(B * K, dtype=torch.bool, device=device)
    lengths = torch.zeros(B * K, device=device)
    rows = torch.arange(B, device=device).unsqueeze(1) * K  # [B, 1]
    for _ in range(max_len):
        logp = decoder.step(memory, memory_mask, tokens).float().log_softmax(dim=-1)  # [B*K, V]
        V = logp.shape[-1]
        done = torch.full_like(logp, -math.inf)
        done[:, pad] = 0.0
        logp = torch.where(finished.unsqueeze(1), done, logp)
        candidates = (scores.reshape(B * K, 1) + logp).reshape(B, K * V)
        scores, index = candidates.topk(K, dim=1)  # [B, K]
        source = (rows + torch.div(index, V, rounding_mode="floor")).reshape(-1)
        token = (index % V).reshape(-1)
        tokens = torch.cat([tokens[source], token.unsqueeze(1)], dim=1)
        was_finished = finished[source]
        lengths = lengths[source] + (~was_finished).float()
        finished = was_finished | (token == eos)
        if bool(finished.all()):
            break
    normalised = scores.reshape(-1) / lengths.clamp(min=1.0) ** length_penalty
    normalised = torch.where(
        torch.isfinite(scores.reshape(-1)), normalised, torch.full_like(normalised, -math.inf)
    )
    best = (rows.squeeze(1) + normalised.reshape(B, K).argmax(dim=1)).tolist()
    return _strip(tokens[best, 1:].tolist(), eos)


# ---------------------------------------------------------------------------------------
# --decoder-class


OPTIONAL_KWARGS = ("max_target_len", "pad_id", "bos_id", "eos_id")


def parse_decoder_kwargs(
    kwargs: str | Mapping[str, Any] | None, spec: str = "the decoder"
) -> dict[str, Any]:
    """`--decoder-kwargs` (a JSON object, or a mapping already) as a dict."""
    if kwargs is None or kwargs == "":
        return {}
    if isinstance(kwargs, str):
        try:
            kwargs = json.loads(kwargs)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"--decoder-kwargs for {spec}: not valid JSON ({exc.msg} at character {exc.pos})",
                hint="give a JSON object, e.g. --decoder-kwargs '{\"num_layers\": 3}'",
            ) from None
    if not isinstance(kwargs, Mapping):
        raise UsageError(
            f"--decoder-kwargs for {spec}: expected a JSON object, got {type(kwargs).__name__}",
            hint="e.g. --decoder-kwargs '{\"num_layers\": 3}'",
        )
    return dict(kwargs)


def load_decoder_class(
    spec: str,
    kwargs: str | Mapping[str, Any] | None,
    d_model: int,
    vocab_size: int,
    **fixed: Any,
) -> nn.Module:
    """Build the decoder `--decoder-class module:Class` names, with `--decoder-kwargs`.

    The class gets vocab_size, d_model (the encoder's) and those of `fixed` (max_target_len,
    pad_id, bos_id, eos_id) that its constructor names or takes as **kwargs, plus the
    user's kwargs. UsageError (exit 2) naming the class when the spec is malformed, the
    module cannot be imported, the class is missing or not an nn.Module, the kwargs do not
    fit its constructor, it lacks `step`, or its d_model differs from the encoder's.
    Importing runs the module's code: a spec read from a stored run passes
    signcli/engine/trust.py `check_decoder_class` first (eval, export-onnx, resume).
    """
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise UsageError(
            f"--decoder-class {spec!r}: expected module:Class (e.g. mypackage.decoders:MyDecoder)"
        )
    options = parse_decoder_kwargs(kwargs, spec)
    if options.get("d_model", d_model) != d_model:
        raise UsageError(
            f"--decoder-class {spec}: --decoder-kwargs sets d_model {options['d_model']}, but the "
            f"encoder's d_model is {d_model}",
            hint="leave d_model out of --decoder-kwargs (signcli passes the encoder's), or change model.d_model",
        )
    if "vocab_size" in options:
        raise UsageError(
            f"--decoder-class {spec}: vocab_size comes from the tokenizer; leave it out of --decoder-kwargs"
        )
    options.pop("d_model", None)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any error while importing user code
        raise UsageError(
            f"--decoder-class {spec}: cannot import module {module_name!r} "
            f"({type(exc).__name__}: {str(exc).strip()[:200]})",
            hint="install it, or put its folder on PYTHONPATH",
        ) from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise UsageError(f"--decoder-class {spec}: module {module_name!r} has no {class_name!r}")
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise UsageError(f"--decoder-class {spec}: {class_name} is not a torch.nn.Module subclass")
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        parameters = {}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    extra = {
        k: v for k, v in fixed.items() if k in OPTIONAL_KWARGS and (takes_any or k in parameters)
    }
    try:
        decoder = cls(vocab_size=vocab_size, d_model=d_model, **extra, **options)
    except TypeError as exc:
        raise UsageError(
            f"--decoder-class {spec}: the constructor does not take these arguments ({exc})",
            hint="it must accept vocab_size and d_model, plus the keys of --decoder-kwargs",
        ) from None
    if not callable(getattr(decoder, "step", None)):
        raise UsageError(
            f"--decoder-class {spec}: {class_name} has no step(memory, memory_mask, tokens) method",
            hint='see the decoder interface in docs/architecture.md, "Text targets"',
        )
    own = getattr(decoder, "d_model", d_model)
    if own != d_model:
        raise UsageError(
            f"--decoder-class {spec}: its d_model is {own}, the encoder's is {d_model}",
            hint="build the decoder with the d_model it is given, or change model.d_model",
        )
    return decoder
