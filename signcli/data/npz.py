"""Read one single-stream sample: an `.npz` file holding `X [T, D]` (or `X2048`, or any key).

One implementation for `validate-npz` (which wants every problem) and for training
(which refuses a file with any error). Torch-free.
NaN means "landmark not detected" and is kept here; Inf is an error, and so are values
beyond float32's range in a wider dtype (they would become Inf).

Files are read without trusting them (docs/robustness.md, "Bad input"): the `.npy` header's shape and
dtype and the zip directory's sizes are checked before a byte is allocated or decompressed
(MAX_SAMPLE_BYTES of signcli/core/limits.py, the compression bounds below), object arrays are
refused unread (nothing is ever unpickled), and a file that is not an npz says what it
starts with.
"""

from __future__ import annotations

import math
import os
import tokenize
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from signcli.core.files import NPZ_SUFFIX, open_input
from signcli.core.limits import MAX_SAMPLE_BYTES

NPY_SUFFIX = ".npy"
FEATURES_KEY = "X2048"
FEATURES_DIM = 2048

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first member, or an empty zip
NPY_MAGIC = b"\x93NUMPY"
HEAD_SHOWN = 16  # bytes of a file that is not an npz shown in the message, to say what it is
MAX_HEADER_BYTES = 10_000  # of an .npy header: numpy's own default bound (a few hundred is usual)
# A compressed member may declare up to COMPRESSION_FREE_BYTES whatever its ratio (a stream
# that is NaN throughout compresses ~300-1,000x and is small); above that, more than
# MAX_COMPRESSION_RATIO times its compressed size is refused unread. Landmarks and CNN
# features compress 1.1-10x; deflate's own ceiling is ~1,032x.
COMPRESSION_FREE_BYTES = 64 * 1024**2
MAX_COMPRESSION_RATIO = 100
# What reading a file that is not what it claims raises (zipfile: RuntimeError for an
# encrypted member, NotImplementedError for an unknown compression)
_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    KeyError,
    RuntimeError,
    NotImplementedError,
    UnicodeDecodeError,
    SyntaxError,
)


@dataclass(frozen=True)
class Problem:
    """One finding about one file: `kind` is a stable short name, `message` is for people."""

    kind: str
    message: str
    severity: str = "error"  # "error" | "warning"


@dataclass
class NpzCheck:
    """What reading one file found: its shape, NaN share and problems."""

    path: Path
    T: int | None = None
    D: int | None = None
    nan_share: float = 0.0
    nan_columns: np.ndarray | None = None  # [D] NaN count per column (for --layout shares)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


class SampleReadError(Exception):
    """A file that training cannot use; carries the problems found."""

    def __init__(self, path: Path, problems: list[Problem]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(p.message for p in problems))


def list_npz_files(folder: Path) -> list[Path]:
    """The `.npz` files of a split folder, sorted by name so that every run sees one order.
    (os.scandir and a sort by name: 100k files list in a fraction of a second, where a
    stat per entry and a sort of Paths took seconds; `Path.suffix` rules: `.npz` alone is
    no suffix, symlinks to files count.)"""
    folder = Path(folder)
    with os.scandir(folder) as entries:
        names = {
            entry.name
            for entry in entries
            if len(entry.name) > len(NPZ_SUFFIX)
            and entry.name[-len(NPZ_SUFFIX) :].lower() == NPZ_SUFFIX
            and entry.is_file()
        }
    # iterdir makes each child Path without parsing it again (folder / name parses)
    return sorted((p for p in folder.iterdir() if p.name in names), key=lambda p: p.name)


def check_npz(
    path: Path, key: str = "X", dim: int | None = None
) -> tuple[NpzCheck, np.ndarray | None]:
    """Read `path[key]` and check it; returns the findings and the float32 array (None on error).

    Nothing the file declares is trusted before it is checked: the member's sizes in the
    zip directory and the shape and dtype in its `.npy` header are read first, and a file
    that would need more than MAX_SAMPLE_BYTES, holds Python objects or is not an npz at
    all is a finding, without decompressing or unpickling anything."""
    check = NpzCheck(Path(path))
    try:
        with open_input(path, "sample file") as handle:
            problem = _not_a_zip(handle.read(HEAD_SHOWN))
            if problem is not None:
                check.problems.append(Problem("unreadable", problem))
                return check, None
            handle.seek(0)
            with zipfile.ZipFile(handle) as archive:
                members = npz_members(archive)
                if key not in members:
                    present = ", ".join(members) or "none"
                    check.problems.append(
                        Problem("missing_key", f"no array {key!r} (keys present: {present})")
                    )
                    return check, None
                info = archive.getinfo(members[key])
                problem = _member_problem(info, key)
                if problem is not None:
                    check.problems.append(problem)
                    return check, None
                with archive.open(info) as member:
                    array = _read_npy(check, member, key, info.file_size)
    except _READ_ERRORS as exc:
        check.problems.append(Problem("unreadable", f"not a readable .npz file ({_reason(exc)})"))
        return check, None
    if array is None:
        return check, None
    return check, check_array(check, array, key, dim)


def npz_members(archive: zipfile.ZipFile) -> dict[str, str]:
    """{key: member name} of an npz archive, as np.load names them (`X.npy` is key `X`)."""
    members: dict[str, str] = {}
    for name in archive.namelist():
        members.setdefault(name[: -len(NPY_SUFFIX)] if name.endswith(NPY_SUFFIX) else name, name)
    return members


def _not_a_zip(head: bytes) -> str | None:
    """Why a file that starts with `head` is not an npz, or None when it may be one."""
    if head.startswith(ZIP_MAGIC):
        return None
    if not head:
        return "an empty file (0 bytes), not an .npz archive"
    if head.startswith(NPY_MAGIC):
        return "a single .npy array, not an .npz archive"
    return f"not a zip archive, so not an .npz: the file starts with {head!r}"


def _member_problem(info: zipfile.ZipInfo, key: str) -> Problem | None:
    """A member that would decompress to more than one sample may be (MAX_SAMPLE_BYTES), or
    far more than its compressed bytes (a zip bomb), judged from the zip directory alone."""
    limit = MAX_SAMPLE_BYTES.value()
    if info.file_size > limit + MAX_HEADER_BYTES:
        return Problem(
            "too_large",
            f"{key} would take {_size(info.file_size)} once read (declared by the zip "
            f"directory), more than one sample may: {MAX_SAMPLE_BYTES.at_most()}",
        )
    compressed = info.compress_type != zipfile.ZIP_STORED
    ratio = info.file_size / max(info.compress_size, 1)
    if compressed and info.file_size > COMPRESSION_FREE_BYTES and ratio > MAX_COMPRESSION_RATIO:
        return Problem(
            "too_large",
            f"{key} declares {_size(info.file_size)} compressed into "
            f"{_size(info.compress_size)} ({ratio:,.0f}x; real samples compress far less): "
            "refused without decompressing (a zip bomb?)",
        )
    return None


def _read_npy(check: NpzCheck, stream: IO[bytes], key: str, available: int) -> np.ndarray | None:
    """The array of an `.npy` stream, its header checked before anything is allocated:
    objects (never unpickled), a rank other than 2, more bytes than MAX_SAMPLE_BYTES or than
    the `available` bytes after the stream's start are findings on `check` (None back)."""
    start = stream.tell()
    version = np.lib.format.read_magic(stream)
    shape, fortran_order, dtype = _read_header(stream, version)
    if dtype.hasobject:
        check.problems.append(
            Problem(
                "pickled",
                f"{key} holds Python objects (dtype {dtype}), which signcli never unpickles; "
                "save the landmarks as a float array",
            )
        )
        return None
    if len(shape) != 2 or any(n < 0 for n in shape):
        check.problems.append(Problem("rank", f"{key} has shape {shape}, expected 2-D [T, D]"))
        return None
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    if nbytes > MAX_SAMPLE_BYTES.value():
        check.problems.append(
            Problem(
                "too_large",
                f"{key} declares shape {shape} of {dtype}, {_size(nbytes)}: "
                f"{MAX_SAMPLE_BYTES.at_most()}",
            )
        )
        return None
    header = stream.tell() - start
    if nbytes > available - header:
        check.problems.append(
            Problem(
                "unreadable",
                f"truncated: {key} declares shape {shape} of {dtype} ({nbytes:,} bytes) but "
                f"the file holds {max(available - header, 0):,} bytes after the header",
            )
        )
        return None
    array = np.empty(count, dtype=dtype)
    view = memoryview(array.view(np.uint8))  # any dtype, byte order included
    filled = 0
    while filled < nbytes:
        got = stream.readinto(view[filled:])
        if not got:
            raise EOFError(f"{key} ends after {filled:,} of {nbytes:,} bytes")
        filled += got
    if fortran_order:
        return array.reshape(shape[::-1]).transpose()
    return array.reshape(shape)


def _read_header(
    stream: IO[bytes], version: tuple[int, int]
) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran order, dtype) of an `.npy` header, bounded to MAX_HEADER_BYTES.
    ValueError for a header that is not one, whatever numpy's parser raised."""
    if version == (1, 0):
        read = np.lib.format.read_array_header_1_0
    elif version == (2, 0):
        read = np.lib.format.read_array_header_2_0
    else:
        try:  # version 3.0 (a UTF-8 header) has no public reader
            from numpy.lib._format_impl import _read_array_header
        except ImportError:
            raise ValueError(f".npy format version {version} is not supported") from None

        def read(stream: IO[bytes], max_header_size: int) -> Any:
            return _read_array_header(stream, version, max_header_size=max_header_size)

    try:
        return read(stream, max_header_size=MAX_HEADER_BYTES)
    except (tokenize.TokenError, TypeError) as exc:
        # numpy tokenizes the header text and evaluates it as a Python literal: unbalanced
        # brackets (`)`) raise TokenError, an unhashable key (`{[1]: 2}`) TypeError
        reason = exc.args[0] if exc.args and isinstance(exc.args[0], str) else type(exc).__name__
        raise ValueError(f"invalid .npy header: {reason}") from None


def _reason(exc: BaseException) -> str:
    """One line about why a file could not be read, never numpy's advice to allow pickles."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = lines[0] if lines else type(exc).__name__
    if "pickle" in reason:
        return "it holds pickled Python objects, which signcli never loads"
    return reason[:200]


def _size(nbytes: int) -> str:
    """A byte count for people: 2.0 GiB, 3.6 EiB."""
    value = float(nbytes)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024:
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} EiB"


def check_array(
    check: NpzCheck, array: np.ndarray, key: str = "X", dim: int | None = None
) -> np.ndarray | None:
    """The checks of one loaded array [T, D] (rank, dtype, T = 0, width, Inf, values beyond
    float32, NaN share), recorded on `check`; returns the float32 array, or None when it has
    an error."""
    if array.ndim != 2:
        check.problems.append(
            Problem("rank", f"{key} has shape {tuple(array.shape)}, expected 2-D [T, D]")
        )
        return None
    check.T, check.D = (int(n) for n in array.shape)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        check.problems.append(Problem("dtype", f"{key} has dtype {array.dtype}, expected float"))
        return None
    if np.issubdtype(array.dtype, np.complexfloating):
        check.problems.append(
            Problem(
                "dtype",
                f"{key} has dtype {array.dtype}; its real part is read as float32",
                "warning",
            )
        )
        array = array.real
    elif not np.issubdtype(array.dtype, np.floating):
        check.problems.append(
            Problem("dtype", f"{key} has dtype {array.dtype}; it is read as float32", "warning")
        )
    if check.T == 0:
        check.problems.append(Problem("empty", f"{key} has T = 0 frames"))
    if check.D == 0:  # no model can read a frame of nothing
        check.problems.append(Problem("empty", f"{key} has D = 0 columns"))
    if dim is not None and check.D != dim:
        check.problems.append(Problem("width", f"{key} has width D = {check.D}, expected {dim}"))
    source = array
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
        array = array.astype(np.float32, copy=False)
    if array.size:  # T = 0 or D = 0: nothing to count (numpy warns of an empty mean)
        nan = np.isnan(array)
        check.nan_share = float(nan.mean())
        check.nan_columns = nan.sum(axis=0, dtype=np.int32)
        infinite = np.isinf(array)
        if infinite.any():
            # wider values that float32 cannot hold became Inf in the cast
            beyond = infinite & np.isfinite(source) if source is not array else None
            n_beyond = int(beyond.sum()) if beyond is not None else 0
            n_inf = int(infinite.sum()) - n_beyond
            if n_beyond:
                example = float(source[beyond].flat[0])
                check.problems.append(
                    Problem(
                        "range",
                        f"{key} holds {n_beyond} value(s) beyond float32 range "
                        f"(|x| > {np.finfo(np.float32).max:.3g}, e.g. {example:.3g})",
                    )
                )
            if n_inf:
                check.problems.append(Problem("inf", f"{key} holds {n_inf} infinite value(s)"))
        if check.nan_share > 0:
            check.problems.append(
                Problem("nan", f"{check.nan_share:.1%} of values are NaN (not detected)", "warning")
            )
    return array if check.ok else None


def check_stream_file(path: Path, dim: int | None = None) -> tuple[NpzCheck, np.ndarray | None]:
    """Read one stream file of the multi-stream layout and check it like `check_npz`: a
    `.npy` array, or an `.npz` holding `X` (else its first array)."""
    path = Path(path)
    if path.suffix.lower() == NPZ_SUFFIX:
        try:
            with open_input(path, "sample file") as handle, zipfile.ZipFile(handle) as archive:
                names = list(npz_members(archive))
        except _READ_ERRORS:
            names = []  # check_npz reports why it cannot be read
        key = "X" if "X" in names or not names else names[0]
        return check_npz(path, key, dim)
    check = NpzCheck(path)
    try:
        with open_input(path, "sample file") as handle:
            head = handle.read(HEAD_SHOWN)
            if not head.startswith(NPY_MAGIC):
                reason = (
                    "an .npz archive, not a single .npy array"
                    if head.startswith(ZIP_MAGIC)
                    else f"not a .npy file: it starts with {head!r}"
                )
                check.problems.append(Problem("unreadable", reason))
                return check, None
            handle.seek(0)
            size = os.fstat(handle.fileno()).st_size
            array = _read_npy(check, handle, path.stem, size)
    except _READ_ERRORS as exc:
        check.problems.append(Problem("unreadable", f"not a readable .npy file ({_reason(exc)})"))
        return check, None
    if array is None:
        return check, None
    return check, check_array(check, array, path.stem, dim)


def read_npz_array(path: Path, key: str = "X", dim: int | None = None) -> np.ndarray:
    """The sample's float32 array [T, D] with NaN kept; SampleReadError if it has any error."""
    check, array = check_npz(path, key, dim)
    if array is None:
        raise SampleReadError(Path(path), [p for p in check.problems if p.severity == "error"])
    return array


def read_frames(path: Path, key: str | None = "X") -> int | None:
    """T of the array `key` of an `.npz` (or of an `.npy`), from its `.npy` header alone, for
    length bucketing without reading samples (`data.cache` off); None when the header cannot
    say (reading the sample then reports why). `key` None: an npz's `X`, else its first."""
    try:
        with open_input(path, "sample file") as handle:
            if Path(path).suffix.lower() != NPZ_SUFFIX:
                version = np.lib.format.read_magic(handle)
                shape = _read_header(handle, version)[0]
            else:
                with zipfile.ZipFile(handle) as archive:
                    members = npz_members(archive)
                    if key is None:
                        key = "X" if "X" in members or not members else next(iter(members))
                    with archive.open(members[key]) as member:
                        version = np.lib.format.read_magic(member)
                        shape = _read_header(member, version)[0]
    except _READ_ERRORS:
        return None
    return int(shape[0]) if len(shape) == 2 and shape[0] > 0 else None
