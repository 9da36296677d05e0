"""The tiny model and run every training test uses (one place instead of a copy per test
module): a 1-layer, 16-wide transformer, batch 4, on the CPU."""

from __future__ import annotations

TINY_MODEL = ("model.d_model=16", "model.num_layers=1", "model.num_heads=2", "model.ff_dim=32")
TINY_RUN = (*TINY_MODEL, "training.batch_size=4", "training.device=cpu")  # for --set / overrides


def set_flags(overrides: tuple[str, ...] | list[str]) -> list[str]:
    """`--set key=value` for each override, for the CLI."""
    return [part for item in overrides for part in ("--set", item)]


TINY_FLAGS = [*set_flags(TINY_MODEL), "--batch-size", "4", "--device", "cpu"]  # train's flags
