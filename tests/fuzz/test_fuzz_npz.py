"""Fuzz the sample files: random bytes named `.npz`, zips holding random `.npy` headers and
bodies, random arrays of every dtype and rank, and valid files with bytes flipped or cut.

`check_npz` and `check_stream_file` (what validate-npz and training read a sample with)
must report every problem as a finding, never raise or warn, and return a float32 [T, D]
array exactly when there is no error; `validate-npz` must exit 0 or 1 on a file and 0, 1 or
2 on a folder with a fuzzed labels CSV, in bounded memory and time (each example runs in a
child process capped at 1 GiB more than it had: a header that declares terabytes must be
refused, not allocated), and never write beside its input."""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.fuzz.harness import Sandbox, fuzz, invoke, run_bounded

# property-based fuzzing of a reader or command: the full lane runs it
pytestmark = pytest.mark.slow

NPY_MAGIC = b"\x93NUMPY"
ZIP_HEADS = [b"", b"PK\x03\x04", b"PK\x05\x06", NPY_MAGIC + b"\x01\x00", b"PK\x03\x04\x14\x00"]
KEYS = ["X", "X2048", "x", "pose", "X.npy"]
FINDING_KINDS = {
    "unreadable", "missing_key", "too_large", "pickled", "rank", "dtype", "empty", "width",
    "range", "inf", "nan",
}  # fmt: skip

# dtypes written in .npy headers, the odd ones included
DESCRS = [
    "<f4", ">f4", "<f8", ">f8", "<f2", "<f16", "<c8", ">c16", "|b1", "|i1", "<i8", ">u2", "<u8",
    "|O", "<U3", "|S0", "|S4", "|V0", "|V8", "<M8[s]", "<m8[ns]", "<M8", "f4", "float32", "?",
    "[('a', '<f4'), ('b', '<i2')]", "[('a', '<f4', (2,))]", "<f4 ", "<q", "zz", "", "<f3",
]  # fmt: skip

dims = st.integers(0, 8) | st.integers(-3, 3) | st.sampled_from([10**6, 2**31, 2**62, 10**12])
shapes = st.lists(dims, max_size=4).map(tuple)


@st.composite
def npy_bytes(draw: st.DrawFn) -> bytes:
    """An `.npy` stream with a random (mostly well-formed) header and a random body."""
    version = draw(
        st.sampled_from([(1, 0), (2, 0), (3, 0)])
        | st.tuples(st.integers(0, 255), st.integers(0, 255))
    )
    descr, shape = None, None
    if draw(st.integers(0, 4)):
        descr = draw(st.sampled_from(DESCRS) | st.text(max_size=8))
        fortran = draw(st.booleans() | st.sampled_from([0, 1, None, "False"]))
        shape = draw(shapes | st.sampled_from([None, 5, "(3, 4)", (1.5, 2), [2, 3], (True, 1)]))
        entries = {"descr": descr, "fortran_order": fortran, "shape": shape}
        if draw(st.booleans()):
            entries.pop(draw(st.sampled_from(sorted(entries))))
        if draw(st.integers(0, 5)) == 0:
            entries["extra"] = 1
        body = "{" + ", ".join(f"{k!r}: {v!r}" for k, v in entries.items()) + ", }"
        if descr.startswith("["):  # a structured dtype is written as a list, not a string
            body = body.replace(repr(descr), descr)
    else:
        body = draw(st.text(max_size=120))
    header = body.encode("utf-8" if version[0] >= 3 else "latin-1", errors="replace")
    header += b" " * draw(st.integers(0, 70)) + b"\n"
    length = len(header)
    if draw(st.integers(0, 6)) == 0:
        length = draw(st.integers(0, 2**16 - 1))
    size = struct.pack("<H", length % 2**16) if version[0] < 2 else struct.pack("<I", length)
    payload = draw(st.binary(max_size=600))
    if draw(st.booleans()):  # as many bytes as a small declared shape needs, or one fewer
        try:
            need = int(np.prod(shape)) * np.dtype(descr).itemsize
        except Exception:  # noqa: BLE001 - a header that is not one
            need = -1
        if 0 <= need <= 4096:
            payload = bytes(max(need - draw(st.integers(0, 1)), 0))
    return NPY_MAGIC + bytes(version) + size + header + payload


@st.composite
def zipped(draw: st.DrawFn, member: st.SearchStrategy[bytes]) -> bytes:
    """An npz archive holding one or two members (stored or deflated)."""
    buffer = io.BytesIO()
    compression = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    names = draw(
        st.lists(
            st.sampled_from(["X.npy", "X2048.npy", "X", "Y.npy", "dir/X.npy"]),
            min_size=1,
            max_size=2,
            unique=True,
        )
    )
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name in names:
            archive.writestr(name, draw(member))
    return buffer.getvalue()


float_dtypes = (
    hnp.floating_dtypes(sizes=(16, 32, 64, 128), endianness="?")
    | hnp.complex_number_dtypes(endianness="?")
    | hnp.integer_dtypes(endianness="?")
    | hnp.unsigned_integer_dtypes(endianness="?")
    | hnp.boolean_dtypes()
)
odd_dtypes = (
    hnp.datetime64_dtypes()
    | hnp.timedelta64_dtypes()
    | hnp.byte_string_dtypes(max_len=4)
    | hnp.unicode_string_dtypes(max_len=4)
    | hnp.array_dtypes(subtype_strategy=hnp.scalar_dtypes(), max_size=2, allow_subarrays=True)
)
array_shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)
arrays = st.one_of(
    hnp.arrays(float_dtypes, array_shapes),
    hnp.arrays(float_dtypes, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6)),
    hnp.arrays(odd_dtypes, array_shapes),
)


@st.composite
def saved_arrays(draw: st.DrawFn) -> bytes:
    """An npz as numpy writes it: one to three arrays, maybe compressed, maybe Fortran order,
    now and then an object array (a pickle)."""
    contents = {}
    for key in draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3, unique=True)):
        array = draw(arrays)
        if array.ndim == 2 and draw(st.booleans()):
            array = np.asfortranarray(array)
        if draw(st.integers(0, 12)) == 0:
            array = np.array([[None, {"a": 1}]], dtype=object)
        contents[key] = array
    buffer = io.BytesIO()
    save = np.savez_compressed if draw(st.booleans()) else np.savez
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy's note on format 3.0 (unicode field names)
        save(buffer, **contents)
    return buffer.getvalue()


def _valid_npz(T: int = 4, D: int = 6) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, X=np.arange(T * D, dtype=np.float32).reshape(T, D))
    return buffer.getvalue()


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A valid npz with bytes flipped, cut off or inserted."""
    data = bytearray(_valid_npz(draw(st.integers(1, 6)), draw(st.integers(1, 9))))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "cut", "insert", "set"]))
        if action == "flip":
            data[where] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del data[where:]
            if not data:
                break
        elif action == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=8))
        else:
            data[where] = draw(st.sampled_from([0, 0xFF, 0x7F, 0x80]))
    return bytes(data)


any_npz = st.one_of(
    st.tuples(st.sampled_from(ZIP_HEADS), st.binary(max_size=300)).map(b"".join),
    zipped(npy_bytes()),
    saved_arrays(),
    damaged(),
)


def _checked(path: Path, key: str, dim: int | None, stream: bool = False) -> str:
    """The library property, in the bounded child: findings, never an exception or a
    warning; an array exactly when nothing is an error, float32 [T, D] without Inf."""
    from signcli.data.npz import check_npz, check_stream_file

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning or ComplexWarning escapes
        check, array = check_stream_file(path, dim) if stream else check_npz(path, key, dim)
    kinds = {p.kind for p in check.problems}
    assert kinds <= FINDING_KINDS, kinds
    assert all(isinstance(p.message, str) and p.message for p in check.problems)
    assert all("allow_pickle" not in p.message for p in check.problems)
    assert (array is None) == (not check.ok), check.problems
    if array is not None:
        assert array.dtype == np.float32 and array.ndim == 2
        assert array.shape == (check.T, check.D)
        assert not np.isinf(array).any()
    return ",".join(sorted(kinds))


@fuzz(30, long=3000)
@given(data=any_npz, key=st.sampled_from(["X", "X2048", "Y"]), dim=st.none() | st.integers(1, 8))
def test_check_npz_reports_every_file_as_findings(
    data: bytes, key: str, dim, tmp_path: Path
) -> None:
    with Sandbox(tmp_path) as box:
        path = box.file("s.npz", data)
        box.freeze()
        run_bounded(lambda: _checked(path, key, dim))


@fuzz(20, long=2000)
@given(data=npy_bytes() | st.binary(max_size=200), dim=st.none() | st.integers(1, 8))
def test_stream_npy_files_report_every_file_as_findings(data: bytes, dim, tmp_path: Path) -> None:
    with Sandbox(tmp_path) as box:
        path = box.file("pose.npy", data)
        box.freeze()
        run_bounded(lambda: _checked(path, "pose", dim, stream=True))


@fuzz(6, long=1000)
@given(data=any_npz)
def test_validate_npz_on_one_file_exits_0_or_1(data: bytes, tmp_path: Path) -> None:
    with Sandbox(tmp_path) as box:
        path = box.file("s.npz", data)
        box.freeze()
        run_bounded(lambda: invoke(["validate-npz", str(path)], codes={0, 1}), fork=True)
