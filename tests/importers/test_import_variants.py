"""`signcli import` end to end on the variants real users have: every sequence in comes out
(or the import is refused naming what and why), missing parts are NaN, the manifest says
the landmark set and the mirror pairs, the summary and import-report.json say what was
decided."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from signcli.cli import app
from signcli.core.manifest import read_manifest
from signcli.data.landmarks import MEDIAPIPE_FACE_PAIRS, MEDIAPIPE_POSE_PAIRS
from tests.importers.kaggle_samples import write_asl_signs, write_long_parquet
from tests.importers.samples import write_mp_sequence
from tests.importers.test_mp_folders_variants import REAL_WIDTHS, build
from tests.importers.test_openpose_people import crowded_clip


def run(*args: str):
    result = CliRunner().invoke(app, ["import", *map(str, args), "--workers", "1"])
    assert "Traceback" not in result.output
    return result


def npz_count(out: Path) -> int:
    return sum(1 for _ in out.glob("*/*.npz"))


def test_mp_tree_of_several_widths_imports_every_sequence(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    for label, width in (("a", 1662), ("a", 258), ("b", 2172), ("b", 225)):
        vectors, _ = build(REAL_WIDTHS[width], seed=width)
        write_mp_sequence(src / label / str(width), vectors)
    result = run("mp-folders", src, out, "--val-fraction", "0")
    assert result.exit_code == 0, result.output
    assert "imported 4 sequences" in result.output and "several layouts" in result.output
    assert npz_count(out) == 4
    manifest = read_manifest(out)
    assert manifest.landmark_set == "mediapipe-holistic"
    assert manifest.streams["face"].landmarks == 468
    assert [tuple(p) for p in manifest.streams["face"].mirror_pairs] == MEDIAPIPE_FACE_PAIRS
    columns = manifest.streams["face"].columns
    with np.load(out / "train" / "a__258.npz") as archive:
        assert np.isnan(archive["X"][:, columns[0] : columns[1]]).all()  # no face saved
    with np.load(out / "train" / "a__1662.npz") as archive:
        assert not np.isnan(archive["X"]).any()


def test_mp_width_refused_names_it_exit_2_nothing_written(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    write_mp_sequence(src / "a" / "0", np.full((2, 63), 0.5))
    result = run("mp-folders", src, out)
    assert result.exit_code == 2
    assert "63 values: one hand" in result.output and "--parts hand_r" in result.output
    assert not out.exists()
    result = run("mp-folders", src, out, "--parts", "hand_r", "--val-fraction", "0")
    assert result.exit_code == 0, result.output
    assert list(read_manifest(out).streams) == ["hand_r"]


def test_parts_is_refused_for_another_format(tmp_path: Path) -> None:
    crowded_clip(tmp_path / "src" / "a" / "clip")
    result = run("openpose", tmp_path / "src", tmp_path / "out", "--parts", "hand_r")
    assert result.exit_code == 2
    assert "--parts: not an option of openpose (it is one of mp-folders)" in result.output


def test_asl_signs_with_absent_rows_and_another_index(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    sample = write_asl_signs(src, n_sequences=4, missing=0, corrupt=0)
    # rewrite every file the way a home-made exporter does: undetected parts have no rows
    for sample_id, path in sample.paths.items():
        points = np.concatenate(
            [sample.expected[sample_id][s] for s in ("face", "hand_l", "pose", "hand_r")], axis=1
        )
        write_long_parquet(
            path, np.asarray(sample.frames[sample_id]), points, drop_missing_parts=True
        )
    (src / "train.csv").rename(src / "index.csv")
    result = run("asl-signs", src, out, "--index", "index.csv", "--val-fraction", "0", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["skipped"] == [] and sum(report["splits"].values()) == 4
    assert report["nan_share"]["hand_l"] > 0


def test_pose_tree_of_two_estimators_is_refused_exit_2_nothing_written(tmp_path: Path) -> None:
    pytest.importorskip("pose_format")
    from tests.importers.pose_samples import MEDIAPIPE, OPENPOSE, write_pose_file

    src, out = tmp_path / "src", tmp_path / "out"
    for i in range(3):
        write_pose_file(src / "a" / f"mp{i}.pose", MEDIAPIPE, seed=i)
    write_pose_file(src / "b" / "op.pose", OPENPOSE)
    result = run("pose", src, out)
    assert result.exit_code == 2
    assert "MediaPipe Holistic (mediapipe-holistic, pixels): 3 files (a/mp0.pose" in result.output
    assert "OpenPose (openpose-body25-hands, pixels): 1 files (b/op.pose)" in result.output
    assert not out.exists()


def test_reduced_holistic_tree_keeps_its_points_with_their_mirror_pairs(tmp_path: Path) -> None:
    pytest.importorskip("pose_format")
    from tests.importers.pose_samples import (
        MEDIAPIPE,
        REDUCED_FACE_INDEX,
        REDUCED_POINT_NAMES,
        REDUCED_POSE_INDEX,
        write_pose_file,
    )

    src, out = tmp_path / "src", tmp_path / "out"
    for label in ("a", "b"):
        for i in range(2):
            write_pose_file(src / label / f"{i}.pose", MEDIAPIPE, point_names=REDUCED_POINT_NAMES)
    result = run("pose", src, out, "--val-fraction", "0")
    assert result.exit_code == 0, result.output
    assert npz_count(out) == 4
    manifest = read_manifest(out)
    assert manifest.landmark_set == "mediapipe-holistic"
    pose, face = manifest.streams["pose"], manifest.streams["face"]
    assert pose.landmarks == 33 and pose.source_landmarks is None  # NaN but for the 8
    assert [tuple(p) for p in pose.mirror_pairs] == MEDIAPIPE_POSE_PAIRS
    assert face.landmarks == 128 and face.source_landmarks == REDUCED_FACE_INDEX
    position = {landmark: i for i, landmark in enumerate(REDUCED_FACE_INDEX)}
    want = [
        (position[a], position[b])
        for a, b in MEDIAPIPE_FACE_PAIRS
        if a in position and b in position
    ]
    assert [tuple(p) for p in face.mirror_pairs] == want and len(want) == 61  # 6 on the midline
    with np.load(out / "train" / "a__0.npz") as archive:
        x = archive["X"]
    held = np.zeros(33, bool)
    held[REDUCED_POSE_INDEX] = True
    pose_points = x[:, pose.columns[0] : pose.columns[1]].reshape(len(x), 33, 3)
    assert not np.isnan(pose_points[:, held]).any() and np.isnan(pose_points[:, ~held]).all()
    assert not np.isnan(x[:, face.columns[0] : face.columns[1]]).any()
    trained = CliRunner().invoke(
        app,
        [
            "train",
            "transformer",
            str(out),
            "--work-dir",
            str(tmp_path / "run"),
            "--epochs",
            "1",
            "-q",
            "--set",
            "model.d_model=16",
            "--set",
            "model.num_layers=1",
            "--set",
            "data.augment.mirror_p=0.5",
        ],
    )
    assert trained.exit_code == 0, trained.output


def test_openpose_summary_and_report_say_people_and_whom_was_taken(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    crowded_clip(src / "hello" / "crowd")
    crowded_clip(src / "hello" / "crowd2")
    from tests.importers.samples import write_openpose

    write_openpose(src, labels=("thanks",), videos=2, frames=4)
    result = run("openpose", src, out, "--val-fraction", "0", "--person", "largest")
    assert result.exit_code == 0, result.output
    assert "people per clip: 1 in 2 clips, 3 in 2 clips (--person largest)" in result.output
    assert "hello__crowd: 3 people, took the one at x 900" in result.output
    report = json.loads((out / "import-report.json").read_text())
    notes = report["sequence_notes"]
    assert notes["hello__crowd"]["people"] == 3 and notes["hello__crowd"]["person"] == "largest"
    assert notes["thanks__thanks_0"]["people"] == 1


def test_progress_agrees_with_the_summary_and_no_class_is_left_empty(tmp_path: Path) -> None:
    """Two of three sequences cannot be converted (a frame of another width); one of them
    was its class's only sequence: the progress line, the summary and the manifest agree."""
    src, out = tmp_path / "src", tmp_path / "out"
    good, _ = build(REAL_WIDTHS[1662])
    write_mp_sequence(src / "keep" / "0", good)
    for label in ("keep", "lost"):
        write_mp_sequence(src / label / "bad", [good[0], good[1, :258]])
    result = run("mp-folders", src, out, "--val-fraction", "0")
    assert result.exit_code == 0, result.output
    assert "converted 1/3 sequences (2 could not be converted)" in result.output
    assert "imported 1 sequences" in result.output and "1 classes" in result.output
    assert read_manifest(out).classes == ["keep"]
    assert "lost" in result.output  # named, with its reason, in the skipped list


def test_wholebody_pose_files_import_and_train_with_mirroring(tmp_path: Path) -> None:
    """MMPose / OpenPifPaf files: the COCO-WholeBody set in the manifest, its pairs, and a
    training run that normalises the 23-point body by its shoulders and mirrors it."""
    pytest.importorskip("pose_format")
    from tests.importers.pose_samples import WHOLEBODY, write_pose_tree

    src, out = tmp_path / "src", tmp_path / "out"
    write_pose_tree(src, WHOLEBODY, labels=("a", "b", "c"), per_label=3)
    result = run("pose", src, out, "--val-fraction", "0.34", "--split-by", "none")
    assert result.exit_code == 0, result.output
    manifest = read_manifest(out)
    assert manifest.landmark_set == "coco-wholebody"
    assert {s: e.landmarks for s, e in manifest.streams.items()} == {
        "face": 68,
        "hand_l": 21,
        "hand_r": 21,
        "pose": 23,
    }
    assert (5, 6) in [tuple(p) for p in manifest.streams["pose"].mirror_pairs]  # shoulders
    trained = CliRunner().invoke(app, ["train", "transformer", str(out), "--work-dir", str(tmp_path / "run"), "--epochs", "1", "-q", "--set", "model.d_model=16", "--set", "model.num_layers=1", "--set", "data.augment.mirror_p=0.5"])  # fmt: skip
    assert trained.exit_code == 0, trained.output


def test_openpose_videos_with_and_without_the_face_keep_the_face_stream(tmp_path: Path) -> None:
    """The first video was extracted without `--face`, a later one with it: the face is a
    stream of the import (NaN for the first video), not dropped because the first lacks it."""
    from tests.importers.samples import write_openpose

    src, out = tmp_path / "src", tmp_path / "out"
    write_openpose(src, labels=("a",), videos=2, frames=3, face=False)
    write_openpose(src, labels=("b",), videos=2, frames=3, face=True, seed=1)
    result = run("openpose", src, out, "--val-fraction", "0")
    assert result.exit_code == 0, result.output
    manifest = read_manifest(out)
    assert manifest.streams["face"].landmarks == 70
    columns = manifest.streams["face"].columns
    with np.load(out / "train" / "a__a_0.npz") as archive:
        assert np.isnan(archive["X"][:, columns[0] : columns[1]]).all()
    with np.load(out / "train" / "b__b_0.npz") as archive:
        assert not np.isnan(archive["X"][:, columns[0] : columns[1]]).all()
    assert npz_count(out) == 4
