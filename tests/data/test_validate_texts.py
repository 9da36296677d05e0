"""validate-npz checks the text targets of the text tasks beside the .npz files."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from signcli.cli import app

runner = CliRunner()


def test_a_root_with_texts_needs_no_labels_and_reports_token_lengths(make_npz_dataset) -> None:
    root = make_npz_dataset(n=4, T=5, D=6)
    for split in ("train", "val"):
        (root / f"{split}_labels.csv").unlink()
        names = sorted(p.name for p in (root / split).glob("*.npz"))
        rows = [f"{name},A B{' C' * i}" for i, name in enumerate(names)]
        (root / f"{split}_text.csv").write_text("file,text\n" + "\n".join(rows) + "\n")
    result = runner.invoke(app, ["validate-npz", str(root), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    text = report["splits"][0]["text"]
    assert text["paired"] == text["texts"] == report["splits"][0]["files"]
    assert text["tokens"]["min"] == 2 and text["tokens"]["max"] == 1 + text["texts"]


def test_text_problems_are_errors_and_warnings_naming_the_lines(
    make_npz_dataset, tmp_path: Path
) -> None:
    root = make_npz_dataset(n=4, T=5, D=6)
    names = sorted(p.stem for p in (root / "train").glob("*.npz"))
    text = tmp_path / "texts.csv"
    # line 2: empty text; the second sample has no row; line 4: a sample without data
    rows = [f"{names[0]},", *(f"{n},A B" for n in names[2:]), "ghost,X"]
    text.write_text("file,text\n" + "\n".join(rows) + "\n")
    result = runner.invoke(
        app, ["validate-npz", str(root / "train"), "--text", str(text), "--json"]
    )
    assert result.exit_code == 1, result.output
    problems = {p["kind"]: p for p in json.loads(result.stdout)["splits"][0]["problems"]}
    assert problems["text_empty"]["severity"] == "error" and problems["text_empty"]["rows"] == [2]
    assert names[1] in problems["text_missing_for_data"]["message"]
    assert problems["text_without_data"]["severity"] == "warning"

    text.write_bytes(b"file,text\n" + f"{names[0]},".encode() + b"caf\xe9\n")  # latin-1
    result = runner.invoke(app, ["validate-npz", str(root / "train"), "--text", str(text)])
    assert result.exit_code == 1 and "not UTF-8 on line(s) 2" in result.output
