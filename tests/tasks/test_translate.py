"""The translate task's own parts: teacher forcing from padded targets, the decoder and
joint CTC heads, the loss, decoding in eval mode, and --decoder-class through the settings."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest
import torch

from signcli.core.errors import UsageError
from signcli.models.classifier import SignModel
from signcli.models.registry import MODEL_REGISTRY
from signcli.settings import ModelSettings, OptimSettings
from signcli.tasks import build_task
from signcli.tasks.translate import CTC, DECODER, TOKEN_LENGTHS, TOKENS, teacher_forcing
from signcli.text.decoder import BOS_ID, EOS_ID, PAD_ID, TextDecoder

V = 12


def test_teacher_forcing_shifts_cuts_and_pads() -> None:
    tokens = torch.tensor([[5, 6, 7, 0], [8, 0, 0, 0], [4, 5, 6, 7]])
    lengths = torch.tensor([3, 1, 4])
    inputs, outputs, cut = teacher_forcing(tokens, lengths, max_target_len=4)
    # at most 4 inputs: BOS + 3 tokens; the 4-token target is cut to 3 + EOS
    assert inputs.tolist() == [[BOS_ID, 5, 6, 7], [BOS_ID, 8, 0, 0], [BOS_ID, 4, 5, 6]]
    assert outputs.tolist() == [[5, 6, 7, EOS_ID], [8, EOS_ID, 0, 0], [4, 5, 6, EOS_ID]]
    assert cut.tolist() == [3, 1, 3]
    short, _, _ = teacher_forcing(tokens[:, :2], torch.tensor([2, 1, 2]), max_target_len=16)
    assert short.tolist() == [[BOS_ID, 5, 6], [BOS_ID, 8, PAD_ID], [BOS_ID, 4, 5]]


def _model(ctc_weight: float = 0.0, **model_options) -> tuple[SignModel, ModelSettings]:
    torch.manual_seed(0)
    settings = ModelSettings(
        task="translate",
        d_model=16,
        num_layers=1,
        num_heads=2,
        ff_dim=32,
        dropout=0.0,
        max_target_len=8,
        ctc_weight=ctc_weight,
        **model_options,
    )
    encoder = MODEL_REGISTRY["transformer"](settings, {"x": 6})
    heads = build_task("translate").build_heads(encoder.out_dim, settings, {"num_tokens": V})
    return SignModel(encoder, heads), settings


def _batch(targets: list[list[int]], T: int = 6) -> SimpleNamespace:
    generator = torch.Generator().manual_seed(3)
    B = len(targets)
    mask = torch.ones(B, T, dtype=torch.bool)
    mask[-1, T // 2 :] = False
    width = max(len(t) for t in targets)
    tokens = torch.tensor([t + [PAD_ID] * (width - len(t)) for t in targets])
    return SimpleNamespace(
        streams={"x": torch.randn(B, T, 6, generator=generator)},
        mask=mask,
        targets={TOKENS: tokens, TOKEN_LENGTHS: torch.tensor([len(t) for t in targets])},
    )


@pytest.mark.slow
def test_the_model_memorises_a_batch_and_decodes_it_greedily_and_with_beams() -> None:
    model, _ = _model(ctc_weight=0.3)
    assert set(model.heads) == {DECODER, CTC} and isinstance(model.heads[DECODER], TextDecoder)
    task = build_task("translate")
    loss_fn = task.loss_module(OptimSettings(label_smoothing=0.0))
    targets = [[4, 5, 6], [7, 8], [9, 10, 11, 4]]
    batch = _batch(targets)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    first = None
    for _ in range(60):
        loss = loss_fn(task.forward(model, batch), batch.targets)
        first = float(loss.detach()) if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(loss.detach()) < 0.1 * first
    model.eval()
    with torch.no_grad():
        assert task.decode(task.forward(model, batch), batch) == targets
        task.set_search(beam_size=3, length_penalty=1.0)
        assert task.decode(task.forward(model, batch), batch) == targets


def test_the_ctc_weight_adds_the_ctc_loss_and_its_head() -> None:
    batch = _batch([[4, 5], [6]])
    task = build_task("translate")
    loss_fn = task.loss_module(OptimSettings(label_smoothing=0.1))
    plain, _ = _model(ctc_weight=0.0)
    assert CTC not in plain.heads
    joint, _ = _model(ctc_weight=0.5)
    joint.heads[DECODER].load_state_dict(plain.heads[DECODER].state_dict())
    joint.encoder.load_state_dict(plain.encoder.state_dict())
    outputs = task.forward(joint, batch)
    without = loss_fn(task.forward(plain, batch), batch.targets)
    with_ctc = loss_fn(outputs, batch.targets)
    from signcli.text.ctc import ctc_loss

    expected_ctc = ctc_loss(
        outputs[CTC], batch.mask, batch.targets[TOKENS], batch.targets[TOKEN_LENGTHS]
    )
    difference = float((with_ctc - without).detach())
    assert difference == pytest.approx(0.5 * float(expected_ctc.detach()), rel=1e-5)


def test_decoder_kwargs_size_the_builtin_decoder() -> None:
    model, _ = _model(decoder_kwargs={"num_layers": 3, "positions": "learned"})
    decoder = model.heads[DECODER]
    assert len(decoder.layers) == 3 and isinstance(decoder.positions, torch.nn.Parameter)
    assert decoder.max_target_len == 8 and decoder.d_model == 16


USER_DECODER = """
import torch
from torch import nn

class Tiny(nn.Module):
    def __init__(self, vocab_size, d_model, max_target_len=64, scale=1.0):
        super().__init__()
        self.d_model, self.max_target_len, self.scale = d_model, max_target_len, scale
        self.embed = nn.Embedding(vocab_size, d_model)
        self.out = nn.Linear(d_model, vocab_size)

    def forward(self, memory, memory_mask, tokens):
        pooled = (memory * memory_mask.unsqueeze(-1)).sum(1) / memory_mask.sum(1, keepdim=True)
        return self.out(self.embed(tokens) + pooled.unsqueeze(1)) * self.scale

    def step(self, memory, memory_mask, tokens):
        return self.forward(memory, memory_mask, tokens)[:, -1]

class Wide(Tiny):
    def __init__(self, vocab_size, d_model):
        super().__init__(vocab_size, d_model)
        self.d_model = d_model * 2
"""


def test_a_users_decoder_class_is_built_with_its_kwargs_and_checked(tmp_path, monkeypatch) -> None:
    (tmp_path / "my_decoders.py").write_text(USER_DECODER)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_decoders", raising=False)
    model, _ = _model(decoder_class="my_decoders:Tiny", decoder_kwargs={"scale": 2.0})
    decoder = model.heads[DECODER]
    assert type(decoder).__name__ == "Tiny" and decoder.scale == 2.0
    assert decoder.max_target_len == 8  # model.max_target_len, as its constructor names it
    with pytest.raises(UsageError, match="my_decoders:Wide.*d_model is 32.*encoder's is 16"):
        _model(decoder_class="my_decoders:Wide")
    with pytest.raises(UsageError, match="cannot import module 'no_such_module'"):
        _model(decoder_class="no_such_module:Decoder")


@pytest.mark.parametrize(
    "options",
    [{}, {"ctc_weight": 0.3, "decoder_kwargs": {"num_layers": 3, "positions": "learned"}}],
)
def test_model_size_counts_the_decoder_exactly(options) -> None:
    from signcli.settings import Settings
    from signcli.tasks.model import build_run_model
    from signcli.tasks.size import parameter_count

    _, model_settings = _model(**options)
    settings = Settings(model=model_settings)
    model = build_run_model(settings, {"x": 6}, {"num_tokens": V})
    built = sum(t.numel() for t in model.state_dict().values())
    assert parameter_count(settings, {"x": 6}, {"num_tokens": V}) == built
