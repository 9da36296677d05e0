"""Hostile labels CSVs and input files that are not regular files, built here.

Class ids past int64 (which pandas would wrap into negative ids) or in the billions (which
would size the model's head) are refused with the file and the lines; every labels
problem names the file; a FIFO given where a file is read is refused up front (exit 2)
instead of blocking the command forever."""

from __future__ import annotations

import os
import signal
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from signcli.cli import app
from signcli.core.errors import DataError, UsageError
from signcli.core.limits import MAX_CLASSES
from signcli.data.labels import read_labels
from signcli.data.npz_split import load_npz_split
from signcli.data.validate import validate_path

HANG_S = 20  # a read that blocks on a FIFO fails the test after this long instead of hanging


@pytest.fixture(autouse=True)
def no_hang() -> Iterator[None]:
    """Turn a blocking open() or read() into a test failure (SIGALRM interrupts it)."""

    def fail(signum: int, frame: object) -> None:
        raise TimeoutError(f"blocked for {HANG_S} s: a FIFO was opened")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(HANG_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _split(tmp_path: Path, rows: list[str]) -> tuple[Path, Path]:
    folder = tmp_path / "train"
    folder.mkdir()
    for i in range(len(rows)):
        np.savez(folder / f"s{i}.npz", X=np.ones((4, 6), np.float32))
    labels = tmp_path / "train_labels.csv"
    labels.write_text("file,gloss,cat\n" + "".join(f"s{i},{r}\n" for i, r in enumerate(rows)))
    return folder, labels


HUGE_IDS = [
    # (gloss,cat cells, kind, line)
    ("99999999999999999999,0", "label_too_large", 3),  # float 1e20: int64 would wrap it
    ("18446744073709551615,0", "label_too_large", 3),  # uint64 max: int64 -1
    ("9223372036854775808,0", "label_too_large", 3),  # int64 max + 1
    (f"{MAX_CLASSES.default},0", "label_too_large", 3),  # ids run 0 .. limit - 1
    ("3000000000,0", "label_too_large", 3),
    ("0,5000000000", "label_too_large", 3),  # cat ids size the category head
    ("1e400,0", "label_not_integer", 3),
    ("inf,0", "label_not_integer", 3),
    ("nan,0", "label_not_integer", 3),
]


@pytest.mark.parametrize("cells, kind, line", HUGE_IDS)
def test_ids_past_the_class_limit_are_refused_with_file_and_line(
    tmp_path: Path, cells: str, kind: str, line: int
) -> None:
    folder, labels = _split(tmp_path, ["0,0", cells, "1,1"])
    table = read_labels(labels)
    [problem] = table.problems
    assert (problem.kind, problem.rows) == (kind, (line,))
    assert str(labels) in problem.message
    assert (table.gloss >= -1).all() and (table.gloss < MAX_CLASSES.default).all()
    assert table.cat is not None and (table.cat < MAX_CLASSES.default).all()
    if kind == "label_too_large":
        assert MAX_CLASSES.env in problem.message
    # validate-npz: an error finding; training: a DataError naming the file and the line
    report = validate_path(folder, labels, workers=1)
    assert [(f.file, f.kind, f.rows) for f in report.splits[0].errors] == [
        ("train_labels.csv", kind, (line,))
    ]
    with pytest.raises(DataError, match=rf"{labels}: .* line\(s\) {line}"):
        load_npz_split("train", folder, labels, workers=1)


@pytest.mark.parametrize("cells", ["abc,0", "-3,0", "0,5000000000"])
def test_a_bad_id_names_its_sample_not_only_its_line(tmp_path: Path, cells: str) -> None:
    """issue 23: a bad gloss was named by its line and value; the sample it labels is what
    the user looks for (s1 here, on line 3), in validate-npz and in training."""
    folder, labels = _split(tmp_path, ["0,0", cells, "1,1"])
    [problem] = read_labels(labels).problems
    assert "sample(s) 's1' on line(s) 3" in problem.message
    with pytest.raises(DataError, match=r"sample\(s\) 's1' on line\(s\) 3"):
        load_npz_split("train", folder, labels, workers=1)


def test_the_class_limit_follows_its_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, labels = _split(tmp_path, ["0,0", "1500,0"])
    monkeypatch.setenv(MAX_CLASSES.env, "1000")
    assert [p.kind for p in read_labels(labels).problems] == ["label_too_large"]
    monkeypatch.setenv(MAX_CLASSES.env, "2000")
    assert read_labels(labels).ok


@pytest.mark.parametrize(
    "text",
    [
        "file,gloss\ns0,x\n",  # not an integer
        "file,gloss\ns0,-1\n",  # negative
        "file,gloss\ns0,0\ns0,1\n",  # listed twice
        "file,gloss\n,0\n",  # no file name
        "name,label\ns0,0\n",  # columns
        'file,gloss\n"s0,0\n',  # unparseable
        "file,gloss,FILE\ns0,0,x\n",  # found by tests/fuzz: "unexpected AttributeError"
        "id,gloss,ID\ns0,0,x\n",  # the multi-stream header, likewise
    ],
)
def test_every_labels_problem_names_the_file(tmp_path: Path, text: str) -> None:
    labels = tmp_path / "my_labels.csv"
    labels.write_text(text)
    problems = read_labels(labels).problems
    assert problems and all(str(labels) in p.message for p in problems)


def test_rows_longer_than_the_header_are_a_warning_finding_not_a_pandas_warning(
    tmp_path: Path,
) -> None:
    # found by tests/fuzz: pandas printed its ParserWarning, naming its own source line, and
    # dropped the extra cells without a word in the report
    folder, labels = _split(tmp_path, ["0,0", "1,1", "0,1"])
    labels.write_text("file,gloss,cat\ns0,0,0,extra\ns1,1,1\ns2,0,1\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = read_labels(labels)
    [problem] = table.problems
    assert (problem.kind, problem.severity, problem.rows) == ("labels_extra_cells", "warning", (2,))
    assert str(labels) in problem.message and "extra cells are ignored" in problem.message
    assert table.ok and list(table.gloss) == [0, 1, 0]
    result = CliRunner().invoke(app, ["validate-npz", str(folder), "--labels", str(labels)])
    assert result.exit_code == 0 and "labels_extra_cells" in result.output
    assert "ParserWarning" not in result.output


# ---------------------------------------------------------------------------------------
# FIFOs (and other files that are not regular) where signcli reads a file


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def test_a_fifo_labels_csv_is_refused(tmp_path: Path) -> None:
    folder, labels = _split(tmp_path, ["0,0", "1,1"])
    labels.unlink()
    _fifo(labels)
    with pytest.raises(UsageError, match="is a FIFO, not a regular file"):
        read_labels(labels)
    with pytest.raises(UsageError, match="is a FIFO"):
        load_npz_split("train", folder, labels, workers=1)
    for args in ([str(tmp_path)], [str(folder), "--labels", str(labels)]):  # root and --labels
        result = CliRunner().invoke(app, ["validate-npz", *args])
        assert result.exit_code == 2, result.output
        assert "train_labels.csv is a FIFO, not a regular file" in result.output


def test_a_fifo_named_npz_given_to_validate_npz(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate-npz", str(_fifo(tmp_path / "a.npz"))])
    assert result.exit_code == 2 and "is a FIFO" in result.output
    assert "unexpected" not in result.output


def test_a_folder_given_as_labels(tmp_path: Path) -> None:
    folder, _ = _split(tmp_path, ["0,0"])
    result = CliRunner().invoke(app, ["validate-npz", str(folder), "--labels", str(folder)])
    assert result.exit_code == 2 and "is a folder, not a regular file" in result.output


def test_a_fifo_settings_file_is_refused(tmp_path: Path) -> None:
    from signcli.core.structured import read_structured_file
    from signcli.settings import load_settings

    config = _fifo(tmp_path / "exp.yaml")
    with pytest.raises(UsageError, match="settings file .*exp.yaml is a FIFO"):
        load_settings(config)
    with pytest.raises(UsageError, match="is a FIFO"):
        read_structured_file(config, "settings file")
    result = CliRunner().invoke(
        app, ["train", "transformer", "--config", str(config), "--work-dir", str(tmp_path / "w")]
    )
    assert result.exit_code == 2 and "is a FIFO" in result.output


def test_fifo_metrics_and_rules_are_refused(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text('{"epoch": 1, "train_loss": 1.0}\n')
    rules = tmp_path / "rules.yaml"
    rules.write_text("checks:\n  - {metric: train_loss, max: 2}\n")
    fifo_metrics, fifo_rules = _fifo(tmp_path / "m.jsonl"), _fifo(tmp_path / "r.yaml")
    cases = [
        ([fifo_metrics, "--rules", rules], "metrics file"),
        ([metrics, "--rules", fifo_rules], "rules file"),
        ([metrics, "--baseline", fifo_metrics], "metrics file"),
    ]
    for args, what in cases:
        result = CliRunner().invoke(app, ["metrics-check", *map(str, args)])
        assert result.exit_code == 2, result.output
        assert f"{what} " in result.output and "is a FIFO, not a regular file" in result.output


def test_a_fifo_index_file_is_refused(tmp_path: Path) -> None:
    from signcli.data.stream_files import read_index

    with pytest.raises(UsageError, match="index file .* is a FIFO"):
        read_index(_fifo(tmp_path / "train_index.csv"))


def test_a_labels_csv_over_the_size_limit_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from signcli.data.labels import read_labels

    path = tmp_path / "labels.csv"
    path.write_text("file,gloss\n" + "a,1\n" * 100)
    monkeypatch.setenv("SIGNCLI_MAX_TABLE_BYTES", "100")
    problems = read_labels(path).problems
    assert [p.kind for p in problems] == ["labels_too_large"]
    assert "411 bytes: at most 100 bytes; set SIGNCLI_MAX_TABLE_BYTES" in problems[0].message


def test_an_index_csv_over_the_size_limit_is_a_data_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from signcli.core.errors import DataError
    from signcli.data.stream_files import read_index

    path = tmp_path / "index.csv"
    path.write_text("id\n" + "a\n" * 100)
    monkeypatch.setenv("SIGNCLI_MAX_TABLE_BYTES", "100")
    with pytest.raises(DataError, match="index file .* is 203 bytes: at most 100 bytes"):
        read_index(path)
