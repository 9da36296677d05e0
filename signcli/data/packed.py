"""Packed dataset caches: every sample of a split in one file, memory-mapped by each process.

The first run on a dataset folder (`data.cache` mmap, or auto beyond AUTO_MMAP_BYTES)
reads and checks every file once and writes them into one cache file; later runs, and
every DataLoader worker, map that file instead of reading thousands of small ones. Pages
are read from the page cache on demand and released every window of bytes served, so the
resident memory of a run stays flat however large the dataset is (docs/architecture.md,
"Dataset caches"). Torch-free.

File layout (little-endian):

    0      MAGIC (8 bytes), header length H (uint64)
    16     header: JSON, H bytes (format, fingerprint, count, frames, width, streams, ...)
    4096   offsets: int64 [count + 1], sample i is rows offsets[i]:offsets[i+1]
    64-aligned after the offsets: data, float32 [frames, width] (streams side by side)

A cache is found by the fingerprint of its source files (names, sizes and mtimes, stat'ed
without reading them, plus the array key and the layout), written under a temp name and
renamed (a crash or a second run building the same cache never leaves half a file under
the real name), and checked on open (magic, format, the header's checksum, fingerprint,
count, dtype, size, offsets and their checksum). A file that fails a check is rebuilt with
a warning, never used. The data bytes themselves are trusted once the rename made the file
whole: checking them would read the whole set at every start.
"""

from __future__ import annotations

import errno
import json
import mmap
import os
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from signcli.core.cores import available_cores
from signcli.core.errors import DiskError, excerpt
from signcli.core.files import FOLDER, open_input, path_kind

FORMAT = 2  # 2: the header carries its own checksum (header_crc32)
MAGIC = b"SIGNPACK"
HEADER_AT = 16
OFFSETS_AT = 4096  # the JSON header must fit before this (it holds no per-sample data)
ALIGN = 64
DTYPE = "<f4"
SUFFIX = ".pack"
CACHE_ENV = "SIGNCLI_CACHE_DIR"
# auto: a split whose files hold more bytes than this is memory-mapped; a smaller one is
# read into memory (quicker to read than to pack, and small next to the model's own memory)
AUTO_MMAP_BYTES = 1024**3
# Pages of the mapping are given back to the kernel (they stay in the page cache) after a
# process has been served a window of bytes, so its RSS does not grow to the dataset's
# size. The window (`release_window`) is a RELEASE_SHARE of the set's values (a window of
# 256 MiB kept 372 MiB more resident on a 381 MiB set than on a 19 MiB one), at least
# RELEASE_MIN_BYTES (each release walks the whole mapping: a few hundred a 100k-sample
# epoch at most) and at most RELEASE_BYTES or a MEMORY_SHARE of the memory available.
RELEASE_BYTES = 256 * 1024**2
RELEASE_MIN_BYTES = 16 * 1024**2
RELEASE_SHARE = 16
MEMORY_SHARE = 64
MEMINFO = Path("/proc/meminfo")
READ_CHUNK = 256  # samples per task of a parallel build
MIN_PARALLEL = 512  # below this, process start-up costs more than it saves

# Read one chunk of samples: for each, its streams {name: [T, D] float32} or None and why not
ChunkReader = Callable[[Sequence[Any]], list[tuple[dict[str, np.ndarray] | None, str]]]


class CacheProblem(Exception):
    """A cache file that must not be used: why, for the warning before it is rebuilt."""


def default_cache_dir() -> Path:
    """$SIGNCLI_CACHE_DIR, else $XDG_CACHE_HOME/signcli, else ~/.cache/signcli: outside the
    dataset, which may be read-only or shared by several users."""
    given = os.environ.get(CACHE_ENV)
    if given:
        return Path(given).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "signcli"


def choose_mode(mode: str, total_bytes: int) -> str:
    """`auto` becomes memory up to AUTO_MMAP_BYTES of files, mmap beyond; others stay."""
    if mode != "auto":
        return mode
    return "mmap" if total_bytes > AUTO_MMAP_BYTES else "memory"


def stat_files(paths: Sequence[Path]) -> list[os.stat_result]:
    """One stat per file (no file is opened), in the order of `paths`: through one
    os.scandir of each folder, which spares a path string per file (100k files)."""
    by_folder: dict[Path, dict[str, os.stat_result]] = {}
    out = []
    for path in paths:
        path = Path(path)
        folder = by_folder.get(path.parent)
        if folder is None:
            with os.scandir(path.parent) as entries:
                folder = by_folder[path.parent] = {e.name: e.stat() for e in entries}
        found = folder.get(path.name)
        out.append(found if found is not None else os.stat(path))
    return out


def fingerprint(paths: Sequence[Path], stats: Sequence[os.stat_result], **params: Any) -> str:
    """Hex digest of the files as stat sees them (name, size, mtime) in order, and of
    `params` (key, layout): any change to a file, its name, or the list gives another one.
    A file rewritten with the same size within the file system's mtime resolution is not
    seen; `--cache off` or removing the cache file forces a fresh read."""
    digest = _hasher()
    digest.update(json.dumps({"format": FORMAT, **params}, sort_keys=True).encode())
    for path, st in zip(paths, stats, strict=True):
        name = path.name if isinstance(path, Path) else os.path.basename(path)
        digest.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def source_key(**params: Any) -> str:
    """Hex digest naming the source (folders, key, layout) apart from its contents: the
    caches of one source share it, so a rebuild removes the stale ones."""
    digest = _hasher()
    digest.update(json.dumps(params, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def _hasher() -> Any:
    import hashlib

    return hashlib.blake2b(digest_size=16)


@dataclass
class PackedArrays:
    """The samples of a cache file: `streams(i)` gives read-only views into the mapping.

    Pickles as its path and header (a DataLoader worker started by spawn maps the file
    itself); a forked worker shares the parent's mapping."""

    path: Path
    header: dict[str, Any]
    offsets: np.ndarray  # [count + 1] int64
    data: np.ndarray = field(repr=False)  # [frames, width] float32, read-only
    _map: mmap.mmap | None = field(default=None, repr=False)
    _served: int = field(default=0, repr=False)
    _file: _OpenFile | None = field(default=None, repr=False)  # for the file's current size
    window: int = field(default=RELEASE_BYTES, repr=False)  # bytes served between releases

    @property
    def count(self) -> int:
        return len(self.offsets) - 1

    @property
    def frames(self) -> np.ndarray:
        """[count] frames of each sample, from the offsets alone."""
        return np.diff(self.offsets)

    @property
    def input_dims(self) -> dict[str, int]:
        return {name: stop - start for name, (start, stop) in self.header["streams"].items()}

    def streams(self, index: int) -> dict[str, np.ndarray]:
        self._check_size()
        start, stop = int(self.offsets[index]), int(self.offsets[index + 1])
        rows = self.data[start:stop]
        self._served += rows.nbytes
        if self._served > self.window:
            self.release()
        columns = self.header["streams"]
        if len(columns) == 1:
            return {next(iter(columns)): rows}
        return {name: rows[:, a:b] for name, (a, b) in columns.items()}

    def _check_size(self) -> None:
        """DataError naming the file when it is shorter than its header says: truncated
        while mapped (another job's rebuild, a full disk, a user), a read of the missing
        pages would kill the process with SIGBUS. One fstat a sample, before each read."""
        if self._file is None:
            return
        try:
            size = os.fstat(self._file.fd).st_size
        except OSError as exc:
            size, reason = -1, str(exc)
        else:
            reason = ""
        if size != self.header["size"]:
            from signcli.core.errors import DataError

            found = f"cannot be checked ({reason})" if size < 0 else f"is now {size:,} bytes"
            raise DataError(
                f"cache file {self.path} {found}, but its header says {self.header['size']:,}: "
                "it changed while this run read it (truncated, or rewritten by another job)",
                hint="start the run again (or resume it): the cache is checked and rebuilt "
                "when a run starts",
            )

    def release(self) -> None:
        """Give the mapping's pages back to the kernel: they stay in the page cache, and
        views handed out read them again from there when touched."""
        self._served = 0
        if self._map is not None and hasattr(mmap, "MADV_DONTNEED"):
            try:
                self._map.madvise(mmap.MADV_DONTNEED)
            except OSError:
                pass

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "header": self.header}

    def __setstate__(self, state: dict[str, Any]) -> None:
        opened = open_pack(state["path"], state["header"]["fingerprint"])
        self.__dict__.update(opened.__dict__)


def open_pack(path: Path, expected_fingerprint: str, count: int | None = None) -> PackedArrays:
    """Map the cache file `path`; CacheProblem when it is not a whole, current cache of
    `count` samples with this fingerprint."""
    path = Path(path)
    try:
        handle = open_input(path, "cache file")
    except OSError as exc:  # NotARegularFile too: a FIFO in a shared cache folder
        raise CacheProblem(f"cannot be opened ({exc.strerror or exc})") from None
    try:  # kept open: PackedArrays checks its size before each read (`_check_size`)
        size = os.fstat(handle.fileno()).st_size
        head = handle.read(OFFSETS_AT)
        header = _parse_header(head, size)
        _check_header(header, size, expected_fingerprint, count)
        mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        return _mapped(path, header, mapping, _OpenFile(os.dup(handle.fileno())))
    finally:
        handle.close()


class _OpenFile:
    """A file descriptor kept for `fstat`, closed with the last PackedArrays using it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __del__(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


def _mapped(
    path: Path, header: dict[str, Any], mapping: mmap.mmap, opened: _OpenFile
) -> PackedArrays:
    n = header["count"]
    offsets = np.frombuffer(mapping, dtype="<i8", count=n + 1, offset=OFFSETS_AT)
    if zlib.crc32(offsets.tobytes()) != header["offsets_crc32"]:
        raise CacheProblem("its offsets index does not match its checksum")
    offsets = offsets.astype(np.int64)  # a private copy: 8 bytes a sample
    if offsets[0] != 0 or offsets[-1] != header["frames"] or np.any(np.diff(offsets) < 1):
        raise CacheProblem("its offsets index is not increasing from 0 to its frame count")
    data = np.frombuffer(
        mapping,
        dtype=DTYPE,
        count=header["frames"] * header["width"],
        offset=header["data_at"],
    ).reshape(header["frames"], header["width"])
    window = release_window(data.nbytes)
    return PackedArrays(path, header, offsets, data, mapping, _file=opened, window=window)


def release_window(data_bytes: int, available: int | None = None) -> int:
    """Bytes a process is served from a mapping of `data_bytes` values between two
    releases of its pages (see RELEASE_BYTES): smaller for small sets and small machines."""
    available = available_memory() if available is None else available
    window = max(RELEASE_MIN_BYTES, data_bytes // RELEASE_SHARE)
    return max(1, min(RELEASE_BYTES, available // MEMORY_SHARE, window))


def available_memory(meminfo: Path = MEMINFO) -> int:
    """MemAvailable of /proc/meminfo in bytes (what can be used without swapping); 8 GiB
    where it cannot be read."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 8 * 1024**3


def _parse_header(head: bytes, size: int) -> dict[str, Any]:
    if len(head) < HEADER_AT or head[:8] != MAGIC:
        raise CacheProblem("is not a signcli cache file (no SIGNPACK header)")
    length = int.from_bytes(head[8:16], "little")
    if length > OFFSETS_AT - HEADER_AT:
        raise CacheProblem(f"declares a header of {length:,} bytes")
    try:
        header = json.loads(head[HEADER_AT : HEADER_AT + length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CacheProblem("has a damaged header") from None
    if not isinstance(header, dict):
        raise CacheProblem("has a damaged header")
    return header


def _header_crc32(header: dict[str, Any]) -> int:
    """CRC32 of the header's fields but its own checksum, in one canonical JSON form: a
    damaged stream name or width is refused like damaged offsets."""
    fields = {k: v for k, v in header.items() if k != "header_crc32"}
    return zlib.crc32(json.dumps(fields, sort_keys=True).encode("utf-8"))


def _check_header(
    header: dict[str, Any], size: int, expected_fingerprint: str, count: int | None
) -> None:
    if header.get("format") != FORMAT:
        raise CacheProblem(
            f"has format {excerpt(header.get('format'))}, this signcli writes {FORMAT}"
        )
    if header.get("header_crc32") != _header_crc32(header):
        raise CacheProblem("has a damaged header (it does not match its checksum)")
    if header.get("fingerprint") != expected_fingerprint:
        raise CacheProblem("was built from other files (its fingerprint differs)")
    if header.get("dtype") != DTYPE:
        raise CacheProblem(f"holds dtype {excerpt(header.get('dtype'))}, expected {DTYPE}")
    fields = ("count", "frames", "width", "data_at", "size", "offsets_crc32")
    if not all(isinstance(header.get(k), int) and header[k] >= 0 for k in fields):
        raise CacheProblem("has a damaged header (a size is missing or negative)")
    if count is not None and header["count"] != count:
        raise CacheProblem(f"holds {header['count']:,} samples, the split has {count:,}")
    if not _tiles(header.get("streams"), header["width"]):
        raise CacheProblem("has a damaged header (its streams do not tile its width)")
    expected_size = header["data_at"] + header["frames"] * header["width"] * 4
    if header["data_at"] < OFFSETS_AT + 8 * (header["count"] + 1):
        raise CacheProblem("has a damaged header (data overlaps the offsets)")
    if header["size"] != expected_size or size != expected_size:
        raise CacheProblem(
            f"is {size:,} bytes, its header says {header['size']:,} (expected "
            f"{expected_size:,}): truncated or damaged"
        )


def _tiles(streams: Any, width: int) -> bool:
    """Whether `streams` ({name: [start, stop]}) are non-empty column ranges that follow
    each other from 0 to `width`."""
    if not isinstance(streams, dict) or not streams:
        return False
    edge = 0
    for span in streams.values():
        if not (isinstance(span, list) and len(span) == 2 and all(type(v) is int for v in span)):
            return False
        if span[0] != edge or span[1] <= edge:
            return False
        edge = span[1]
    return edge == width


@dataclass
class BuildResult:
    """What a build found: the cache (None when a sample failed) and the failures, as
    (index, why) for unreadable samples and per-sample widths for the caller's messages."""

    pack: PackedArrays | None
    failures: list[tuple[int, str]]
    widths: list[tuple[tuple[str, int], ...]]


def build_pack(
    path: Path,
    fingerprint_: str,
    items: Sequence[Any],
    read_chunk: ChunkReader,
    *,
    workers: int | None = None,
    source: str = "",
) -> BuildResult:
    """Read every item with `read_chunk` (in worker processes for many) and write them into
    a temp file beside `path`, renamed to `path` when every sample was read and all agree
    on their streams' widths. The temp file of a failed or interrupted build is removed.
    DiskError when the cache folder cannot be written."""
    path = Path(path)
    folder = path.parent
    kind = path_kind(folder)
    if kind not in (None, FOLDER):  # it read "File exists" beside the hint "free disk space"
        raise _disk_error(folder, OSError(errno.EEXIST, f"it is {kind}, not a folder"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _disk_error(folder, exc) from exc
    _remove_dead_temps(folder)
    tmp = folder / f"{path.name}.{_host()}.{os.getpid()}.tmp"
    count = len(items)
    data_at = _align(OFFSETS_AT + 8 * (count + 1))
    offsets = np.zeros(count + 1, dtype=np.int64)
    failures: list[tuple[int, str]] = []
    widths: list[tuple[tuple[str, int], ...]] = []
    first: tuple[tuple[str, int], ...] | None = None
    try:
        with open(tmp, "wb") as out:
            out.seek(data_at)
            frames = 0
            for index, (streams, why) in enumerate(_read_all(items, read_chunk, workers)):
                if streams is None:
                    failures.append((index, why))
                    widths.append(())
                    offsets[index + 1] = frames
                    continue
                shape = tuple((name, int(a.shape[1])) for name, a in streams.items())
                widths.append(shape)
                first = shape if first is None else first
                if failures or shape != first:  # nothing more worth writing
                    offsets[index + 1] = frames
                    continue
                rows = np.concatenate(list(streams.values()), axis=1, dtype=DTYPE)
                out.write(np.ascontiguousarray(rows).tobytes())
                frames += rows.shape[0]
                offsets[index + 1] = frames
            if failures or any(w != first for w in widths):
                out.close()
                _remove_quietly(tmp)
                return BuildResult(None, failures, widths)
            assert first is not None
            columns, start = {}, 0
            for name, width in first:
                columns[name] = [start, start + width]
                start += width
            header = {
                "format": FORMAT,
                "fingerprint": fingerprint_,
                "count": count,
                "frames": frames,
                "width": start,
                "dtype": DTYPE,
                "streams": columns,
                "data_at": data_at,
                "size": data_at + frames * start * 4,
                "offsets_crc32": zlib.crc32(offsets.astype("<i8").tobytes()),
                "source": source[:1000],
            }
            header["header_crc32"] = _header_crc32(header)
            encoded = json.dumps(header).encode("utf-8")
            out.seek(OFFSETS_AT)
            out.write(offsets.astype("<i8").tobytes())
            out.seek(0)
            out.write(MAGIC + len(encoded).to_bytes(8, "little") + encoded)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _remove_quietly(tmp)
        raise _disk_error(folder, exc) from exc
    except BaseException:
        _remove_quietly(tmp)
        raise
    return BuildResult(open_pack(path, fingerprint_, count), [], widths)


def _read_all(
    items: Sequence[Any], read_chunk: ChunkReader, workers: int | None
) -> Iterator[tuple[dict[str, np.ndarray] | None, str]]:
    """The samples in order, read by `workers` processes a window of chunks at a time, so
    that the build holds a few chunks in memory, not the dataset."""
    chunks = [items[i : i + READ_CHUNK] for i in range(0, len(items), READ_CHUNK)]
    workers = workers if workers is not None else available_cores().count
    if workers <= 1 or len(items) < MIN_PARALLEL:
        for chunk in chunks:
            yield from read_chunk(chunk)
        return
    window = 2 * workers
    with ProcessPoolExecutor(max_workers=min(workers, len(chunks))) as pool:
        for start in range(0, len(chunks), window):
            for part in pool.map(read_chunk, chunks[start : start + window]):
                yield from part


def open_or_build(
    folder: Path,
    source: str,
    fingerprint_: str,
    items: Sequence[Any],
    read_chunk: ChunkReader,
    *,
    workers: int | None = None,
    description: str = "",
) -> tuple[BuildResult, list[str]]:
    """The cache of these items: mapped when a whole, current one exists, else built (and
    the caches of older versions of the same source removed). Also the warnings to show:
    a cache that failed its checks, or that the source changed since the last build."""
    path = cache_path(folder, source, fingerprint_)
    warnings: list[str] = []
    if path.exists():
        try:
            return BuildResult(open_pack(path, fingerprint_, len(items)), [], []), warnings
        except CacheProblem as problem:
            warnings.append(f"dataset cache {path} {problem}: rebuilding it")
    else:
        stale = stale_caches(folder, source, path)
        if stale:
            warnings.append(
                f"{description or 'the data'} changed since its cache {stale[0].name} was "
                "built: rebuilding it"
            )
    result = build_pack(path, fingerprint_, items, read_chunk, workers=workers, source=description)
    if result.pack is not None:
        for old in stale_caches(folder, source, path):
            _remove_quietly(old)
    return result, warnings


def cache_path(folder: Path, source: str, fingerprint_: str) -> Path:
    return Path(folder) / f"{source}-{fingerprint_}{SUFFIX}"


def stale_caches(folder: Path, source: str, keep: Path) -> list[Path]:
    """Cache files of the same source but other contents (older versions of the folder)."""
    try:
        return sorted(p for p in Path(folder).glob(f"{source}-*{SUFFIX}") if p != keep)
    except OSError:
        return []


def _remove_dead_temps(folder: Path) -> None:
    """Temp files of builds on this host whose process is gone (killed mid-build); those of
    other hosts (a cache folder on a shared file system) are left to them."""
    for tmp in folder.glob(f"*{SUFFIX}.{_host()}.*.tmp"):
        pid = tmp.name.rsplit(".", 2)[-2]
        if pid.isdigit() and not _alive(int(pid)):
            _remove_quietly(tmp)


def _host() -> str:
    """This machine, as a short digest (a temp file's name says which host writes it)."""
    import socket

    return source_key(host=socket.gethostname())[:8]


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def _remove_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _disk_error(folder: Path, exc: OSError) -> DiskError:
    return DiskError(
        f"could not write the dataset cache in {folder}: {exc.strerror or exc}",
        hint=f"free disk space, set {CACHE_ENV} or data.cache_dir to a writable folder, "
        "or pass --cache memory (or off)",
    )
