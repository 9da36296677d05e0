"""`smoke`: a seconds-long sanity run of each model on synthetic data, no files needed.

Checks output shapes, a finite loss, a non-zero gradient for every trainable parameter,
and that a few steps lower the loss; `overfit` trains on one fixed batch until the loss
falls under 5% of its start.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from signcli.auto_size import resolve_auto_model
from signcli.core.task_specs import has_text_targets
from signcli.data.dataset import collate_streams
from signcli.data.sample import SINGLE_STREAM, Sample
from signcli.data.synthetic import (
    SyntheticSample,
    keypoint_streams,
    make_features,
    make_samples,
)
from signcli.engine.device import seed_everything
from signcli.models.inputs import input_stats
from signcli.settings import ModelSettings, OptimSettings, Settings
from signcli.tasks import build_task
from signcli.tasks.base import Task
from signcli.tasks.model import build_run_model

OVERFIT_TARGET = 0.05  # overfit passes when the loss falls under 5% of its start
SMOKE_BATCH = 16


@dataclass
class SmokeCheck:
    model: str
    check: str
    passed: bool
    detail: str


@dataclass
class SmokeResult:
    model: str
    checks: list[SmokeCheck]
    seconds: float

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


def smoke_batches(model_name: str, num_gloss: int, num_cat: int, count: int, seed: int):
    """`count` synthetic batches of the input the model expects: features (gru), raw
    face/hand/pose streams (multistream) or keypoints."""
    make = make_features if model_name == "gru" else make_samples
    samples = make(SMOKE_BATCH * count, num_gloss=num_gloss, num_cat=num_cat, seed=seed)

    def streams(sample: SyntheticSample) -> dict[str, np.ndarray]:
        if model_name == "multistream":
            return keypoint_streams(sample, seed)
        return {SINGLE_STREAM: sample.x}

    wrapped = [
        Sample(s.id, streams(s), {"gloss": s.gloss, **({"cat": s.cat} if num_cat else {})})
        for s in samples
    ]
    return [
        collate_streams(wrapped[i : i + SMOKE_BATCH]) for i in range(0, len(wrapped), SMOKE_BATCH)
    ]


def sentence_batches(model_name: str, task: Task, count: int, seed: int):
    """`count` batches of synthetic signed sentences (data/synthetic_sentences.py) for a
    text task, with the task's texts as targets (`Task.smoke_text`: glosses for ctc, English
    for translate) and a
    word tokenizer trained on them; multistream gets the hand and pose streams."""
    from signcli.data.synthetic import COORDS, LANDMARK_DROPOUT, STREAM_COLUMNS
    from signcli.data.synthetic_sentences import make_sentences
    from signcli.text.tokenizer import TextTokenizer

    sentences = make_sentences(SMOKE_BATCH * count, seed=seed)
    texts = [task.smoke_text(s) for s in sentences]
    tokenizer = TextTokenizer.train(texts, "word")
    rng = np.random.default_rng(seed)

    def streams(x: np.ndarray) -> dict[str, np.ndarray]:
        if model_name != "multistream":
            return {SINGLE_STREAM: x}
        parts = {name: x[:, cols].copy() for name, cols in STREAM_COLUMNS.items()}
        for array in parts.values():  # single landmarks not detected, as keypoint_streams
            dropped = rng.random((array.shape[0], array.shape[1] // COORDS)) < LANDMARK_DROPOUT
            array[np.repeat(dropped, COORDS, axis=1)] = np.nan
        return parts

    samples = [
        Sample(s.id, streams(s.x), {"text": text}) for s, text in zip(sentences, texts, strict=True)
    ]
    return samples, tokenizer


def smoke_model(
    model_settings: ModelSettings,
    *,
    steps: int = 20,
    overfit: bool = False,
    num_gloss: int = 105,
    num_cat: int = 10,
    seed: int = 0,
    max_overfit_steps: int = 400,
) -> SmokeResult:
    """Run the checks for one model (as configured); a failing check never raises."""
    seed_everything(seed, deterministic=False)
    model_name = model_settings.name
    started = time.perf_counter()
    task = build_task(model_settings.task)
    if has_text_targets(task.name):  # the output ids are the vocabulary (tasks/text_task.py)
        samples, task.tokenizer = sentence_batches(model_name, task, 1 if overfit else 4, seed)
        sizes = {"num_tokens": task.tokenizer.vocab_size}
        batches = [
            task.collate(samples[i : i + SMOKE_BATCH]) for i in range(0, len(samples), SMOKE_BATCH)
        ]
    else:
        sizes = {"num_gloss": num_gloss, "num_cat": num_cat}
        batches = smoke_batches(model_name, num_gloss, num_cat, 1 if overfit else 4, seed)
    dims = {name: x.shape[-1] for name, x in batches[0].streams.items()}
    settings = Settings(model=resolve_auto_model(model_settings))  # as for a mid-sized set
    if overfit:  # dropout would keep the loss of one batch from reaching 5% of its start
        settings.model.dropout = 0.0
    # default data settings: the multi-stream model normalises its streams, as in `train`
    model = build_run_model(settings, dims, sizes)
    with torch.no_grad():
        prepared = [(model.prepare_inputs(b.streams, b.mask), b.mask) for b in batches]
        frames = {name: torch.cat([p[name][m] for p, m in prepared]) for name in prepared[0][0]}
        model.set_input_stats(input_stats(frames))
    loss_fn = task.loss_module(OptimSettings(label_smoothing=0.0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    checks: list[SmokeCheck] = []

    def add(check: str, passed: bool, detail: str) -> None:
        checks.append(SmokeCheck(model_name, check, passed, detail))

    batch = batches[0]
    logits = task.forward(model, batch)
    expected = task.smoke_shapes(batch, model_settings, sizes)  # the task's
    # tensors only: translate adds the joint CTC weight
    got = {k: tuple(v.shape) for k, v in logits.items() if isinstance(v, torch.Tensor)}
    add("output shapes", got == expected, ", ".join(f"{k} {list(v)}" for k, v in got.items()))

    loss = loss_fn(logits, batch.targets)
    add("finite loss", bool(torch.isfinite(loss)), f"loss {loss.item():.4f}")

    loss.backward()
    dead = [
        name
        for name, p in model.named_parameters()
        if p.requires_grad and (p.grad is None or not bool(p.grad.abs().sum() > 0))
    ]
    total = sum(1 for p in model.parameters() if p.requires_grad)
    add(
        "gradients",
        not dead,
        f"{total - len(dead)}/{total} parameters get a gradient"
        + (
            f"; none for: {', '.join(dead[:6])}" + (" ..." if len(dead) > 6 else "") if dead else ""
        ),
    )
    optimizer.zero_grad(set_to_none=True)

    def eval_loss() -> float:
        model.eval()
        with torch.no_grad():
            value = sum(float(loss_fn(task.forward(model, b), b.targets)) for b in batches)
        model.train()
        return value / len(batches)

    start = eval_loss()
    if overfit:
        taken = None
        for step in range(1, max_overfit_steps + 1):
            _train_step(model, task, optimizer, loss_fn, batch)
            if step % 5 == 0 and eval_loss() < OVERFIT_TARGET * start:
                taken = step
                break
        end = eval_loss()
        add(
            "overfit one batch",
            taken is not None,
            f"loss {start:.3f} -> {end:.3f} in {taken} steps"
            if taken
            else f"loss {start:.3f} -> {end:.3f}, not under {OVERFIT_TARGET:.0%} of start in "
            f"{max_overfit_steps} steps",
        )
    else:
        for step in range(steps):
            _train_step(model, task, optimizer, loss_fn, batches[step % len(batches)])
        end = eval_loss()
        add("loss goes down", end < start, f"loss {start:.3f} -> {end:.3f} in {steps} steps")
    return SmokeResult(model_name, checks, time.perf_counter() - started)


def _train_step(model, task, optimizer, loss_fn, batch) -> None:  # noqa: ANN001
    loss = loss_fn(task.forward(model, batch), batch.targets)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
