"""`signcli predict` on single recordings in the formats `signcli import` reads: each is laid
out exactly as the `.npz` import writes from it (bit for bit), and predicted the same; a
recording that does not fit the model is refused naming the mismatch."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from signcli.cli import app
from signcli.core.manifest import dataset_settings
from signcli.data.recordings.read import frames_for_model, read_recordings
from signcli.importers.run import ImportOptions, run_import
from tests.importers.kaggle_samples import write_asl_fingerspelling, write_asl_signs
from tests.importers.samples import MP_WIDTH, write_mp_folders, write_openpose

runner = CliRunner()
HOLISTIC_STREAMS = ("face:lips", "hand_l", "hand_r")  # a subset too: data.stream_landmarks


def write_mp_frames(root: Path) -> dict[str, Path]:
    """ROOT/<label>/<sequence>/<frame>.npy; import id -> the recording (a folder)."""
    write_mp_folders(root, sequences=2, frames=5)
    return {f"{label}__{s}": root / label / str(s) for label in ("hello", "thanks") for s in "01"}


def write_mp_arrays(root: Path) -> dict[str, Path]:
    """ROOT/<label>/<sequence>.npy, one [T, 1662] array each (T 4 and 5)."""
    rng = np.random.default_rng(1)
    found = {}
    for label in ("hello", "thanks"):
        for s in range(2):
            path = root / label / f"seq{s}.npy"
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, rng.uniform(0.1, 1.0, size=(4 + s, MP_WIDTH)))
            found[f"{label}__seq{s}"] = path
    return found


def write_pose(root: Path) -> dict[str, Path]:
    pytest.importorskip("pose_format")
    from tests.importers.pose_samples import MEDIAPIPE, write_pose_tree

    # a lip landmark missing in one frame: NaN in the recording as in the import
    missing = [(1, "FACE_LANDMARKS", 61)]
    samples = write_pose_tree(root, MEDIAPIPE, per_label=2, frames=4, missing=missing)
    return {f"{s.path.parent.name}__{s.path.stem}": s.path for s in samples}


def write_signs(root: Path) -> dict[str, Path]:
    return dict(write_asl_signs(root, n_sequences=4, missing=0, corrupt=0).paths)


def write_openpose_videos(root: Path) -> dict[str, Path]:
    write_openpose(root, videos=2, frames=5)
    return {
        f"{label}__{label}_{v}": root / label / f"{label}_{v}"
        for label in ("hello", "thanks")
        for v in range(2)
    }


# format -> (writer, the streams imported)
FORMATS: dict[str, tuple[Callable[[Path], dict[str, Path]], tuple[str, ...] | None]] = {
    "mp-folders": (write_mp_frames, HOLISTIC_STREAMS),
    "mp-folders:arrays": (write_mp_arrays, HOLISTIC_STREAMS),
    "pose": (write_pose, HOLISTIC_STREAMS),
    "asl-signs": (write_signs, HOLISTIC_STREAMS),
    "openpose": (write_openpose_videos, None),
}


def imported(fmt: str, src: Path, out: Path, streams: tuple[str, ...] | None) -> dict[str, Path]:
    """`signcli import FMT SRC OUT`; sample id -> the .npz it wrote."""
    run_import(ImportOptions(fmt.split(":")[0], src, out, streams=streams, val_fraction=0.0))
    return {p.stem: p for p in out.glob("*/*.npz")}


def model_data(out: Path) -> dict:
    """The data settings a model trained on the import OUT carries."""
    settings = dataset_settings(out)
    return {
        "landmark_set": settings["data.landmark_set"],
        "layout": settings["data.layout"],
        "stream_landmarks": settings.get("data.stream_landmarks"),
    }


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_recording_is_laid_out_as_import_writes_it(fmt: str, tmp_path: Path) -> None:
    write, streams = FORMATS[fmt]
    recordings = write(tmp_path / "src")
    samples = imported(fmt, tmp_path / "src", tmp_path / "out", streams)
    data = model_data(tmp_path / "out")
    assert set(recordings) <= set(samples)
    for sample_id, path in recordings.items():
        [recording] = read_recordings(path)
        X = frames_for_model(recording, **data)
        expected = np.load(samples[sample_id])["X"]
        assert X.dtype == expected.dtype == np.float32
        np.testing.assert_array_equal(X, expected)  # NaN where import wrote NaN


def test_each_sequence_of_a_fingerspelling_parquet_is_a_recording(tmp_path: Path) -> None:
    sample = write_asl_fingerspelling(
        tmp_path / "src", n_files=1, sequences_per_file=3, missing=0, corrupt=0
    )
    samples = imported("asl-fingerspelling", tmp_path / "src", tmp_path / "out", HOLISTIC_STREAMS)
    data = model_data(tmp_path / "out")
    [parquet] = set(sample.paths.values())
    found = read_recordings(parquet)
    assert isinstance(found, list) and len(found) == 3
    for recording in found:
        sequence = recording.id.rsplit("__", 1)[1]
        [sample_id] = [i for i in samples if i.endswith(f"__{sequence}")]
        X = frames_for_model(recording, **data)
        np.testing.assert_array_equal(X, np.load(samples[sample_id])["X"])


# ---------------------------------------------------------------------------------------
# The command, with a model trained on an import


@pytest.fixture(scope="module")
def holistic_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny classifier trained on an mp-folders import of face:lips + both hands."""
    root = tmp_path_factory.mktemp("holistic")
    write_mp_folders(root / "src", sequences=3, frames=6)
    run_import(ImportOptions("mp-folders", root / "src", root / "data", streams=HOLISTIC_STREAMS))
    result = runner.invoke(
        app,
        [
            "train", "transformer", str(root / "data"), "--epochs", "1", "--d-model", "16",
            "--set", "model.ff_dim=32", "--work-dir", str(root / "run"), "--quiet",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return root / "run" / "best.pt"


def predict_json(*args: str) -> list[dict]:
    result = runner.invoke(app, ["predict", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["rows"]


def ranking(row: dict) -> list[tuple[str, float]]:
    return [(row[f"top{k}"], row[f"top{k}_prob"]) for k in (1, 2)]


@pytest.mark.parametrize("fmt", ["mp-folders", "mp-folders:arrays", "pose", "asl-signs"])
def test_predict_on_a_recording_equals_predict_on_the_npz_import_writes(
    fmt: str, holistic_run: Path, tmp_path: Path
) -> None:
    write, streams = FORMATS[fmt]
    recordings = write(tmp_path / "src")
    samples = imported(fmt, tmp_path / "src", tmp_path / "out", streams)
    ids = sorted(recordings)
    from_recordings = predict_json(str(holistic_run), *(str(recordings[i]) for i in ids))
    from_npz = predict_json(str(holistic_run), *(str(samples[i]) for i in ids))
    assert [ranking(r) for r in from_recordings] == [ranking(r) for r in from_npz]
    assert [r["file"] for r in from_recordings] == [str(recordings[i]) for i in ids]
    # the model tells the recordings apart: equal rankings are not one answer for all
    assert len({r["top1_prob"] for r in from_recordings}) > 1


def test_a_folder_of_recordings_and_a_fingerspelling_parquet(
    holistic_run: Path, tmp_path: Path
) -> None:
    recordings = write_mp_frames(tmp_path / "frames")
    rows = predict_json(str(holistic_run), str(tmp_path / "frames" / "hello"))
    assert [r["file"] for r in rows] == [str(recordings["hello__0"]), str(recordings["hello__1"])]
    sample = write_asl_fingerspelling(
        tmp_path / "fs", n_files=1, sequences_per_file=2, missing=0, corrupt=0
    )
    [parquet] = set(sample.paths.values())
    rows = predict_json(str(holistic_run), str(parquet))
    assert len(rows) == 2 and all(r["file"] == str(parquet) for r in rows)


def test_a_recording_of_another_landmark_set_is_refused_naming_both(
    holistic_run: Path, tmp_path: Path
) -> None:
    recordings = write_openpose_videos(tmp_path / "src")
    video = recordings["hello__hello_0"]
    result = runner.invoke(app, ["predict", str(holistic_run), str(video)])
    assert result.exit_code == 2, result.output
    assert "openpose-body25-hands" in result.output
    assert "mediapipe-holistic" in result.output
    assert "Traceback" not in result.output


def test_an_unreadable_recording_is_skipped_and_named(holistic_run: Path, tmp_path: Path) -> None:
    recordings = write_mp_arrays(tmp_path / "src")
    broken = tmp_path / "broken.parquet"
    broken.write_text("not a parquet file\n")
    result = runner.invoke(
        app, ["predict", str(holistic_run), str(recordings["hello__seq0"]), str(broken)]
    )
    assert result.exit_code == 0, result.output
    assert f"skipped {broken}: unreadable parquet" in " ".join(result.output.split())
    assert "seq0" in result.output
