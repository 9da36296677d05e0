"""Task translate end to end on the bundled sentence example (examples/sentences): a run
resumed mid-epoch is the same run, and train -> eval -> export-onnx works from the CLI
(the export's greedy decoding in onnxruntime gives PyTorch's tokens)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from signcli.cli import app
from signcli.engine.checkpoint import STATE_KEY, load_checkpoint
from signcli.engine.recipes import resume_run, start_run
from signcli.settings import load_settings
from tests.engine.test_resume import StopAfter, assert_same_run, read_metrics
from tests.tasks.sentence_runs import small_sentences
from tests.tiny import TINY_MODEL

pytestmark = pytest.mark.slow  # trains, exports or starts processes: the full lane runs it

TINY = (
    *TINY_MODEL,
    "model.max_target_len=12",
    'model.decoder_kwargs={"num_layers": 1}',
)
runner = CliRunner()


def _settings(work_dir: Path, *extra: str):
    return load_settings(
        overrides=[
            f"data.train_dir={small_sentences() / 'train'}",
            f"data.train_labels={small_sentences() / 'train_labels.csv'}",
            f"data.val_dir={small_sentences() / 'val'}",
            f"data.val_labels={small_sentences() / 'val_labels.csv'}",
            f"data.train_text={small_sentences() / 'train_text.csv'}",
            f"data.val_text={small_sentences() / 'val_text.csv'}",
            "model.task=translate",
            *TINY,
            "model.ctc_weight=0.3",  # the joint CTC head's weights and loss resume too
            "training.batch_size=4",
            "training.epochs=3",
            "training.deterministic=true",
            "training.device=cpu",
            f"training.work_dir={work_dir}",
            *extra,
        ]
    )


def test_a_translate_run_resumed_mid_epoch_is_the_same_run(tmp_path: Path) -> None:
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    start_run(_settings(reference))
    # 16 sentences / batch 4 = 4 steps per epoch: step 6 is the 2nd batch of epoch 2
    with pytest.raises(KeyboardInterrupt):
        start_run(_settings(killed, "training.save_every_steps=1"), [StopAfter(step=6)])
    state = load_checkpoint(killed / "last.pt")[STATE_KEY]
    assert (state["epoch"], state["batch_in_epoch"]) == (1, 2)
    resume_run(killed)
    assert_same_run(reference, killed)
    metrics = read_metrics(reference)
    assert len(metrics) == 3
    assert {"val_loss", "val_bleu", "val_chrf", "val_wer"} <= set(metrics[-1])


def test_train_eval_and_export_from_the_cli(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    work, out = tmp_path / "run", tmp_path / "eval"
    sets = [arg for item in TINY for arg in ("--set", item)]
    trained = runner.invoke(
        app,
        ["train", "transformer", str(small_sentences()), "--task", "translate", "--epochs", "2"]
        + ["--batch-size", "8", "--work-dir", str(work), *sets],
    )
    assert trained.exit_code == 0, trained.output
    config = json.loads((work / "config.json").read_text())
    assert config["model"]["task"] == "translate"
    assert config["training"]["monitor"] == "val_bleu"
    assert (work / "tokenizer.json").is_file() and (work / "best.pt").is_file()

    evaluated = runner.invoke(
        app,
        ["eval", str(work / "best.pt"), "--data-dir", str(small_sentences())]
        + ["--out", str(out), "--beam-size", "3", "--json"],
    )
    assert evaluated.exit_code == 0, evaluated.output
    summary = json.loads((out / "eval.json").read_text())
    assert summary["beam_size"] == 3 and 0.0 <= summary["bleu"] <= 100.0
    hypotheses = (out / "hypotheses.txt").read_text().splitlines()
    assert len(hypotheses) == len((out / "references.txt").read_text().splitlines()) == 6

    onnx_path = tmp_path / "onnx" / "model.onnx"
    exported = runner.invoke(
        app, ["export-onnx", str(work / "best.pt"), "--out", str(onnx_path), "--json"]
    )
    assert exported.exit_code == 0, exported.output
    result = json.loads(exported.output[exported.output.index("{") :])
    assert result["greedy"]["passed"] and result["greedy"]["same_tokens"] == 8
    assert result["outputs"] == {"memory": ["batch", "time", 16]}
    assert result["metadata"]["task"] == "translate"
    step = onnx_path.with_name("model.decoder_step.onnx")
    assert sorted(Path(p).name for p in result["files"]) == [step.name, "tokenizer.json"]
    import onnx

    graph = onnx.load(str(step)).graph
    assert [i.name for i in graph.input] == ["memory", "memory_mask", "tokens"]
    assert [o.name for o in graph.output] == ["next_logits"]
    stored = json.loads((onnx_path.parent / "tokenizer.json").read_text())
    assert stored == json.loads((work / "tokenizer.json").read_text())
    assert torch.load(work / "best.pt", weights_only=True)  # a plain checkpoint
