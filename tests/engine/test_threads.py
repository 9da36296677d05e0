"""The thread policy (engine/threads.py) and the cores it counts (signcli/cores.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from signcli.core import cores as cores_module
from signcli.core.cores import Cores, CpuSample, available_cores, cgroup_quota, others_busy_cores
from signcli.engine import threads
from signcli.engine.threads import (
    WORK_PER_THREAD,
    ThreadGovernor,
    choose_threads,
    free_threads,
    user_thread_count,
)

TWO = Cores(count=2, affinity=2, quota=None)
EIGHT = Cores(count=8, affinity=8, quota=None)
BIG_STEP = 20 * WORK_PER_THREAD


def test_cgroup_v2_quota(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_quota(tmp_path) == pytest.approx(1.5)
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_quota(tmp_path) is None


def test_cgroup_v1_quota(tmp_path: Path) -> None:
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("200000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_quota(tmp_path) == pytest.approx(2.0)
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_quota(tmp_path) is None


def test_a_quota_caps_the_affinity(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("50000 100000\n")  # half a core: still one thread
    found = available_cores(tmp_path)
    assert found.count == 1 and found.quota == pytest.approx(0.5)
    assert "cgroup quota 0.5" in found.describe()
    assert available_cores(tmp_path / "absent").count == len(os.sched_getaffinity(0))


def test_others_busy_is_the_cpus_busy_time_less_our_own() -> None:
    before = CpuSample(wall_s=0.0, busy_s=100.0, own_s=5.0)
    after = CpuSample(wall_s=2.0, busy_s=104.0, own_s=7.0)  # 4 s busy, 2 s of it ours
    assert others_busy_cores(before, after) == pytest.approx(1.0)
    assert others_busy_cores(after, after) == 0.0


def test_cpu_sample_reads_proc_stat(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    cpus = sorted(os.sched_getaffinity(0))
    lines = ["cpu  1 1 1 1 1 0 0 0"] + [f"cpu{i} 100 0 50 1000 30 0 0 0" for i in cpus]
    stat.write_text("\n".join([*lines, "intr 1"]) + "\n")
    sample = cores_module.cpu_sample(stat)
    assert sample is not None
    assert sample.busy_s == pytest.approx(150 * len(cpus) / os.sysconf("SC_CLK_TCK"))
    assert cores_module.cpu_sample(tmp_path / "absent") is None


def test_small_steps_get_one_thread_even_on_idle_cores() -> None:
    choice = choose_threads(cores=EIGHT, processes=1, others_busy=0.0, work_per_step=1e8)
    assert choice.threads == 1 and choice.cap == 1
    assert "uses at most 1" in choice.reason


def test_large_steps_get_the_free_cores() -> None:
    idle = choose_threads(cores=EIGHT, processes=1, others_busy=0.0, work_per_step=BIG_STEP)
    assert idle.threads == 8 and idle.adaptive
    busy = choose_threads(cores=EIGHT, processes=1, others_busy=5.0, work_per_step=BIG_STEP)
    assert busy.threads == 3
    assert "other work keeps 5.0 core(s) busy" in busy.reason


def test_a_loaded_two_core_machine_gets_one_thread() -> None:
    choice = choose_threads(cores=TWO, processes=1, others_busy=1.0, work_per_step=BIG_STEP)
    assert choice.threads == 1


def test_torchrun_processes_share_the_cores() -> None:
    choice = choose_threads(cores=EIGHT, processes=4, others_busy=0.0, work_per_step=BIG_STEP)
    assert choice.threads == 2 and "4 processes share them" in choice.reason


def test_deterministic_ignores_the_load() -> None:
    choice = choose_threads(
        cores=TWO, processes=1, others_busy=1.9, work_per_step=BIG_STEP, deterministic=True
    )
    assert choice.threads == 2 and not choice.adaptive


@pytest.mark.parametrize(
    ("others", "threads"), [(0.0, 4), (0.2, 4), (0.3, 3), (1.2, 3), (3.5, 1), (9.0, 1)]
)
def test_free_threads(others: float, threads: int) -> None:
    assert free_threads(4, others, cap=4) == threads


def test_the_users_choice_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    env = user_thread_count("auto")
    assert env is not None and not env.applied and "OMP_NUM_THREADS=3" in env.reason
    setting = user_thread_count(5)
    assert setting is not None and setting.threads == 5 and setting.applied
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(3)  # a count torch never picks on this machine by itself
        monkeypatch.setattr(threads, "_torch_default_counts", lambda: {1, 2})
        called = user_thread_count("auto")
        assert called is not None and called.threads == 3 and not called.applied
        monkeypatch.setattr(threads, "_torch_default_counts", lambda: {3})
        assert user_thread_count("auto") is None
    finally:
        torch.set_num_threads(previous)


def test_the_governor_follows_the_load(monkeypatch: pytest.MonkeyPatch) -> None:
    choice = choose_threads(cores=TWO, processes=1, others_busy=1.0, work_per_step=BIG_STEP)
    governor = ThreadGovernor(choice)
    governor._cores = 2
    previous = torch.get_num_threads()
    samples = iter(
        [
            CpuSample(wall_s=0.0, busy_s=0.0, own_s=0.0),
            CpuSample(wall_s=20.0, busy_s=21.0, own_s=20.0),  # others: 0.05 cores
            CpuSample(wall_s=40.0, busy_s=81.0, own_s=40.0),  # others: 2 cores
        ]
    )
    monkeypatch.setattr(threads, "cpu_sample", lambda: next(samples))
    clock = iter([20.0, 40.0])
    monkeypatch.setattr(threads.time, "monotonic", lambda: next(clock))
    try:
        governor.apply()
        assert torch.get_num_threads() == 1
        governor.recheck()
        assert governor.threads == 2 and torch.get_num_threads() == 2
        governor.recheck()
        assert governor.threads == 1
        assert governor.summary().startswith("1-2 threads, following the load")
    finally:
        governor.restore()
    assert torch.get_num_threads() == previous


def test_a_run_says_what_it_chose(make_npz_dataset, tmp_path: Path) -> None:
    from signcli.engine.trainer import Trainer
    from signcli.settings import load_settings

    data = make_npz_dataset()
    settings = load_settings(
        overrides=[
            f"data.train_dir={data / 'train'}",
            f"data.train_labels={data / 'train_labels.csv'}",
            "model.d_model=16",
            "model.num_layers=1",
            "model.num_heads=2",
            "model.ff_dim=32",
            "training.epochs=1",
            "training.threads=1",
            f"training.work_dir={tmp_path / 'run'}",
        ]
    )
    trainer = Trainer(settings)
    assert trainer.threads.choice.describe() == "1 thread(s): training.threads"
    previous = torch.get_num_threads()
    trainer.fit()
    assert torch.get_num_threads() == previous  # given back to the caller


def test_loader_workers_auto_are_none_on_cpu_and_several_on_cuda(monkeypatch) -> None:
    from signcli.engine.threads import CUDA_LOADER_WORKERS, loader_workers

    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)
    cores = lambda n: Cores(n, n, None)  # noqa: E731
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert loader_workers(3, cpu) == 3 and loader_workers(0, cuda) == 0  # as given
    assert loader_workers("auto", cpu, cores(16)) == 0
    assert loader_workers("auto", cuda, cores(16)) == CUDA_LOADER_WORKERS
    assert loader_workers("auto", cuda, cores(2)) == 1  # one core left to the main process
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "8")  # torchrun: 8 processes share 16 cores
    assert loader_workers("auto", cuda, cores(16)) == 1
