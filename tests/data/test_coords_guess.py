"""data/coords_guess.py: a skeleton's columns are told from columns of unknown meaning by
how they behave, and a run records what was guessed."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from signcli.cli import app
from signcli.core.manifest import MANIFEST_NAME
from signcli.data.coords_guess import guess_coords, with_guessed_coords
from signcli.data.synthetic import make_samples, write_npz_dataset
from signcli.settings import load_settings
from tests.tiny import TINY_FLAGS

JOINTS = 52  # the synthetic skeleton: 156 columns, x, y, z of each joint


@pytest.fixture(scope="module")
def skeleton() -> list[np.ndarray]:
    """Synthetic signing clips [T, 52 * 3], joints one after another."""
    return [s.x for s in make_samples(96, num_gloss=6, seed=3)]


def _points(clips: list[np.ndarray]) -> list[np.ndarray]:
    return [c.reshape(len(c), JOINTS, 3) for c in clips]


def test_joints_one_after_another_are_found_with_their_coordinates(skeleton) -> None:
    xyz = guess_coords(skeleton)
    assert (xyz.coords, xyz.joints) == ("xyz", JOINTS)
    assert xyz.scores["xyz"] > 6

    # a 2-D detector's 51 joints: 102 columns, which 3 divides too
    flat = [p[:, :51, :2].reshape(len(p), -1) for p in _points(skeleton)]
    xy = guess_coords(flat)
    assert (xy.coords, xy.joints) == ("xy", 51)
    assert xy.scores["xy"] > 6 > xy.scores["xyz"]


def test_columns_without_a_joint_period_stay_unknown(skeleton) -> None:
    rng = np.random.default_rng(0)
    noise = [rng.normal(size=(30, 60)) for _ in range(64)]
    # CNN-like features: non-negative mixtures of a few smooth factors
    mixing = rng.normal(size=(16, 240))
    features = [np.maximum(np.cumsum(rng.normal(size=(30, 16)), 0) @ mixing, 0) for _ in range(64)]
    axis_by_axis = [p.transpose(0, 2, 1).reshape(len(p), -1) for p in _points(skeleton)]
    # 3 joints x, y: too few columns for any pattern to stand out from chance
    few = [p[:, [0, 20, 40], :2].reshape(len(p), -1) for p in _points(skeleton)]
    for clips in (noise, features, axis_by_axis, few):
        guess = guess_coords(clips)
        assert (guess.coords, guess.joints) == ("none", None), guess.scores


def test_missing_joints_and_degenerate_input_do_not_break_the_guess(skeleton) -> None:
    holes = [c.copy() for c in skeleton]
    for clip in holes[::2]:
        clip[:, : 21 * 3] = np.nan  # a hand never detected in half the clips
    assert guess_coords(holes).coords == "xyz"
    assert guess_coords([]).coords == "none"
    assert guess_coords([np.zeros((10, 6))]).coords == "none"  # constant columns
    assert guess_coords([np.full((10, 9), np.nan)]).coords == "none"
    assert guess_coords([np.ones((10, 7))]).coords == "none"  # neither 2 nor 3 divides 7


class _Clips:
    """The `raw(i).streams` interface of a training dataset."""

    def __init__(self, clips: list[np.ndarray]) -> None:
        self.clips = clips

    def __len__(self) -> int:
        return len(self.clips)

    def raw(self, i: int) -> SimpleNamespace:
        return SimpleNamespace(streams={"x": self.clips[i]})


@pytest.mark.parametrize(
    "said",
    [
        ("data.coords=none",),  # by hand: unknown
        ("data.coords=xy",),
        ("data.joints=52",),  # auto, resolved from the joint count
        ("data.layout=hand_l=0:63,hand_r=63:126,pose=126:156",),  # body parts
        ("data.key=X2048",),  # CNN features
    ],
)
def test_only_an_unsaid_skeleton_is_guessed(skeleton, said) -> None:
    settings = load_settings(overrides=list(said))
    assert with_guessed_coords(settings, _Clips(skeleton)) == (settings, None)


def test_a_guess_is_written_into_the_settings(skeleton) -> None:
    settings, guess = with_guessed_coords(load_settings(), _Clips(skeleton))
    assert guess is not None and guess.coords == "xyz"
    assert (settings.data.coords, settings.data.joints) == ("xyz", JOINTS)


@pytest.mark.slow
def test_a_run_stores_the_guess_and_resume_and_none_keep_to_it(tmp_path: Path) -> None:
    data = write_npz_dataset(tmp_path / "data", 48, 12, num_gloss=4, seed=1)
    runner = CliRunner()

    def train(work: Path, *flags: str) -> dict:
        args = ["train", "transformer", str(data), "--work-dir", str(work), "--epochs", "1"]
        result = runner.invoke(app, [*args, *TINY_FLAGS, *flags])
        assert result.exit_code == 0, result.output
        return json.loads((work / "config.json").read_text())["data"]

    stored = train(tmp_path / "run")
    assert (stored["coords"], stored["joints"]) == ("xyz", JOINTS)
    assert stored["sample_normalize"] is True  # known coordinates: normalised per sample
    assert stored["raw_channels"] is True  # ... beside the raw positions, which on 48
    moves = stored["augment"]["position_shift"], stored["augment"]["position_scale"]
    assert moves == (1.0, 0.2)  # clips move twice as far: config.json records the value
    resumed = runner.invoke(app, ["resume", str(tmp_path / "run"), "--epochs", "2"])
    assert resumed.exit_code == 0, resumed.output
    after = json.loads((tmp_path / "run" / "config.json").read_text())["data"]
    assert (after["coords"], after["joints"]) == ("xyz", JOINTS)

    unknown = train(tmp_path / "none", "--set", "data.coords=none")
    assert (unknown["coords"], unknown["joints"], unknown["sample_normalize"]) == (
        "none",
        None,
        False,
    )


def test_validate_npz_says_what_the_columns_are_and_where_that_comes_from(
    tmp_path: Path, make_npz_dataset
) -> None:
    skeleton = write_npz_dataset(tmp_path / "skeleton", 32, 8, num_gloss=4, seed=2)
    result = CliRunner().invoke(app, ["validate-npz", str(skeleton), "--json"])
    assert result.exit_code == 0, result.output
    columns = [split["columns"] for split in json.loads(result.output)["splits"]]
    assert columns == [{"coords": "xyz", "joints": JOINTS, "from": "guess"}] * 2
    shown = CliRunner().invoke(app, ["validate-npz", str(skeleton)], terminal_width=200)
    assert "52 joints x xyz, guessed from how they move" in shown.output

    noise = make_npz_dataset(n=16, D=6)  # 6 columns of noise
    result = CliRunner().invoke(app, ["validate-npz", str(noise)], terminal_width=200)
    assert "of unknown meaning: no joint pattern found" in result.output

    splits = {s: {"dir": s, "labels": f"{s}_labels.csv"} for s in ("train", "val")}
    manifest = {"coords": "xy", "joints": 78, "splits": splits}  # said by the dataset: no guess
    (skeleton / MANIFEST_NAME).write_text(json.dumps(manifest))
    declared = CliRunner().invoke(app, ["validate-npz", str(skeleton), "--json"])
    assert declared.exit_code == 0, declared.output
    columns = [split["columns"] for split in json.loads(declared.output)["splits"]]
    assert columns == [{"coords": "xy", "joints": 78, "from": "manifest"}] * 2
