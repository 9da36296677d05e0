"""`evaluate` on a real (tiny, trained) checkpoint: files, metrics, predictions, errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from signcli.core.errors import CheckpointError, DataError, UsageError
from signcli.data.npz import read_npz_array
from signcli.engine.checkpoint import SETTINGS_KEY, load_checkpoint, save_checkpoint
from signcli.engine.restore import load_model_from_checkpoint
from signcli.evaluation import run
from signcli.evaluation.run import default_out_dir, evaluate
from signcli.metrics.classification import head_metrics
from signcli.metrics.plots import plot_confusion

FILES = [
    "confusion.csv",
    "confusion.png",
    "eval.json",
    "per_class.csv",
    "predictions.parquet",
    "report.html",
]


@pytest.fixture(scope="module")
def evaluated(trained_run, tmp_path_factory):
    """best.pt evaluated on the val split once for the module: (result, out_dir)."""
    out = tmp_path_factory.mktemp("eval")
    data = trained_run.data
    result = evaluate(
        trained_run.work_dir / "best.pt",
        data / "val",
        data / "val_labels.csv",
        batch_size=5,  # several batches, the last one short
        out_dir=out,
        device="cpu",
    )
    return result, out


def test_writes_every_file_and_the_summary(evaluated) -> None:
    result, out = evaluated
    assert sorted(p.name for p in out.iterdir()) == FILES
    summary = json.loads((out / "eval.json").read_text())
    assert summary == result.summary and summary["files"] == FILES
    assert summary["num_samples"] == 12 and summary["num_classes"] == {"gloss": 4, "cat": 2}
    for key in ("gloss_top1", "gloss_top5", "gloss_macro_f1", "gloss_balanced_accuracy"):
        assert 0.0 <= summary[key] <= 1.0
    assert summary["gloss_top5"] == 1.0  # 4 classes: top-5 holds them all
    assert (out / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_metrics_match_the_validation_of_training(evaluated, trained_run) -> None:
    """The validation of best.pt's epoch (metrics.jsonl) and eval on the same split agree."""
    from signcli.engine.checkpoint import STATE_KEY, load_checkpoint

    summary = evaluated[0].summary
    epoch = load_checkpoint(trained_run.work_dir / "best.pt")[STATE_KEY]["epoch"]
    lines = (trained_run.work_dir / "metrics.jsonl").read_text().splitlines()
    [logged] = [m for m in map(json.loads, lines) if m["epoch"] == epoch]
    assert summary["gloss_top1"] == pytest.approx(logged["val_gloss_top1"], abs=1e-6)
    assert summary["cat_top1"] == pytest.approx(logged["val_cat_top1"], abs=1e-6)
    assert summary["loss"] == pytest.approx(logged["val_loss"], rel=1e-5)


def test_per_class_and_confusion_agree(evaluated) -> None:
    _, out = evaluated
    confusion = pd.read_csv(out / "confusion.csv", index_col=0).to_numpy()
    assert confusion.shape == (4, 4) and confusion.sum() == 12
    rows = list(csv.DictReader((out / "per_class.csv").open()))
    assert [r["name"] for r in rows] == ["sign_00", "sign_01", "sign_02", "sign_03"]
    for i, row in enumerate(rows):
        assert int(row["support"]) == confusion[i].sum()
        assert int(row["predicted"]) == confusion[:, i].sum()
        if confusion[i].sum():
            assert float(row["recall"]) == pytest.approx(confusion[i, i] / confusion[i].sum())
            assert row["accuracy"] == row["recall"]


def test_predictions_equal_direct_model_calls_on_single_samples(evaluated, trained_run) -> None:
    _, out = evaluated
    table = pd.read_parquet(out / "predictions.parquet")
    assert list(table["id"]) == [f"val_{i:05d}" for i in range(12)]  # the labels' order
    model = load_model_from_checkpoint(trained_run.work_dir / "best.pt").model
    for row in table.head(4).itertuples():
        x = torch.from_numpy(read_npz_array(trained_run.data / "val" / f"{row.id}.npz", "X"))
        with torch.inference_mode():
            logits = model({"x": x[None]}, torch.ones(1, len(x), dtype=torch.bool))
        probs = logits["gloss"].softmax(dim=1)[0].numpy()
        assert row.pred_gloss == probs.argmax() == row.top5_gloss[0]
        np.testing.assert_allclose(row.top5_prob, probs[row.top5_gloss], atol=1e-5)
        assert row.pred_cat == int(logits["cat"].argmax())
        assert row.pred_gloss_name == f"sign_{row.pred_gloss:02d}"
    assert {"true_gloss", "true_gloss_name", "true_cat", "pred_prob"} <= set(table.columns)


def test_no_labels_writes_predictions_only_and_clears_old_metrics(
    evaluated, trained_run, tmp_path: Path
) -> None:
    _, labelled_out = evaluated
    out = tmp_path / "eval"
    out.mkdir()
    for name in FILES:  # an earlier labelled evaluation in the same folder
        (out / name).write_bytes((labelled_out / name).read_bytes())
    result = evaluate(
        trained_run.work_dir / "best.pt",
        trained_run.data / "val",
        out_dir=out,
        no_labels=True,
        overwrite=True,  # replacing an evaluation is asked for, never silent
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "eval.json",
        "predictions.parquet",
        "report.html",
    ]
    assert "gloss_top1" not in result.summary and "loss" not in result.summary
    assert result.summary["num_samples"] == 12
    table = pd.read_parquet(out / "predictions.parquet")
    assert "true_gloss" not in table.columns and len(table) == 12
    before = pd.read_parquet(labelled_out / "predictions.parquet")
    assert sorted(table["pred_gloss"]) == sorted(before["pred_gloss"])


def test_default_out_dir_sits_beside_the_checkpoint(tmp_path: Path) -> None:
    assert default_out_dir(tmp_path / "run" / "best.pt", tmp_path / "data" / "val") == (
        tmp_path / "run" / "eval-best-val"
    )


def test_labels_outside_the_checkpoint_classes(trained_run, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    text = (trained_run.data / "val_labels.csv").read_text().splitlines()
    fields = text[2].split(",")
    fields[1] = "7"  # gloss 7 of a 4-class model, on line 3
    labels.write_text("\n".join([text[0], text[1], ",".join(fields)]) + "\n")
    with pytest.raises(DataError, match=r"line 3: gloss 7 of sample 'val_00001' is outside"):
        evaluate(trained_run.work_dir / "best.pt", trained_run.data / "val", labels)


def test_input_width_that_the_model_was_not_trained_on(trained_run, write_split, tmp_path) -> None:
    folder, labels = write_split(tmp_path, "val", 3, T=5, D=10, num_gloss=2)
    with pytest.raises(DataError, match="width D = 10 .* trained on D = 156"):
        evaluate(trained_run.work_dir / "best.pt", folder, labels)


def test_missing_labels_is_a_usage_error_that_suggests_the_csv(trained_run) -> None:
    with pytest.raises(UsageError, match="no labels") as caught:
        evaluate(trained_run.work_dir / "best.pt", trained_run.data / "val")
    assert "val_labels.csv" in str(caught.value) and "--no-labels" in str(caught.value)


def test_weights_that_do_not_fit_the_stored_settings(trained_run, tmp_path: Path) -> None:
    payload = load_checkpoint(trained_run.work_dir / "best.pt")
    payload[SETTINGS_KEY]["model"]["d_model"] = 48
    save_checkpoint(tmp_path / "edited.pt", payload)
    with pytest.raises(CheckpointError, match="weights do not fit the model"):
        load_model_from_checkpoint(tmp_path / "edited.pt")


def test_many_classes_plot_the_most_confused_pairs(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    confusion = np.diag(rng.integers(5, 9, 40)) + (rng.random((40, 40)) < 0.05)
    plot_confusion(tmp_path / "c.png", confusion, [f"g{i}" for i in range(40)], "gloss")
    assert (tmp_path / "c.png").stat().st_size > 1000


# ---------------------------------------------------------------------------------------
# per-group accuracy: the val split's 12 samples by 3 signers


@pytest.fixture(scope="module")
def by_signer(evaluated, trained_run, label_column, tmp_path_factory):
    """best.pt on the val split with a signer column in its labels: (result, out_dir,
    signers). cy signed one sample the model gets right and one it gets wrong; ann signed
    the other right ones and bob the other wrong ones, so their top-1 are 1 and 0."""
    table = pd.read_parquet(evaluated[1] / "predictions.parquet")
    right = (table["true_gloss"] == table["pred_gloss"]).tolist()
    hits = [i for i, r in enumerate(right) if r]
    misses = [i for i, r in enumerate(right) if not r]
    assert len(hits) >= 2 and len(misses) >= 2, "the fixture needs right and wrong predictions"
    cy = {hits[-1], misses[-1]}
    signers = ["cy" if i in cy else "ann" if r else "bob" for i, r in enumerate(right)]
    folder = tmp_path_factory.mktemp("signers")
    labels = label_column(
        trained_run.data / "val_labels.csv", folder / "labels.csv", "signer", signers
    )
    out = folder / "eval"
    result = evaluate(
        trained_run.work_dir / "best.pt", trained_run.data / "val", labels, out_dir=out
    )
    return result, out, signers


def test_per_signer_accuracy_recounts_from_the_predictions(by_signer) -> None:
    result, out, signers = by_signer
    assert result.summary["files"] == sorted([*FILES, "per_group.csv"])
    table = pd.read_parquet(out / "predictions.parquet")
    table["signer"] = signers  # predictions keep the labels' order
    table["right"] = table["true_gloss"] == table["pred_gloss"]
    rows = list(csv.DictReader((out / "per_group.csv").open()))
    assert rows[0]["group"] == "bob" and rows[-1]["group"] == "ann"  # worst first
    assert (float(rows[0]["gloss_top1"]), float(rows[-1]["gloss_top1"])) == (0.0, 1.0)
    assert {r["group"] for r in rows} == {"ann", "bob", "cy"}
    for row in rows:
        mine = table[table["signer"] == row["group"]]
        assert int(row["samples"]) == len(mine) == signers.count(row["group"])
        assert float(row["gloss_top1"]) == pytest.approx(mine["right"].mean(), abs=1e-6)
        # macro-F1 the long way: one-hot scores of the predictions through head_metrics
        scores = np.eye(4)[mine["pred_gloss"].to_numpy()]
        expected_f1 = head_metrics(scores, mine["true_gloss"].to_numpy()).macro_f1
        assert float(row["gloss_macro_f1"]) == pytest.approx(expected_f1, abs=1e-6)
    per_group = result.summary["per_group"]
    assert per_group["column"] == "signer" and per_group["num_groups"] == 3
    assert [g["group"] for g in per_group["groups"]] == [r["group"] for r in rows]
    assert [g["gloss_top1"] for g in per_group["groups"]] == pytest.approx(
        [float(r["gloss_top1"]) for r in rows], abs=1e-6
    )
    assert json.loads((out / "eval.json").read_text())["per_group"] == per_group


def test_group_by_names_any_labels_column_in_any_case(trained_run, tmp_path: Path) -> None:
    data = trained_run.data
    result = evaluate(
        trained_run.work_dir / "best.pt", data / "val", data / "val_labels.csv",
        out_dir=tmp_path, group_by="Occluded",
    )  # fmt: skip
    per_group = result.summary["per_group"]
    assert per_group["column"] == "occluded"
    assert {g["group"] for g in per_group["groups"]} <= {"0", "1"}
    assert sum(g["samples"] for g in per_group["groups"]) == 12


def test_group_by_a_column_the_labels_lack(trained_run, tmp_path: Path) -> None:
    data = trained_run.data
    with pytest.raises(DataError) as caught:
        evaluate(
            trained_run.work_dir / "best.pt", data / "val", data / "val_labels.csv",
            out_dir=tmp_path, group_by="speaker",
        )  # fmt: skip
    message = str(caught.value)
    assert f"{data / 'val_labels.csv'}: no column 'speaker' to group by" in message
    assert "gloss, cat, occluded, gloss_name" in message and "--group-by" in message
    assert not (tmp_path / "eval.json").exists()  # refused before predicting anything
    with pytest.raises(UsageError, match="--group-by needs labels"):
        evaluate(trained_run.work_dir / "best.pt", data / "val", no_labels=True, group_by="x")


@pytest.mark.slow
def test_run_group_by_setting_comes_before_signer(
    trained_run, by_signer, monkeypatch, tmp_path: Path
) -> None:
    """A run whose settings have data.group_by (added elsewhere) groups by that column
    when the labels have it, else warns and falls back to signer."""
    restore = run.load_model_from_checkpoint

    def restored_with_group_by(path, **options):
        restored = restore(path, **options)
        object.__setattr__(restored.settings.data, "group_by", column)
        return restored

    monkeypatch.setattr(run, "load_model_from_checkpoint", restored_with_group_by)
    labels = Path(by_signer[0].summary["labels"])  # has occluded and signer
    column = "occluded"
    result = evaluate(trained_run.work_dir / "best.pt", trained_run.data / "val", labels,
                      out_dir=tmp_path / "a")  # fmt: skip
    assert result.summary["per_group"]["column"] == "occluded"
    column = "region"
    result = evaluate(trained_run.work_dir / "best.pt", trained_run.data / "val", labels,
                      out_dir=tmp_path / "b")  # fmt: skip
    assert result.summary["per_group"]["column"] == "signer"
    assert any("'region' (data.group_by)" in w for w in result.warnings)


def test_labels_without_a_group_column_clear_an_old_per_group_file(
    by_signer, trained_run, tmp_path: Path
) -> None:
    out = tmp_path / "eval"
    out.mkdir()
    for name in ("per_group.csv", "eval.json"):  # an earlier eval's folder
        (out / name).write_bytes((by_signer[1] / name).read_bytes())
    result = evaluate(
        trained_run.work_dir / "best.pt", trained_run.data / "val",
        trained_run.data / "val_labels.csv", out_dir=out, overwrite=True,
    )  # fmt: skip
    assert "per_group" not in result.summary
    assert sorted(p.name for p in out.iterdir()) == FILES


def test_an_earlier_evaluation_is_never_replaced_silently(evaluated, trained_run) -> None:
    _, out = evaluated
    before = (out / "eval.json").read_bytes()
    with pytest.raises(UsageError, match="holds an earlier evaluation"):
        evaluate(trained_run.work_dir / "best.pt", trained_run.data / "val", out_dir=out)
    assert (out / "eval.json").read_bytes() == before


def test_the_default_folder_names_the_decoding_options() -> None:
    from signcli.evaluation.run import decoding_suffix
    from signcli.tasks.language_model import LMOptions

    assert decoding_suffix(None, None, LMOptions()) == ""
    assert decoding_suffix(None, None, LMOptions(3)) == "-lm3"
    assert decoding_suffix(8, 0.8, LMOptions(2, 0.6, None, Path("more.csv"))) == (
        "-beam8-lp0.8-lm2-w0.6-more"
    )
    checkpoint = Path("run/best.pt")
    plain = default_out_dir(checkpoint, "val")
    with_lm = default_out_dir(checkpoint, "val", decoding_suffix(None, None, LMOptions(3)))
    assert plain.name == "eval-best-val" and with_lm.name == "eval-best-val-lm3"
