"""TextDecoder: causality, memory padding, search, a tiny overfit, --decoder-class. (The
decoder-step ONNX graph is tested by tests/tasks/test_translate_run.py through export-onnx.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from signcli.core.errors import UsageError
from signcli.text.decoder import (
    TextDecoder,
    decoder_batch,
    label_smoothed_loss,
    load_decoder_class,
)

V, D = 11, 16


def decoder(**kwargs) -> TextDecoder:
    torch.manual_seed(0)
    options = dict(num_layers=2, num_heads=2, dropout=0.0, max_target_len=8) | kwargs
    return TextDecoder(V, D, **options).eval()


def memory(B: int = 3, T: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    mask = torch.ones(B, T, dtype=torch.bool)
    if B > 1:
        mask[1, min(4, T - 1) :] = False  # a padded sample
    return torch.randn(B, T, D, generator=generator), mask


@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_position_t_does_not_see_later_tokens(positions: str) -> None:
    model = decoder(positions=positions)
    mem, mask = memory()
    tokens = torch.randint(3, V, (3, 7), generator=torch.Generator().manual_seed(2))
    logits = model(mem, mask, tokens)
    assert logits.shape == (3, 7, V)
    for t in range(6):
        changed = tokens.clone()
        changed[:, t + 1 :] = (changed[:, t + 1 :] + 1) % V
        torch.testing.assert_close(model(mem, mask, changed)[:, : t + 1], logits[:, : t + 1])
        assert not torch.allclose(model(mem, mask, changed)[:, t + 1 :], logits[:, t + 1 :])
    torch.testing.assert_close(model.step(mem, mask, tokens[:, :4]), logits[:, 3])


def test_memory_padding_cannot_change_the_outputs() -> None:
    model = decoder()
    mem, mask = memory()
    tokens = torch.randint(3, V, (3, 5), generator=torch.Generator().manual_seed(3))
    reference = model(mem, mask, tokens)
    padded = torch.cat([mem, torch.full((3, 4, D), float("inf"))], dim=1)
    padded[1, 4:6] = float("nan")  # sample 1's own padding, garbage too
    longer = torch.cat([mask, torch.zeros(3, 4, dtype=torch.bool)], dim=1)
    out = model(padded, longer, tokens)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, reference)
    assert not torch.allclose(model(mem, torch.ones_like(mask), tokens)[1], reference[1])


def test_beam_of_one_is_greedy_and_search_respects_max_len() -> None:
    model = decoder()
    mem, mask = memory(B=4)
    greedy = model.greedy_search(mem, mask)
    assert model.beam_search(mem, mask, beam_size=1) == greedy
    assert all(len(row) <= 7 and 2 not in row for row in greedy)
    assert all(len(row) <= 3 for row in model.beam_search(mem, mask, beam_size=3, max_len=3))
    with pytest.raises(ValueError, match="more than max_target_len 8"):
        model(mem, mask, torch.ones(4, 9, dtype=torch.long))


def test_batch_loss_ignores_padding_and_smooths_labels() -> None:
    inputs, outputs = decoder_batch([[5, 6, 7], [8]], max_target_len=8)
    assert inputs.tolist() == [[1, 5, 6, 7], [1, 8, 0, 0]]
    assert outputs.tolist() == [[5, 6, 7, 2], [8, 2, 0, 0]]
    assert decoder_batch([[5, 6, 7, 8]], max_target_len=3)[1].tolist() == [[5, 6, 2]]
    logits = torch.zeros(2, 4, V)
    logits[..., 0] = 50.0  # confident PAD everywhere: counts only where the target is real
    sharp = torch.zeros(2, 4, V).scatter(2, outputs.unsqueeze(-1), 50.0)
    assert label_smoothed_loss(sharp, outputs, smoothing=0.0) < 1e-6
    assert label_smoothed_loss(sharp, outputs, smoothing=0.1) > 1.0
    assert label_smoothed_loss(logits, outputs, smoothing=0.0) > 40


@pytest.mark.slow
def test_a_tiny_decoder_memorises_a_few_pairs() -> None:
    torch.manual_seed(0)
    model = TextDecoder(V, D, num_layers=1, num_heads=2, dropout=0.0, max_target_len=8)
    mem, mask = memory(B=4)
    targets = [[3, 4, 5], [6, 6, 7, 8], [9], [10, 3, 4, 5, 6]]
    inputs, outputs = decoder_batch(targets, model.max_target_len)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        optimizer.zero_grad()
        loss = label_smoothed_loss(model(mem, mask, inputs), outputs, smoothing=0.0)
        loss.backward()
        optimizer.step()
    model.eval()
    assert model.greedy_search(mem, mask) == targets
    assert model.beam_search(mem, mask, beam_size=3) == targets


USER_DECODER = """
import torch
from torch import nn

class Small(nn.Module):
    def __init__(self, vocab_size, d_model, width=4, pad_id=0):
        super().__init__()
        self.d_model, self.width, self.pad_id = d_model, width, pad_id
        self.out = nn.Linear(d_model, vocab_size)

    def forward(self, memory, memory_mask, tokens):
        return self.out(memory.mean(1)).unsqueeze(1).expand(-1, tokens.shape[1], -1)

    def step(self, memory, memory_mask, tokens):
        return self.forward(memory, memory_mask, tokens)[:, -1]

class Wrong(Small):
    def __init__(self, vocab_size, d_model):
        super().__init__(vocab_size, d_model)
        self.d_model = 2 * d_model

class NoStep(nn.Module):
    def __init__(self, vocab_size, d_model):
        super().__init__()
"""


def test_decoder_class_loads_a_users_module_and_names_what_is_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "user_decoders.py").write_text(USER_DECODER)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "user_decoders", raising=False)
    built = load_decoder_class("user_decoders:Small", '{"width": 7}', 16, V, pad_id=5, bos_id=1)
    assert (built.width, built.pad_id, built.d_model) == (7, 5, 16)  # bos_id: not a parameter
    assert isinstance(
        load_decoder_class("signcli.text.decoder:TextDecoder", None, 16, V), TextDecoder
    )
    cases = {
        (
            "user_decoders:Wrong",
            None,
        ): r"user_decoders:Wrong: its d_model is 32, the encoder's is 16",
        (
            "user_decoders:Small",
            '{"d_model": 8}',
        ): r"sets d_model 8, but the encoder's d_model is 16",
        ("user_decoders:NoStep", None): r"NoStep has no step\(",
        ("user_decoders:Small", '{"depth": 2}'): r"Small: the constructor does not take",
        ("user_decoders:Small", "[1]"): r"expected a JSON object",
        ("user_decoders:Small", "{bad"): r"not valid JSON",
        ("user_decoders:Absent", None): r"has no 'Absent'",
        ("no_such_module_xyz:Decoder", None): r"cannot import module 'no_such_module_xyz'",
        ("user_decoders", None): r"expected module:Class",
        ("user_decoders:Small", '{"vocab_size": 3}'): r"vocab_size comes from the tokenizer",
    }
    for (spec, kwargs), message in cases.items():
        with pytest.raises(UsageError, match=message):
            load_decoder_class(spec, kwargs, 16, V)
