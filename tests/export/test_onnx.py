"""ONNX export: parity with PyTorch at several batch sizes and lengths, dynamic axes,
metadata, the same predictions as `eval`, and a clear message without the onnx extra."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from signcli.core.errors import UsageError
from signcli.data.npz import read_npz_array
from signcli.engine.restore import load_model_from_checkpoint
from signcli.evaluation.run import evaluate
from signcli.export.onnx import OnnxModel, check_onnx, export_onnx, onnx_session

pytestmark = pytest.mark.slow  # trains, exports or starts processes: the full lane runs it

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory):
    """best.pt exported (and checked) once for the module."""
    out = tmp_path_factory.mktemp("onnx") / "model.onnx"
    return export_onnx(trained_run.work_dir / "best.pt", out)


def test_onnxruntime_matches_pytorch_at_several_batch_sizes_and_lengths(exported) -> None:
    check = exported.check
    assert check.passed and check.max_abs_diff <= 1e-4
    assert len({case.batch for case in check.cases}) >= 3
    assert len({case.time for case in check.cases}) >= 3
    assert max(case.time for case in check.cases) == 64  # the model's max_len
    assert check.latency_ms["onnxruntime"] > 0 and check.latency_ms["torch"] > 0


def test_inputs_and_outputs_are_named_with_dynamic_batch_and_time(exported) -> None:
    assert exported.inputs == {"x": ["batch", "time", 156], "mask": ["batch", "time"]}
    assert exported.outputs == {"gloss_logits": ["batch", 4], "cat_logits": ["batch", 2]}
    session = onnx_session(exported.path)
    assert [i.type for i in session.get_inputs()] == ["tensor(float)", "tensor(bool)"]


def test_metadata_describes_the_model(exported) -> None:
    props = {p.key: p.value for p in onnx.load(exported.path).metadata_props}
    assert props["signcli_version"] and props["model_name"] == "transformer"
    layout = json.loads(props["input_layout"])
    assert layout["streams"] == {"x": 156} and layout["mask"] == "mask"
    assert layout["max_time"] == 64
    assert layout["column_layout"] is None and layout["normalized_streams"] == []
    assert json.loads(props["num_classes"]) == {"gloss": 4, "cat": 2}
    assert json.loads(props["gloss_names"])["3"] == "sign_03"
    assert json.loads(props["outputs"]) == ["gloss_logits", "cat_logits"]


def test_a_real_sample_gets_the_class_that_eval_predicts(exported, trained_run, tmp_path) -> None:
    data = trained_run.data
    evaluate(
        trained_run.work_dir / "best.pt", data / "val", data / "val_labels.csv", out_dir=tmp_path
    )
    predicted = pd.read_parquet(tmp_path / "predictions.parquet").set_index("id")["pred_gloss"]
    session = onnx_session(exported.path)
    for sample_id in ["val_00000", "val_00005"]:
        x = read_npz_array(data / "val" / f"{sample_id}.npz", "X")  # [T, 156], NaN kept
        assert np.isnan(x).any()  # the real thing: hands out of frame
        gloss, cat = session.run(None, {"x": x[None], "mask": np.ones((1, len(x)), bool)})
        assert gloss.shape == (1, 4) and cat.shape == (1, 2)
        assert int(gloss.argmax()) == predicted[sample_id]


def test_padding_in_onnx_does_not_change_a_sample(exported, trained_run) -> None:
    x = read_npz_array(trained_run.data / "val" / "val_00001.npz", "X")
    T = len(x)
    padded = np.full((2, 64, x.shape[1]), 1e6, np.float32)  # garbage in the padding
    padded[0, :T] = x
    padded[1, :T] = x
    mask = np.zeros((2, 64), bool)
    mask[:, :T] = True
    session = onnx_session(exported.path)
    alone = session.run(None, {"x": x[None], "mask": np.ones((1, T), bool)})[0]
    batched = session.run(None, {"x": padded, "mask": mask})[0]
    np.testing.assert_allclose(batched, np.repeat(alone, 2, axis=0), atol=1e-4)


def test_the_check_fails_for_a_model_that_differs(exported, trained_run) -> None:
    model = load_model_from_checkpoint(trained_run.work_dir / "best.pt").model
    with torch.no_grad():
        model.heads["gloss"].fc.bias += 0.01
    wrapper = OnnxModel(model).eval()
    check = check_onnx(exported.path, wrapper, max_len=64, latency=False)
    assert not check.passed and check.max_abs_diff == pytest.approx(0.01, abs=1e-4)


@pytest.mark.parametrize("module", ["onnx", "onnxruntime", "onnxscript"])
def test_missing_extra_names_the_install_command(module, monkeypatch, trained_run, tmp_path):
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    with pytest.raises(UsageError) as caught:
        export_onnx(trained_run.work_dir / "best.pt", tmp_path / "m.onnx")
    message = str(caught.value)
    assert 'pip install "signcli[onnx]"' in message and module in message
    assert "\n" not in message
    assert not (tmp_path / "m.onnx").exists()


def test_opset_below_what_the_exporter_writes(trained_run, tmp_path) -> None:
    with pytest.raises(UsageError, match="opset 18 or later"):
        export_onnx(trained_run.work_dir / "best.pt", tmp_path / "m.onnx", opset=17)


def test_a_model_with_per_sample_channels_exports_and_matches(trained_run, tmp_path) -> None:
    """The input stage's per-sample channels (normalised joints, velocity, acceleration)
    are part of the graph: onnxruntime matches PyTorch on padded batches with NaN."""
    from signcli.engine import checkpoint as ckpt
    from signcli.tasks.model import build_run_model

    _, settings, labels, input_dims = load_model_from_checkpoint(trained_run.work_dir / "best.pt")
    settings.data.coords, settings.data.sample_normalize = "xyz", True
    settings.data.motion, settings.data.raw_channels = "acceleration", True  # every group
    model = build_run_model(settings, input_dims, labels)
    assert model.encoder.input_dims == {"x": 4 * 156}
    path = tmp_path / "channels.pt"
    ckpt.save_checkpoint(
        path,
        {
            ckpt.SETTINGS_KEY: settings.model_dump(mode="json"),
            ckpt.LABELS_KEY: labels,
            ckpt.INPUTS_KEY: input_dims,
            ckpt.MODEL_KEY: model.state_dict(),
        },
    )
    result = export_onnx(path, tmp_path / "channels.onnx")
    assert result.check.passed and result.check.max_abs_diff <= 1e-4
    assert result.inputs["x"] == ["batch", "time", 156]  # landmarks as recorded
