"""`signcli eval` through the CLI: table, --json, files, exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from signcli.cli import app

runner = CliRunner()


def eval_args(trained_run, *extra: str, labels: bool = True) -> list[str]:
    data = trained_run.data
    args = ["eval", str(trained_run.work_dir / "best.pt"), "--data-dir", str(data / "val")]
    if labels:
        args += ["--labels", str(data / "val_labels.csv")]
    return [*args, "--device", "cpu", *extra]


def test_prints_a_table_and_writes_beside_the_checkpoint_by_default(trained_run) -> None:
    # the default folder lives in the shared run: a copy of best.pt keeps the run untouched
    checkpoint = trained_run.work_dir.parent / "eval-cli" / "best.pt"
    checkpoint.parent.mkdir(exist_ok=True)
    checkpoint.write_bytes((trained_run.work_dir / "best.pt").read_bytes())
    args = eval_args(trained_run)
    args[1] = str(checkpoint)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    for label in ("gloss top-1", "gloss top-5", "macro-F1", "balanced accuracy", "category"):
        assert label in result.stdout
    out = checkpoint.parent / "eval-best-val"
    assert (out / "eval.json").is_file() and (out / "predictions.parquet").is_file()


def test_json_prints_one_document_and_nothing_else(trained_run, tmp_path: Path) -> None:
    result = runner.invoke(app, eval_args(trained_run, "--json", "--out", str(tmp_path)))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary == json.loads((tmp_path / "eval.json").read_text())
    assert summary["num_samples"] == 12 and summary["key"] == "X"  # from the checkpoint
    assert {"gloss_top1", "gloss_top5", "gloss_macro_f1", "cat_top1", "loss"} <= set(summary)


def test_no_labels(trained_run, tmp_path: Path) -> None:
    args = eval_args(trained_run, "--no-labels", "--json", "--out", str(tmp_path), labels=False)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["files"] == ["eval.json", "predictions.parquet", "report.html"]


def test_without_labels_exit_2(trained_run) -> None:
    result = runner.invoke(app, eval_args(trained_run, labels=False))
    assert result.exit_code == 2
    assert "no labels" in result.stderr and "--no-labels" in result.stderr
    assert "Traceback" not in result.output


def test_labels_outside_the_classes_exit_2(trained_run, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("file,gloss,cat\nval_00000.npz,12,0\n")
    args = eval_args(trained_run, labels=False) + ["--labels", str(labels)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "gloss 12 of sample 'val_00000' is outside the checkpoint's classes 0..3" in (
        result.stderr
    )


def test_other_input_width_exit_2(trained_run, write_split, tmp_path: Path) -> None:
    folder, labels = write_split(tmp_path, "val", 3, T=5, D=10, num_gloss=2)
    args = ["eval", str(trained_run.work_dir / "best.pt"), "--data-dir", str(folder),
            "--labels", str(labels)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "width D = 10" in result.stderr and "D = 156" in result.stderr


def test_wrong_key_and_missing_checkpoint_exit_2(trained_run, tmp_path: Path) -> None:
    result = runner.invoke(app, eval_args(trained_run, "--key", "X2048"))
    assert result.exit_code == 2 and "X2048" in result.stderr
    args = eval_args(trained_run)
    args[1] = str(tmp_path / "nope.pt")
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "not found" in result.stderr


@pytest.mark.slow
def test_per_signer_table_shows_the_worst_groups_first(
    trained_run, label_column, monkeypatch, tmp_path: Path
) -> None:
    from signcli.cli import eval as eval_cli

    monkeypatch.setattr(eval_cli, "MAX_GROUP_ROWS", 3)
    signers = [f"signer{i % 5}" for i in range(12)]
    labels = label_column(
        trained_run.data / "val_labels.csv", tmp_path / "labels.csv", "signer", signers
    )
    args = eval_args(trained_run, labels=False)
    args += ["--labels", str(labels), "--out", str(tmp_path / "out")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "gloss per signer, worst first" in result.stdout
    summary = json.loads((tmp_path / "out" / "eval.json").read_text())
    shown = [g["group"] for g in summary["per_group"]["groups"]]
    assert [name in result.stdout for name in shown] == [True] * 3 + [False] * 2
    assert "2 more signer group(s) in per_group.csv (5 in all)" in result.stdout
    assert "per_group.csv" in summary["files"]


def test_group_by_a_missing_column_exit_2_naming_the_file(trained_run, tmp_path: Path) -> None:
    result = runner.invoke(app, eval_args(trained_run, "--group-by", "speaker"))
    assert result.exit_code == 2
    assert "val_labels.csv: no column 'speaker' to group by" in result.stderr
    assert "gloss, cat, occluded, gloss_name" in result.stderr
    assert "Traceback" not in result.output


def test_out_that_is_a_file_or_under_one_exit_2_naming_it(trained_run, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("keep")
    for out, message in (
        (blocker, f"--out {blocker} is a file, not a folder"),
        (blocker / "sub", f"cannot be created: {blocker} is a file"),
    ):
        result = runner.invoke(app, eval_args(trained_run, "--out", str(out)))
        assert result.exit_code == 2, result.output
        assert message in result.stderr
        assert "unexpected" not in result.output and "Traceback" not in result.output
    assert blocker.read_text() == "keep"


def test_out_never_replaces_an_input(trained_run, tmp_path: Path) -> None:
    labels = tmp_path / "per_class.csv"  # the labels, where eval would write per_class.csv
    labels.write_bytes((trained_run.data / "val_labels.csv").read_bytes())
    args = eval_args(trained_run, labels=False) + ["--labels", str(labels), "--out", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "an input of this command" in result.output
    assert labels.read_bytes() == (trained_run.data / "val_labels.csv").read_bytes()


def test_a_folder_without_an_earlier_eval_keeps_the_users_files(trained_run, tmp_path) -> None:
    mine = tmp_path / "per_class.csv"  # not written by a --no-labels eval
    mine.write_text("my own table\n")
    args = eval_args(trained_run, "--no-labels", "--out", str(tmp_path), labels=False)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert mine.read_text() == "my own table\n"


def test_the_table_says_how_a_text_model_decoded() -> None:
    from signcli.cli.eval import _decoding

    assert _decoding({"gloss_top1": 0.5}) == ""  # classify: nothing to say
    assert _decoding({"beam_size": 1}) == "greedy"
    assert _decoding({"beam_size": 4, "length_penalty": 0.8}) == "beam 4, length penalty 0.8"
    assert _decoding({"beam_size": 8, "lm": {"order": 3}}) == "beam 8, 3-gram LM"
