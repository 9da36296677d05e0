"""Packed dataset caches (data/packed.py): what the model sees never depends on data.cache,
a stale or damaged cache is rebuilt with a warning, and a cache is whole or absent."""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from signcli.core.errors import DataError, DiskError
from signcli.data import packed
from signcli.data.multistream import load_multistream_split
from signcli.data.npz_split import load_npz_split, subset_split
from signcli.settings import DataSettings

# a quiet NaN with a payload: bit-equality must keep it, not only "is NaN"
ODD_NAN = struct.unpack("<f", struct.pack("<I", 0x7FC0_1234))[0]


@pytest.fixture
def split_dir(write_split, tmp_path: Path) -> tuple[Path, Path]:
    folder, labels = write_split(tmp_path / "data", "train", 12, T=9, D=6)
    for i, T in ((1, 3), (4, 14)):  # lengths differ, one beyond max_len
        array = np.random.default_rng(i).normal(size=(T, 6)).astype(np.float32)
        array[1, 2] = np.nan
        array.view(np.uint32)[2, 3] = 0x7FC0_1234
        np.savez(folder / f"train_{i:04d}.npz", X=array)
    return folder, labels


def load(split_dir, mode: str, cache_dir: Path, **kwargs):
    folder, labels = split_dir
    return load_npz_split(
        "train", folder, labels, cache=mode, max_len=10, cache_dir=cache_dir, workers=1, **kwargs
    )


def assert_same_samples(a, b) -> None:
    assert len(a.dataset) == len(b.dataset)
    for i in range(len(a.dataset)):
        x, y = a.dataset.raw(i), b.dataset.raw(i)
        assert (x.id, x.targets) == (y.id, y.targets)
        assert x.streams.keys() == y.streams.keys()
        for name in x.streams:
            assert x.streams[name].dtype == y.streams[name].dtype == np.float32
            assert x.streams[name].shape == y.streams[name].shape
            assert x.streams[name].tobytes() == y.streams[name].tobytes(), (i, name)
    assert np.array_equal(a.dataset.lengths(), b.dataset.lengths())


def test_memory_mmap_and_off_give_the_same_bits(split_dir, tmp_path) -> None:
    memory = load(split_dir, "memory", tmp_path / "cache")
    mapped = load(split_dir, "mmap", tmp_path / "cache")
    off = load(split_dir, "off", tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.pack"))) == 1
    assert_same_samples(memory, mapped)
    assert_same_samples(memory, off)
    assert memory.input_dims == mapped.input_dims == off.input_dims == {"x": 6}
    assert mapped.dataset.raw(4).streams["x"].view(np.uint32)[2, 3] != 0  # resampled, kept
    assert mapped.dataset.raw(1).streams["x"].view(np.uint32)[2, 3] == 0x7FC0_1234
    assert list(mapped.dataset.lengths()[:5]) == [9, 3, 9, 9, 10]  # max_len 10
    # a second run maps the file it finds, without a warning
    again = load(split_dir, "mmap", tmp_path / "cache")
    assert again.warnings == [] and again.dataset.raw(0).streams["x"].flags.writeable is False
    assert_same_samples(memory, again)
    # a subset (data.val_fraction) keeps its lengths from the index
    part = subset_split(mapped, [4, 1], "val")
    assert list(part.dataset.lengths()) == [10, 3]


def test_released_pages_and_loader_workers_read_the_same(split_dir, tmp_path, monkeypatch) -> None:
    """Pages handed back to the kernel after every sample (RELEASE_BYTES) read again the
    same, and forked DataLoader workers share the mapping."""
    from torch.utils.data import DataLoader

    from signcli.data.dataset import collate_streams

    monkeypatch.setattr(packed, "RELEASE_BYTES", 1)
    memory = load(split_dir, "memory", tmp_path / "cache")
    mapped = load(split_dir, "mmap", tmp_path / "cache")
    held = [mapped.dataset.raw(i).streams["x"] for i in range(12)]  # views across releases
    assert_same_samples(memory, mapped)
    assert all(
        h.tobytes() == memory.dataset.raw(i).streams["x"].tobytes() for i, h in enumerate(held)
    )
    batches = [
        list(
            DataLoader(split.dataset, batch_size=5, num_workers=workers, collate_fn=collate_streams)
        )
        for split, workers in ((memory, 0), (mapped, 1))
    ]
    for a, b in zip(*batches, strict=True):
        assert (
            a.ids == b.ids and a.streams["x"].numpy().tobytes() == b.streams["x"].numpy().tobytes()
        )


def test_mmap_dataset_pickles_as_its_path(split_dir, tmp_path) -> None:
    """A worker started by spawn maps the file itself: no sample data travels."""
    mapped = load(split_dir, "mmap", tmp_path / "cache")
    blob = pickle.dumps(mapped.dataset)
    data_bytes = mapped.dataset.load.pack.data.nbytes
    assert b"SIGNPACK" not in blob and len(blob) < 2048 + data_bytes // 2
    clone = pickle.loads(blob)
    assert clone.raw(1).streams["x"].tobytes() == mapped.dataset.raw(1).streams["x"].tobytes()
    assert clone.load.pack.path == mapped.dataset.load.pack.path


def test_off_reads_no_sample_up_front(split_dir, tmp_path, monkeypatch) -> None:
    import signcli.data.npz_split as npz_split

    reads = []
    real = npz_split.check_npz
    monkeypatch.setattr(npz_split, "check_npz", lambda *a: reads.append(a) or real(*a))
    off = load(split_dir, "off", tmp_path / "cache")
    lengths = off.dataset.lengths()  # length bucketing: from the .npy headers
    assert len(reads) == 1  # the width of the first file
    assert list(lengths[:5]) == [9, 3, 9, 9, 10]
    assert list(subset_split(off, [4, 1], "val").dataset.lengths()) == [10, 3]  # max_len
    assert len(reads) == 1 and not (tmp_path / "cache").exists()


@pytest.mark.parametrize(
    "damage",
    ["truncate", "magic", "offsets", "fingerprint", "streams", "garbage"],
)
def test_damaged_cache_is_rebuilt_with_a_warning(split_dir, tmp_path, damage) -> None:
    memory = load(split_dir, "memory", tmp_path / "cache")
    load(split_dir, "mmap", tmp_path / "cache")
    (path,) = (tmp_path / "cache").glob("*.pack")
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) - 24]
    elif damage == "magic":
        raw[:8] = b"NOTAPACK"
    elif damage == "offsets":
        raw[packed.OFFSETS_AT + 8 * 3] ^= 0x01
    elif damage == "fingerprint":
        at = raw.index(b'"fingerprint": "') + len(b'"fingerprint": "')
        raw[at] = ord("0") if raw[at] != ord("0") else ord("1")
    elif damage == "streams":
        at = raw.index(b'"x": [0, 6]')
        raw[at : at + 11] = b'"x": [1, 6]'
    else:
        raw[:] = os.urandom(len(raw))
    path.write_bytes(bytes(raw))
    rebuilt = load(split_dir, "mmap", tmp_path / "cache")
    assert len(rebuilt.warnings) == 1
    assert str(path) in rebuilt.warnings[0] and "rebuilding" in rebuilt.warnings[0]
    assert_same_samples(memory, rebuilt)
    assert load(split_dir, "mmap", tmp_path / "cache").warnings == []  # whole again


def test_changed_file_gives_a_new_cache_and_the_old_one_goes(split_dir, tmp_path) -> None:
    folder, _ = split_dir
    load(split_dir, "mmap", tmp_path / "cache")
    (old,) = (tmp_path / "cache").glob("*.pack")
    changed = np.full((5, 6), 7.0, dtype=np.float32)
    np.savez(folder / "train_0002.npz", X=changed)
    later = os.stat(folder / "train_0002.npz").st_mtime_ns + 10**9  # a coarse-mtime file system
    os.utime(folder / "train_0002.npz", ns=(later, later))
    rebuilt = load(split_dir, "mmap", tmp_path / "cache")
    assert len(rebuilt.warnings) == 1 and "changed since its cache" in rebuilt.warnings[0]
    assert np.array_equal(rebuilt.dataset.raw(2).streams["x"], changed)
    assert [p.name for p in (tmp_path / "cache").glob("*.pack")] != [old.name]
    assert len(list((tmp_path / "cache").glob("*.pack"))) == 1


def test_failed_or_interrupted_build_leaves_no_cache(split_dir, tmp_path, monkeypatch) -> None:
    folder, _ = split_dir
    (folder / "train_0005.npz").write_bytes(b"not an npz")
    with pytest.raises(DataError, match=r"train_0005\.npz"):
        load(split_dir, "mmap", tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []

    np.savez(folder / "train_0005.npz", X=np.zeros((4, 6), np.float32))
    calls = []

    def killed(chunk):
        calls.append(chunk)
        raise KeyboardInterrupt

    monkeypatch.setattr("signcli.data.npz_split._read_stream_chunk", lambda c, key: killed(c))
    with pytest.raises(KeyboardInterrupt):
        load(split_dir, "mmap", tmp_path / "cache")
    assert calls and list((tmp_path / "cache").iterdir()) == []


def test_temp_file_of_a_dead_build_is_swept(split_dir, tmp_path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    host = packed._host()
    dead = cache / f"abc-def{packed.SUFFIX}.{host}.999999999.tmp"  # no such pid
    dead.write_bytes(b"half a cache")
    live = cache / f"abc-def{packed.SUFFIX}.{host}.{os.getppid()}.tmp"  # a running build
    live.write_bytes(b"being written")
    other = cache / f"abc-def{packed.SUFFIX}.otherhost.999999999.tmp"  # a shared folder
    other.write_bytes(b"another machine's build")
    load(split_dir, "mmap", cache)  # builds, so sweeps first
    assert not dead.exists() and live.exists() and other.exists()


def test_widths_that_disagree_are_named(split_dir, tmp_path) -> None:
    folder, _ = split_dir
    np.savez(folder / "train_0007.npz", X=np.zeros((4, 9), np.float32))
    with pytest.raises(DataError, match=r"disagree on the width D \(most have 6\): train_0007"):
        load(split_dir, "mmap", tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_file_or_fifo_in_the_cache_folders_place_is_named(split_dir, tmp_path) -> None:
    """issue 23: it read "File exists" beside the hint "free disk space"."""
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "file").write_text("x")
    for name, kind in (("fifo", "a FIFO"), ("file", "a file")):
        with pytest.raises(
            DiskError, match=rf"dataset cache in .*{name}: it is {kind}, not a folder"
        ):
            load(split_dir, "mmap", tmp_path / name)


def test_unwritable_cache_folder(split_dir, tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    with pytest.raises(DiskError, match="could not write the dataset cache") as caught:
        load(split_dir, "mmap", blocker / "cache")
    assert "SIGNCLI_CACHE_DIR" in caught.value.hint
    monkeypatch.setattr(packed, "AUTO_MMAP_BYTES", 0)  # auto would map this split
    fallback = load(split_dir, "auto", blocker / "cache")
    assert "holding the train split in memory" in fallback.warnings[-1]
    assert fallback.dataset.cache is not None and len(fallback.dataset.cache) == 12


def test_auto_picks_by_size(split_dir, tmp_path, monkeypatch) -> None:
    assert load(split_dir, "auto", tmp_path / "cache").dataset.cache is not None  # memory
    assert not (tmp_path / "cache").exists()
    monkeypatch.setattr(packed, "AUTO_MMAP_BYTES", 1000)
    mapped = load(split_dir, "auto", tmp_path / "cache")
    assert mapped.dataset.cache is None and len(list((tmp_path / "cache").glob("*.pack"))) == 1


def test_multistream_memory_and_mmap_give_the_same_bits(tmp_path) -> None:
    from signcli.data.synthetic import write_multistream_dataset

    root = write_multistream_dataset(tmp_path / "ms", n_train=6, n_val=2, num_gloss=3)
    dirs = {s: root / s for s in ("face", "hand_l", "hand_r", "pose")}
    from signcli.data.labels import read_labels

    table = read_labels(root / "labels.csv")

    def split(mode):
        return load_multistream_split(
            "train", dirs, root / "train_index.csv", table, cache=mode, cache_dir=tmp_path / "c"
        )

    memory, mapped, off = split("memory"), split("mmap"), split("off")
    assert_same_samples(memory, mapped)
    assert_same_samples(memory, off)
    assert mapped.input_dims == memory.input_dims and len(mapped.input_dims) == 4
    assert any(np.isnan(mapped.dataset.raw(i).streams["hand_l"]).any() for i in range(6))


@pytest.mark.parametrize(("stored", "mode"), [(True, "memory"), (False, "off"), ("mmap", "mmap")])
def test_cache_setting_reads_old_runs(stored, mode) -> None:
    assert DataSettings(cache=stored).cache == mode
    assert DataSettings().cache == "auto"


def test_a_cache_truncated_while_mapped_is_a_data_error_not_sigbus(split_dir, tmp_path) -> None:
    """issue 23: a cache file cut short under a running job (another job's rebuild, a full
    disk) killed the process with SIGBUS on the next read of a missing page. The size is
    checked before each read. Run in a forked child, so that a SIGBUS fails this test
    instead of killing pytest."""
    mapped = load(split_dir, "mmap", tmp_path / "cache")
    pack = mapped.dataset.load.pack
    last = mapped.dataset.count - 1
    assert mapped.dataset.raw(last).streams  # whole: reads
    os.truncate(pack.path, packed.OFFSETS_AT)  # the header's page alone: every sample is gone
    pack.release()  # drop the pages already read, as RELEASE_BYTES does mid-epoch
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's exit status is the result
        code = 3
        try:
            float(mapped.dataset.raw(last).streams["x"].sum())
        except DataError as exc:
            ok = str(pack.path) in str(exc) and f"is now {packed.OFFSETS_AT:,} bytes" in str(exc)
            code = 0 if ok else 4
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert not os.WIFSIGNALED(status), f"killed by signal {os.WTERMSIG(status)}"
    assert os.WEXITSTATUS(status) == 0  # 3: read without an error; 4: the message


def test_the_release_window_follows_the_set_and_the_machine(tmp_path) -> None:
    MiB, GiB = 1024**2, 1024**3
    window = packed.release_window
    assert window(381 * MiB, available=20 * GiB) == 381 * MiB // 16  # a mid-sized set
    assert window(19 * MiB, available=20 * GiB) == packed.RELEASE_MIN_BYTES  # a small one
    assert window(40 * GiB, available=20 * GiB) == packed.RELEASE_BYTES  # a large one
    assert window(40 * GiB, available=4 * GiB) == 4 * GiB // 64  # a small machine
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24684544 kB\nMemAvailable:   20897172 kB\n")
    assert packed.available_memory(meminfo) == 20897172 * 1024
    assert packed.available_memory(tmp_path / "missing") == 8 * GiB


def test_a_header_damaged_in_a_stream_name_is_refused(tmp_path) -> None:
    """A byte changed inside the header's JSON (a stream called "a" read back as "`", found
    by the cache fuzzer) was used as a cache of other streams: the header checks itself."""
    samples = [
        {"a": np.ones((T, 2), np.float32), "b": np.zeros((T, 3), np.float32)} for T in (3, 4)
    ]
    path = tmp_path / "x.pack"
    built = packed.build_pack(path, "f" * 40, [0, 1], lambda items: [(samples[i], "") for i in items], workers=1)  # fmt: skip
    assert built.pack is not None and built.pack.input_dims == {"a": 2, "b": 3}
    raw = bytearray(path.read_bytes())
    name = raw.index(b'"a": [')
    raw[name + 1 : name + 2] = b"`"
    path.write_bytes(bytes(raw))
    with pytest.raises(packed.CacheProblem, match="does not match its checksum"):
        packed.open_pack(path, "f" * 40, 2)
