"""`signcli predict`: a checkpoint and its ONNX export over new files give eval's top-1 on
every sample of the bundled example; outputs, windows, text models, and bad input."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from signcli.cli import app
from signcli.evaluation.predict import window_starts

EXAMPLE = Path(__file__).resolve().parents[2] / "examples"
runner = CliRunner()


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small model trained briefly on examples/data, exported to ONNX beside it."""
    work = tmp_path_factory.mktemp("example") / "run"
    result = runner.invoke(
        app,
        [
            "train",
            "transformer",
            "--config",
            str(EXAMPLE / "quickstart.yaml"),
            "--set",
            f"data.train_dir={EXAMPLE / 'data/train'}",
            "--set",
            f"data.train_labels={EXAMPLE / 'data/train_labels.csv'}",
            "--set",
            f"data.val_dir={EXAMPLE / 'data/val'}",
            "--set",
            f"data.val_labels={EXAMPLE / 'data/val_labels.csv'}",
            "--epochs",
            "2",
            "--d-model",
            "32",
            "--set",
            "model.ff_dim=64",
            "--work-dir",
            str(work),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app, ["export-onnx", str(work / "best.pt"), "--out", str(work / "m.onnx")]
    )
    assert result.exit_code == 0, result.output
    return work


def eval_top1(run: Path) -> dict[str, str]:
    """eval's predicted gloss name of every validation sample of the example."""
    out = run / "eval-val"
    result = runner.invoke(app, ["eval", str(run / "best.pt"), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out / "predictions.parquet").to_pydict()
    return dict(zip(table["id"], table["pred_gloss_name"], strict=True))


def predict_rows(*args: str) -> list[dict]:
    result = runner.invoke(app, ["predict", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["rows"]


def test_checkpoint_and_onnx_give_evals_top1_on_every_example_sample(example_run: Path) -> None:
    expected = eval_top1(example_run)
    assert len(expected) == len(list((EXAMPLE / "data/val").glob("*.npz")))
    for model in ("best.pt", "m.onnx"):
        rows = predict_rows(str(example_run / model), str(EXAMPLE / "data"))
        assert {row["id"]: row["top1"] for row in rows} == expected, model
        assert all(1.0 >= row["top1_prob"] >= row["top2_prob"] > 0 for row in rows)


def test_out_csv_json_parquet_one_row_per_input(example_run: Path, tmp_path: Path) -> None:
    files = sorted((EXAMPLE / "data/val").glob("*.npz"))[:3]
    for name in ("p.csv", "p.json", "p.parquet"):
        out = tmp_path / name
        args = ["predict", str(example_run / "best.pt"), *map(str, files), "--top-k", "2"]
        result = runner.invoke(app, [*args, "--out", str(out)])
        assert result.exit_code == 0, result.output
        if name.endswith(".csv"):
            with open(out, newline="") as handle:
                rows = list(csv.DictReader(handle))
        elif name.endswith(".json"):
            rows = json.loads(out.read_text())
        else:
            rows = pq.read_table(out).to_pylist()
        assert [row["id"] for row in rows] == [f.stem for f in files]
        assert set(rows[0]) == {"id", "file", "top1", "top1_prob", "top2", "top2_prob"}
        again = runner.invoke(app, [*args, "--out", str(out)])
        assert again.exit_code == 2 and "--overwrite" in again.output


def test_window_reports_time_stamped_segments(example_run: Path, tmp_path: Path) -> None:
    # a long recording: three example clips one after the other
    clips = sorted((EXAMPLE / "data/val").glob("*.npz"))[:3]
    frames = np.concatenate([np.load(c)["X"] for c in clips])
    np.savez(tmp_path / "long.npz", X=frames)
    rows = predict_rows(
        str(example_run / "best.pt"), str(tmp_path / "long.npz"), "--window", "6", "--stride", "3"
    )
    assert rows[0]["start_frame"] == 0 and rows[-1]["end_frame"] == len(frames)
    assert rows[-1]["end_s"] == pytest.approx(len(frames) / 30.0, abs=1e-3)
    for before, after in zip(rows, rows[1:], strict=False):
        assert before["gloss"] != after["gloss"]  # neighbours with one gloss are merged
        assert after["start_frame"] <= before["end_frame"]
    assert sum(row["windows"] for row in rows) == len(window_starts(len(frames), 6, 3))


@pytest.mark.parametrize(
    ("T", "window", "stride", "starts"),
    [(10, 4, 3, [0, 3, 6]), (10, 4, 4, [0, 4, 6]), (3, 4, 2, [0]), (4, 4, 1, [0])],
)
def test_window_starts_cover_the_recording(T, window, stride, starts) -> None:
    assert window_starts(T, window, stride) == starts


def test_bad_inputs_exit_2_naming_them(example_run: Path, tmp_path: Path) -> None:
    model = str(example_run / "best.pt")
    (tmp_path / "notes.txt").write_text("hi")
    cases = [
        ([model, str(tmp_path / "absent.npz")], "does not exist"),
        ([model, str(tmp_path / "notes.txt")], "not an .npz sample"),
        ([model, str(tmp_path)], "holds no .npz"),
        ([str(tmp_path / "none.pt"), str(tmp_path)], "does not exist"),
        ([model, str(EXAMPLE / "data"), "--out", str(tmp_path / "p.xlsx")], ".xlsx"),
        ([model, str(EXAMPLE / "data"), "--stride", "2"], "--stride needs --window"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["predict", *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output


def test_an_unreadable_file_is_skipped_and_named(example_run: Path, tmp_path: Path) -> None:
    good = sorted((EXAMPLE / "data/val").glob("*.npz"))[0]
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    result = runner.invoke(
        app, ["predict", str(example_run / "best.pt"), str(good), str(tmp_path / "broken.npz")]
    )
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "broken.npz" in result.output


@pytest.mark.parametrize("hidden", ["mediapipe", "cv2"])
def test_a_video_without_the_extract_extra_is_skipped_saying_what_to_install(
    example_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hidden: str
) -> None:
    monkeypatch.setitem(sys.modules, hidden, None)  # `import mediapipe` raises ImportError
    good = sorted((EXAMPLE / "data/val").glob("*.npz"))[0]
    (tmp_path / "clip.mp4").write_bytes(b"\0" * 64)
    result = runner.invoke(
        app, ["predict", str(example_run / "best.pt"), str(good), str(tmp_path / "clip.mp4")]
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"skipped {tmp_path / 'clip.mp4'}: reading a video needs mediapipe" in text
    assert 'pip install "signcli[extract]"' in text


def test_a_video_for_a_model_not_trained_on_extracted_keypoints_is_refused(
    example_run: Path, tmp_path: Path
) -> None:
    pytest.importorskip("mediapipe", reason='needs mediapipe: pip install -e ".[extract]"')
    pytest.importorskip("cv2", reason='needs OpenCV: pip install -e ".[extract]"')
    (tmp_path / "clip.mp4").write_bytes(b"\0" * 64)  # refused before it is decoded
    result = runner.invoke(
        app, ["predict", str(example_run / "best.pt"), str(tmp_path / "clip.mp4")]
    )
    assert result.exit_code == 2, result.output
    assert "a video gives mediapipe-holistic keypoints, but the model was trained on" in " ".join(
        result.output.split()
    )
    assert "Traceback" not in result.output


def test_ctc_checkpoint_and_onnx_decode_texts(tmp_path: Path) -> None:
    from signcli.data.synthetic_sentences import write_sentence_dataset
    from signcli.engine.recipes import start_run
    from signcli.evaluation.predict import predict_files
    from signcli.export.onnx import export_onnx
    from tests.tasks.sentence_runs import text_task_settings

    root = tmp_path / "sentences"
    write_sentence_dataset(root, 8, 3, seed=0)
    start_run(text_task_settings(root, tmp_path / "run", "ctc"))
    checkpoint = tmp_path / "run" / "best.pt"
    export_onnx(checkpoint, tmp_path / "ctc.onnx", check=False)
    from_checkpoint = predict_files(checkpoint, [root / "val"], beam_size=1)
    from_onnx = predict_files(tmp_path / "ctc.onnx", [root / "val"])
    assert from_checkpoint.kind == "text" and len(from_checkpoint.rows) == 3
    assert [r["text"] for r in from_checkpoint.rows] == [r["text"] for r in from_onnx.rows]
    with pytest.raises(Exception, match="--window slides a classifier"):
        predict_files(checkpoint, [root / "val"], window=4)


def test_a_fifo_or_device_given_as_input_or_model_is_named(tmp_path: Path) -> None:
    """issue 23: a FIFO or /dev/zero given to predict read "does not exist"."""
    import os

    from signcli.core.errors import UsageError
    from signcli.evaluation.predict import collect_files, predict_files

    os.mkfifo(tmp_path / "p.npz")
    with pytest.raises(UsageError, match="input .*p.npz is a FIFO, not a regular file"):
        collect_files([tmp_path / "p.npz"])
    with pytest.raises(UsageError, match="input /dev/zero is a device"):
        collect_files([Path("/dev/zero")])
    with pytest.raises(UsageError, match="model file .*p.npz is a FIFO"):
        predict_files(tmp_path / "p.npz", [tmp_path])
