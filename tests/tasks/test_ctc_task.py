"""The ctc task end to end on tiny synthetic signed sentences: training without a labels
CSV, exact resume (the tokenizer comes from the checkpoint, never trained again), eval's
files agreeing with validation, every encoder keeping one output per frame, and smoke."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from signcli.cli import app
from signcli.data.synthetic_sentences import write_sentence_dataset
from signcli.engine.checkpoint import LABELS_KEY, load_checkpoint
from signcli.engine.recipes import resume_run, start_run
from signcli.settings import ModelSettings
from tests.tasks.sentence_runs import text_task_settings

runner = CliRunner()
DIM = 12  # columns of the synthetic keypoints kept: small and fast


@pytest.fixture(scope="module")
def sentences(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sentence_dataset(tmp_path_factory.mktemp("sentences"), 10, 4, seed=3, dim=DIM)


def ctc_settings(root: Path, work_dir: Path, *extra: str):
    return text_task_settings(
        root, work_dir, "ctc", "training.epochs=3", "training.deterministic=true", *extra
    )


def lines(work_dir: Path) -> list[dict]:
    timings = ("epoch_s", "samples_per_s")
    return [
        {k: v for k, v in json.loads(line).items() if k not in timings}
        for line in (work_dir / "metrics.jsonl").read_text().splitlines()
    ]


@pytest.mark.slow
def test_ctc_run_trains_on_texts_alone_and_resumes_exactly(
    sentences: Path, tmp_path: Path, monkeypatch
) -> None:
    reference, stopped = tmp_path / "reference", tmp_path / "stopped"
    start_run(ctc_settings(sentences, reference))
    metrics = lines(reference)
    assert len(metrics) == 3
    assert all({"train_loss", "val_loss", "val_wer"} <= set(m) for m in metrics)
    assert not any("train_gloss_top1" in m for m in metrics)  # nothing honest to count
    tokenizer = (reference / "tokenizer.json").read_text()
    payload = load_checkpoint(reference / "last.pt")
    assert payload[LABELS_KEY]["tokenizer"] == tokenizer
    config = json.loads((reference / "config.json").read_text())
    assert config["model"]["num_tokens"] == json.loads(tokenizer)["model"]["vocab"].__len__()
    assert config["model"]["num_gloss"] is None and config["model"]["num_cat"] is None
    assert payload[LABELS_KEY]["num_tokens"] == config["model"]["num_tokens"]
    assert "num_gloss" not in payload[LABELS_KEY]
    assert config["training"]["monitor"] == "val_wer"

    with pytest.raises(KeyboardInterrupt):  # killed after the 4th step (mid epoch 2)
        from signcli.engine.hooks import Hook

        class Kill(Hook):
            def on_step_end(self, trainer) -> None:
                if trainer.state.step == 4:
                    raise KeyboardInterrupt

        start_run(ctc_settings(sentences, stopped, "training.save_every_steps=1"), [Kill()])
    from signcli.text.tokenizer import TextTokenizer

    def no_training(*args, **kwargs):
        raise AssertionError("resume trained a tokenizer")

    monkeypatch.setattr(TextTokenizer, "train", no_training)
    resume_run(stopped)
    assert lines(stopped) == metrics
    a, b = load_checkpoint(reference / "last.pt"), load_checkpoint(stopped / "last.pt")
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert (stopped / "tokenizer.json").read_text() == tokenizer


@pytest.mark.slow
def test_train_and_eval_cli_on_sentences(sentences: Path, tmp_path: Path) -> None:
    work = tmp_path / "run"
    args = ["train", "transformer", str(sentences), "--task", "ctc"]
    args += ["--train-text", str(sentences / "train_glosses.csv")]
    args += ["--val-text", str(sentences / "val_glosses.csv")]
    args += ["--epochs", "2", "--batch-size", "4", "--d-model", "16", "--num-layers", "1"]
    args += ["--device", "cpu", "--work-dir", str(work)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    last_wer = lines(work)[-1]["val_wer"]

    out = tmp_path / "eval"
    result = runner.invoke(app, ["eval", str(work / "last.pt"), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["task"] == "ctc"
    assert summary["wer"] == pytest.approx(last_wer)  # eval repeats validation
    table = pd.read_parquet(out / "predictions.parquet")
    assert list(table.columns) == ["id", "reference", "hypothesis", "wer"]
    references = (out / "references.txt").read_text().splitlines()
    texts = pd.read_csv(sentences / "val_glosses.csv")
    assert sorted(references) == sorted(texts["text"])  # the run's texts: glosses, not English
    assert (out / "hypotheses.txt").read_text().splitlines() == list(table["hypothesis"])

    # beam search: the same files, never a less likely answer than greedy's (text/ctc.py)
    beam = tmp_path / "beam"
    args = ["eval", str(work / "last.pt"), "--out", str(beam), "--beam-size", "4", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["beam_size"] == 4
    assert len(pd.read_parquet(beam / "predictions.parquet")) == len(table)

    result = runner.invoke(
        app,
        ["eval", str(work / "last.pt"), "--out", str(tmp_path / "e2"), "--labels", "x.csv"],
    )
    assert result.exit_code == 2 and "--labels is for classification" in result.output

    # export: one graph of CTC log-probabilities, its greedy tokens checked in onnxruntime
    pytest.importorskip("onnxruntime")
    from signcli.export.onnx import export_onnx

    exported = export_onnx(work / "last.pt", tmp_path / "ctc.onnx")
    assert exported.passed and exported.greedy is not None
    assert exported.greedy.same_tokens == exported.greedy.samples > 0
    assert (tmp_path / "tokenizer.json").is_file()


def test_train_without_texts_names_the_flag(sentences: Path, tmp_path: Path) -> None:
    shutil.copytree(sentences / "train", tmp_path / "clips")  # no clips_text.csv beside it
    args = ["train", "transformer", "--train-dir", str(tmp_path / "clips"), "--task", "ctc"]
    result = runner.invoke(app, [*args, "--work-dir", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert "--train-text" in result.output and "clips_text.csv" in result.output


def test_train_dir_finds_the_texts_beside_it(sentences: Path, tmp_path: Path) -> None:
    """--train-dir X/train without --train-text reads X/train_text.csv, as eval reads the
    `<folder>_text.csv` beside the folder it evaluates."""
    work = tmp_path / "run"
    args = ["train", "transformer", "--task", "ctc", "--train-dir", str(sentences / "train")]
    args += ["--val-dir", str(sentences / "val"), "--epochs", "1", "--batch-size", "8"]
    args += ["--d-model", "16", "--num-layers", "1", "--device", "cpu", "--work-dir", str(work)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    vocab = json.loads((work / "tokenizer.json").read_text())["model"]["vocab"]
    english = pd.read_csv(sentences / "train_text.csv")["text"].str.split().explode()
    assert set(english.str.lower()) <= {token.lower() for token in vocab}
    # eval, and its language model, find the same files beside the folders
    args = ["eval", str(work / "last.pt"), "--out", str(tmp_path / "e"), "--lm-order", "2"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["lm"]["texts"] == str((sentences / "train_text.csv").absolute())
    assert summary["text"] == str((sentences / "val_text.csv").absolute())


@pytest.mark.parametrize("name", ["transformer", "gru", "multistream"])
def test_every_encoder_keeps_one_output_per_frame(name: str) -> None:
    from signcli.tasks.model import build_model

    streams = {"hand_l": 6, "pose": 9} if name == "multistream" else {"x": 12}
    settings = ModelSettings(
        task="ctc", name=name, d_model=16, num_layers=1, num_heads=2, ff_dim=32, dropout=0.0
    )
    model = build_model(settings, streams, {"num_tokens": 7}).eval()
    lengths = torch.tensor([9, 5])
    mask = torch.arange(9)[None] < lengths[:, None]
    x = {k: torch.randn(2, 9, d) for k, d in streams.items()}
    out = model(x, mask)["ctc"]
    assert out.shape == (2, 9, 7)
    # the padding of the shorter clip cannot change its real frames
    x2 = {k: v.clone() for k, v in x.items()}
    for v in x2.values():
        v[1, 5:] = 100.0
    assert torch.allclose(model(x2, mask)["ctc"][1, :5], out[1, :5], atol=1e-5)


@pytest.mark.slow
def test_smoke_overfit_memorises_a_batch() -> None:
    from signcli.engine.smoke import smoke_model

    settings = ModelSettings(
        task="ctc", name="transformer", d_model=32, num_layers=1, num_heads=2, ff_dim=64
    )
    result = smoke_model(settings, overfit=True, max_overfit_steps=300)
    assert result.passed, [(c.check, c.detail) for c in result.checks]


@pytest.mark.slow
def test_multistream_ctc_reads_meta_csv_without_labels(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    work = tmp_path / "ms"
    args = ["train", "multistream", "--config", str(examples / "multistream.yaml")]
    args += ["--task", "ctc", "--set", "data.labels=null", "--epochs", "1", "--d-model", "16"]
    args += ["--num-layers", "1", "--batch-size", "64", "--device", "cpu"]
    result = runner.invoke(app, [*args, "--work-dir", str(work)])
    assert result.exit_code == 0, result.output
    assert "task ctc" in result.output and "token ids" in result.output
    val_wer = lines(work)[-1]["val_wer"]
    result = runner.invoke(app, ["eval", str(work / "last.pt"), "--out", str(tmp_path / "e")])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "e" / "eval.json").read_text())
    assert summary["text"].endswith("meta.csv") and summary["wer"] == pytest.approx(val_wer)


def test_tokenizer_flag_loads_a_local_tokenizer_json(sentences: Path, tmp_path: Path) -> None:
    from signcli.text.tokenizer import TextTokenizer

    texts = pd.read_csv(sentences / "train_glosses.csv")["text"].tolist()
    given = TextTokenizer.train([*texts, "EXTRA WORDS"], "word")
    path = tmp_path / "given.json"
    given.save(path)
    work = tmp_path / "run"
    args = ["train", "transformer", str(sentences), "--task", "ctc", "--tokenizer", str(path)]
    args += ["--train-text", str(sentences / "train_glosses.csv")]
    args += ["--val-text", str(sentences / "val_glosses.csv"), "--epochs", "1"]
    args += ["--d-model", "16", "--num-layers", "1", "--device", "cpu"]
    result = runner.invoke(app, [*args, "--work-dir", str(work)])
    assert result.exit_code == 0, result.output
    assert (work / "tokenizer.json").read_text() == path.read_text()
    config = json.loads((work / "config.json").read_text())
    assert config["model"]["num_tokens"] == given.vocab_size
    missing = [*args, "--tokenizer", str(tmp_path / "none.json"), "--work-dir", str(tmp_path / "b")]
    result = runner.invoke(app, missing)
    assert result.exit_code == 2 and "none.json" in result.output


def test_log_csv_holds_the_metrics_of_the_runs_task(sentences: Path, tmp_path: Path) -> None:
    """--log-csv once had classify's fixed columns, so a ctc run lost val_wer there."""
    import csv

    log_csv, work = tmp_path / "log.csv", tmp_path / "run"
    start_run(text_task_settings(sentences, work, "ctc", f"training.log_csv={log_csv}"))
    with open(log_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["epoch", "train_loss", "val_loss", "val_wer", "lr"]
    assert float(rows[0]["val_wer"]) == pytest.approx(lines(work)[0]["val_wer"])
