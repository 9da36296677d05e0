"""The trainer's strategy (engine/strategy.py): the one place that knows how many
processes train. What several processes do together is tested by running them
(test_distributed.py); these are the choices made without a process group."""

from __future__ import annotations

import ast
import signal
from pathlib import Path

import pytest
import torch

from signcli.engine import strategy
from signcli.engine.distributed import ShardedBatchSampler, World
from signcli.engine.strategy import OneProcess, Torchrun, strategy_for

TRAINER = Path(strategy.__file__).with_name("trainer.py")


def test_one_process_without_torchrun_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    chosen = strategy_for(torch.device("cpu"))
    assert type(chosen) is OneProcess and chosen.is_main and chosen.device.type == "cpu"
    monkeypatch.setenv("WORLD_SIZE", "1")  # torchrun --nproc_per_node 1: no group either
    assert type(strategy_for(torch.device("cpu"))) is OneProcess
    model = torch.nn.Linear(2, 2)
    assert chosen.wrap(model) is model
    batches = [[0, 1], [2, 3]]
    assert chosen.batch_sampler(batches, validation=False) is batches


def test_one_process_stops_on_its_own_signal_and_aborts_on_the_second() -> None:
    one = OneProcess(World(), torch.device("cpu"))
    assert one.stop_signal(None) is None and one.stop_signal(signal.SIGTERM) == signal.SIGTERM
    assert one.on_signal(first=True) is False  # finish the step and save
    assert one.on_signal(first=False) is True  # Ctrl-C again: abort now


def test_ranks_stop_on_the_agreed_signal_and_never_abort() -> None:
    rank = Torchrun(World(1, 2, 1), torch.device("cpu"))  # no group: nothing collective here
    assert rank.stop_signal(signal.SIGINT) is None  # received here, not agreed yet
    rank._agree(0.0, 1.0)  # some rank received SIGTERM
    assert rank.stop_signal(None) == signal.SIGTERM
    assert rank.on_signal(first=True) is False and rank.on_signal(first=False) is False
    assert rank.resume_note and not rank.is_main
    sampler = rank.batch_sampler([[0, 1, 2, 3]], validation=False)
    assert isinstance(sampler, ShardedBatchSampler) and list(sampler) == [[2, 3]]


def test_the_loop_never_asks_whether_several_processes_run() -> None:
    tree = ast.parse(TRAINER.read_text())
    asked = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr in {"enabled", "rank", "pending", "no_sync"}
        and not (isinstance(node.value, ast.Attribute) and node.value.attr == "augment")
    ]
    assert asked == [], f"engine/trainer.py lines {asked}: ask the strategy instead"
    imported = {
        alias.name.rsplit(".", 1)[-1]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom | ast.Import)
        for alias in node.names
    }
    assert "distributed" not in imported and "DistributedDataParallel" not in imported
