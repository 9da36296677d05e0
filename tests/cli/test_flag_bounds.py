"""Sizes and seeds given on the command line are bounded (issue 23): `--workers 100000` or
`data.num_workers=100000` (a typo, or a config.json edited) started that many processes,
each importing numpy, pyarrow or torch, before anything else happened."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from signcli.cli import app
from signcli.core.errors import SettingsError
from signcli.settings import load_settings


@pytest.mark.parametrize(
    "args",
    [
        ["import", "openpose", "SRC", "OUT", "--workers", "100000"],
        ["validate-npz", "DATA", "--workers", "100000"],
        ["extract", "SRC", "OUT", "--workers", "100000"],
    ],
    ids=["import", "validate-npz", "extract"],
)
def test_a_worker_count_past_the_limit_is_refused_before_anything_runs(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "--workers 100,000: at most 256 worker processes" in result.output
    assert "SIGNCLI_MAX_WORKERS" in result.output
    assert not (tmp_path / "OUT").exists()


def test_data_num_workers_past_the_limit_is_a_settings_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(SettingsError, match=r"data\.num_workers: .*at most 256 worker processes"):
        load_settings(overrides=["data.num_workers=100000"])
    monkeypatch.setenv("SIGNCLI_MAX_WORKERS", "200000")
    assert load_settings(overrides=["data.num_workers=100000"]).data.num_workers == 100000


@pytest.mark.parametrize("seed", ["-1", str(2**32), str(10**23)])
def test_smoke_refuses_a_seed_numpy_cannot_take(seed: str) -> None:
    """issue 23: `smoke --seed 99999999999999999999999` died with "unexpected ValueError:
    Seed must be between 0 and 2**32 - 1"."""
    result = CliRunner().invoke(app, ["smoke", "-m", "transformer", "--seed", seed])
    assert result.exit_code == 2
    assert "unexpected" not in result.output and "--seed" in result.output


def test_a_prefetch_factor_past_its_bound_is_a_settings_error() -> None:
    """issue 23: `data.prefetch_factor=100000000` hung the run at each epoch's start (the
    loader queues prefetch_factor x num_workers requests one by one)."""
    with pytest.raises(SettingsError, match=r"data\.prefetch_factor: .*less than or equal to 1024"):
        load_settings(overrides=["data.prefetch_factor=100000000"])
    assert load_settings(overrides=["data.prefetch_factor=1024"]).data.prefetch_factor == 1024
