"""Is the synthetic sentence data learnable, and do the text modules learn it? (issue 11 target:
val BLEU >= 90 within 2 minutes of CPU training; beam never worse than greedy.)

    python benchmarks/bench_text.py --seconds 120 --threads 2

Until the `translate` task is wired into the engine, this trains outside it: a small
stand-alone encoder (standardised keypoints + missing-hand flags, a temporal convolution,
a transformer encoder) with signcli's `TextDecoder` (label smoothing 0.1) and a joint
`CTCHead` over glosses (weight 0.3), for a fixed wall-clock budget, then reports val BLEU
/ chrF / WER (greedy and beam 4) and the CTC gloss WER (greedy and beam). One JSON line.

Measured on the shared 2-core development machine under a load average of 8-10 (other
jobs on both cores), 1 thread, 800 train / 100 val sentences:

    --seconds 300 (d_model 128, lr 1e-3): 293 steps, val BLEU 96.7 greedy / 97.1 beam 4,
        chrF 98.2, WER 0.017; CTC gloss WER 0.178 greedy / 0.160 beam
    --seconds 120 --d-model 64 --lr 2e-3: 181 steps, val BLEU 88.8 greedy / 88.2 beam 4
    --seconds 120 (d_model 128): 102 steps, val BLEU 41.1

so the data is learnable to BLEU > 90 in a few hundred steps; whether 2 minutes suffice
depends on the steps a free machine runs in them (not measured here).
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import torch
from torch import nn

from signcli.data.synthetic_sentences import make_sentences
from signcli.text.ctc import CTCHead, beam_decode, ctc_loss, greedy_decode, pad_targets
from signcli.text.decoder import TextDecoder, decoder_batch, label_smoothed_loss
from signcli.text.metrics import bleu, chrf, wer
from signcli.text.tokenizer import TextTokenizer


def features(x: np.ndarray) -> np.ndarray:
    """[T, 156] -> [T, 158]: NaN -> 0 and one missing flag per hand."""
    missing = np.isnan(x[:, [0, 63]]).astype(np.float32)
    return np.concatenate([np.nan_to_num(x, nan=0.0), missing], axis=1)


class Encoder(nn.Module):
    def __init__(self, dim: int, d_model: int, layers: int, mean: np.ndarray, std: np.ndarray):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean))
        self.register_buffer("std", torch.tensor(std))
        self.project = nn.Linear(dim, d_model)
        self.conv = nn.Conv1d(d_model, d_model, 5, padding=2)
        layer = nn.TransformerEncoderLayer(
            d_model, 4, 2 * d_model, dropout=0.1, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        position = torch.arange(512).unsqueeze(1)
        rate = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        table = torch.zeros(512, d_model)
        table[:, 0::2], table[:, 1::2] = torch.sin(position * rate), torch.cos(position * rate)
        self.register_buffer("positions", table)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = torch.where(mask.unsqueeze(-1), (x - self.mean) / self.std, torch.zeros_like(x))
        h = self.project(x)
        h = h + torch.relu(self.conv(h.transpose(1, 2))).transpose(1, 2)
        h = h + self.positions[: h.shape[1]]
        return self.norm(self.encoder(h, src_key_padding_mask=~mask))


def batches(items: list, size: int, rng: np.random.Generator):
    order = rng.permutation(len(items))
    for start in range(0, len(order), size):
        yield [items[i] for i in order[start : start + size]]


def collate(samples: list[dict]) -> tuple[torch.Tensor, torch.Tensor]:
    T = max(len(s["x"]) for s in samples)
    x = torch.zeros(len(samples), T, samples[0]["x"].shape[1])
    mask = torch.zeros(len(samples), T, dtype=torch.bool)
    for i, s in enumerate(samples):
        x[i, : len(s["x"])] = torch.from_numpy(s["x"])
        mask[i, : len(s["x"])] = True
    return x, mask


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=800)
    parser.add_argument("--val", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--ctc-weight", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    started = time.perf_counter()
    train = make_sentences(args.train, seed=1000 + args.seed)
    val = make_sentences(args.val, seed=2000 + args.seed)
    generated_s = time.perf_counter() - started

    text_tok = TextTokenizer.train([s.text for s in train], "word")
    gloss_tok = TextTokenizer.train([s.gloss_text for s in train], "word")
    frames = np.concatenate([features(s.x) for s in train])
    mean, std = frames.mean(0), frames.std(0) + 1e-3

    def prepare(sentences):
        return [
            {
                "x": features(s.x),
                "text": text_tok.encode(s.text),
                "gloss": gloss_tok.encode(s.gloss_text),
                "ref": s.text,
                "gloss_ref": s.gloss_text,
            }
            for s in sentences
        ]

    train_items, val_items = prepare(train), prepare(val)
    encoder = Encoder(158, args.d_model, args.layers, mean, std)
    decoder = TextDecoder(
        text_tok.vocab_size, args.d_model, num_layers=2, num_heads=4, dropout=0.1, max_target_len=16
    )
    ctc_head = CTCHead(args.d_model, gloss_tok.vocab_size)
    parameters = [*encoder.parameters(), *decoder.parameters(), *ctc_head.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=args.lr, weight_decay=0.01)
    rng = np.random.default_rng(args.seed)
    step, epoch, began = 0, 0, time.perf_counter()
    while time.perf_counter() - began < args.seconds:
        epoch += 1
        for batch in batches(train_items, args.batch, rng):
            if time.perf_counter() - began >= args.seconds:
                break
            lr = args.lr * min(1.0, (step + 1) / 100)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x, mask = collate(batch)
            memory = encoder(x, mask)
            inputs, outputs = decoder_batch([b["text"] for b in batch], decoder.max_target_len)
            loss = label_smoothed_loss(decoder(memory, mask, inputs), outputs, smoothing=0.1)
            targets, lengths = pad_targets([b["gloss"] for b in batch])
            loss = loss + args.ctc_weight * ctc_loss(ctc_head(memory), mask, targets, lengths)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            step += 1
    trained_s = time.perf_counter() - began

    encoder.eval(), decoder.eval(), ctc_head.eval()
    hyps: dict[str, list[str]] = {"greedy": [], "beam": [], "ctc_greedy": [], "ctc_beam": []}
    with torch.no_grad():
        for start in range(0, len(val_items), 64):
            batch = val_items[start : start + 64]
            x, mask = collate(batch)
            memory = encoder(x, mask)
            hyps["greedy"] += [text_tok.decode(t) for t in decoder.greedy_search(memory, mask)]
            beam = decoder.beam_search(memory, mask, beam_size=4, length_penalty=1.0)
            hyps["beam"] += [text_tok.decode(t) for t in beam]
            log_probs = ctc_head(memory)
            hyps["ctc_greedy"] += [gloss_tok.decode(t) for t in greedy_decode(log_probs, mask)]
            hyps["ctc_beam"] += [gloss_tok.decode(t) for t in beam_decode(log_probs, mask, 4)]
    refs = [text_tok.normalize(b["ref"]) for b in val_items]
    gloss_refs = [gloss_tok.normalize(b["gloss_ref"]) for b in val_items]
    result = {
        "train": args.train,
        "val": args.val,
        "threads": args.threads,
        "d_model": args.d_model,
        "steps": step,
        "epochs": epoch,
        "generate_s": round(generated_s, 1),
        "train_s": round(trained_s, 1),
        "val_bleu_greedy": round(bleu(refs, hyps["greedy"]), 2),
        "val_bleu_beam4": round(bleu(refs, hyps["beam"]), 2),
        "val_chrf_greedy": round(chrf(refs, hyps["greedy"]), 2),
        "val_wer_greedy": round(wer(refs, hyps["greedy"]), 4),
        "val_wer_beam4": round(wer(refs, hyps["beam"]), 4),
        "ctc_gloss_wer_greedy": round(wer(gloss_refs, hyps["ctc_greedy"]), 4),
        "ctc_gloss_wer_beam4": round(wer(gloss_refs, hyps["ctc_beam"]), 4),
        "example": [refs[0], hyps["greedy"][0]],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
