"""Checkpoints as plain data with named keys, written atomically, read with weights_only.

A checkpoint holds only tensors and plain containers, so `torch.load(weights_only=True)`
reads it and a stranger's file cannot run code. Keys are the constants below.
"""

from __future__ import annotations

import errno
import os
import pickle
import random
import warnings
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from signcli import __version__
from signcli.core.atomic import atomic_save
from signcli.core.errors import CheckpointError
from signcli.core.files import open_input_or_refuse
from signcli.core.streams import STREAM_NAMES

FORMAT_VERSION = 1

ZIP_MAGIC = b"PK\x03\x04"
# A checkpoint written by torch.save holds its records uncompressed, so they add up to
# about its size; one recompressed by a zip tool shrinks float weights by ~10%. More than
# MAX_INFLATION times the file (plus a little, for tiny files) is a zip bomb, refused
# before torch.load inflates each record whole into memory.
MAX_INFLATION = 2
INFLATION_SLACK_BYTES = 1024**2

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
# with training.ema: MODEL_KEY holds the averaged weights (what eval and export use), these
# the weights the optimizer trains and the average's own state, for resume
TRAINED_MODEL_KEY = "trained_model"
EMA_KEY = "ema"

REQUIRED_KEYS = (FORMAT_KEY, SETTINGS_KEY, INPUTS_KEY, MODEL_KEY)
# what `resume` needs beyond the model (an `eval` or warm start needs only REQUIRED_KEYS)
RESUME_KEYS = (OPTIMIZER_KEY, SCHEDULER_KEY, STATE_KEY, RNG_KEY)


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write `payload` (plus format and version) to `path` atomically."""
    payload = {FORMAT_KEY: FORMAT_VERSION, VERSION_KEY: __version__, **payload}

    def write(handle: IO[bytes]) -> None:
        try:
            torch.save(payload, handle)
        except RuntimeError as exc:
            # torch's zip writer reports a short write (a full disk, a file-size limit) as
            # "enforce fail at inline_container.cc": an OSError, so the write is a DiskError
            # naming the folder and the previous checkpoint stays
            reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else "failed"
            raise OSError(errno.EIO, f"the checkpoint could not be written ({reason})") from exc

    atomic_save(Path(path), write)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a signcli checkpoint safely; CheckpointError (exit 2) names the file and problem."""
    path = Path(path)
    # one descriptor, checked (a regular file) before anything is read, read by both steps
    with open_input_or_refuse(path, "checkpoint") as handle:
        payload = _load_payload(path, handle)
    if not isinstance(payload, dict) or any(k not in payload for k in REQUIRED_KEYS):
        missing = [k for k in REQUIRED_KEYS if not isinstance(payload, dict) or k not in payload]
        raise CheckpointError(
            f"{path}: not a signcli checkpoint (missing {', '.join(missing)}; a signcli "
            f"checkpoint has {', '.join(REQUIRED_KEYS)})"
        )
    version = payload[FORMAT_KEY]
    if not _is_int(version) or version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {_shown(version)} is not supported "
            f"(this signcli {__version__} reads version {FORMAT_VERSION})",
            hint="use the signcli version that wrote it",
        )
    problem = payload_problem(payload)
    if problem is not None:
        raise CheckpointError(
            f"{path}: {problem}",
            hint="the file was edited, damaged or not written by signcli; "
            "use the checkpoint the run wrote",
        )
    return payload


def _load_payload(path: Path, handle: IO[bytes]) -> Any:
    """torch.load of the open checkpoint `handle`, once its zip directory is checked;
    CheckpointError naming `path` for anything that is not a plain-data checkpoint."""
    inflated = _inflation_problem(handle)
    if inflated is not None:
        raise CheckpointError(f"{path}: {inflated}", hint="use the checkpoint the run wrote")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on foreign pickle protocols
            return torch.load(handle, map_location="cpu", weights_only=True)
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


def _inflation_problem(handle: IO[bytes]) -> str | None:
    """Why the zip directory of a checkpoint shows it would inflate far beyond its own size
    when read (a zip bomb: torch.load decompresses a compressed record whole), or None.
    torch.save stores records uncompressed, so a checkpoint's members add up to its size."""
    try:
        if handle.read(len(ZIP_MAGIC)) != ZIP_MAGIC:
            return None  # the legacy format or not a checkpoint: torch.load says which
        handle.seek(0)
        with zipfile.ZipFile(handle) as archive:
            declared = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None  # torch.load reports the damage
    finally:
        handle.seek(0)
    size = os.fstat(handle.fileno()).st_size
    if declared > MAX_INFLATION * size + INFLATION_SLACK_BYTES:
        return (
            f"its records would take {declared:,} bytes once decompressed, from a file of "
            f"{size:,} bytes (torch.save never compresses them): refused unread"
        )
    return None


# Streams a model may take: single-stream data (`x`) or the multi-stream layout's folders.
KNOWN_STREAMS = ("x", *STREAM_NAMES)
LABEL_COUNTS = ("num_gloss", "num_cat", "num_tokens")
LABEL_NAMES = ("gloss_names", "cat_names")


def payload_problem(payload: dict[str, Any]) -> str | None:
    """What is wrong with the shape of a checkpoint's plain-data entries (settings, input
    widths, class maps, weights), naming the key; None when nothing is. The values are
    left to the settings model (restore.py) and to core/limits.py: here only their types."""
    settings = payload[SETTINGS_KEY]
    if not isinstance(settings, dict) or not all(isinstance(k, str) for k in settings):
        return f"{SETTINGS_KEY}: expected a mapping of sections, got {_shown(settings)}"
    dims = payload[INPUTS_KEY]
    if not isinstance(dims, dict) or not dims:
        return f"{INPUTS_KEY}: expected {{stream: width}}, got {_shown(dims)}"
    for name, width in dims.items():
        if name not in KNOWN_STREAMS:
            return (
                f"{INPUTS_KEY}: unknown stream {_shown(name)} (streams are "
                f"{', '.join(KNOWN_STREAMS)})"
            )
        if not _is_int(width) or width < 1:
            return f"{INPUTS_KEY}.{name}: expected a width >= 1, got {_shown(width)}"
    view = _oversized_view(payload)
    if view is not None:
        return view
    weights = payload[MODEL_KEY]
    if not isinstance(weights, dict):
        return f"{MODEL_KEY}: expected {{name: tensor}}, got {_shown(weights)}"
    for name, tensor in weights.items():
        if not isinstance(name, str) or not isinstance(tensor, torch.Tensor):
            return f"{MODEL_KEY}: expected {{name: tensor}}, found {_shown(name)}: {_shown(tensor)}"
    labels = payload.get(LABELS_KEY)
    if labels is None:
        return None
    if not isinstance(labels, dict):
        return (
            f"{LABELS_KEY}: expected a mapping (class or token counts, names), got {_shown(labels)}"
        )
    for key in LABEL_COUNTS:
        count = labels.get(key)
        if count is not None and (not _is_int(count) or count < 0):
            return f"{LABELS_KEY}.{key}: expected a class count >= 0, got {_shown(count)}"
    for key in LABEL_NAMES:
        names = labels.get(key)
        if names is None:
            continue
        if not isinstance(names, dict):
            return f"{LABELS_KEY}.{key}: expected {{class id: name}}, got {_shown(names)}"
        for class_id, name in names.items():
            if not _is_class_id(class_id) or not isinstance(name, str):
                return (
                    f"{LABELS_KEY}.{key}: expected {{class id: name}}, found "
                    f"{_shown(class_id)}: {_shown(name)}"
                )
    return None


# A model may be built for weights that cannot fill it by at most this many values (16 MB
# of float32) beyond the values the checkpoint holds, so that the mismatch is reported key
# by key; beyond, the model is not built (a file of a few kB asked for gigabytes).
UNFILLED_SLACK = 4_000_000


def stored_values(weights: dict[str, torch.Tensor]) -> int:
    """Values the weight tensors of a checkpoint hold in their storages, each storage once:
    a tensor that claims a huge shape over a storage of one value (a zero-stride view)
    counts as one."""
    storages: dict[tuple[int, int], int] = {}
    for tensor in weights.values():
        storage = tensor.untyped_storage()
        key = (storage.data_ptr(), storage.nbytes())
        storages[key] = storage.nbytes() // max(tensor.element_size(), 1)
    return sum(storages.values())


def unfilled_problem(weights: dict[str, torch.Tensor], parameters: int) -> str | None:
    """Why the model that the stored settings describe (`parameters` parameters and
    buffers, model_size.parameter_count) cannot be built for these weights: they hold far
    fewer values than it has, so a strict load would fail after allocating it. None when
    the model may be built (the keys and shapes are compared after)."""
    held = stored_values(weights)
    if parameters <= 2 * held + UNFILLED_SLACK:
        return None
    return (
        f"weights do not fit the model: its settings describe a model of {parameters:,} "
        f"parameters and buffers, and its weights hold {held:,} values; the model is not built"
    )


def _oversized_view(payload: dict[str, Any]) -> str | None:
    """The first tensor anywhere in the payload that claims more values than its storage
    holds (a zero-stride view: one stored value can claim a shape of 10**10), named by its
    place; None when there is none. torch.save writes such views as they are, and anything
    that converts one (numpy's RNG state, an optimizer's cast) would materialise every
    value it claims. signcli never writes one: its tensors are parameters, buffers, states."""
    stack: list[tuple[Any, str]] = [(payload, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            stack.extend((v, f"{where}.{k}" if where else str(k)) for k, v in node.items())
        elif isinstance(node, (list, tuple)):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(node))
        elif isinstance(node, torch.Tensor):
            held = node.untyped_storage().nbytes() // max(node.element_size(), 1)
            if node.numel() > held:
                return (
                    f"{where}: a tensor of shape {tuple(node.shape)} over {held:,} stored "
                    "value(s), a view that claims more values than the file holds (signcli "
                    "never writes one)"
                )
    return None


def resume_problem(payload: dict[str, Any]) -> str | None:
    """What a checkpoint lacks to continue its run (`resume`), naming the entry; the counters
    of the train state must be numbers. None when nothing is missing."""
    missing = [key for key in RESUME_KEYS if key not in payload]
    if missing:
        return f"missing {', '.join(missing)}, which resume needs (an eval-only checkpoint?)"
    for key in (OPTIMIZER_KEY, SCHEDULER_KEY, STATE_KEY, RNG_KEY):
        if not isinstance(payload[key], dict):
            return f"{key}: expected a mapping, got {_shown(payload[key])}"
    optimizer = payload[OPTIMIZER_KEY]
    groups = optimizer.get("param_groups")
    if not (
        isinstance(optimizer.get("state"), dict)
        and isinstance(groups, list)
        and all(isinstance(g, dict) and isinstance(g.get("params"), list) for g in groups)
        and all(_is_int(i) for g in groups for i in g["params"])
    ):
        return (
            f"{OPTIMIZER_KEY}: expected {{state: {{...}}, param_groups: [{{params: [...]}}]}}, "
            "as torch writes it"
        )
    from signcli.engine.state import TrainState

    problem = TrainState.problem(payload[STATE_KEY])
    if problem is not None:
        return f"{STATE_KEY}.{problem}"
    hooks = payload.get(HOOKS_KEY, {})
    if not isinstance(hooks, dict) or not all(isinstance(v, dict) for v in hooks.values()):
        return f"{HOOKS_KEY}: expected {{hook: state mapping}}, got {_shown(hooks)}"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_class_id(value: Any) -> bool:
    if _is_int(value):
        return value >= 0
    return isinstance(value, str) and value.isascii() and value.isdigit()


def _shown(value: Any) -> str:
    """A value of a checkpoint in a message: its type and a short repr."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"{type(value).__name__} {text}" if not isinstance(value, (int, str)) else text


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
