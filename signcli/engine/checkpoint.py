"""Checkpoints as plain data with named keys, written atomically, read with weights_only.

A checkpoint holds only tensors and plain containers, so `torch.load(weights_only=True)`
reads it and a stranger's file cannot run code. Keys are the constants below.
"""

from __future__ import annotations

import pickle
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from signcli import __version__
from signcli.engine.atomic import atomic_save
from signcli.errors import CheckpointError, UsageError

FORMAT_VERSION = 1

FORMAT_KEY = "format_version"
VERSION_KEY = "signcli_version"
SETTINGS_KEY = "settings"  # effective Settings as JSON-ready dict
LABELS_KEY = "labels"  # class counts and names (same content as labels.json)
INPUTS_KEY = "input_dims"  # {stream name: width D}
MODEL_KEY = "model"
OPTIMIZER_KEY = "optimizer"
SCHEDULER_KEY = "scheduler"
SCALER_KEY = "scaler"
STATE_KEY = "train_state"
RNG_KEY = "rng"
HOOKS_KEY = "hooks"

REQUIRED_KEYS = (FORMAT_KEY, SETTINGS_KEY, INPUTS_KEY, MODEL_KEY)


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write `payload` (plus format and version) to `path` atomically."""
    payload = {FORMAT_KEY: FORMAT_VERSION, VERSION_KEY: __version__, **payload}
    atomic_save(Path(path), lambda handle: torch.save(payload, handle))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a signcli checkpoint safely; CheckpointError (exit 2) names the file and problem."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"checkpoint {path} not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on foreign pickle protocols
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's safe unpickler names what it refused: a GLOBAL (code) or a bad opcode (garbage)
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        refused = next((line for line in lines if "GLOBAL" in line), None)
        if refused is None:
            detail = str(exc).split("WeightsUnpickler error:", 1)[-1].strip().splitlines()
            reason = detail[0][:160] if detail else type(exc).__name__
            raise CheckpointError(f"{path}: not a checkpoint file ({reason})") from None
        raise CheckpointError(
            f"{path}: refused to load: it holds Python objects that could run code ({refused[:160]})",
            hint="signcli checkpoints are plain data; only load files you trust with other tools",
        ) from None
    except Exception as exc:  # noqa: BLE001 - any failure to parse means an unusable file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path}: not a readable checkpoint (truncated or corrupt: {reason[:160]})"
        ) from None
    if not isinstance(payload, dict) or any(k not in payload for k in REQUIRED_KEYS):
        raise CheckpointError(
            f"{path}: not a signcli checkpoint (missing {', '.join(REQUIRED_KEYS)})"
        )
    if payload[FORMAT_KEY] != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {payload[FORMAT_KEY]!r} is not supported "
            f"(this signcli {__version__} reads version {FORMAT_VERSION})",
            hint="use the signcli version that wrote it",
        )
    return payload


# ---------------------------------------------------------------------------------------
# RNG state as plain data (np.random.get_state() itself does not load with weights_only)


def capture_rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
