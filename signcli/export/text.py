"""ONNX export of the text tasks' extra parts, beside the main graph of export/onnx.py
(docs/architecture.md, "Tasks"):

- translate: the main graph is the encoder (streams, mask -> memory [batch, time, d]); this
  module adds the decoder-step graph `<out stem>.decoder_step.onnx`

      inputs   memory       float32 [batch, time, d]   the encoder graph's output
               memory_mask  bool    [batch, time]      the mask fed to the encoder graph
               tokens       int64   [batch, length]    BOS, then the tokens chosen so far
      output   next_logits  float32 [batch, vocab]     the next token's logits

  run in a loop from [[BOS]] until EOS or max_target_len - 1 tokens (`onnx_greedy` is that
  loop in numpy; a beam search calls the same graph);
- both text tasks: the tokenizer as `tokenizer.json` beside the ONNX files, so ids map back
  to text with the `tokenizers` library alone.

The check runs greedy decoding in onnxruntime and in PyTorch on the same sample inputs and
requires the same tokens (`GreedyCheck`), besides the logits' tolerance of the main graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from signcli.core.errors import UsageError
from signcli.text.decoder import BOS_ID, EOS_ID, PAD_ID, DecoderStep, greedy_search

STEP_SUFFIX = ".decoder_step.onnx"
TOKENIZER_FILE = "tokenizer.json"
# (batch, time) of the greedy check: padding in the batches of more than one
GREEDY_CASES = ((1, 24), (3, 17), (4, 9))


@dataclass
class GreedyCheck:
    """onnxruntime's greedy tokens against PyTorch's on sample inputs."""

    samples: int
    same_tokens: int  # samples whose token sequences are identical
    step_max_abs_diff: float  # next_logits of the first step, onnxruntime vs torch
    passed: bool


def step_path(out: Path) -> Path:
    """`model.onnx` -> `model.decoder_step.onnx`, beside it."""
    return out.with_name(out.stem + STEP_SUFFIX)


def export_decoder_step(
    decoder: nn.Module, d_model: int, max_len: int, opset: int | None, checkpoint: Path
) -> Any:
    """The decoder's `step` as an ONNX ModelProto with symbolic batch, time and length."""
    from signcli.export.onnx import _quiet

    max_target_len = int(getattr(decoder, "max_target_len", 64))
    step = DecoderStep(decoder).eval()
    batch = torch.export.Dim("batch", min=1)
    time = torch.export.Dim("time", min=1, max=max(2, max_len))
    length = torch.export.Dim("length", min=1, max=max(2, max_target_len))
    # examples of 2 or more on every axis: torch.export specialises sizes 0 and 1
    T, L = min(8, max(2, max_len)), min(3, max(2, max_target_len))
    memory = torch.randn(2, T, d_model)
    mask = torch.ones(2, T, dtype=torch.bool)
    mask[1, T // 2 :] = False
    tokens = torch.full((2, L), BOS_ID, dtype=torch.long)
    try:
        with _quiet():
            program = torch.onnx.export(
                step,
                (memory, mask, tokens),
                None,
                input_names=list(step.input_names),
                output_names=list(step.output_names),
                dynamic_shapes=({0: batch, 1: time}, {0: batch, 1: time}, {0: batch, 1: length}),
                opset_version=opset,
                dynamo=True,
                optimize=True,
                verbose=False,
            )
    except Exception as exc:  # noqa: BLE001 - the exporter raises many types; one message
        from signcli.export.onnx import export_failure

        raise UsageError(
            f"ONNX export of the decoder step of {checkpoint} failed ({export_failure(exc)})",
            hint="a --decoder-class must write its step with exportable ops; rerun with "
            "`signcli --debug` for the traceback",
        ) from exc
    return program.model_proto


def onnx_greedy(
    encoder: Any,
    step: Any,
    feeds: dict[str, np.ndarray],
    mask: np.ndarray,
    max_tokens: int,
    bos: int = BOS_ID,
    eos: int = EOS_ID,
    pad: int = PAD_ID,
) -> list[list[int]]:
    """Greedy decoding with two onnxruntime sessions, as text/decoder.py `greedy_search`
    does it in PyTorch: ids without BOS and EOS."""
    (memory,) = encoder.run(None, feeds)
    B = memory.shape[0]
    tokens = np.full((B, 1), bos, dtype=np.int64)
    finished = np.zeros(B, dtype=bool)
    for _ in range(max_tokens):
        (logits,) = step.run(None, {"memory": memory, "memory_mask": mask, "tokens": tokens})
        following = np.where(finished, pad, logits.argmax(axis=-1)).astype(np.int64)
        tokens = np.concatenate([tokens, following[:, None]], axis=1)
        finished |= following == eos
        if finished.all():
            break
    rows = tokens[:, 1:].tolist()
    return [row[: row.index(eos)] if eos in row else row for row in rows]


def check_greedy(
    wrapper: nn.Module, encoder_path: Path, step_file: Path, max_len: int
) -> GreedyCheck:
    """Greedy tokens of onnxruntime (encoder graph + step loop) against PyTorch's on the
    sample inputs of GREEDY_CASES; passes when every sample decodes to the same tokens."""
    from signcli.export.onnx import feeds as input_feeds
    from signcli.export.onnx import onnx_session, random_inputs

    encoder, step = onnx_session(encoder_path), onnx_session(step_file)
    decoder = wrapper.model.heads["decoder"]
    max_tokens = int(getattr(decoder, "max_target_len", 64)) - 1
    samples = same = 0
    step_diff = 0.0
    for index, (batch, length) in enumerate(GREEDY_CASES):
        inputs = random_inputs(wrapper, batch, min(length, max_len), seed=100 + index)
        mask = inputs[-1]
        with torch.inference_mode():
            (memory,) = wrapper(*inputs)
            expected = greedy_search(decoder, memory, mask, max_tokens)
            first = decoder.step(memory, mask, torch.full((batch, 1), BOS_ID)).numpy()
        feeds = input_feeds(wrapper, inputs)
        got = onnx_greedy(encoder, step, feeds, mask.numpy(), max_tokens)
        (onnx_memory,) = encoder.run(None, feeds)
        (onnx_first,) = step.run(
            None,
            {
                "memory": onnx_memory,
                "memory_mask": mask.numpy(),
                "tokens": np.full((batch, 1), BOS_ID, dtype=np.int64),
            },
        )
        step_diff = max(step_diff, float(np.abs(onnx_first - first).max()))
        samples += batch
        same += sum(e == g for e, g in zip(expected, got, strict=True))
    return GreedyCheck(samples, same, step_diff, same == samples)


def check_ctc_greedy(wrapper: nn.Module, path: Path, max_len: int) -> GreedyCheck:
    """A ctc graph's greedy decoding (best path: argmax, repeats and blanks removed) in
    onnxruntime against PyTorch's on the sample inputs of GREEDY_CASES; `step_max_abs_diff`
    is the largest log-probability difference of real frames."""
    from signcli.export.onnx import feeds as input_feeds
    from signcli.export.onnx import onnx_session, random_inputs
    from signcli.text.ctc import greedy_decode

    session = onnx_session(path)
    samples = same = 0
    diff = 0.0
    for index, (batch, length) in enumerate(GREEDY_CASES):
        inputs = random_inputs(wrapper, batch, min(length, max_len), seed=100 + index)
        mask = inputs[-1]
        with torch.inference_mode():
            (expected_log_probs,) = wrapper(*inputs)
        (got_log_probs,) = session.run(None, input_feeds(wrapper, inputs))
        got_log_probs = torch.from_numpy(got_log_probs)
        real = mask.unsqueeze(-1).expand_as(got_log_probs)
        diff = max(diff, float((got_log_probs - expected_log_probs)[real].abs().max()))
        expected = greedy_decode(expected_log_probs.float(), mask)
        got = greedy_decode(got_log_probs.float(), mask)
        samples += batch
        same += sum(e == g for e, g in zip(expected, got, strict=True))
    return GreedyCheck(samples, same, diff, same == samples)


def tokenizer_json(labels: dict[str, Any]) -> str | None:
    """The tokenizer a text task's checkpoint carries (its labels map), or None."""
    text = labels.get("tokenizer")
    return text if isinstance(text, str) else None
