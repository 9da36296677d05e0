"""Training with several processes (torchrun, gloo on CPU): shards, the same run as one
process, a killed rank that fails the other, exact resume after it, signals.

The process tests start two ranks directly with the variables torchrun sets (RANK,
WORLD_SIZE, MASTER_ADDR, ...), each forked from the test process with torch imported
(tests/forked.py), except where the torchrun command itself is the point (the resume).
Each fresh process imports torch, which is most of their cost, so they are few: one run killed
(by SIGKILL of one rank; the other then fails, writing nothing) serves the dying-rank
check and the exact resume; the atomic writes under a kill at any moment are the
one-process writes, which test_crash_safety.py kills at random moments."""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from signcli.core.errors import UsageError
from signcli.data.dataset import EpochBatchSampler, Sample, SampleDataset
from signcli.engine import distributed
from signcli.engine.checkpoint import MODEL_KEY, load_checkpoint
from signcli.engine.distributed import ShardedBatch, ShardedBatchSampler, World, shard_batch
from signcli.engine.recipes import resume_run, start_run
from signcli.engine.strategy import _merge_predictions
from signcli.settings import load_settings
from signcli.tasks.base import Predictions
from tests.forked import ForkedCommand

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "data"
EPOCHS = 3
# dropout on, so that the ranks' dropout draws (seeded per rank and step) are exercised
RUN_SETTINGS = [
    "model.d_model=32", "model.num_layers=1", "model.num_heads=2", "model.ff_dim=64",
    "model.dropout=0.2", f"training.epochs={EPOCHS}", "training.batch_size=16",
    "training.deterministic=true", "training.device=cpu",
    f"data.train_dir={EXAMPLE / 'train'}", f"data.train_labels={EXAMPLE / 'train_labels.csv'}",
    f"data.val_dir={EXAMPLE / 'val'}", f"data.val_labels={EXAMPLE / 'val_labels.csv'}",
]  # fmt: skip
TIMING = ("epoch_s", "samples_per_s")


def train_args(work: Path, *extra: str) -> list[str]:
    sets = [part for item in RUN_SETTINGS for part in ("--set", item)]
    return ["train", "transformer", "--work-dir", str(work), *sets, *extra]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn_ranks(
    args: list[str],
    outputs: Path,
    world: int = 2,
    rank_args: dict[int, list[str]] | None = None,
    **env: str,
) -> list[ForkedCommand]:
    """`signcli ARGS` as ranks 0..world-1 of one run, with the variables torchrun gives
    them (`rank_args`: more arguments for some ranks, a run started wrongly); each rank a
    process forked from this one (tests/forked.py), its output in `outputs`/rank-N."""
    port = str(free_port())
    processes = []
    for rank in range(world):
        rank_env = {
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(world),
            "LOCAL_WORLD_SIZE": str(world),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
            "OMP_NUM_THREADS": "1",
            **env,
        }
        rank_command = [*args, *(rank_args or {}).get(rank, [])]
        processes.append(ForkedCommand(rank_command, outputs / f"rank-{rank}", **rank_env))
    return processes


def torchrun(args: list[str], world: int = 2) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(world)]
    command += ["--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{free_port()}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [*command, "-m", "signcli", *args], env=env, capture_output=True, text=True, timeout=300
    )


def wait_for(path: Path, processes: list[ForkedCommand], timeout_s: float = 120) -> None:
    """Until `path` exists and is not empty (last.pt: rank 0 has started training)."""
    deadline = time.monotonic() + timeout_s
    while not (path.exists() and path.stat().st_size):
        for process in processes:
            assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, f"{path} never got a line"
        time.sleep(0.02)


def records(work: Path) -> list[dict]:
    return [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]


def weights(work: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(work / "last.pt")[MODEL_KEY]


# ---------------------------------------------------------------------------------------
# Shards (no processes)


@pytest.mark.parametrize("world_size", [1, 2, 3, 4])
def test_shards_of_a_batch_are_the_batch_in_order(world_size: int) -> None:
    for size in range(0, 10):
        batch = list(range(100, 100 + size))
        shards = [shard_batch(batch, World(r, world_size)) for r in range(world_size)]
        assert [i for shard in shards for i in shard] == batch
        assert max(map(len, shards)) - min(map(len, shards)) <= 1
        assert [len(s) for s in shards] == [
            distributed.shard_size(size, World(r, world_size)) for r in range(world_size)
        ]


def test_sharded_sampler_keeps_the_global_batches() -> None:
    sampler = EpochBatchSampler(11, 4, shuffle=True, seed=3)
    sampler.set_epoch(2)
    whole = list(sampler)
    ranks = [list(ShardedBatchSampler(sampler, World(r, 2))) for r in range(2)]
    for index, batch in enumerate(whole):
        assert ranks[0][index] + ranks[1][index] == batch
        assert ranks[0][index].group == ranks[1][index].group == batch
    # the last batch (3 samples) over 4 ranks: rank 3 gets one sample to train with weight 0
    last = [list(ShardedBatchSampler(sampler, World(r, 4)))[-1] for r in range(4)]
    assert [len(s) for s in last] == [1, 1, 1, 1] and last[3] == whole[-1][:1]
    assert distributed.shard_size(len(whole[-1]), World(3, 4)) == 0
    strided = [list(ShardedBatchSampler(sampler, World(r, 2), "stride")) for r in range(2)]
    assert strided[0] == whole[0::2] and strided[1] == whole[1::2]
    assert len(ShardedBatchSampler(sampler, World(1, 2), "stride")) == len(strided[1])


def test_sharded_batch_reaches_workers_and_the_transform_sees_the_whole_batch() -> None:
    shard = pickle.loads(pickle.dumps(ShardedBatch([5, 6], [4, 5, 6, 7])))
    assert shard == [5, 6] and shard.group == [4, 5, 6, 7]
    seen = []
    dataset = SampleDataset(
        8,
        lambda i: Sample(str(i), {"x": np.zeros((2, 3), np.float32)}),
        transform=lambda s, i, batch: seen.append((i, list(batch))) or s,
    )
    dataset.__getitems__(shard)
    assert seen == [(5, [4, 5, 6, 7]), (6, [4, 5, 6, 7])]


def test_world_from_torchrun_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", distributed.TIMEOUT_ENV):
        monkeypatch.delenv(name, raising=False)
    assert distributed.env_world() == World(0, 1, 0) and not World().enabled
    assert distributed.timeout_s() == distributed.DEFAULT_TIMEOUT_S
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    world = distributed.env_world()
    assert world == World(3, 4, 1) and world.enabled and not world.is_main
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(UsageError, match="RANK=4 and WORLD_SIZE=4"):
        distributed.env_world()
    monkeypatch.setenv(distributed.TIMEOUT_ENV, "soon")
    with pytest.raises(UsageError, match=distributed.TIMEOUT_ENV):
        distributed.timeout_s()


def test_rank_seeds_depend_on_seed_rank_and_step_only() -> None:
    seeds = {distributed.rank_seed(0, r, s) for r in range(3) for s in range(3)}
    assert len(seeds) == 9 and all(0 <= s < 2**63 for s in seeds)
    assert distributed.rank_seed(5, 1, 7) == distributed.rank_seed(5, 1, 7)


def test_merged_predictions_weight_each_rank_by_its_samples() -> None:
    def part(n: int, loss: float) -> Predictions:
        return Predictions([f"{loss}"] * n, {"gloss": torch.zeros(n, 2)},
                           {"gloss": torch.zeros(n, dtype=torch.long)}, loss)  # fmt: skip

    merged = _merge_predictions([(part(3, 1.0), 3), (None, 0), (part(1, 5.0), 1)])
    assert merged.loss == pytest.approx(2.0) and len(merged.ids) == 4
    assert merged.logits["gloss"].shape == (4, 2)


# ---------------------------------------------------------------------------------------
# Two processes


@pytest.mark.slow
def test_two_processes_train_as_one_survive_a_dead_rank_and_resume_exactly(tmp_path: Path) -> None:
    # one test: xdist may run a module's tests on different workers, and each group of
    # processes costs their imports of torch
    reference = tmp_path / "two"
    ranks = spawn_ranks(train_args(reference), tmp_path / "two-output")
    outputs = [process.communicate(timeout=300) for process in ranks]
    assert [process.returncode for process in ranks] == [0, 0], outputs
    assert outputs[0][0].count(f"epoch {EPOCHS}/{EPOCHS}") == 1  # rank 0's progress
    assert outputs[1] == ("", "")  # rank 1 logs nothing but errors
    one = tmp_path / "one"
    start_run(load_settings(overrides=[*RUN_SETTINGS, f"training.work_dir={one}"]))
    two = records(reference)
    assert [r["epoch"] for r in two] == list(range(1, EPOCHS + 1))
    assert sorted(p.name for p in reference.iterdir()) == sorted(p.name for p in one.iterdir())
    # the same batches and gradients up to float order; dropout draws differ: within noise
    # (the validation split has 48 samples: 0.125 is 6 of them)
    for a, b in zip(records(one), two, strict=True):
        assert a.keys() == b.keys() and a["step"] == b["step"]
        assert abs(a["val_gloss_top1"] - b["val_gloss_top1"]) <= 0.125
        assert abs(a["train_loss"] - b["train_loss"]) <= 0.1 * a["train_loss"]
    assert two[-1]["val_gloss_top1"] > 2 / 8  # it learned (8 glosses)

    # rank 1 is killed at some moment of epoch 2: rank 0 fails at its next collective,
    # naming the lost rank, without a traceback and long before the timeout; the group is
    # gone as after a SIGKILL of both (rank 0 writes nothing more), and resume is exact
    work = tmp_path / "killed"
    ranks = spawn_ranks(
        train_args(work, "--quiet", "--save-every-steps", "1"),
        tmp_path / "killed-output",
        **{distributed.TIMEOUT_ENV: "60"},
    )
    wait_for(work / "metrics.jsonl", ranks)
    time.sleep(0.2)  # into epoch 2 (or its checkpoint writes), epoch 3 to spare
    ranks[1].kill()
    killed = time.monotonic()
    _, stderr = ranks[0].communicate(timeout=120)
    ranks[1].communicate()
    assert ranks[0].returncode == 2, stderr
    assert "rank 0 of 2: lost contact with the other processes of the run" in stderr
    assert "Traceback" not in stderr and time.monotonic() - killed < 60
    assert len(records(work)) < EPOCHS
    result = torchrun(["resume", str(work), "--quiet"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("done:") == 1  # rank 0 prints; rank 1 says nothing
    resumed = records(work)
    assert [r["epoch"] for r in resumed] == list(range(1, EPOCHS + 1))
    for a, b in zip(two, resumed, strict=True):
        assert {k: v for k, v in a.items() if k not in TIMING} == {
            k: v for k, v in b.items() if k not in TIMING
        }
    expected, got = weights(reference), weights(work)
    assert all(torch.equal(expected[k], got[k]) for k in expected)


@pytest.mark.slow
def test_sigterm_on_one_rank_stops_both_then_one_process_resumes(tmp_path: Path) -> None:
    work = tmp_path / "stopped"
    ranks = spawn_ranks(train_args(work, "--set", "training.epochs=30"), tmp_path / "output")
    wait_for(work / "metrics.jsonl", ranks)  # both ranks are in the loop, signals caught
    ranks[1].send_signal(signal.SIGTERM)  # torchrun would send it to both; one must do
    outputs = [process.communicate(timeout=120) for process in ranks]
    assert [process.returncode for process in ranks] == [130, 130], outputs
    assert "SIGTERM received" in outputs[0][1] and f"resume {work}" in outputs[0][1]
    assert outputs[1] == ("", "")  # rank 1 logs nothing but errors
    stopped = load_checkpoint(work / "last.pt")["train_state"]
    assert stopped["step"] >= 1 and len(records(work)) == stopped["epoch"] < 30
    result = resume_run(work, epochs=stopped["epoch"] + 1)  # one process from here
    assert [r["epoch"] for r in records(work)] == list(range(1, stopped["epoch"] + 2))
    assert result.trainer.state.batch_in_epoch == 0


@pytest.mark.slow
def test_ranks_that_start_from_different_data_or_settings_fail_fast_naming_it(
    tmp_path: Path,
) -> None:
    """issue 23: ranks that read different data waited 30 minutes, then blamed "lost
    contact". They compare what they start from first and both stop, naming the difference."""
    other = tmp_path / "other_train"
    other.mkdir()
    for path in sorted((EXAMPLE / "train").glob("*.npz")):  # the same files, elsewhere
        (other / path.name).symlink_to(path)
    work = tmp_path / "run"
    rank_1 = ["--set", f"data.train_dir={other}", "--set", "optim.lr=0.01"]
    ranks = spawn_ranks(
        train_args(work), tmp_path / "output", rank_args={1: rank_1}, SIGNCLI_DIST_TIMEOUT="60"
    )
    start = time.monotonic()
    outputs = [process.communicate(timeout=120) for process in ranks]
    assert time.monotonic() - start < 60  # not the collective timeout
    assert [process.returncode for process in ranks] == [2, 2], outputs
    for _, err in outputs:
        assert "start from different data or settings" in err, err
        assert "optim.lr: rank 0 " in err and "rank 1 0.01" in err
        assert "Traceback" not in err and "lost contact" not in err
    assert "data.train_dir" in outputs[0][1]
    assert not (work / "last.pt").exists()


def test_start_facts_differ_when_the_text_targets_differ() -> None:
    """issue 23: torchrun ranks compared ids and class labels only, so a rank reading a
    stale copy of a texts CSV (same ids, other sentences) trained apart without a word."""
    from types import SimpleNamespace

    import numpy as np

    from signcli.engine.distributed import start_differences
    from signcli.engine.trainer import _start_facts
    from signcli.settings import load_settings

    def data(texts: list[str]) -> SimpleNamespace:
        split = SimpleNamespace(
            name="train", ids=["s1", "s2"], gloss=np.zeros(2, np.int64), cat=None, texts=texts
        )
        return SimpleNamespace(train=split, val=None, input_dims={"x": 6}, num_gloss=9, num_cat=0)

    settings = load_settings()
    rank0 = _start_facts(settings, data(["a b", "c d"]))
    assert start_differences([rank0, _start_facts(settings, data(["a b", "c d"]))]) == []
    (difference,) = start_differences([rank0, _start_facts(settings, data(["a b", "c e"]))])
    assert difference.startswith("train data: rank 0 2 samples (ids and targets ")
