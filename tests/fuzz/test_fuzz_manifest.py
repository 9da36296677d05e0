"""Fuzz the dataset manifest `DATA/signcli-dataset.json`: a valid manifest of a small
single-stream dataset with fields replaced by random plain data (streams, columns, mirror
pairs, subsets, splits, classes, paths that leave the root), random JSON documents, mangled
JSON and random bytes.

`read_manifest` and `dataset_settings` return or raise a UsageError naming the file;
`load_settings` with `data.dataset` raises only SettingsError or UsageError; `train DATA`,
`validate-npz DATA` and `eval --data-dir DATA` exit 0, 1 or 2 without a traceback or an
"unexpected" error, and none of them writes into the dataset."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import Sandbox, expect_only, fuzz, invoke, message_names, run_bounded
from tests.fuzz.strategies import mangled, plain_data, scalars, to_json

# property-based fuzzing of a reader or command: the full lane runs it
pytestmark = pytest.mark.slow

D = 9  # hand_l 0:6 (2 landmarks), pose 6:9 (1 landmark)
VALID = {
    "format_version": 1,
    "landmark_set": "mediapipe-holistic",
    "layout": "single",
    "key": "X",
    "streams": {
        "hand_l": {"landmarks": 2, "columns": [0, 6], "mirror_pairs": [[0, 1]]},
        "pose": {"landmarks": 1, "columns": [6, 9], "source_landmarks": [11]},
    },
    "units": "normalized",
    "classes": ["hello", "thanks"],
    "signer_column": "signer",
    "splits": {
        "train": {"dir": "train", "labels": "train_labels.csv"},
        "val": {"dir": "val", "labels": "val_labels.csv"},
    },
    "source": {"format": "fuzz", "path": "/nowhere"},
}
FIELD_VALUES = st.one_of(
    st.sampled_from(
        [
            "multi", "single", "pixels", "X2048", "Y", "../outside", "/", "..", "train", "",
            [0, 6], [6, 0], [0, 10**12], [-3, 3], [[0, 1], [1, 0]], [[0, 99]], [11, 12],
            {"dir": "../outside/train", "labels": "../outside/keep.txt"}, {"index": "x.csv"},
            {"face": {"landmarks": 3}}, 2, 0, 10**9, None,
        ]
    ).map(copy.deepcopy),  # edits after this one may go inside it
    scalars,
    plain_data(max_leaves=4),
)  # fmt: skip


def _paths(node: Any, prefix: tuple[Any, ...], depth: int) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if depth == 0:
        return found
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, child in items:
        found += _paths(child, (*prefix, key), depth - 1)
    return found


def _like(value: Any) -> st.SearchStrategy[Any]:
    """Values of the type of `value`: odd paths for strings, odd counts for integers."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(-2, 12) | st.sampled_from([0, 63, 10**6, 2**63, 10**400])
    if isinstance(value, str):
        paths = ["train", "val", "../outside", "../outside/train", "/", ".", "", "a/../../b", "~"]
        return st.sampled_from(paths) | st.text(max_size=8)
    if isinstance(value, list):
        return st.lists(st.integers(-2, 12), max_size=3) | st.lists(
            st.lists(st.integers(-1, 3), min_size=2, max_size=2), max_size=3
        )
    return FIELD_VALUES


@st.composite
def manifests(draw: st.DrawFn) -> bytes:
    """The valid manifest with a few fields replaced, removed or added (two times in three),
    random plain data as JSON, mangled JSON, or random bytes."""
    kind = draw(
        st.sampled_from(["edit", "edit", "edit", "edit", "valid", "random", "mangled", "bytes"])
    )
    if kind == "valid":
        return to_json(VALID).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "random":
        return to_json(draw(plain_data(st.sampled_from(list(VALID))))).encode()
    manifest = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(0 if kind == "mangled" else 1, 2))):
        path = draw(st.sampled_from(_paths(manifest, (), 4)))
        node: Any = manifest
        for key in path[:-1]:
            node = node[key]
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "delete" and isinstance(node, dict):
            node.pop(path[-1])
        elif action == "add" and isinstance(node, dict):
            node[draw(st.text(max_size=6) | st.sampled_from(["face", "hand_r", "text"]))] = draw(
                FIELD_VALUES
            )
        elif draw(st.booleans()):  # a value of the same type: reaches the checks behind
            node[path[-1]] = draw(_like(node[path[-1]]))
        else:
            node[path[-1]] = draw(FIELD_VALUES)
    text = to_json(manifest)
    if kind == "mangled":
        text = draw(mangled(text))
    return text.encode("utf-8", errors="surrogatepass")


def _dataset(box: Sandbox, manifest: bytes) -> Path:
    """A root of two splits of 4 samples [4, D] (2 classes, 2 signers) and the manifest."""
    root = box.folder("data")
    for split in ("train", "val"):
        (root / split).mkdir()
        rows = ["file,gloss,signer"]
        for i in range(4):
            np.savez(root / split / f"{split}{i}.npz", X=np.full((4, D), i, np.float32))
            rows.append(f"{split}{i},{i % 2},s{i % 2}")
        (root / f"{split}_labels.csv").write_text("\n".join(rows) + "\n")
    (root / "signcli-dataset.json").write_bytes(manifest)
    return root


def _read(root: Path) -> str:
    from signcli.core.errors import SettingsError, UsageError
    from signcli.core.manifest import dataset_settings, manifest_path, read_manifest
    from signcli.settings import load_settings

    outcome = expect_only(lambda: read_manifest(root), (UsageError,))
    if isinstance(outcome, UsageError):
        message_names(outcome, manifest_path(root))
        return "refused"
    given = expect_only(lambda: dataset_settings(root), (UsageError,))
    if isinstance(given, UsageError):
        message_names(given, root)
        return "refused by dataset_settings"
    settings = expect_only(
        lambda: load_settings(overrides=[f"data.dataset={root}"]), (SettingsError, UsageError)
    )
    if isinstance(settings, BaseException):
        return "settings refused"
    json.dumps(settings.model_dump(mode="json"))  # what config.json would hold
    return "settings"


@fuzz(30, long=3000)
@given(manifest=manifests())
def test_a_fuzzed_manifest_is_read_or_refused_naming_the_file(
    manifest: bytes, tmp_path: Path
) -> None:
    with Sandbox(tmp_path) as box:
        root = _dataset(box, manifest)
        box.freeze()
        run_bounded(lambda: _read(root))


TINY = [
    "--epochs", "1", "--batch-size", "4", "--device", "cpu", "--quiet", "--no-augment",
    "--set", "model.d_model=8", "--set", "model.num_layers=1", "--set", "model.num_heads=1",
    "--set", "model.ff_dim=8", "--set", "model.max_len=8", "--set", "model.conv_kernel=0",
]  # fmt: skip


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained tiny transformer for X [T, D] with the manifest's layout, 2 glosses."""
    from signcli.engine import checkpoint as ckpt
    from signcli.settings import Settings
    from signcli.tasks.model import build_run_model

    settings = Settings.model_validate(
        {
            "data": {"layout": {"hand_l": [0, 6], "pose": [6, 9]}, "normalize": False},
            "model": {
                "d_model": 8, "num_layers": 1, "num_heads": 1, "ff_dim": 8, "dropout": 0.0,
                "max_len": 8, "conv_kernel": 0, "num_gloss": 2, "num_cat": 0,
            },
        }
    )  # fmt: skip
    model = build_run_model(settings, {"x": D}, {"num_gloss": 2, "num_cat": 0})
    path = tmp_path_factory.mktemp("fuzz-manifest") / "best.pt"
    ckpt.save_checkpoint(
        path,
        {
            ckpt.SETTINGS_KEY: settings.model_dump(mode="json"),
            ckpt.LABELS_KEY: {"num_gloss": 2, "num_cat": 0, "gloss_names": {}, "cat_names": {}},
            ckpt.INPUTS_KEY: {"x": D},
            ckpt.MODEL_KEY: model.state_dict(),
        },
    )
    return path


@fuzz(5, long=600)
@given(manifest=manifests(), command=st.sampled_from(["train", "validate-npz", "eval"]))
def test_commands_with_a_fuzzed_manifest_exit_0_1_or_2(
    manifest: bytes, command: str, checkpoint: Path, tmp_path: Path
) -> None:
    with Sandbox(tmp_path) as box:
        root = _dataset(box, manifest)
        model = box.file("best.pt", checkpoint.read_bytes())
        box.freeze()
        if command == "train":
            args = ["train", "transformer", str(root), "--work-dir", "run", *TINY]
        elif command == "eval":
            args = ["eval", str(model), "--data-dir", str(root), "--out", "eval", "--device", "cpu"]
        else:
            args = ["validate-npz", str(root), "--workers", "1"]
        run_bounded(lambda: invoke(args), timeout=60, fork=True)
