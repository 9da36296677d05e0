"""The per-sample input channels: what each group holds, padding and NaN, and the settings
that say what the columns are (models/channels.py, models/sample_features.py)."""

from __future__ import annotations

import pytest
import torch

from signcli.auto_size import position_moves, resolve_auto_settings, resolved_inputs
from signcli.core.errors import UsageError
from signcli.models.channels import StreamChannels, channel_plan
from signcli.models.sample_features import SampleFeatures
from signcli.settings import AugmentSettings, load_settings
from signcli.tasks.model import build_run_model
from signcli.upgrade import upgrade_stored_settings

SMALL = ["model.d_model=16", "model.num_layers=1", "model.num_heads=2", "model.ff_dim=32",
         "model.dropout=0"]  # fmt: skip


def features(coords: int, motion: int = 1, raw: bool = True) -> SampleFeatures:
    return SampleFeatures({"x": StreamChannels(6, coords, raw, True, motion)})


def clips(B: int = 3, T: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(B, T, 6, generator=torch.Generator().manual_seed(0)) * 5 + 100
    mask = torch.ones(B, T, dtype=torch.bool)
    mask[1, 4:] = False
    mask[2, 2:] = False
    return x, mask


def test_groups_are_raw_normalised_velocity_acceleration_side_by_side() -> None:
    x, mask = clips()
    out = features(coords=2, motion=2)({"x": x}, mask)["x"]  # [B, T, 24]
    raw, norm, velocity, acceleration = out.split(6, dim=-1)
    torch.testing.assert_close(raw, x)
    assert torch.equal(velocity[:, 0], torch.zeros(3, 6))
    torch.testing.assert_close(velocity[:, 1:], norm[:, 1:] - norm[:, :-1])
    torch.testing.assert_close(acceleration[:, 1:], velocity[:, 1:] - velocity[:, :-1])


def test_known_joints_lose_position_and_size_but_keep_their_shape() -> None:
    x, mask = clips()
    moved = x * 3.0 + torch.tensor([40.0, -7.0] * 3)  # the signer bigger, elsewhere
    layer = features(coords=2, motion=0, raw=False)
    a, b = layer({"x": x}, mask)["x"], layer({"x": moved}, mask)["x"]
    torch.testing.assert_close(a[mask], b[mask], rtol=1e-4, atol=1e-4)
    points = a[0].reshape(7, 3, 2)  # clip 0: every frame real
    torch.testing.assert_close(points.mean((0, 1)), torch.zeros(2), atol=1e-5, rtol=0)
    rms = points.square().sum(-1).mean().sqrt()
    torch.testing.assert_close(rms, torch.tensor(1.0))


def test_unknown_columns_are_each_centred_and_scaled_over_the_clip() -> None:
    x, mask = clips()
    x[0, :, 5] = 3.0  # a column constant over the clip: only centred
    out = features(coords=0, motion=0, raw=False)({"x": x}, mask)["x"]
    real = out[2, :2]  # clip 2: two real frames
    torch.testing.assert_close(real.mean(0), torch.zeros(6), atol=1e-5, rtol=0)
    torch.testing.assert_close(real.std(0, unbiased=False), torch.ones(6))
    assert torch.equal(out[0, :, 5], torch.zeros(7))


def test_padding_cannot_change_a_real_frames_channels() -> None:
    x, mask = clips()
    garbage = x.clone()
    garbage[~mask] = float("inf")
    for coords in (0, 2, 3):
        layer = features(coords=coords, motion=2)
        a, b = layer({"x": x}, mask)["x"], layer({"x": garbage}, mask)["x"]
        assert torch.equal(a[mask], b[mask]), coords


def test_missing_values_stay_missing_and_do_not_spread_to_other_joints() -> None:
    x, mask = clips()
    x[0, 3, 0:2] = float("nan")  # joint 0 not detected in frame 3
    out = features(coords=2, motion=1)({"x": x}, mask)["x"]
    raw, norm, velocity = out.split(6, dim=-1)
    assert torch.isnan(norm[0, 3, 0:2]).all() and torch.isfinite(norm[0, 3, 2:]).all()
    assert torch.isnan(velocity[0, 3:5, 0:2]).all()  # into and out of the gap
    assert torch.isfinite(norm[0, [0, 1, 2, 4, 5, 6]]).all()
    empty = torch.full((1, 4, 6), float("nan"))
    assert torch.isnan(
        features(coords=2)({"x": empty}, torch.ones(1, 4, dtype=torch.bool))["x"]
    ).all()


def test_a_model_with_the_channels_ignores_padding_and_exported_widths_follow() -> None:
    settings = load_settings(overrides=[*SMALL, "data.coords=xy", "data.motion=acceleration"])
    model = build_run_model(settings, {"x": 6}, {"num_gloss": 3}).eval()
    assert model.encoder.input_dims == {"x": 24} and model.input_dims == {"x": 6}
    x, mask = clips()
    garbage = x.clone()
    garbage[~mask] = 1e6
    with torch.no_grad():
        a, b = model({"x": x}, mask)["gloss"], model({"x": garbage}, mask)["gloss"]
    assert torch.equal(a, b)


def test_auto_normalises_keypoints_whose_coordinates_are_known() -> None:
    def plan(*overrides: str, width: int = 6):
        return channel_plan(load_settings(overrides=list(overrides)).data, {"x": width})["x"]

    unknown = plan()  # the default: nothing known about the columns: raw + velocity
    assert (unknown.normalized, unknown.motion, unknown.width) == (False, 1, 12)
    assert (plan("data.coords=xy").normalized, plan("data.joints=2").normalized) == (True, True)
    assert plan("data.coords=xy").width == 18
    assert plan("data.coords=none", "data.sample_normalize=true", "data.motion=off").width == 12
    assert plan("data.motion=off").width == 6
    cnn = plan("data.key=X2048", "data.joints=1024", width=2048)
    assert (cnn.normalized, cnn.motion, cnn.width) == (False, 0, 2048)


def test_auto_keeps_the_raw_positions_and_moves_the_joints_of_a_small_set_further() -> None:
    def resolved(*overrides: str, samples: int | None = 500) -> tuple[bool, float, float]:
        data = load_settings(overrides=list(overrides)).data
        return resolved_inputs(data)[2], *position_moves(data.augment, data, samples)

    small, base = (True, 0.2, 1.0), (True, 0.1, 0.5)  # (raw, scale, shift)
    assert resolved("data.coords=xy") == small and resolved("data.joints=25") == small
    assert resolved("data.coords=xy", samples=2000) == base  # thousands of clips
    assert resolved("data.coords=xy", samples=None) == base  # size unknown: the base moves
    assert resolved() == base  # columns of unknown meaning: position leaves them alone
    assert resolved("data.layout=hand_l=0:63,hand_r=63:126", "data.coords=xyz") == base
    assert resolved("data.key=X2048", "data.joints=1024") == base  # CNN features
    said = ("data.coords=xy", "data.augment.position_shift=0.3", "data.raw_channels=false")
    assert resolved(*said) == (False, 0.2, 0.3)  # said by hand: kept; the rest auto
    assert position_moves(AugmentSettings()) == (0.1, 0.5)  # no run to size it by
    stored = resolve_auto_settings(load_settings(overrides=["data.coords=xyz"]), 100).data
    # config.json records the values, not auto
    assert (stored.raw_channels, stored.augment.position_scale) == (True, 0.2)
    assert stored.augment.position_shift == 1.0


def test_auto_motion_is_velocity_for_a_skeleton_without_a_landmark_set_only() -> None:
    def motion(*overrides: str) -> str:
        return resolved_inputs(load_settings(overrides=list(overrides)).data)[1]

    assert motion() == "velocity" and motion("data.coords=xyz") == "velocity"
    assert motion("data.layout=hand_l=0:63,hand_r=63:126") == "off"  # body parts: as before
    assert motion("data.pose_dir=poses") == "off"  # the multi-stream layout
    assert motion("data.key=X2048") == "off"  # CNN features
    assert motion("data.motion=off") == "off" and motion("data.motion=acceleration") == (
        "acceleration"
    )
    resolved = resolve_auto_settings(load_settings(), 100)
    assert resolved.data.motion == "velocity"  # config.json records the value, not auto


def test_coords_come_from_the_setting_or_the_joint_count() -> None:
    def coords(*overrides: str, width: int = 6) -> int:
        return channel_plan(load_settings(overrides=list(overrides)).data, {"x": width})["x"].coords

    assert coords() == 0  # nothing known: each column on its own
    assert coords("data.joints=3") == 2 and coords("data.joints=2") == 3
    assert coords("data.coords=xyz") == 3 and coords("data.coords=none", "data.joints=3") == 0
    with pytest.raises(ValueError, match=r"data.joints: X has 6 columns, neither 2 nor 3 x 4"):
        coords("data.joints=4")
    with pytest.raises(ValueError, match=r"data.coords: xyz needs a multiple of 3 columns"):
        coords("data.coords=xyz", width=8)
    with pytest.raises(UsageError, match=r"data.joints: 4 joints x 3 coordinates is 12"):
        build_run_model(
            load_settings(overrides=["data.coords=xyz", "data.joints=4"]),
            {"x": 6},
            {"num_gloss": 3},
        )


def test_body_parts_in_their_own_frame_get_motion_but_no_second_normalisation() -> None:
    layout = "data.layout=hand_l=0:63,hand_r=63:126,pose=126:156"
    on = "data.sample_normalize=true", "data.motion=velocity"
    widths = {"hand_l": 63, "pose": 30, "x": 9}
    plan = channel_plan(load_settings(overrides=[layout, *on]).data, widths)
    assert not plan["hand_l"].normalized and plan["hand_l"].coords == 3
    assert plan["hand_l"].width == 126 and plan["x"].normalized and plan["x"].coords == 0
    imported = load_settings(overrides=[layout, "data.coords=xyz", "data.joints=55"]).data
    assert not channel_plan(imported, widths)["x"].normalized  # X's joints; x is the rest
    off = load_settings(overrides=[layout, *on, "data.normalize=false"]).data
    assert channel_plan(off, {"pose": 30})["pose"].normalized


def test_raw_channels_off_needs_other_channels() -> None:
    only_velocity = ["data.raw_channels=false", "data.motion=velocity"]
    plan = channel_plan(load_settings(overrides=only_velocity).data, {"x": 6})
    assert plan["x"].width == 6 and not plan["x"].raw
    with pytest.raises(Exception, match="data.raw_channels: off leaves the encoder nothing"):
        load_settings(
            overrides=["data.raw_channels=false", "data.motion=off", "data.sample_normalize=false"]
        )


def test_runs_stored_before_the_channels_rebuild_without_them() -> None:
    stored = load_settings().model_dump(mode="json")
    for key in ("sample_normalize", "motion", "coords", "joints", "raw_channels"):
        stored["data"].pop(key)
    stored["training"].pop("ema")
    upgraded = load_settings(base=upgrade_stored_settings(stored))
    assert upgraded.data.sample_normalize is False and upgraded.data.motion == "off"
    assert upgraded.training.ema == "off"
    model = build_run_model(upgraded, {"x": 6}, {"num_gloss": 3})
    assert model.features.passes_through and model.encoder.input_dims == {"x": 6}


def test_the_run_header_says_what_the_input_stage_feeds_the_encoder() -> None:
    def describe(*overrides: str) -> str:
        data = load_settings(overrides=list(overrides)).data
        return channel_plan(data, {"x": 6})["x"].describe()

    assert describe() == "6 columns of unknown meaning: raw + velocity"
    assert describe("data.coords=xy") == "3 joints x 2: raw + normalised per sample + velocity"
    assert describe("data.motion=acceleration", "data.raw_channels=false") == (
        "6 columns of unknown meaning: velocity + acceleration"
    )


def test_the_header_line_names_the_input_of_a_skeleton_without_a_layout_only() -> None:
    from types import SimpleNamespace

    from signcli.data.coords_guess import CoordsGuess
    from signcli.engine.progress import input_lines

    def lines(*overrides: str, run: tuple[str, ...] = (), guess=None) -> list[str]:
        model = build_run_model(
            load_settings(overrides=list(overrides)), {"x": 6}, {"num_gloss": 3}
        )
        settings = load_settings(overrides=list(run or overrides))
        trainer = SimpleNamespace(settings=settings, model=model, coords_guess=guess)
        return input_lines(trainer)

    assert lines() == [
        "input X: 6 columns of unknown meaning: raw + velocity (joints? --set "
        "data.coords=xy|xyz normalises them per sample and moves them whole: better on new "
        "signers)"
    ]
    assert lines("data.coords=xy") == [
        "input X: 3 joints x 2: raw + normalised per sample + velocity"
    ]
    guessed = CoordsGuess("xy", 3, {"xy": 12.3, "xyz": 0.5})
    assert lines("data.coords=xy", guess=guessed) == [
        "input X: 3 joints x 2: raw + normalised per sample + velocity (guessed from how the "
        "columns move, 12 sd above chance; --set data.coords=none if they are not joints)"
    ]
    # body parts (a layout) or CNN features: no line, the layout or the key says it
    assert lines(run=("data.layout=hand_l=0:63,hand_r=63:126",)) == []
    assert lines(run=("data.key=X2048",)) == []
