"""`signcli export-onnx` through the CLI: --json, a failed check (exit 1), the missing extra
(exit 2), a model without a category head. (Exports take seconds: few tests export.)"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from signcli.cli import app
from signcli.engine import checkpoint as ckpt
from signcli.engine.restore import load_model_from_checkpoint

runner = CliRunner()

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


@pytest.fixture(scope="module")
def gloss_only_checkpoint(trained_run, tmp_path_factory) -> Path:
    """The trained run's settings for a model without a category head (untrained weights)."""
    from signcli.tasks.model import build_run_model

    _, settings, labels, input_dims = load_model_from_checkpoint(trained_run.work_dir / "best.pt")
    settings.model.num_cat = 0
    model = build_run_model(settings, input_dims, {"num_gloss": labels["num_gloss"], "num_cat": 0})
    path = tmp_path_factory.mktemp("gloss_only") / "gloss_only.pt"
    ckpt.save_checkpoint(
        path,
        {
            ckpt.SETTINGS_KEY: settings.model_dump(mode="json"),
            ckpt.LABELS_KEY: {**labels, "num_cat": 0, "cat_names": {}},
            ckpt.INPUTS_KEY: input_dims,
            ckpt.MODEL_KEY: model.state_dict(),
        },
    )
    return path


@pytest.mark.slow
def test_json_reports_the_check(gloss_only_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "model.onnx"
    result = runner.invoke(
        app, ["export-onnx", str(gloss_only_checkpoint), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert out.is_file() and report["path"] == str(out)
    assert report["outputs"] == {"gloss_logits": ["batch", 4]}  # no category head
    check = report["check"]
    assert check["passed"] and check["max_abs_diff"] <= 1e-4 and len(check["cases"]) >= 3
    assert set(check["latency_ms"]) == {"onnxruntime", "torch", "batch", "time"}


@pytest.mark.slow
def test_a_failed_comparison_exits_1(trained_run, monkeypatch, tmp_path: Path) -> None:
    from signcli.export import onnx as export

    original = export.check_onnx
    monkeypatch.setattr(
        export, "check_onnx", lambda *args, **kw: original(*args, **kw, tolerance=-1.0)
    )
    out = tmp_path / "model.onnx"
    result = runner.invoke(
        app, ["export-onnx", str(trained_run.work_dir / "best.pt"), "--out", str(out)]
    )
    assert result.exit_code == 1
    assert "FAIL" in result.stdout and "onnxruntime differs from PyTorch" in result.stderr


def test_missing_extra_exit_2_with_the_install_command(trained_run, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    out = tmp_path / "model.onnx"
    result = runner.invoke(
        app, ["export-onnx", str(trained_run.work_dir / "best.pt"), "--out", str(out)]
    )
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: export-onnx needs the onnx extra (onnxruntime is not installed): "
        'pip install "signcli[onnx]"'
    ]
    assert not out.exists()


def test_out_that_cannot_be_a_file_exit_2_before_exporting(trained_run, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("keep")
    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)
    for out, message in (
        (blocker / "x.onnx", f"cannot be created: {blocker} is a file"),
        (fifo, f"--out {fifo} is a FIFO, not a regular file"),
        (tmp_path, f"--out {tmp_path} is a folder, not a regular file"),
    ):
        result = runner.invoke(
            app, ["export-onnx", str(trained_run.work_dir / "best.pt"), "--out", str(out)]
        )
        assert result.exit_code == 2, result.output
        assert message in result.stderr
        assert "unexpected" not in result.output and "Traceback" not in result.output
    assert blocker.read_text() == "keep"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize("name", ["config.json", "last.pt", "metrics.jsonl"])
def test_out_naming_a_file_of_the_run_is_refused_and_kept(tmp_path: Path, name: str) -> None:
    run = tmp_path / "run"
    run.mkdir()
    for file in ("config.json", "last.pt", "metrics.jsonl"):
        (run / file).write_text(f"{file} of the run\n")
    result = runner.invoke(app, ["export-onnx", str(run / "last.pt"), "--out", str(run / name)])
    assert result.exit_code == 2, result.output
    assert "one of the run's own files" in result.output or "an input of this command" in (
        result.output
    )
    assert (run / name).read_text() == f"{name} of the run\n"
