"""Hostile sample files, built here: each is a finding naming the file (validate-npz goes on
to the next file and exits 1; training stops naming it, exit 2), found from the zip
directory and the .npy header before anything is allocated, decompressed or unpickled."""

from __future__ import annotations

import struct
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from signcli.cli import app
from signcli.core.errors import DataError
from signcli.core.limits import MAX_SAMPLE_BYTES
from signcli.data.npz import COMPRESSION_FREE_BYTES, check_npz, check_stream_file
from signcli.data.npz_split import load_npz_split
from signcli.data.validate import validate_path

PEAK_BYTES = 16 * 1024**2  # what checking one hostile file may allocate at most


def npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    """A version 1.0 .npy header declaring `shape` (any size: nothing follows it)."""
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}".encode()
    text += b" " * (63 - (10 + len(text)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


def write_huge_shape(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:  # 4 EB declared, 64 bytes present
        archive.writestr("X.npy", npy_header((10**12, 10**6)) + bytes(64))


def write_zip_bomb(path: Path) -> None:
    """A member that inflates to 80 MiB of zeros from ~80 kB (ratio ~1,000)."""
    size = COMPRESSION_FREE_BYTES + 16 * 1024**2
    T = size // (4 * 16)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("X.npy", "w") as member:
            member.write(npy_header((T, 16)))
            chunk = bytes(1024**2)
            for _ in range(size // len(chunk)):
                member.write(chunk)


def write_object_array(path: Path) -> None:
    np.savez(path, X=np.array([[{"a": 1}, None]], dtype=object))  # a pickle inside


def write_float64_overflow(path: Path) -> None:
    array = np.ones((5, 6))
    array[1, 2] = 1e300
    array[3, 4] = -1e39
    np.savez(path, X=array)


def write_text(path: Path) -> None:
    path.write_text("file,gloss\nthis is a CSV, not an npz\n")


def write_truncated_member(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:  # declares [1000, 6] float32, holds 40 bytes
        archive.writestr("X.npy", npy_header((1000, 6)) + bytes(40))


def raw_header(text: bytes) -> bytes:
    """A version 1.0 .npy header holding `text` as is (not necessarily a Python literal)."""
    text += b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


def write_unbalanced_header(path: Path) -> None:
    # found by tests/fuzz: numpy's header tokenizer raised TokenError, which escaped
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("X.npy", raw_header(b")"))


def write_unhashable_header(path: Path) -> None:
    # found by tests/fuzz: numpy's literal evaluation of the header raised TypeError
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("X.npy", raw_header(b"{[1]: 2}"))


HOSTILE = {  # writer -> (kind, words of the message)
    write_huge_shape: ("too_large", "declares shape (1000000000000, 1000000) of float32"),
    write_zip_bomb: ("too_large", "refused without decompressing"),
    write_object_array: ("pickled", "holds Python objects"),
    write_float64_overflow: ("range", "2 value(s) beyond float32 range"),
    write_text: ("unreadable", "not a zip archive, so not an .npz: the file starts with b'file"),
    write_truncated_member: ("unreadable", "truncated"),
    write_unbalanced_header: ("unreadable", "invalid .npy header: EOF in multi-line statement"),
    write_unhashable_header: ("unreadable", "invalid .npy header: unhashable type"),
}


@pytest.mark.parametrize("write", HOSTILE, ids=lambda w: w.__name__)
def test_each_hostile_file_is_one_error_found_cheaply(write, tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    write(path)
    tracemalloc.start()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning or ComplexWarning escapes
        check, array = check_npz(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    kind, words = HOSTILE[write]
    assert array is None
    assert [(p.kind, p.severity) for p in check.problems] == [(kind, "error")]
    assert words in check.problems[0].message
    assert "allow_pickle" not in check.problems[0].message
    assert peak < PEAK_BYTES


def test_complex_values_beyond_float32(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    np.savez(path, X=np.full((3, 6), 1e300 + 1j))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check, array = check_npz(path)
    assert array is None
    assert {(p.kind, p.severity) for p in check.problems} == {
        ("dtype", "warning"),
        ("range", "error"),
    }
    assert not any("infinite" in p.message for p in check.problems)


@pytest.mark.parametrize("shape", [(5, 0), (0, 0), (0, 6)])
def test_an_empty_array_is_an_error_without_a_numpy_warning(tmp_path: Path, shape) -> None:
    # found by tests/fuzz: [5, 0] passed validation (training ran on no columns) and
    # numpy warned "Mean of empty slice" computing its NaN share
    path = tmp_path / "e.npz"
    np.savez(path, X=np.zeros(shape, np.float16))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check, array = check_npz(path)
    assert array is None and check.nan_share == 0.0
    messages = [p.message for p in check.problems if p.kind == "empty"]
    expected = ["X has T = 0 frames"] * (shape[0] == 0) + ["X has D = 0 columns"] * (shape[1] == 0)
    assert messages == expected


def test_real_inf_is_still_called_infinite(tmp_path: Path) -> None:
    path = tmp_path / "i.npz"
    array = np.ones((3, 6))
    array[0, 0], array[1, 1] = np.inf, 1e300
    np.savez(path, X=array)
    messages = {p.kind: p.message for p in check_npz(path)[0].problems}
    assert "1 infinite value(s)" in messages["inf"]
    assert "1 value(s) beyond float32 range" in messages["range"]


def test_the_sample_limit_also_reads_the_zip_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.npz"
    np.savez(path, X=np.ones((100, 600), np.float32))  # 240 kB
    monkeypatch.setenv(MAX_SAMPLE_BYTES.env, "100000")
    problem = check_npz(path)[0].problems[0]
    assert problem.kind == "too_large" and MAX_SAMPLE_BYTES.env in problem.message
    monkeypatch.setenv(MAX_SAMPLE_BYTES.env, str(10**6))
    assert check_npz(path)[0].ok


def test_hostile_npy_stream_files(tmp_path: Path) -> None:
    huge = tmp_path / "pose.npy"
    huge.write_bytes(npy_header((10**9, 10**9)) + bytes(16))
    assert check_stream_file(huge)[0].problems[0].kind == "too_large"
    short = tmp_path / "face.npy"
    short.write_bytes(npy_header((10, 6)) + bytes(16))
    assert "truncated" in check_stream_file(short)[0].problems[0].message
    objects = tmp_path / "hand_l.npy"
    np.save(objects, np.array([[None]], dtype=object))
    assert check_stream_file(objects)[0].problems[0].kind == "pickled"
    text = tmp_path / "hand_r.npy"
    text.write_text("x,y\n1,2\n")
    assert "starts with b'x,y" in check_stream_file(text)[0].problems[0].message
    for header in (b")", b"{[1]: 2}", b"[" * 300):  # not a Python literal
        broken = tmp_path / "pose.npy"
        broken.write_bytes(raw_header(header))
        [problem] = check_stream_file(broken)[0].problems
        assert problem.kind == "unreadable" and "not a readable .npy file" in problem.message


def _split_with(folder: Path, write) -> Path:
    folder.mkdir()
    rows = ["file,gloss"]
    for i in range(4):
        np.savez(folder / f"s{i}.npz", X=np.ones((5, 6), np.float32))
        rows.append(f"s{i},{i % 2}")
    write(folder / "s2.npz")
    labels = folder.parent / "labels.csv"
    labels.write_text("\n".join(rows) + "\n")
    return labels


def test_validation_names_the_file_and_goes_on(tmp_path: Path) -> None:
    labels = _split_with(tmp_path / "train", write_huge_shape)
    np.savez(tmp_path / "train" / "s3.npz", X=np.ones((5, 6), np.float32) * np.inf)
    report = validate_path(tmp_path / "train", labels, workers=1)
    kinds = {(f.file, f.kind) for f in report.splits[0].errors}
    assert kinds == {("s2.npz", "too_large"), ("s3.npz", "inf")}  # the next file was checked
    result = CliRunner().invoke(
        app, ["validate-npz", str(tmp_path / "train"), "--labels", str(labels)]
    )
    assert result.exit_code == 1 and "s2.npz" in result.stdout
    assert "unexpected" not in result.output


@pytest.mark.parametrize("write", HOSTILE, ids=lambda w: w.__name__)
def test_training_refuses_naming_the_file(write, tmp_path: Path) -> None:
    labels = _split_with(tmp_path / "train", write)
    with pytest.raises(DataError, match=r"s2\.npz") as caught:
        load_npz_split("train", tmp_path / "train", labels, workers=1)
    assert caught.value.exit_code == 2
    assert "allow_pickle" not in str(caught.value)


def test_a_file_rewritten_to_another_width_mid_run_is_a_named_data_error(
    tmp_path: Path,
) -> None:
    """issue 23: with data.cache off each epoch reads the files again; one rewritten with
    another width under the running job crashed in collate, now a DataError naming it."""
    folder = tmp_path / "train"
    folder.mkdir()
    for i in range(3):
        np.savez(folder / f"s{i}.npz", X=np.ones((4, 6), np.float32))
    labels = tmp_path / "train_labels.csv"
    labels.write_text("file,gloss\n" + "".join(f"s{i},{i}\n" for i in range(3)))
    split = load_npz_split("train", folder, labels, cache="off", workers=1)
    assert split.dataset[1].streams  # epoch 1 reads it as it was
    np.savez(folder / "s1.npz", X=np.ones((4, 9), np.float32))
    assert split.dataset.cache is None  # cache off: the next epoch reads the file again
    with pytest.raises(DataError, match=r"s1\.npz: X is 9 wide, but the split's files are 6 wide"):
        split.dataset[1]
