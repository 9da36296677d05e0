"""The loop: work-directory contract, accumulation, schedules, precisions, early stopping,
divergence, hooks, warm start and the optional logs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import torch

from signcli.core.errors import CheckpointError, TrainingDiverged
from signcli.engine.checkpoint import MODEL_KEY, STATE_KEY, load_checkpoint
from signcli.engine.hooks import Hook
from signcli.engine.progress import ProgressHook
from signcli.engine.recipes import start_run
from signcli.engine.trainer import Trainer
from signcli.settings import augment_off, load_settings
from tests.tiny import TINY_MODEL

EPOCH_KEYS = {
    "epoch", "step", "lr", "train_loss", "train_gloss_top1", "epoch_s", "samples_per_s",
    "train_pad_share",
}  # fmt: skip
VAL_KEYS = {"val_loss", "val_gloss_top1", "val_gloss_top5", "val_cat_top1"}


def settings_for(root: Path, work: Path, *extra: str, val: bool = True):
    overrides = [
        f"data.train_dir={root / 'train'}",
        f"data.train_labels={root / 'train_labels.csv'}",
        *TINY_MODEL,
        "training.batch_size=4",
        "training.epochs=2",
        "training.device=cpu",
        f"training.work_dir={work}",
        *extra,
    ]
    if val:
        overrides += [f"data.val_dir={root / 'val'}", f"data.val_labels={root / 'val_labels.csv'}"]
    return load_settings(overrides=overrides)


@pytest.fixture
def root(make_npz_dataset) -> Path:
    return make_npz_dataset(n=12, T=5, D=6)


def test_work_dir_holds_exactly_the_design_files(root: Path, tmp_path: Path) -> None:
    work = tmp_path / "run"
    start_run(settings_for(root, work))
    assert sorted(p.name for p in work.iterdir()) == [
        "best.pt",
        "config.json",
        "curves.png",
        "labels.json",
        "last.pt",
        "metrics.jsonl",
    ]
    frame = pd.read_json(work / "metrics.jsonl", lines=True)
    assert list(frame["epoch"]) == [1, 2]
    assert set(frame.columns) == EPOCH_KEYS | VAL_KEYS
    assert (
        frame[["val_gloss_top1", "val_gloss_top5", "val_cat_top1"]]
        .apply(lambda c: c.between(0, 1))
        .all()
        .all()
    )
    config = json.loads((work / "config.json").read_text())
    assert config["model"]["num_gloss"] == 3 and config["model"]["num_cat"] == 2
    labels = json.loads((work / "labels.json").read_text())
    assert labels["num_gloss"] == 3 and labels["num_cat"] == 2
    state = load_checkpoint(work / "last.pt")[STATE_KEY]
    assert (state["epoch"], state["step"]) == (2, 6)


def test_without_validation_monitor_falls_back_to_train_loss(root: Path, tmp_path: Path) -> None:
    work = tmp_path / "noval"
    result = start_run(settings_for(root, work, val=False))
    assert result.trainer.monitor == "train_loss"
    assert set(result.history[0]) == EPOCH_KEYS
    assert (work / "best.pt").exists()


def test_train_gloss_top1_recounts_the_training_forward_passes(
    root: Path, tmp_path: Path, capsys
) -> None:
    # batch 5 over 12 samples: the last batch is short; dropout stays on as in training
    settings = settings_for(root, tmp_path / "top1", "training.epochs=3", "training.batch_size=5")
    trainer = Trainer(settings, hooks=[ProgressHook(mode="plain")])
    loss_fn, hits = trainer.loss_fn, {}

    def counting_loss(logits, targets):
        # the training passes, not validation's (inference mode; with training.ema it
        # scores the weight average, so the trained model stays in training mode)
        if trainer.model.training and not torch.is_inference_mode_enabled():
            right = (logits["gloss"].argmax(dim=1) == targets["gloss"]).tolist()
            hits.setdefault(trainer.state.epoch + 1, []).extend(right)
        return loss_fn(logits, targets)

    trainer.loss_fn = counting_loss
    history = trainer.fit()
    assert [len(hits[epoch]) for epoch in (1, 2, 3)] == [12, 12, 12]
    recount = [sum(hits[epoch]) / 12 for epoch in (1, 2, 3)]
    assert [m["train_gloss_top1"] for m in history] == recount
    assert all(0.0 <= value <= 1.0 for value in recount)
    out = capsys.readouterr().out
    assert re.search(r"epoch 3/3  .*train_loss \d\.\d{4}  train_gloss_top1 \d\.\d{4}  val_", out)


def test_accumulating_k_batches_equals_one_big_batch(root: Path, tmp_path: Path) -> None:
    # augmentation off: its draws follow the batch (seed, epoch, batch index), so batches
    # of 4 and of 12 augment the same samples differently (data/batch_augment.py)
    no_augment = (f"{key}={value}" for key, value in augment_off().items())
    common = ("optim.optimizer=sgd", "optim.momentum=0", "optim.weight_decay=0", "optim.scheduler=none",
              "model.dropout=0", "training.epochs=1", "optim.lr=0.1", *no_augment)  # fmt: skip
    small = start_run(
        settings_for(root, tmp_path / "a", *common, "training.batch_size=4", "optim.accumulate=3")
    )
    big = start_run(settings_for(root, tmp_path / "b", *common, "training.batch_size=12"))
    assert small.trainer.state.step == big.trainer.state.step == 1
    a, b = small.trainer.model.state_dict(), big.trainer.model.state_dict()
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("scheduler", ["none", "steplr", "cosine", "plateau"])
def test_every_scheduler_runs(root: Path, tmp_path: Path, scheduler: str) -> None:
    result = start_run(
        settings_for(
            root,
            tmp_path / scheduler,
            f"optim.scheduler={scheduler}",
            "optim.warmup_steps=2",
            "optim.step_size=1",
            "optim.plateau_patience=0",
        )  # fmt: skip
    )
    lrs = [m["lr"] for m in result.history]
    assert all(lr > 0 for lr in lrs)
    if scheduler == "steplr":
        assert lrs[1] == pytest.approx(lrs[0] * 0.1)


@pytest.mark.parametrize("precision", ["float32", "bf16", "amp"])
def test_every_precision_runs_on_cpu(root: Path, tmp_path: Path, precision: str, caplog) -> None:
    settings = settings_for(root, tmp_path / precision, f"training.precision={precision}")
    trainer = Trainer(settings)
    if precision == "amp":
        assert "amp needs CUDA; training in float32 on cpu" in caplog.text
        assert trainer.precision.name == "float32" and trainer.precision.scaler is None
    history = trainer.fit()
    assert all(torch.isfinite(torch.tensor(m["train_loss"])) for m in history)


def test_sgd_optimizer_runs(root: Path, tmp_path: Path) -> None:
    result = start_run(settings_for(root, tmp_path / "sgd", "optim.optimizer=sgd"))
    assert isinstance(result.trainer.optimizer, torch.optim.SGD)


def test_early_stopping_stops_after_patience(root: Path, tmp_path: Path) -> None:
    # with lr ~ 0 nothing improves after epoch 1, so patience 2 stops at epoch 3
    result = start_run(
        settings_for(
            root,
            tmp_path / "es",
            "optim.lr=1e-12",
            "optim.scheduler=none",
            "training.epochs=10",
            "training.early_stop=2",
            "training.monitor=val_gloss_top1",
        )  # fmt: skip
    )
    assert len(result.history) == 3
    assert result.trainer.state.best_epoch == 1


class PoisonWeights(Hook):
    def on_epoch_start(self, trainer) -> None:
        if trainer.state.epoch == 1:
            with torch.no_grad():
                for p in trainer.model.parameters():
                    p.fill_(float("nan"))


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(root: Path, tmp_path: Path) -> None:
    work = tmp_path / "diverge"
    with pytest.raises(TrainingDiverged, match=r"epoch 2, step 4") as info:
        start_run(settings_for(root, work, "training.epochs=3"), [PoisonWeights()])
    assert info.value.exit_code == 1
    payload = load_checkpoint(work / "last.pt")
    assert payload[STATE_KEY]["epoch"] == 1
    assert all(
        torch.isfinite(t).all() for t in payload[MODEL_KEY].values() if t.is_floating_point()
    )


class Recorder(Hook):
    def __init__(self) -> None:
        self.events: list[str] = []

    def on_train_start(self, trainer) -> None:
        self.events.append("train_start")

    def on_epoch_start(self, trainer) -> None:
        self.events.append("epoch_start")

    def on_batch_end(self, trainer, loss, batch_size) -> None:
        self.events.append("batch")

    def on_validation_end(self, trainer, metrics) -> None:
        self.events.append("validation")

    def on_epoch_end(self, trainer, metrics) -> None:
        self.events.append("epoch_end")

    def on_train_end(self, trainer, history) -> None:
        self.events.append("train_end")


def test_python_api_calls_hooks_in_order_and_returns_history(root: Path, tmp_path: Path) -> None:
    recorder = Recorder()
    history = Trainer(
        settings_for(root, tmp_path / "api", "training.epochs=1"), hooks=[recorder]
    ).fit()
    assert len(history) == 1 and history[0]["epoch"] == 1
    assert recorder.events == [
        "train_start",
        "epoch_start",
        "batch",
        "batch",
        "batch",
        "validation",
        "epoch_end",
        "train_end",
    ]


def test_refuses_a_work_dir_holding_a_run(root: Path, tmp_path: Path) -> None:
    from signcli.core.errors import UsageError

    work = tmp_path / "twice"
    start_run(settings_for(root, work, "training.epochs=1"))
    with pytest.raises(UsageError, match="signcli resume"):
        start_run(settings_for(root, work, "training.epochs=1"))
    (work / "keep.txt").write_text("user file")
    start_run(settings_for(root, work, "training.epochs=1"), overwrite=True)
    assert (work / "keep.txt").exists()  # --overwrite removes only signcli's own files


def test_warm_start_strict_and_lenient(root: Path, tmp_path: Path, caplog) -> None:
    first = tmp_path / "first"
    start_run(settings_for(root, first, "training.epochs=1"))
    # a new run with a different number of classes: the gloss head no longer fits
    with pytest.raises(CheckpointError, match="heads.gloss"):
        start_run(settings_for(root, tmp_path / "strict", "model.num_gloss=5", "training.epochs=1"),
                  init_checkpoint=first / "best.pt")  # fmt: skip
    result = start_run(
        settings_for(root, tmp_path / "lenient", "model.num_gloss=5", "training.epochs=1"),
        init_checkpoint=first / "best.pt",
        init_strict=False,
    )
    assert result.trainer.state.step == 3  # a new run: counters start from zero
    assert "do not fit" in caplog.text


def test_log_csv_and_tensorboard(root: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    work, log = tmp_path / "logs", tmp_path / "log.csv"
    start_run(settings_for(root, work, f"training.log_csv={log}", "training.tensorboard=true"))
    frame = pd.read_csv(log)
    assert list(frame["epoch"]) == [1, 2] and "val_gloss_top1" in frame
    events = EventAccumulator(str(work / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("train_loss")] == [1, 2]


def test_loaders_live_across_epochs_and_batches_are_augmented_on_the_device(
    root: Path, tmp_path: Path
) -> None:
    trainer = Trainer(settings_for(root, tmp_path / "w", "data.num_workers=1"), default_hooks=False)
    seen = []
    augment = trainer.augment
    assert augment is not None  # on by default (speed, frame drop)

    def spy(batch, epoch, batch_index):  # noqa: ANN001
        seen.append((epoch, batch_index, trainer._loader()))
        return augment(batch, epoch, batch_index)

    trainer.augment = spy
    trainer.fit()
    loaders = {id(loader) for _, _, loader in seen}
    assert len(loaders) == 1  # one training loader, its worker kept across both epochs
    loader = seen[0][2]
    assert loader.num_workers == 1 and loader.persistent_workers and not loader.pin_memory
    per_epoch = len(trainer.batch_sizes)
    assert [(e, i) for e, i, _ in seen] == [(e, i) for e in (1, 2) for i in range(per_epoch)]
    assert trainer._loaders == {}  # fit() ended: the workers went with the loaders
    auto = Trainer(settings_for(root, tmp_path / "a"), default_hooks=False)
    assert auto._make_loader(validation=True).num_workers == 0  # auto on CPU
