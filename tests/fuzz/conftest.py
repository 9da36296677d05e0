"""The fuzz suite's session set-up: what the commands import lazily is imported once, here,
so that each example's forked child does not pay for it (tests/fuzz/harness.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _preloaded() -> None:
    from tests.fuzz.harness import preload

    preload()
