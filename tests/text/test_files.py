"""Text files: `file,text` and meta.csv (`id;texto`), their errors, and validate-npz's check."""

from __future__ import annotations

from pathlib import Path

import pytest

from signcli.core.errors import DataError, UsageError
from signcli.text.files import check_text_file, load_texts, pair_texts, read_texts


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def kinds(table) -> set[str]:
    return {p.kind for p in table.problems}


def test_meta_csv_with_quoted_semicolons_and_line_breaks(tmp_path: Path) -> None:
    meta = write(
        tmp_path / "meta.csv",
        'id;texto\na;"hola; mundo"\nb;"dijo ""sí""; y\nluego se fue"\nc;adiós, amigo\n',
    )
    table = read_texts(meta)
    assert table.ok and table.delimiter == ";"
    assert table.texts == {
        "a": "hola; mundo",
        "b": 'dijo "sí"; y\nluego se fue',
        "c": "adiós, amigo",
    }
    assert table.lines == {"a": 2, "b": 3, "c": 5}  # the quoted line break counts as a line
    assert load_texts(meta, ["c", "a"]) == ["adiós, amigo", "hola; mundo"]


def test_single_stream_text_csv_pairs_with_file_names(tmp_path: Path) -> None:
    texts = write(
        tmp_path / "train_text.csv", '\ufeffFile,Text\ns1.npz,the man gives\ns2,"a, b"\n\n'
    )
    table = read_texts(texts)
    assert table.ok and table.texts == {"s1": "the man gives", "s2": "a, b"}
    assert pair_texts(table, ["s2", "s1"]) == ["a, b", "the man gives"]


def test_missing_and_empty_texts_name_the_file_and_lines(tmp_path: Path) -> None:
    texts = write(tmp_path / "t.csv", "file,text\na,one\nb,\nc\nd,  \n")
    table = read_texts(texts)
    assert kinds(table) == {"text_empty", "text_missing_cells"}
    empty = next(p for p in table.problems if p.kind == "text_empty")
    assert empty.lines == (3, 5) and str(texts) in empty.message
    with pytest.raises(DataError, match=r"t\.csv: empty text on line\(s\) 3, 5") as caught:
        pair_texts(table, ["a"], flag="--train-text")
    assert "--train-text" in str(caught.value)
    good = write(tmp_path / "g.csv", "file,text\na,one\n")
    with pytest.raises(DataError, match=r"no text for 2 of the 3 sample\(s\) \(e\.g\. b, c\)"):
        load_texts(good, ["a", "b", "c"])


def test_bad_encoding_duplicates_columns_and_extra_cells(tmp_path: Path) -> None:
    latin = write(tmp_path / "latin.csv", "id;texto\na;hola\nb;adiós\n", encoding="latin-1")
    table = read_texts(latin)
    assert kinds(table) == {"text_encoding"} and table.problems[0].lines == (3,)
    assert "not UTF-8" in table.problems[0].message and "iconv" in table.problems[0].message
    with pytest.raises(DataError, match="latin.csv: not UTF-8"):
        load_texts(latin, ["a"])
    dup = read_texts(write(tmp_path / "dup.csv", "file,text\na,x\nb,y\na.npz,z\n"))
    assert kinds(dup) == {"text_duplicate"} and "'a' (lines 2 and 4)" in dup.problems[0].message
    columns = read_texts(write(tmp_path / "cols.csv", "file,gloss\na,1\n"))
    assert (
        kinds(columns) == {"text_columns"} and "found 'file,gloss'" in columns.problems[0].message
    )
    twice = read_texts(write(tmp_path / "twice.csv", "file,text,TEXT\na,x,y\n"))
    assert "more than once" in twice.problems[0].message
    extra = read_texts(write(tmp_path / "extra.csv", "file,text\na,x, y\n"))
    assert kinds(extra) == {"text_extra_cells"} and "quote" in extra.problems[0].message
    assert read_texts(tmp_path / "absent.csv").problems[0].kind == "text_missing"
    with pytest.raises(UsageError, match="is a folder"):
        read_texts(tmp_path)


def test_check_text_file_reports_pairing_and_token_lengths(tmp_path: Path) -> None:
    meta = write(tmp_path / "meta.csv", "id;texto\na;one two\nb;one two three four\nc;x\nz;y\n")
    report = check_text_file(meta, ["a", "b", "d"], other_ids=["c"], max_tokens=3)
    assert not report.ok
    found = {p.kind: p for p in report.problems}
    assert set(found) == {"text_missing_for_data", "text_without_data", "text_too_long"}
    assert "e.g. d" in found["text_missing_for_data"].message
    assert found["text_without_data"].severity == "warning"
    assert found["text_without_data"].lines == (5,)  # z; c belongs to another split
    assert found["text_too_long"].lines == (3,)
    assert (report.texts, report.paired) == (4, 2)
    lengths = report.lengths
    assert (lengths.min, lengths.max, lengths.mean) == (2, 4, 3.0)
    assert "median 3" in report.summary()
    chars = check_text_file(meta, ["a", "b"], tokenize=lambda t: t.replace(" ", ""))
    assert chars.ok and chars.lengths.max == len("onetwothreefour")
    broken = check_text_file(write(tmp_path / "b.csv", "a,b\n"), ["a"])
    assert [p.kind for p in broken.problems] == ["text_columns"]


def test_a_text_csv_over_the_size_limit_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from signcli.text.files import read_texts

    path = tmp_path / "train_text.csv"
    path.write_text("file,text\n" + "a,hello world\n" * 20)
    monkeypatch.setenv("SIGNCLI_MAX_TABLE_BYTES", "100")
    problems = read_texts(path).problems
    assert [p.kind for p in problems] == ["text_too_large"]
