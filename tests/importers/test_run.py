"""The part of `signcli import` every format shares (importers/run.py), on a fake format:
labels and class ids, the signer-grouped split, stream subsets, atomic writes, resume after
an interrupt, refusals that protect users' folders, the manifest and training from it."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from signcli.cli import app
from signcli.core.errors import DataError, UsageError
from signcli.core.manifest import read_manifest
from signcli.importers import FORMATS
from signcli.importers.base import MEDIAPIPE_HOLISTIC, Scan, SourceItem
from signcli.importers.run import ImportInterrupted, ImportOptions, run_import
from signcli.settings import load_settings

LANDMARKS = MEDIAPIPE_HOLISTIC.streams  # face 468, hand_l 21, hand_r 21, pose 33


def _points(item_id: str, stream: str) -> np.ndarray:
    """Deterministic [T, L, 3] for an item: T from the id, values from stream and frame."""
    T = 3 + sum(map(ord, item_id)) % 4
    L = LANDMARKS[stream]
    frame = np.arange(T, dtype=np.float32)[:, None, None]
    landmark = np.arange(L, dtype=np.float32)[None, :, None] / 1000
    coord = np.arange(3, dtype=np.float32)[None, None, :] / 10
    points = np.broadcast_to(frame + landmark + coord, (T, L, 3)).copy()
    if stream == "hand_l":
        points[0] = np.nan  # the left hand is not found in the first frame
    return points


class FakeFormat:
    """Items `<signer>_<label>_<k>`: 4 signers x 3 labels x 2 takes; `bad` items fail."""

    name = "fake"
    landmark_set = MEDIAPIPE_HOLISTIC
    units = "normalized"
    description = "test format"
    interrupt_after: int | None = None  # raise KeyboardInterrupt after this many reads
    bad = {"s1_b_0"}

    def __init__(self) -> None:
        self.reads = 0

    def scan(self, src: Path) -> Scan:
        if not (src / "fake.txt").is_file():
            from signcli.importers.base import ImportFormatError

            raise ImportFormatError("no fake.txt")
        items = [
            SourceItem(f"s{s}_{label}_{k}", ref=None, label=label, signer=f"s{s}")
            for s in range(4)
            for label in ("a", "b", "c")
            for k in range(2)
        ]
        return Scan(items, skipped=[("junk.bin", "not a sequence")])

    def read(self, items):
        out = []
        for item in items:
            self.reads += 1
            if self.interrupt_after is not None and self.reads > self.interrupt_after:
                raise KeyboardInterrupt
            if item.id in self.bad:
                out.append(f"{item.id}.bin: corrupt")
            else:
                out.append({s: _points(item.id, s) for s in LANDMARKS})
        return out


@pytest.fixture()
def fake(monkeypatch):
    module = types.ModuleType("signcli_fake_format")
    module.FORMAT = FakeFormat()
    monkeypatch.setitem(sys.modules, "signcli_fake_format", module)
    monkeypatch.setitem(FORMATS, "fake", ("signcli_fake_format", "FORMAT"))
    return module.FORMAT


@pytest.fixture()
def src(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "fake.txt").write_text("x")
    return folder


def _import(src: Path, out: Path, **options) -> object:
    return run_import(ImportOptions("fake", src, out, **options))


def test_single_layout_writes_samples_labels_and_manifest(fake, src, tmp_path):
    out = tmp_path / "out"
    report = _import(src, out, streams=("pose", "hand_l", "hand_r", "face:lips"))
    manifest = read_manifest(out)
    assert manifest is not None and manifest.landmark_set == "mediapipe-holistic"
    # streams in STREAM_NAMES order, lips keep 40 of 468 face landmarks
    assert {k: v.columns for k, v in manifest.streams.items()} == {
        "face": (0, 120), "hand_l": (120, 183), "hand_r": (183, 246), "pose": (246, 345)
    }  # fmt: skip
    assert manifest.streams["face"].source_landmarks[:3] == [61, 185, 40]
    assert (11, 12) in [tuple(p) for p in manifest.streams["pose"].mirror_pairs]
    assert manifest.classes == ["a", "b", "c"] and manifest.signer_column == "signer"
    train = pd.read_csv(out / "train_labels.csv", dtype={"gloss": int})
    val = pd.read_csv(out / "val_labels.csv", dtype={"gloss": int})
    assert list(train.columns) == ["file", "gloss", "gloss_name", "signer"]
    # the corrupt item is skipped and listed, not written; the rest all are, once
    assert "s1_b_0" not in set(train.file) | set(val.file)
    assert len(train) + len(val) == 23 == report.written
    assert ("s1_b_0", "s1_b_0.bin: corrupt") in report.skipped
    assert ("junk.bin", "not a sequence") in report.skipped
    assert not set(train.signer) & set(val.signer) and len(set(val.signer)) == 1
    assert (train.gloss_name == np.array(["a", "b", "c"])[train.gloss]).all()
    x = np.load(out / "train" / f"{train.file[0]}.npz")["X"]
    expected = _points(train.file[0], "pose").reshape(len(x), -1)
    np.testing.assert_array_equal(x[:, 246:345], expected)
    lips = _points(train.file[0], "face")[:, [61, 185, 40]].reshape(len(x), -1)
    np.testing.assert_array_equal(x[:, 0:9], lips)
    assert np.isnan(x[0, 120:183]).all() and not np.isnan(x[1:]).any()
    assert report.nan_share["hand_l"] == pytest.approx(23 / sum(_frames(out)), abs=1e-4)
    assert not list(out.rglob("*.tmp")) and not (out / ".signcli-import.json").exists()


def _train_tiny(model: str, data: Path, run: Path):  # noqa: ANN202 - typer's Result
    """`signcli train MODEL DATA` with no data flag: one epoch of a tiny model."""
    tiny = ["--epochs", "1", "-q", "--set", "model.d_model=16", "--set", "model.num_layers=1"]
    return CliRunner().invoke(app, ["train", model, str(data), "--work-dir", str(run), *tiny])


def _frames(out: Path) -> list[int]:
    return [len(np.load(p)["X"]) for p in out.rglob("*.npz")]


def test_dataset_root_gives_the_settings_and_flags_override_them(fake, src, tmp_path):
    out = tmp_path / "out"
    _import(src, out, streams=("pose", "hand_l", "hand_r"))
    settings = load_settings(flags={"data.dataset": out})
    assert settings.data.train_dir == out / "train"
    assert settings.data.val_labels == out / "val_labels.csv"
    assert settings.data.layout == {"hand_l": (0, 63), "hand_r": (63, 126), "pose": (126, 225)}
    assert settings.data.landmark_set == "mediapipe-holistic"
    assert (11, 12) in settings.data.mirror_pairs["pose"]
    flagged = load_settings(flags={"data.dataset": out, "data.layout": "pose=126:225"})
    assert flagged.data.layout == {"pose": (126, 225)}
    assert settings.data.group_by is None  # the import's split is used as it is
    whole = tmp_path / "whole"
    _import(src, whole, streams=("pose",), val_fraction=0)
    carved = load_settings(flags={"data.dataset": whole, "data.val_fraction": 0.25})
    assert carved.data.group_by == "signer"  # a split carved at training keeps signers whole


@pytest.mark.slow
def test_imported_tree_trains_with_no_data_flag(fake, src, tmp_path):
    out, run = tmp_path / "out", tmp_path / "run"
    _import(src, out, streams=("pose", "hand_l", "hand_r"))
    result = _train_tiny("transformer", out, run)
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["layout"] == {"hand_l": [0, 63], "hand_r": [63, 126], "pose": [126, 225]}
    assert config["data"]["dataset"] == str(out)
    labels = json.loads((run / "labels.json").read_text())
    assert labels["gloss_names"] == {"0": "a", "1": "b", "2": "c"}
    assert (run / "metrics.jsonl").read_text().count("val_gloss_top1") == 1
    # eval scores the validation split of the dataset root, or of the run, with no flag
    val_files = len(pd.read_csv(out / "val_labels.csv"))
    for extra in (["--data-dir", str(out)], []):
        scored = CliRunner().invoke(
            app,
            [
                "eval",
                str(run / "last.pt"),
                "--json",
                "--out",
                str(tmp_path / f"ev{len(extra)}"),
                *extra,
            ],
        )
        assert scored.exit_code == 0, scored.output
        assert json.loads(scored.output)["num_samples"] == val_files


def test_multi_layout_writes_one_folder_per_stream(fake, src, tmp_path):
    out = tmp_path / "out"
    _import(src, out, streams=("hand_l", "pose"), layout="multi", val_fraction=0.25)
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["hand_l", "pose"]
    ids = pd.read_csv(out / "train_index.csv").id.tolist()
    assert np.load(out / "pose" / f"{ids[0]}.npy").shape[1] == 99
    settings = load_settings(flags={"data.dataset": out})
    assert settings.data.pose_dir == out / "pose"
    assert settings.data.labels == out / "labels.csv"
    assert settings.data.face_dir is None and settings.data.layout is None


@pytest.mark.slow
def test_multi_layout_trains_multistream_with_no_data_flag(fake, src, tmp_path):
    out, run = tmp_path / "out", tmp_path / "run"
    _import(src, out, streams=("hand_l", "hand_r", "pose"), layout="multi")
    result = _train_tiny("multistream", out, run)
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["hand_left_dir"] == str(out / "hand_l")
    assert config["data"]["val_index"] == str(out / "val_index.csv")


def test_duplicate_ids_keep_the_first(fake, src, tmp_path, monkeypatch):
    items = [SourceItem("same", ref=f"file{i}", label="a") for i in range(2)]
    items += [SourceItem(f"o{i}", ref=None, label="ab"[i % 2]) for i in range(6)]
    monkeypatch.setattr(FakeFormat, "scan", lambda self, s: Scan(items))
    report = _import(src, tmp_path / "out", streams=("pose",), val_fraction=0)
    assert report.written == 7
    assert ("file1", "its id same is taken by an earlier sequence") in report.skipped


def test_workers_give_the_same_dataset(fake, src, tmp_path):
    _import(src, tmp_path / "one", workers=1, streams=("pose",))
    _import(src, tmp_path / "two", workers=2, streams=("pose",))
    for path in sorted((tmp_path / "one").rglob("*.npz")):
        twin = tmp_path / "two" / path.relative_to(tmp_path / "one")
        np.testing.assert_array_equal(np.load(path)["X"], np.load(twin)["X"])
    for name in ("train_labels.csv", "val_labels.csv"):
        assert (tmp_path / "one" / name).read_text() == (tmp_path / "two" / name).read_text()


def test_interrupted_import_resumes_and_lists_nothing_half_written(fake, src, tmp_path):
    out = tmp_path / "out"
    fake.interrupt_after = 10  # the probe reads 1, then 9 more are converted
    with pytest.raises(ImportInterrupted, match="run the same command again"):
        _import(src, out, streams=("pose",))
    written = sorted(p.name for p in out.rglob("*.npz"))
    assert 0 < len(written) < 23
    assert not (out / "signcli-dataset.json").exists() and not list(out.glob("*_labels.csv"))
    # a different command does not silently mix into the unfinished import
    with pytest.raises(UsageError, match="unfinished import with other options \\(streams\\)"):
        _import(src, out, streams=("hand_l",))
    fake.interrupt_after = None
    report = _import(src, out, streams=("pose",))
    assert report.resumed == len(written) and report.written == 23
    _import(src, tmp_path / "fresh", streams=("pose",))
    for name in ("train_labels.csv", "val_labels.csv"):
        assert (out / name).read_text() == (tmp_path / "fresh" / name).read_text()


def test_a_corrupt_sample_left_by_a_crash_is_redone(fake, src, tmp_path):
    out = tmp_path / "out"
    _import(src, out, streams=("pose",))
    victim = next(out.rglob("*.npz"))
    good = np.load(victim)["X"]
    (out / "signcli-dataset.json").unlink()  # as if the run died before its end
    (out / ".signcli-import.json").write_text(json.dumps({"options": _key(src, out)}))
    victim.write_bytes(b"torn")
    report = _import(src, out, streams=("pose",))
    assert report.resumed == 22
    np.testing.assert_array_equal(np.load(victim)["X"], good)


def test_a_resumed_import_removes_samples_it_no_longer_lists(fake, src, tmp_path):
    out = tmp_path / "out"
    _import(src, out, streams=("pose",))
    (out / "signcli-dataset.json").unlink()  # as if the run died before its end
    (out / ".signcli-import.json").write_text(json.dumps({"options": _key(src, out)}))
    stray = out / "train" / "gone.npz"  # e.g. a sequence deleted from SRC since
    stray.write_bytes(next((out / "train").glob("*.npz")).read_bytes())
    (out / "val" / "half.npz.tmp").write_bytes(b"torn")
    _import(src, out, streams=("pose",))
    assert not stray.exists() and not list(out.rglob("*.tmp"))
    listed = set(pd.read_csv(out / "train_labels.csv").file) | set(
        pd.read_csv(out / "val_labels.csv").file
    )
    assert {p.stem for p in out.rglob("*.npz")} == listed


def _key(src: Path, out: Path) -> dict:
    return ImportOptions("fake", src, out, streams=("pose",)).resume_key()


def test_refuses_to_write_where_it_could_lose_data(fake, src, tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(UsageError, match="not written by `signcli import`"):
            _import(src, foreign, overwrite=overwrite)
    assert (foreign / "notes.txt").read_text() == "mine"
    with pytest.raises(UsageError, match="inside SRC"):
        _import(src, src / "out")
    with pytest.raises(UsageError, match="SRC .* lies inside OUT"):
        _import(src, tmp_path)
    out = tmp_path / "out"
    _import(src, out)
    with pytest.raises(UsageError, match="already holds an imported dataset"):
        _import(src, out)
    report = _import(src, out, overwrite=True, val_fraction=0)
    assert report.splits == {"train": 23} and not (out / "val").exists()
    assert sorted(p.name for p in src.iterdir()) == ["fake.txt"]


def test_bad_options_and_sources_are_usage_errors(fake, src, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(UsageError, match="'lips' is not a stream"):
        _import(src, out, streams=("lips",))
    with pytest.raises(UsageError, match="no subset 'eyes' of face"):
        _import(src, out, streams=("face:eyes",))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="is not fake data: no fake.txt"):
        _import(tmp_path / "empty", tmp_path / "elsewhere")
    with pytest.raises(UsageError, match="unknown format 'nope'"):
        run_import(ImportOptions("nope", src, out))
    assert not out.exists()


def test_labels_csv_gives_labels_and_signers(fake, src, tmp_path, monkeypatch):
    monkeypatch.setattr(
        FakeFormat,
        "scan",
        lambda self, s: Scan([SourceItem(f"v{i}", ref=None) for i in range(12)]),
    )
    with pytest.raises(UsageError, match="give --labels"):
        _import(src, tmp_path / "out")
    labels = tmp_path / "labels.csv"
    rows = [f"v{i},{'xy'[i % 2]},p{i % 3}" for i in range(11)]  # v11 is not listed
    labels.write_text("video_id,gloss,participant_id\n" + "\n".join(rows) + "\n")
    report = _import(src, tmp_path / "out", labels=labels, streams=("pose",))
    assert report.written == 11 and ("v11", "not in labels.csv") in report.skipped
    assert report.signers == {"train": 2, "val": 1}


def test_dry_run_writes_nothing(fake, src, tmp_path):
    out = tmp_path / "out"
    report = _import(src, out, dry_run=True, streams=("pose", "face:lips"))
    assert report.dry_run and report.streams == {"face": 40, "pose": 33}
    assert sum(report.splits.values()) == 24  # planned (the corrupt one is found on reading)
    assert not out.exists()
    _import(src, out)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    again = _import(src, out, dry_run=True)  # plans, and says the import would stop
    assert "already holds an imported dataset" in again.notes[0]
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


def test_cli_import_summary_and_exit_codes(fake, src, tmp_path):
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(app, ["import", "fake", str(src), str(out), "--streams", "pose"])
    assert result.exit_code == 0, result.output
    assert "imported 23 sequences" in result.output and "skipped 2" in result.output
    assert f"next: signcli train transformer {out}" in result.output
    again = runner.invoke(app, ["import", "fake", str(src), str(out)])
    assert again.exit_code == 2 and "already holds an imported dataset" in again.output
    data = runner.invoke(app, ["import", "fake", str(src), str(tmp_path / "o2"), "--json",
                               "--val-fraction", "0"])  # fmt: skip
    assert data.exit_code == 0 and json.loads(data.output)["splits"] == {"train": 23}


def test_no_sequence_at_all_is_a_data_error(fake, src, tmp_path, monkeypatch):
    monkeypatch.setattr(FakeFormat, "scan", lambda self, s: Scan([], [("a.bin", "empty")]))
    with pytest.raises(DataError, match="no fake sequences found \\(1 skipped: empty\\)"):
        _import(src, tmp_path / "out")


@pytest.mark.slow
def test_onnx_metadata_names_the_landmarks_of_an_imported_dataset(fake, src, tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from signcli.export.onnx import export_onnx

    out, run = tmp_path / "out", tmp_path / "run"
    _import(src, out, streams=("hand_r", "face:lips"))
    result = _train_tiny("transformer", out, run)
    assert result.exit_code == 0, result.output
    exported = export_onnx(run / "last.pt", tmp_path / "model.onnx")
    layout = json.loads(exported.metadata["input_layout"])
    assert layout["landmark_set"] == "mediapipe-holistic"
    assert layout["column_layout"] == {"face": [0, 120], "hand_r": [120, 183]}
    assert layout["stream_landmarks"]["face"][:3] == [61, 185, 40]
    assert json.loads(exported.metadata["gloss_names"]) == {"0": "a", "1": "b", "2": "c"}


def test_validate_npz_reads_the_manifest(fake, src, tmp_path):
    single, multi = tmp_path / "single", tmp_path / "multi"
    _import(src, single, streams=("pose", "hand_l"))
    _import(src, multi, streams=("pose", "hand_l"), layout="multi")
    runner = CliRunner()
    report = json.loads(runner.invoke(app, ["validate-npz", str(single), "--json"]).output)
    train = report["splits"][0]
    assert set(train["layout_nan_share"]) == {"hand_l", "pose"}  # the manifest's layout
    assert train["layout_nan_share"]["pose"] == 0 < train["layout_nan_share"]["hand_l"]
    assert report["group_by"]["column"] == "signer" and train["groups"]["count"] == 3
    result = runner.invoke(app, ["validate-npz", str(multi)])
    assert result.exit_code == 0, result.output
    assert "hand_l" in result.output and "pose" in result.output


def test_overwrite_keeps_the_users_files_and_follows_no_link(fake, src, tmp_path):
    out = tmp_path / "out"
    _import(src, out)
    notes = out / "train" / "notes.txt"
    notes.write_text("mine")
    samples = sorted(p.name for p in (out / "train").iterdir())
    with pytest.raises(UsageError, match="(?s)notes.txt was not written by import.*nothing was"):
        _import(src, out, overwrite=True)
    assert notes.read_text() == "mine"
    assert sorted(p.name for p in (out / "train").iterdir()) == samples  # nothing removed
    notes.unlink()
    elsewhere = tmp_path / "elsewhere"
    (out / "val").rename(elsewhere)
    (out / "val").symlink_to(elsewhere, target_is_directory=True)
    kept = sorted(p.name for p in elsewhere.iterdir())
    with pytest.raises(UsageError, match="val is a symbolic link, which --overwrite does not"):
        _import(src, out, overwrite=True)
    assert sorted(p.name for p in elsewhere.iterdir()) == kept


def test_a_resumed_import_of_a_changed_source_is_refused(fake, src, tmp_path, monkeypatch):
    from dataclasses import replace

    out = tmp_path / "out"
    fake.interrupt_after = 10
    with pytest.raises(ImportInterrupted):
        _import(src, out, streams=("pose",))
    fake.interrupt_after = None
    scan = fake.scan

    def relabelled(folder: Path) -> Scan:  # a sequence's label changed in SRC since
        found = scan(folder)
        found.items[0] = replace(found.items[0], label="c")
        return found

    monkeypatch.setattr(fake, "scan", relabelled)
    with pytest.raises(UsageError, match="changed since"):
        _import(src, out, streams=("pose",))
    report = _import(src, out, streams=("pose",), overwrite=True)
    assert report.resumed == 0 and report.written == 23


def test_labels_inside_out_are_refused_before_anything_is_replaced(fake, src, tmp_path):
    """issue 23: `--labels OUT/train_labels.csv --overwrite` (the generated labels, edited
    and given back) was read, then replaced by the generated file: the edits were lost and
    the val samples skipped as unlabelled."""
    out = tmp_path / "out"
    _import(src, out)
    labels = out / "train_labels.csv"
    edited = labels.read_text() + "# the user's edit\n"
    labels.write_text(edited)
    with pytest.raises(UsageError, match=r"--labels .*train_labels\.csv lies inside OUT"):
        _import(src, out, labels=labels, overwrite=True)
    assert labels.read_text() == edited
