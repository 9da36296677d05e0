"""Fuzz the checkpoints: a valid tiny checkpoint with entries replaced by random plain data
and random tensors (settings valid and not, input widths, class maps, weights of another
shape or dtype, zero-stride tensors that claim billions of values), dicts of random plain
data, and valid files with bytes flipped or cut; for `resume`, a real run's last.pt with
its optimizer, scheduler, train state, RNG and hook states fuzzed, and its config.json.

`load_checkpoint` and `load_model_from_checkpoint` return or raise a SigncliError naming
the file, in bounded memory (a file of a few bytes must not make signcli build a model of
gigabytes) and time; `eval`, `export-onnx` and `resume` exit 0, 1 or 2 without a traceback
or an "unexpected" error, and write nothing outside their work folder."""

from __future__ import annotations

import copy
import functools
import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import (
    LONG,
    Sandbox,
    expect_only,
    fuzz,
    invoke,
    message_names,
    run_bounded,
)
from tests.fuzz.strategies import plain_data, scalars, settings_data

# property-based fuzzing of a reader or command: the full lane runs it
pytestmark = pytest.mark.slow

TINY_MODEL = {
    "d_model": 8, "num_layers": 1, "num_heads": 1, "ff_dim": 8, "dropout": 0.0, "max_len": 16,
    "conv_kernel": 0,
}  # fmt: skip
D = 6


@functools.cache
def base_payload() -> dict[str, Any]:
    """The payload of a valid eval checkpoint of a tiny transformer (x: 6 columns, 3
    glosses, 2 categories), as save_checkpoint writes it."""
    from signcli import __version__
    from signcli.engine import checkpoint as ckpt
    from signcli.settings import Settings
    from signcli.tasks.model import build_run_model

    settings = Settings.model_validate({"model": TINY_MODEL, "training": {"device": "cpu"}})
    model = build_run_model(settings, {"x": D}, {"num_gloss": 3, "num_cat": 2})
    return {
        ckpt.FORMAT_KEY: ckpt.FORMAT_VERSION,
        ckpt.VERSION_KEY: __version__,
        ckpt.SETTINGS_KEY: settings.model_dump(mode="json"),
        ckpt.LABELS_KEY: {
            "num_gloss": 3,
            "num_cat": 2,
            "gloss_names": {0: "hello", 1: "thanks", 2: "yes"},
            "cat_names": {},
        },
        ckpt.INPUTS_KEY: {"x": D},
        ckpt.MODEL_KEY: model.state_dict(),
    }


TENSOR_DTYPES = [
    torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.int8,
    torch.uint8, torch.bool, torch.complex64,
]  # fmt: skip


@st.composite
def tensors(draw: st.DrawFn) -> torch.Tensor:
    """A small tensor of any dtype and rank, now and then NaN-filled, or a zero-stride view
    of one value that claims a huge shape (it saves as one value)."""
    dtype = draw(st.sampled_from(TENSOR_DTYPES))
    shape = draw(st.lists(st.integers(0, 4), max_size=3))
    tensor = torch.zeros(shape, dtype=dtype)
    if dtype.is_floating_point and draw(st.booleans()):
        fill = draw(st.sampled_from([float("nan"), float("inf"), 1e30, -1.0]))
        tensor = torch.full(shape, fill).to(dtype)  # 1e30 is inf in float16
    if draw(st.integers(0, 6)) == 0:
        big = draw(st.sampled_from([(10**5, 10**5), (2**31,), (8, 10**9)]))
        tensor = torch.zeros(1, dtype=dtype).expand(*big)
    return tensor


values = st.one_of(
    plain_data(max_leaves=6),
    tensors(),
    st.dictionaries(st.text(max_size=6) | st.integers(), tensors() | scalars, max_size=3),
)


def _replace(node: Any, path: list[Any], value: Any) -> None:
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


@st.composite
def payloads(draw: st.DrawFn) -> Any:
    """A checkpoint payload: the valid one with a few entries replaced, removed or added,
    its settings replaced by a fuzzed document, or random plain data."""
    from signcli.engine import checkpoint as ckpt

    kind = draw(st.sampled_from(["mutate", "mutate", "settings", "sizes", "sizes", "random"]))
    if kind == "random":
        return draw(st.dictionaries(st.sampled_from(list(base_payload())), values) | values)
    payload = copy.deepcopy(base_payload())
    if kind == "sizes":  # a model within the limits, maybe far bigger than the weights
        model = payload[ckpt.SETTINGS_KEY]["model"]
        model["d_model"] = draw(st.sampled_from([8, 16, 512, 1024, 2048, 4096]))
        model["num_heads"] = draw(st.sampled_from([1, 2, 8]))
        model["num_layers"] = draw(st.integers(1, 24))
        model["ff_dim"] = draw(st.sampled_from([8, 64, 4096, 16384]))
        model["max_len"] = draw(st.sampled_from([16, 512, 10_000]))
        if draw(st.booleans()):
            payload[ckpt.MODEL_KEY] = {}
        return payload
    if kind == "settings":
        settings = draw(settings_data())
        if isinstance(settings, dict) and draw(st.booleans()):  # a model that may be built
            model = settings.setdefault("model", {})
            if isinstance(model, dict):
                for key, value in TINY_MODEL.items():
                    model.setdefault(key, value)
        payload[ckpt.SETTINGS_KEY] = settings
        return payload
    for _ in range(draw(st.integers(1, 3))):
        paths: list[list[Any]] = [[key] for key in payload]
        for key in (ckpt.SETTINGS_KEY, ckpt.LABELS_KEY, ckpt.INPUTS_KEY, ckpt.MODEL_KEY):
            entry = payload.get(key)
            if isinstance(entry, dict):
                paths += [[key, sub] for sub in entry]
                for sub, child in entry.items():
                    if isinstance(child, dict):
                        paths += [[key, sub, leaf] for leaf in child]
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add", "reshape"]))
        if action == "delete":
            node = payload
            for key in path[:-1]:
                node = node[key]
            node.pop(path[-1], None)
        elif action == "add":
            node = payload
            for key in path[:-1]:
                node = node[key]
            if isinstance(node, dict):
                node[draw(st.text(max_size=8) | st.integers())] = draw(values)
        elif action == "reshape" and path[0] == ckpt.MODEL_KEY and len(path) == 2:
            _replace(payload, path, draw(tensors()))
        else:
            _replace(payload, path, draw(values))
    return payload


def _save(payload: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A valid checkpoint's bytes with a few flipped, cut or inserted."""
    data = bytearray(_save(base_payload()))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            data[where] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del data[where:]
            if not data:
                break
        else:
            data[where:where] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


checkpoint_bytes = st.one_of(
    payloads().map(_save),
    payloads().map(_save),
    damaged(),
    st.binary(max_size=100),
)


def _restore(path: Path) -> str:
    from signcli.core.errors import SigncliError
    from signcli.engine import checkpoint as ckpt
    from signcli.engine.restore import load_model_from_checkpoint

    outcome = expect_only(lambda: ckpt.load_checkpoint(path), (SigncliError,))
    if isinstance(outcome, SigncliError):
        message_names(outcome, path)
        return "refused by load_checkpoint"
    outcome = expect_only(lambda: load_model_from_checkpoint(path), (SigncliError,))
    if isinstance(outcome, SigncliError):
        message_names(outcome, path)
        return "refused by load_model_from_checkpoint"
    restored = outcome
    with torch.no_grad():
        streams = {name: torch.zeros(1, 3, width) for name, width in restored.input_dims.items()}
        out = restored.model(streams, torch.ones(1, 3, dtype=torch.bool))
    assert out["gloss"].shape == (1, restored.labels["num_gloss"])
    return "restored"


@fuzz(30, long=3000)
@given(data=checkpoint_bytes)
def test_restore_raises_only_checkpoint_errors(data: bytes, tmp_path: Path) -> None:
    with Sandbox(tmp_path) as box:
        path = box.file("best.pt", data)
        box.freeze()
        run_bounded(lambda: _restore(path))


def _samples(box: Sandbox) -> tuple[Path, Path]:
    folder = box.folder("val")
    rows = ["file,gloss,cat"]
    for i in range(3):
        np.savez(folder / f"s{i}.npz", X=np.full((4, D), float(i), np.float32))
        rows.append(f"s{i},{i},{i % 2}")
    return folder, box.file("val_labels.csv", "\n".join(rows) + "\n")


@fuzz(4, long=600)
@given(data=checkpoint_bytes)
def test_eval_with_a_fuzzed_checkpoint(data: bytes, tmp_path: Path) -> None:
    with Sandbox(tmp_path) as box:
        path = box.file("best.pt", data)
        folder, labels = _samples(box)
        box.freeze()
        args = ["eval", str(path), "--data-dir", str(folder), "--labels", str(labels)]
        args += ["--device", "cpu", "--out", "eval"]
        run_bounded(lambda: invoke(args), timeout=60, fork=True)


@fuzz(2, long=300)
@given(data=checkpoint_bytes, check=st.sampled_from([False, False, True] if LONG else [False]))
def test_export_onnx_with_a_fuzzed_checkpoint(data: bytes, check: bool, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    with Sandbox(tmp_path) as box:
        path = box.file("best.pt", data)
        box.freeze()
        args = ["export-onnx", str(path), "--out", "model.onnx"]
        args += [] if check else ["--no-check"]  # the check runs onnxruntime for seconds
        run_bounded(lambda: invoke(args), timeout=120, fork=True)


# ---------------------------------------------------------------------------------------
# resume: a real run's last.pt and config.json, fuzzed


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-epoch run of a tiny transformer on 6 samples: work/ and data/ side by side."""
    from signcli.engine.recipes import start_run
    from signcli.settings import load_settings
    from tests.conftest import write_npz_split

    root = tmp_path_factory.mktemp("fuzz-run")
    folder, labels = write_npz_split(root / "data", "train", 6, T=4, D=D)
    flags = {f"model.{key}": value for key, value in TINY_MODEL.items()}
    flags.update(
        {
            "data.train_dir": folder,
            "data.train_labels": labels,
            "training.epochs": 1,
            "training.batch_size": 3,
            "training.device": "cpu",
            "training.work_dir": root / "work",
            "training.log_every": 1,
        }
    )
    start_run(load_settings(flags=flags))
    return root


RESUME_KEYS = ["optimizer", "scheduler", "scaler", "train_state", "rng", "hooks"]


def _paths(node: Any, prefix: tuple[Any, ...], depth: int) -> list[tuple[Any, ...]]:
    """Every path into `node` (dict keys, list indices) down to `depth` levels."""
    found = [prefix]
    if depth == 0:
        return found
    if isinstance(node, dict):
        items = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    else:
        return found
    for key, child in items[:20]:  # a torch RNG state is a long list: a few of it will do
        found += _paths(child, (*prefix, key), depth - 1)
    return found


def _damage(payload: dict[str, Any], draw: Any) -> None:
    """Replace or remove a few entries deep in the resume entries of `payload`: optimizer
    state, scheduler, counters, RNG, hook states."""
    for _ in range(draw(st.integers(1, 3))):
        paths = [
            p for key in RESUME_KEYS if key in payload for p in _paths(payload[key], (key,), 3)
        ]
        path = draw(st.sampled_from(paths))
        node: Any = payload
        for key in path[:-1]:
            node = node[key]
        if isinstance(node, tuple):
            continue  # python's RNG state: a tuple saved as a list is already odd enough
        if draw(st.integers(0, 3)) == 0 and isinstance(node, dict):
            node.pop(path[-1], None)
        else:
            node[path[-1]] = draw(values)


@fuzz(4, long=500)
@given(data=st.data(), config=st.none() | settings_data(), epochs=st.sampled_from([None, "2"]))
def test_resume_with_a_fuzzed_last_checkpoint(
    data: st.DataObject, config: Any, epochs: str | None, finished_run: Path, tmp_path: Path
) -> None:
    with Sandbox(tmp_path) as box:
        shutil.copytree(finished_run / "data", box.inputs / "data")
        work = box.work / "run"
        shutil.copytree(finished_run / "work", work)
        stored = json.loads((work / "config.json").read_text())
        stored["data"]["train_dir"] = str(box.inputs / "data" / "train")
        stored["data"]["train_labels"] = str(box.inputs / "data" / "train_labels.csv")
        if config is not None:  # a hand-edited config.json
            stored = {**stored, **config} if isinstance(config, dict) else config
        (work / "config.json").write_text(json.dumps(stored, default=str))
        payload = torch.load(work / "last.pt", weights_only=True)
        _damage(payload, data.draw)
        torch.save(payload, work / "last.pt")
        box.freeze()
        args = ["resume", str(work), "--quiet", *(["--epochs", epochs] if epochs else [])]
        run_bounded(lambda: invoke(args), timeout=60, fork=True)
