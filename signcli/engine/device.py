"""Device choice, mixed precision and seeding: the parts of a run that depend on hardware."""

from __future__ import annotations

import contextlib
import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from signcli.core.errors import UsageError


def resolve_device(name: str) -> torch.device:
    """`auto` picks cuda, then mps, then cpu; an unavailable device is a usage error."""
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps and mps.is_available())
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if mps_ok else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available", hint="use --device cpu")
    if name == "mps" and not mps_ok:
        raise UsageError("--device mps: MPS is not available here", hint="use --device cpu")
    return torch.device(name)


@dataclass
class Precision:
    """How forward passes run: an autocast context (or none) and an optional GradScaler."""

    name: str
    autocast: Callable[[], contextlib.AbstractContextManager]
    scaler: torch.amp.GradScaler | None


def make_precision(precision: str, device: torch.device) -> Precision:
    """float32; bf16 autocast (CPU and CUDA); amp = fp16 autocast + GradScaler on CUDA only,
    falling back to float32 with one warning elsewhere."""
    if precision == "amp" and device.type != "cuda":
        logging.getLogger("signcli").warning(
            "--precision amp needs CUDA; training in float32 on %s", device.type
        )
        precision = "float32"
    if precision == "amp":
        return Precision(
            "amp",
            lambda: torch.autocast("cuda", dtype=torch.float16),
            torch.amp.GradScaler("cuda"),
        )
    if precision == "bf16":
        return Precision("bf16", lambda: torch.autocast(device.type, dtype=torch.bfloat16), None)
    return Precision("float32", contextlib.nullcontext, None)


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed python, numpy and torch; with `deterministic`, allow only deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        # cuBLAS needs a fixed workspace to be deterministic (CUDA >= 10.2)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
