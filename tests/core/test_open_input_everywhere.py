"""Every file signcli reads that it did not create goes through `core.files.open_input`
(issue 23): a FIFO given as any of them is refused, or reported as unreadable, without
blocking; a CSV is bounded in bytes and in cells before it is parsed; a JSON document
(tokenizer, manifest, OpenPose frame) in bytes; an .npy source's header against its size."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from signcli.core.errors import UsageError
from signcli.core.files import FileTooLarge, open_table, read_input_text

from .test_files import fifo, no_hang


def _tokenizer(path: Path) -> Any:
    from signcli.text.tokenizer import TextTokenizer

    return TextTokenizer.load(path)


def _manifest(path: Path) -> Any:
    from signcli.core.manifest import read_manifest

    return read_manifest(path.parent)


def _metrics(path: Path) -> Any:
    from signcli.metrics.jsonl import read_metrics

    return read_metrics(path)


def _checkpoint(path: Path) -> Any:
    from signcli.engine.checkpoint import load_checkpoint

    return load_checkpoint(path)


def _settings(path: Path) -> Any:
    from signcli.settings import read_settings_file

    return read_settings_file(path)


def _index(path: Path) -> Any:
    from signcli.data.stream_files import read_index

    return read_index(path)


def _meta(path: Path) -> Any:
    from signcli.data.stream_files import read_meta

    return read_meta(path)


def _import_labels(path: Path) -> Any:
    from signcli.importers.run import _read_label_csv

    return _read_label_csv(path)


def _openpose_frame(path: Path) -> Any:
    from signcli.data.recordings.openpose import _read_frame

    return _read_frame(path)


def _pose_header(path: Path) -> Any:
    from signcli.data.recordings.pose_file import read_header

    return read_header(path)


def _npy_source(path: Path) -> Any:
    from signcli.data.recordings.mp_frames import _load

    return _load(path)


def _parquet_source(path: Path) -> Any:
    from signcli.data.recordings.asl_signs import read_sequence

    return read_sequence(path)


def _predict_parquet(path: Path) -> Any:
    from signcli.data.recordings.read import _read_parquet

    return _read_parquet(path)


def _parquet_sequence_ids(path: Path) -> Any:
    from signcli.data.recordings.asl_fingerspelling import sequence_ids

    return sequence_ids(path)


def _kaggle_index(path: Path) -> Any:
    from signcli.importers._kaggle import read_index

    return read_index(path.parent, path.name, ("path",), "a Kaggle folder")


def _sign_map(path: Path) -> Any:
    from signcli.importers.asl_signs import read_class_map

    return read_class_map(path.parent)


def _log_csv(path: Path) -> Any:
    from signcli.engine.callbacks import CsvLogHook

    return CsvLogHook(path)._rows_until(1)


READERS: dict[str, tuple[str, Callable[[Path], Any]]] = {
    "tokenizer": ("tokenizer.json", _tokenizer),
    "manifest": ("signcli-dataset.json", _manifest),
    "metrics": ("metrics.jsonl", _metrics),
    "checkpoint": ("best.pt", _checkpoint),
    "settings": ("exp.yaml", _settings),
    "index": ("train_index.csv", _index),
    "meta": ("meta.csv", _meta),
    "import --labels": ("labels.csv", _import_labels),
    "openpose frame": ("v_000000000000_keypoints.json", _openpose_frame),
    "pose file": ("a.pose", _pose_header),
    "npy source": ("a.npy", _npy_source),
    "parquet source": ("a.parquet", _parquet_source),
    "predict's parquet": ("a.parquet", _predict_parquet),
    "parquet sequence ids": ("a.parquet", _parquet_sequence_ids),
    "kaggle index": ("train.csv", _kaggle_index),
    "sign map": ("sign_to_prediction_index_map.json", _sign_map),
    "--log-csv": ("log.csv", _log_csv),
}


@pytest.mark.parametrize("name", list(READERS))
def test_a_fifo_is_refused_or_reported_without_blocking(name: str, tmp_path: Path) -> None:
    filename, read = READERS[name]
    path = fifo(tmp_path / filename)
    with no_hang(60):  # generous: the first reader of a kind imports torch or pandas
        try:
            result = read(path)
        except (UsageError, OSError) as exc:
            message = str(exc)
        else:
            assert isinstance(result, str), f"{name} read a FIFO as {result!r}"
            message = result
    assert "is a FIFO, not a regular file" in message


def test_a_csv_of_too_many_cells_is_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A labels CSV within the byte bound but of millions of tiny cells cost gigabytes once
    parsed; the cells are counted as the file streams by."""
    monkeypatch.setenv("SIGNCLI_MAX_TABLE_CELLS", "50")
    path = tmp_path / "labels.csv"
    path.write_text("id,label\n" + "".join(f"s{i},a\n" for i in range(30)))
    with pytest.raises(FileTooLarge, match=r"more than 50 cells.*SIGNCLI_MAX_TABLE_CELLS"):
        _import_labels(path)

    from signcli.data.labels import read_labels

    (problem,) = read_labels(path).problems
    assert problem.kind == "labels_too_large" and "SIGNCLI_MAX_TABLE_CELLS" in problem.message
    monkeypatch.setenv("SIGNCLI_MAX_TABLE_CELLS", "100")
    assert len(_import_labels(path)) == 30  # within the bound: read as before


def test_open_table_returns_the_handle_at_the_start_in_text_mode(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("file,text\ns1,hello\n", encoding="utf-8")
    with open_table(path, "text file", "r", encoding="utf-8", newline="") as handle:
        assert handle.read() == "file,text\ns1,hello\n"


def test_json_documents_are_bounded_in_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNCLI_MAX_JSON_BYTES", "100")
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps({"pad": "x" * 200}))
    with pytest.raises(FileTooLarge, match=r"tokenizer file .* is 2\d\d bytes.*MAX_JSON_BYTES"):
        _tokenizer(path)
    with pytest.raises(OSError, match="MAX_JSON_BYTES"):
        _openpose_frame(path)

    from signcli.text.tokenizer import TextTokenizer

    with pytest.raises(UsageError, match="its length is 300.*MAX_JSON_BYTES"):
        TextTokenizer.from_json("x" * 300, source="best.pt: tokenizer")


def test_text_that_is_not_utf8_names_the_line_not_the_content(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(b'{"a": 1,\n"secret": "\xff\xfe"}')
    with pytest.raises(UsageError) as caught:
        read_input_text(path, "dataset manifest", limit=_bound())
    assert str(caught.value).startswith(f"{path}:2: dataset manifest is not UTF-8 text")
    assert "secret" not in str(caught.value)


def _bound():
    from signcli.core.limits import MAX_JSON_BYTES

    return MAX_JSON_BYTES


def test_an_npy_source_whose_header_claims_more_than_it_holds_is_a_reason(tmp_path: Path) -> None:
    """numpy allocates what the header declares before reading: 100 bytes could ask for
    terabytes."""
    path = tmp_path / "a.npy"
    np.save(path, np.zeros((2, 3), np.float32))
    data = path.read_bytes().replace(b"(2, 3)", b"(10000000, 100000)".ljust(6))
    header_end = data.index(b"\n") + 1
    path.write_bytes(data[:header_end] + b"\0" * 24)
    reason = _npy_source(path)
    assert isinstance(reason, str) and "declares 4,000,000,000,000 bytes" in reason
    assert len(reason) < 300


def test_an_npy_source_that_is_fine_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    np.save(path, np.arange(6, dtype=np.float32).reshape(2, 3))
    assert np.array_equal(_npy_source(path), np.arange(6, dtype=np.float32).reshape(2, 3))


def test_a_folder_given_as_a_checkpoint_is_named(tmp_path: Path) -> None:
    (tmp_path / "best.pt").mkdir()
    with pytest.raises(UsageError, match="is a folder, not a regular file"):
        _checkpoint(tmp_path / "best.pt")
    assert not os.path.exists(tmp_path / "best.pt" / "x")


def test_a_fifo_where_a_split_folder_belongs_is_named(tmp_path: Path) -> None:
    """issue 23: it read "val folder ... does not exist"."""
    from signcli.core.files import folder_problem
    from signcli.data.npz_split import load_npz_split

    fifo(tmp_path / "val")
    assert folder_problem(tmp_path / "val") == "is a FIFO, not a folder"
    assert folder_problem(tmp_path / "nothing") == "does not exist"
    assert folder_problem(tmp_path) is None
    with pytest.raises(UsageError, match=r"val folder .*val is a FIFO, not a folder"):
        load_npz_split("val", tmp_path / "val", None)
