"""`signcli extract` on real signing: videos -> dataset -> validate-npz -> train, with the
promises of `import`: unreadable videos skipped with a reason, resume after an interrupt,
shards + merge equal to one run, --overwrite removing only its own files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("mediapipe", reason='needs mediapipe: pip install -e ".[extract]"')

from signcli.cli import app  # noqa: E402
from signcli.core.manifest import read_manifest  # noqa: E402
from signcli.extract.run import ExtractInterrupted, ExtractOptions, run_extract  # noqa: E402
from tests.extract.videos import (  # noqa: E402
    REAL_FRAMES,
    REAL_VIDEO,
    write_damaged,
    write_mirrored,
    write_no_person,
)

FAST = ["--fps", "10", "--val-fraction", "0"]  # 20 frames of the real clip per video
TINY = ["--epochs", "1", "-q", "--set", "model.d_model=16", "--set", "model.num_layers=1"]
NOT_OPENED = "OpenCV opens it but decodes no frame (damaged?)"
NOBODY = "no person found: no pose, face or hand in any of its 4 frames"  # 12 at 30/s, --fps 10

pytestmark = pytest.mark.slow  # each test runs MediaPipe on real frames


@pytest.fixture(scope="module")
def src(tmp_path_factory) -> Path:
    """Two signing videos (the real one, and mirrored, so a left-handed sign), a video with
    nobody in it and a damaged file, in label folders."""
    root = tmp_path_factory.mktemp("videos")
    (root / "right").mkdir()
    shutil.copy(REAL_VIDEO, root / "right" / "signing.mp4")
    write_damaged(root / "right" / "damaged.mp4")
    write_mirrored(root / "left" / "mirrored.avi")
    write_no_person(root / "left" / "nobody.avi")
    (root / "left" / "notes.txt").write_text("not a video\n")
    return root


@pytest.fixture(scope="module")
def one_run(src, tmp_path_factory) -> tuple[Path, dict]:
    """One run with two worker processes, and its --json report."""
    out = tmp_path_factory.mktemp("one") / "out"
    result = CliRunner().invoke(app, ["extract", str(src), str(out), *FAST, "--workers", "2",
                                      "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    return out, json.loads(result.output)


def _arrays(out: Path) -> dict[str, np.ndarray]:
    return {p.name: np.load(p)["X"] for p in sorted((out / "train").glob("*.npz"))}


def _same_dataset(out: Path, reference: Path) -> None:
    """Same samples (bit for bit, NaN where NaN), CSVs and manifest."""
    ours, theirs = _arrays(out), _arrays(reference)
    assert sorted(ours) == sorted(theirs)
    for name, array in theirs.items():
        assert np.array_equal(ours[name], array, equal_nan=True), name
    for name in ("train_labels.csv", "signcli-dataset.json"):
        assert (out / name).read_text() == (reference / name).read_text(), name


def test_videos_become_a_dataset_that_validates_and_trains(one_run, tmp_path):
    out, report = one_run
    assert report["splits"] == {"train": 2} and report["classes"] == 2
    assert sorted(report["skipped"], key=lambda s: s["what"]) == [
        {"what": str(Path(report["src"]) / "left" / "nobody.avi"), "reason": NOBODY},
        {"what": str(Path(report["src"]) / "right" / "damaged.mp4"), "reason": NOT_OPENED},
    ]
    assert report["frames_extracted"] == 20 + 20 + 4  # the damaged file gave none
    assert report["frames"] == {"min": 20.0, "mean": 20.0, "max": 20.0}
    # per part: face and pose in every frame; the one signing hand in some frames of each
    # video (the right one in signing.mp4, the left one in its mirror), so equal shares
    found = report["found_share"]
    assert found["face"] == found["pose"] == 1.0
    assert 0.1 < found["hand_l"] < 0.6 and abs(found["hand_l"] - found["hand_r"]) <= 0.05
    assert report["workers"] == 2 and report["frames_per_s"] > 0
    manifest = read_manifest(out)
    assert manifest.landmark_set == "mediapipe-holistic" and manifest.units == "pixels"
    assert manifest.classes == ["left", "right"] and manifest.source["format"] == "extract"
    assert manifest.source["fps"] == 10 and manifest.source["model_complexity"] == 1
    assert manifest.streams["pose"].mirror_pairs[5] == (11, 12)  # the shoulders
    x = _arrays(out)["left__mirrored.npz"]
    face, hand_l, hand_r = x[:, :1404], x[:, 1404:1467], x[:, 1467:1530]
    assert x.shape == (20, (468 + 21 + 21 + 33) * 3) and not np.isnan(face).any()
    assert np.isnan(hand_r).all() and not np.isnan(hand_l).all()  # mirrored: a left hand
    checked = CliRunner().invoke(app, ["validate-npz", str(out)])
    assert checked.exit_code == 0, checked.output
    run = tmp_path / "run"
    trained = CliRunner().invoke(app, ["train", "transformer", str(out), "--work-dir", str(run),
                                       *TINY])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["landmark_set"] == "mediapipe-holistic"


def test_an_interrupted_extraction_resumes_to_the_same_dataset(src, one_run, tmp_path):
    out = tmp_path / "out"
    options = ExtractOptions(src=src, out=out, fps=10, val_fraction=0, workers=1)

    def interrupt_after_the_first_video(done: int, total: int, frames: int) -> None:
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(ExtractInterrupted):
        run_extract(options, interrupt_after_the_first_video)
    assert len(list((out / "train").glob("*.npz"))) == 1
    assert not (out / "signcli-dataset.json").exists()
    refused = CliRunner().invoke(
        app, ["extract", str(src), str(out), "--fps", "5", "--val-fraction", "0"]
    )
    assert refused.exit_code == 2 and "unfinished extraction with other options (fps" in (
        refused.output
    )
    calls: list[tuple[int, int, int]] = []
    report = run_extract(options, lambda *call: calls.append(call))
    assert report.resumed == 1 and report.written == 2
    # progress: videos done of the total, and frames as they are extracted (every 8)
    assert calls[0] == (1, 4, 0) and calls[-1] == (4, 4, 20 + 4)
    assert [c[2] for c in calls] == sorted(c[2] for c in calls)
    assert (3, 4, 4 + 8) in calls  # 8 frames into signing.mp4 (after nobody.avi's 4)
    assert report.frames_extracted == 20 + 20 + 4 - 20  # the written video was not redone
    _same_dataset(out, one_run[0])


def test_shards_then_merge_equal_one_run(src, one_run, tmp_path):
    out = tmp_path / "out"
    runner = CliRunner()

    def shard(index: int) -> dict:
        result = runner.invoke(app, ["extract", str(src), str(out), *FAST, "--workers", "1",
                                     "--shard", f"{index}/2", "--json"])  # fmt: skip
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    first = shard(0)
    assert first["shard"] == "0/2" and not (out / "train_labels.csv").exists()
    early = runner.invoke(app, ["extract", str(src), str(out), *FAST, "--merge"])
    assert early.exit_code == 2 and "videos are not extracted yet" in early.output
    assert "extract-shard-0-of-2.json" in early.output
    second = shard(1)
    assert first["frames_extracted"] + second["frames_extracted"] == 20 + 20 + 4
    merged = runner.invoke(app, ["extract", str(src), str(out), *FAST, "--merge", "--json"])
    assert merged.exit_code == 0, merged.output
    report = json.loads(merged.output)
    assert report["splits"] == {"train": 2} and report["merged_shards"] == 2
    assert report["frames_extracted"] == 20 + 20 + 4 and report["frames_per_s"] is None
    assert sorted(s["reason"] for s in report["skipped"]) == [NOT_OPENED, NOBODY]
    assert report["found_share"] == one_run[1]["found_share"]
    _same_dataset(out, one_run[0])
    assert not list(out.glob("extract-shard-*")) and not (out / ".signcli-import.json").exists()


def test_overwrite_removes_only_what_extract_wrote(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    (src / "hello").mkdir(parents=True)
    shutil.copy(REAL_VIDEO, src / "hello" / "a.mp4")
    command = ["extract", str(src), str(out), "--fps", "5", "--val-fraction", "0", "--workers",
               "1", "--streams", "pose,hand_l,hand_r"]  # fmt: skip
    runner = CliRunner()
    first = runner.invoke(app, [*command, "--also-pose", "--layout", "multi"])
    assert first.exit_code == 0, first.output
    assert (out / "poses" / "hello__a.pose").is_file()
    assert np.load(out / "hand_r" / "hello__a.npy").shape == (10, 21 * 3)
    assert read_manifest(out).streams["pose"].folder == "pose"
    (out / "my-notes.txt").write_text("mine\n")
    again = runner.invoke(app, command)
    assert again.exit_code == 2 and "already holds a finished dataset" in again.output
    replaced = runner.invoke(app, [*command, "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert not (out / "poses").exists() and (out / "my-notes.txt").read_text() == "mine\n"
    assert not (out / "hand_r").exists() and not (out / "labels.csv").exists()
    assert _arrays(out)["hello__a.npz"].shape == (10, (33 + 21 + 21) * 3)
    imported = tmp_path / "imported"
    shutil.copytree(out, imported)
    manifest = json.loads((imported / "signcli-dataset.json").read_text())
    manifest["source"]["format"] = "mp-folders"  # as `signcli import mp-folders` writes it
    (imported / "signcli-dataset.json").write_text(json.dumps(manifest))
    not_ours = runner.invoke(app, ["extract", str(src), str(imported), "--overwrite"])
    assert not_ours.exit_code == 2 and "written by `signcli import` (mp-folders)" in (
        not_ours.output
    )
    assert (imported / "train" / "hello__a.npz").is_file()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "data.csv").write_text("a,b\n")
    refused = runner.invoke(app, ["extract", str(src), str(foreign)])
    assert refused.exit_code == 2 and "not written by `signcli extract`" in refused.output
    assert [p.name for p in foreign.iterdir()] == ["data.csv"]


def test_also_pose_writes_files_pose_format_and_import_read(tmp_path):
    pytest.importorskip("pose_format")
    from pose_format import Pose

    src, out, imported = tmp_path / "src", tmp_path / "out", tmp_path / "imported"
    (src / "hello").mkdir(parents=True)
    shutil.copy(REAL_VIDEO, src / "hello" / "a.mp4")
    result = CliRunner().invoke(app, ["extract", str(src), str(out), "--fps", "5",
                                      "--val-fraction", "0", "--workers", "1", "--also-pose"])  # fmt: skip
    assert result.exit_code == 0, result.output
    pose = Pose.read((out / "poses" / "hello__a.pose").read_bytes())
    assert [(c.name, len(c.points)) for c in pose.header.components] == [
        ("POSE_LANDMARKS", 33), ("FACE_LANDMARKS", 468), ("LEFT_HAND_LANDMARKS", 21),
        ("RIGHT_HAND_LANDMARKS", 21), ("POSE_WORLD_LANDMARKS", 33),
    ]  # fmt: skip
    assert pose.body.data.shape == (10, 1, 576, 3) and pose.body.fps == pytest.approx(5.0)
    # `import pose` of that file gives back the dataset's keypoints
    (imported / "src" / "hello").mkdir(parents=True)
    shutil.copy(out / "poses" / "hello__a.pose", imported / "src" / "hello" / "a.pose")
    back = CliRunner().invoke(app, ["import", "pose", str(imported / "src"),
                                    str(imported / "out"), "--val-fraction", "0", "--workers", "1"])  # fmt: skip
    assert back.exit_code == 0, back.output
    ours = np.load(out / "train" / "hello__a.npz")["X"]
    theirs = np.load(imported / "out" / "train" / "hello__a.npz")["X"]
    assert np.allclose(ours, theirs, atol=1e-3, equal_nan=True)


def test_extract_video_with_keypoint_columns_gives_a_samples_x(one_run):
    """What `predict` does with a video: the same keypoints, laid out as the dataset's X."""
    from signcli.data.holistic import extract_video, keypoint_columns

    out, _ = one_run
    manifest = read_manifest(out)
    order = sorted(manifest.layout_spec(), key=lambda s: manifest.layout_spec()[s][0])
    keypoints = extract_video(REAL_VIDEO, fps=10)
    x = keypoint_columns(keypoints.streams, order)
    assert np.array_equal(x, _arrays(out)["right__signing.npz"], equal_nan=True)
    lips = [61, 185, 40]
    pose_and_lips = keypoint_columns(keypoints.streams, ["face", "pose"], {"face": lips})
    assert pose_and_lips.shape == (20, (3 + 33) * 3)
    assert np.array_equal(pose_and_lips[:, :9], keypoints.streams["face"][:, lips].reshape(20, 9))


def test_a_video_for_a_model_trained_on_extracted_data(one_run):
    """`predict`'s way in: the run's data settings (as the dataset gave them) lay a video's
    keypoints out as its training samples; a model of another landmark set is refused."""
    from signcli.core.errors import UsageError
    from signcli.core.manifest import dataset_settings
    from signcli.data.holistic import video_frames_for_model

    out, _ = one_run
    settings = dataset_settings(out)
    frames, fps = video_frames_for_model(
        REAL_VIDEO,
        landmark_set=settings["data.landmark_set"],
        layout=settings["data.layout"],
        width=1629,
        fps=10,
    )
    assert fps == 10
    assert np.array_equal(frames, _arrays(out)["right__signing.npz"], equal_nan=True)
    with pytest.raises(UsageError, match="trained on openpose-body25-hands"):
        video_frames_for_model(REAL_VIDEO, landmark_set="openpose-body25-hands", layout=None)
    with pytest.raises(UsageError, match="make 1629 columns .* the model takes 99"):
        video_frames_for_model(REAL_VIDEO, landmark_set="mediapipe-holistic", layout=None,
                               width=99, fps=5)  # fmt: skip


@pytest.fixture(scope="module")
def video_run(one_run, tmp_path_factory) -> Path:
    """A tiny model trained on the extracted dataset (keypoints at 10 frames/s)."""
    out, _ = one_run
    run = tmp_path_factory.mktemp("video_run") / "run"
    trained = CliRunner().invoke(app, ["train", "transformer", str(out), "--work-dir", str(run),
                                       *TINY])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    return run


def _predict(*args: str) -> list[dict]:
    result = CliRunner().invoke(app, ["predict", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["rows"]


def test_predict_a_video_as_its_extracted_sample(one_run, video_run):
    """`predict CKPT video.mp4 --fps 10` extracts and classifies in one go: one row, the
    same classes and probabilities as the sample `extract` made of the same video."""
    out, _ = one_run
    model = str(video_run / "best.pt")
    [row] = _predict(model, str(REAL_VIDEO), "--fps", "10", "--top-k", "2")
    [sample] = _predict(model, str(out / "train" / "right__signing.npz"), "--top-k", "2")
    assert row["id"] == "signing" and row["file"] == str(REAL_VIDEO)
    assert row["top1"] in ("left", "right") and {row["top1"], row["top2"]} == {"left", "right"}
    assert {k: v for k, v in row.items() if k.startswith("top")} == {
        k: v for k, v in sample.items() if k.startswith("top")
    }


def test_predict_a_video_in_windows_gives_time_stamped_segments(video_run):
    """--window on a video: times at the rate its keypoints were extracted at (--fps 10),
    or without --fps at the video's own rate (58 frames, 29.9 frames/s)."""
    model = str(video_run / "best.pt")
    rows = _predict(model, str(REAL_VIDEO), "--fps", "10", "--window", "8", "--stride", "4")
    assert rows[0]["start_frame"] == 0 and rows[-1]["end_frame"] == 20
    assert sum(r["windows"] for r in rows) == len([0, 4, 8, 12])
    for r in rows:
        assert r["gloss"] in ("left", "right")
        assert r["start_s"] == round(r["start_frame"] / 10, 3)
        assert r["end_s"] == round(r["end_frame"] / 10, 3)
    native = _predict(model, str(REAL_VIDEO), "--window", "30", "--stride", "28")
    assert native[-1]["end_frame"] == REAL_FRAMES
    assert native[-1]["end_s"] == pytest.approx(REAL_FRAMES / 29.9, abs=0.01)


def test_predict_lists_a_damaged_video_as_skipped(video_run, tmp_path):
    """A damaged video and a video with nobody in it are skipped as extract skips them."""
    damaged = write_damaged(tmp_path / "damaged.mp4")
    nobody = write_no_person(tmp_path / "nobody.avi")
    model = str(video_run / "best.pt")
    result = CliRunner().invoke(app, ["predict", model, str(REAL_VIDEO), str(damaged),
                                      str(nobody), "--fps", "10", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [row["id"] for row in json.loads(result.stdout)["rows"]] == ["signing"]
    warnings = " ".join(result.stderr.split())
    assert f"warning: skipped {damaged}: {NOT_OPENED}" in warnings
    assert f"warning: skipped {nobody}: {NOBODY}" in warnings
    alone = CliRunner().invoke(app, ["predict", model, str(damaged)])
    assert alone.exit_code == 2 and NOT_OPENED in alone.output  # nothing to predict
    assert "Traceback" not in alone.output
