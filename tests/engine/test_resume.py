"""A resumed run is the same run: metrics and final weights equal an uninterrupted one."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from signcli.core.errors import CheckpointError, DataError, UsageError
from signcli.engine.checkpoint import (
    EMA_KEY,
    MODEL_KEY,
    STATE_KEY,
    TRAINED_MODEL_KEY,
    load_checkpoint,
    save_checkpoint,
)
from signcli.engine.hooks import Hook
from signcli.engine.recipes import resume_run, start_run
from signcli.engine.state import TrainState
from signcli.settings import load_settings
from tests.tiny import TINY_MODEL

pytestmark = pytest.mark.slow  # trains, exports or starts processes: the full lane runs it

TIMINGS = ("epoch_s", "samples_per_s")


def tiny_settings(root: Path, work_dir: Path, *extra: str):
    overrides = [
        f"data.train_dir={root / 'train'}",
        f"data.train_labels={root / 'train_labels.csv'}",
        f"data.val_dir={root / 'val'}",
        f"data.val_labels={root / 'val_labels.csv'}",
        *TINY_MODEL,
        "training.batch_size=4",
        "training.epochs=4",
        "training.deterministic=true",
        f"training.work_dir={work_dir}",
        "training.device=cpu",
        *extra,
    ]
    return load_settings(overrides=overrides)


def read_metrics(work_dir: Path) -> list[dict]:
    lines = (work_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMINGS} for line in lines]


def final_weights(work_dir: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(work_dir / "last.pt")[MODEL_KEY]


def assert_same_run(a: Path, b: Path) -> None:
    assert read_metrics(a) == read_metrics(b)
    ca, cb = load_checkpoint(a / "last.pt"), load_checkpoint(b / "last.pt")
    assert ca.get(EMA_KEY) == cb.get(EMA_KEY)
    for key in (MODEL_KEY, TRAINED_MODEL_KEY):  # with training.ema: the average and the trained
        wa, wb = ca.get(key, {}), cb.get(key, {})
        assert wa.keys() == wb.keys()
        assert all(torch.equal(wa[k], wb[k]) for k in wa)


class StopAfter(Hook):
    """Stops the run like a kill would: after `epoch` epochs, or at optimizer step `step`."""

    def __init__(self, epoch: int | None = None, step: int | None = None) -> None:
        self.epoch, self.step = epoch, step

    def on_epoch_end(self, trainer, metrics) -> None:
        if self.epoch is not None and trainer.state.epoch == self.epoch:
            trainer.should_stop = True

    def on_step_end(self, trainer) -> None:
        if self.step is not None and trainer.state.step == self.step:
            raise KeyboardInterrupt  # dies right after the step's checkpoint was written


@pytest.fixture
def data_root(make_npz_dataset) -> Path:
    return make_npz_dataset(n=22, T=6, D=6)


@pytest.fixture
def reference(data_root: Path, tmp_path: Path) -> Path:
    start_run(tiny_settings(data_root, tmp_path / "reference"))
    return tmp_path / "reference"


def test_resume_after_epoch_equals_uninterrupted(data_root, reference, tmp_path) -> None:
    work = tmp_path / "stopped"
    start_run(tiny_settings(data_root, work), [StopAfter(epoch=2)])
    assert len(read_metrics(work)) == 2
    resume_run(work)
    assert_same_run(reference, work)


def test_resume_mid_epoch_continues_at_next_batch(data_root, reference, tmp_path) -> None:
    work = tmp_path / "killed"
    # 22 samples / batch 4 = 6 steps per epoch: step 15 is the 3rd batch of epoch 3
    with pytest.raises(KeyboardInterrupt):
        start_run(
            tiny_settings(data_root, work, "training.save_every_steps=1"), [StopAfter(step=15)]
        )
    state = load_checkpoint(work / "last.pt")[STATE_KEY]
    assert (state["epoch"], state["batch_in_epoch"], state["step"]) == (2, 3, 15)
    resume_run(work)
    assert_same_run(reference, work)
    # the hits of the batches before the kill travel in the checkpoint (TrainState)
    top1 = [m["train_gloss_top1"] for m in read_metrics(work)]
    assert top1 == [m["train_gloss_top1"] for m in read_metrics(reference)]
    assert all(0.0 <= value <= 1.0 for value in top1)


@pytest.mark.parametrize("ema", ["auto", "0.9"])
def test_resume_mid_epoch_with_ema_equals_uninterrupted(data_root, tmp_path, ema) -> None:
    reference, work = tmp_path / "reference", tmp_path / "killed"
    start_run(tiny_settings(data_root, reference, f"training.ema={ema}"))
    with pytest.raises(KeyboardInterrupt):
        start_run(
            tiny_settings(data_root, work, f"training.ema={ema}", "training.save_every_steps=1"),
            [StopAfter(step=9)],
        )
    assert load_checkpoint(work / "last.pt")[EMA_KEY] == {"updates": 9}
    resume_run(work)
    assert_same_run(reference, work)  # the average, the trained weights and the count


def test_without_ema_the_checkpoint_holds_the_trained_weights_only(reference) -> None:
    payload = load_checkpoint(reference / "last.pt")
    assert TRAINED_MODEL_KEY not in payload and EMA_KEY not in payload


def test_ema_is_what_validation_scores_and_checkpoints_hold(data_root, tmp_path) -> None:
    result = start_run(tiny_settings(data_root, tmp_path / "ema", "training.ema=0.9"))
    trainer, last = result.trainer, load_checkpoint(tmp_path / "ema" / "last.pt")
    assert last[EMA_KEY] == {"updates": 24}  # 6 steps x 4 epochs
    trained, averaged = last[TRAINED_MODEL_KEY], last[MODEL_KEY]
    assert all(torch.equal(trained[k], v) for k, v in trainer.model.state_dict().items())
    assert not all(torch.equal(trained[k], averaged[k]) for k in trained)
    assert trainer.validate() == {k: v for k, v in result.history[-1].items()
                                  if k in ("val_loss", "val_gloss_top1", "val_gloss_top5",
                                           "val_cat_top1")}  # fmt: skip
    trainer.ema = None  # the trained weights score otherwise
    assert trainer.validate()["val_loss"] != result.history[-1]["val_loss"]


def test_resume_refuses_an_ema_run_whose_checkpoint_lost_the_trained_weights(
    data_root, tmp_path
) -> None:
    work = tmp_path / "run"
    start_run(tiny_settings(data_root, work, "training.epochs=1", "training.ema=auto"))
    payload = load_checkpoint(work / "last.pt")
    del payload[TRAINED_MODEL_KEY]
    save_checkpoint(work / "last.pt", payload)
    with pytest.raises(CheckpointError, match="training.ema is on but the checkpoint has no"):
        resume_run(work, epochs=2)


@pytest.mark.parametrize("cache", ["mmap", "off"])
def test_resume_with_a_dataset_cache_equals_the_memory_run(
    data_root, reference, tmp_path, cache
) -> None:
    """data.cache changes where samples live, never what the model sees: a run on a packed
    cache (or reading files as used), killed mid-epoch and resumed, is the reference run."""
    work = tmp_path / cache
    extra = (f"data.cache={cache}", f"data.cache_dir={tmp_path / 'cache'}")
    with pytest.raises(KeyboardInterrupt):
        start_run(
            tiny_settings(data_root, work, *extra, "training.save_every_steps=1"),
            [StopAfter(step=15)],
        )
    resume_run(work)
    assert_same_run(reference, work)
    assert json.loads((work / "config.json").read_text())["data"]["cache"] == cache
    assert len(list((tmp_path / "cache").glob("*.pack"))) == (2 if cache == "mmap" else 0)


def test_mid_epoch_checkpoint_from_before_the_hit_counter(data_root, reference, tmp_path) -> None:
    """Its epoch's first batches went uncounted: that epoch has no train_gloss_top1 (absent,
    not wrong), the next ones do, and everything else is the uninterrupted run."""
    work = tmp_path / "old"
    with pytest.raises(KeyboardInterrupt):
        start_run(
            tiny_settings(data_root, work, "training.save_every_steps=1"), [StopAfter(step=15)]
        )
    payload = load_checkpoint(work / "last.pt")
    del payload[STATE_KEY]["epoch_gloss_correct"]
    save_checkpoint(work / "last.pt", payload)
    resume_run(work)
    got, expected = read_metrics(work), read_metrics(reference)
    assert "train_gloss_top1" not in got[2]
    assert got[3]["train_gloss_top1"] == expected[3]["train_gloss_top1"]
    for line in got + expected:
        line.pop("train_gloss_top1", None)
    assert got == expected


def test_state_of_an_older_checkpoint_at_an_epoch_boundary_loads() -> None:
    state = TrainState()
    state.load_state_dict({"epoch": 2, "step": 12, "batch_in_epoch": 0, "epoch_samples": 0})
    assert (state.epoch, state.step, state.epoch_gloss_correct) == (2, 12, 0)


def test_extending_a_finished_run_with_epochs(data_root, tmp_path) -> None:
    once, twice = tmp_path / "once", tmp_path / "twice"
    start_run(tiny_settings(data_root, once, "optim.scheduler=none"))
    start_run(tiny_settings(data_root, twice, "optim.scheduler=none", "training.epochs=2"))
    result = resume_run(twice, epochs=4)
    assert not result.already_finished and len(result.history) == 2
    assert_same_run(once, twice)
    assert json.loads((twice / "config.json").read_text())["training"]["epochs"] == 4


def test_resume_of_finished_run_does_nothing(data_root, tmp_path) -> None:
    work = tmp_path / "done"
    start_run(tiny_settings(data_root, work, "training.epochs=1"))
    before = (work / "last.pt").read_bytes()
    result = resume_run(work)
    assert result.already_finished
    assert (work / "last.pt").read_bytes() == before
    assert len(read_metrics(work)) == 1


def test_cosine_follows_new_length_from_current_step(data_root, tmp_path) -> None:
    work = tmp_path / "cosine"
    start_run(tiny_settings(data_root, work, "training.epochs=2", "optim.min_lr=0"))
    # 22 samples / batch 4 = 6 steps per epoch; the last update of a 2-epoch run is step 11 of 12
    cosine = lambda step, total: 1e-3 * 0.5 * (1 + math.cos(math.pi * step / total))  # noqa: E731
    assert read_metrics(work)[-1]["lr"] == pytest.approx(cosine(11, 12), rel=1e-6)
    resume_run(work, epochs=4)
    lrs = [m["lr"] for m in read_metrics(work)]
    # epoch 3 continues on the 4-epoch curve (24 steps): its last update is step index 17
    assert lrs[2] == pytest.approx(cosine(17, 24), rel=1e-6)
    assert lrs[2] > lrs[3]


# ---------------------------------------------------------------------------------------
# A validation split carved from train (data.val_fraction): recorded, and read back on resume

CARVED = ("data.val_dir=none", "data.val_labels=none", "data.val_fraction=0.2",
          "data.group_by=signer")  # fmt: skip


@pytest.fixture
def signed_root(write_split, tmp_path: Path) -> Path:
    root = tmp_path / "signed"
    write_split(root, "train", 30, T=6, D=6, signers=("a", "b", "c", "d", "e"))
    return root


def test_split_json_records_both_sides(signed_root: Path, tmp_path: Path) -> None:
    work = tmp_path / "carved"
    start_run(tiny_settings(signed_root, work, *CARVED, "training.epochs=1"))
    split = json.loads((work / "split.json").read_text())
    assert (split["fraction"], split["group_by"], split["seed"]) == (0.2, "signer", 0)
    assert sorted(split["train_ids"] + split["val_ids"]) == [f"train_{i:04d}" for i in range(30)]
    signer = {f"train_{i:04d}": "abcde"[i % 5] for i in range(30)}
    assert {signer[i] for i in split["val_ids"]} == set(split["val_groups"])
    assert len(split["val_groups"]) == 1  # 5 signers of 6 samples: one is 0.2
    assert {signer[i] for i in split["train_ids"]} == set(split["train_groups"])
    assert (split["train_samples"], split["val_samples"]) == (24, 6)
    assert "val_gloss_top1" in read_metrics(work)[0]


def test_resume_with_a_carved_split_equals_uninterrupted(signed_root, tmp_path) -> None:
    once, work = tmp_path / "once", tmp_path / "stopped"
    start_run(tiny_settings(signed_root, once, *CARVED))
    start_run(tiny_settings(signed_root, work, *CARVED), [StopAfter(epoch=2)])
    # samples added to the folder since must not move the split of the resumed run
    extra = np.ones((6, 6), np.float32)
    for i in range(4):
        np.savez(signed_root / "train" / f"late_{i}.npz", X=extra)
    with open(signed_root / "train_labels.csv", "a") as labels:
        labels.writelines(f"late_{i}.npz,{i % 3},0,0,z\n" for i in range(4))
    resume_run(work)
    assert_same_run(once, work)
    assert (work / "split.json").read_text() == (once / "split.json").read_text()


def test_resume_without_its_split_or_its_samples_is_refused(signed_root, tmp_path) -> None:
    work = tmp_path / "carved"
    start_run(tiny_settings(signed_root, work, *CARVED, "training.epochs=1"))
    kept = (work / "split.json").read_text()
    (work / "split.json").unlink()
    with pytest.raises(UsageError, match=r"split.json not found: cannot restore the run's"):
        resume_run(work, epochs=2)
    (work / "split.json").write_text(kept)
    val_id = json.loads(kept)["val_ids"][0]
    labels = signed_root / "train_labels.csv"
    labels.write_text("".join(r for r in labels.read_text().splitlines(True) if val_id not in r))
    with pytest.raises(DataError, match=rf"1 recorded sample\(s\) are no longer .*: {val_id}"):
        resume_run(work, epochs=2)


def test_resume_mid_epoch_with_length_buckets_equals_uninterrupted(tmp_path) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", 22), ("val", 6)):
        (tmp_path / split).mkdir()
        rows = ["file,gloss"]
        for i in range(n):
            T = 3 + (i * 5) % 11  # 3..13 frames
            np.savez(tmp_path / split / f"{i}.npz", X=rng.normal(size=(T, 6)).astype("float32"))
            rows.append(f"{i},{i % 3}")
        (tmp_path / f"{split}_labels.csv").write_text("\n".join(rows) + "\n")
    bucketed = ("training.length_buckets=true", "training.save_every_steps=1")
    start_run(tiny_settings(tmp_path, tmp_path / "reference", *bucketed))
    work = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        start_run(tiny_settings(tmp_path, work, *bucketed), [StopAfter(step=15)])
    resume_run(work)
    assert_same_run(tmp_path / "reference", work)
    shares = [m["train_pad_share"] for m in read_metrics(work)]
    plain = tmp_path / "plain"
    start_run(tiny_settings(tmp_path, plain, "training.length_buckets=false"))
    assert sum(shares) < sum(m["train_pad_share"] for m in read_metrics(plain))
