"""Dataset validation: each kind of fault, built here, is found, named, and nothing else is."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from signcli.core.errors import UsageError
from signcli.data import validate
from signcli.data.validate import find_splits, validate_path

# ---------------------------------------------------------------------------------------
# Broken files, one writer per kind. Each takes the path to write and leaves a file that
# validate-npz must flag with exactly the kind named beside it in FILE_FAULTS.


def write_truncated(path: Path) -> None:
    np.savez(path, X=np.ones((5, 6), np.float32))
    path.write_bytes(path.read_bytes()[:-40])  # the zip's central directory is cut off


def write_zip_of_garbage(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("X.npy", b"\x00garbage, not an array" * 10)


def write_corrupt_compressed(path: Path) -> None:
    np.savez_compressed(path, X=np.arange(600, dtype=np.float32).reshape(100, 6))
    data = bytearray(path.read_bytes())
    data[60:90] = bytes(b ^ 0xFF for b in data[60:90])  # inside the deflate stream
    path.write_bytes(bytes(data))


def write_text(path: Path) -> None:
    path.write_text("file,gloss\nthis is a CSV, not an npz\n")


def write_npy_named_npz(path: Path) -> None:
    with path.open("wb") as handle:
        np.save(handle, np.ones((5, 6), np.float32))


def write_rank_1(path: Path) -> None:
    np.savez(path, X=np.ones(6, np.float32))


def write_rank_3(path: Path) -> None:
    np.savez(path, X=np.ones((5, 6, 1), np.float32))


def write_empty(path: Path) -> None:
    np.savez(path, X=np.zeros((0, 6), np.float32))


def write_inf(path: Path) -> None:
    array = np.ones((5, 6), np.float32)
    array[2, 3] = np.inf
    array[4, 0] = -np.inf
    np.savez(path, X=array)


def write_other_key(path: Path) -> None:
    np.savez(path, keypoints=np.ones((5, 6), np.float32), fps=np.float32(30))


def write_wrong_width(path: Path) -> None:
    np.savez(path, X=np.ones((5, 4), np.float32))


def write_strings(path: Path) -> None:
    np.savez(path, X=np.full((5, 6), "a"))


def write_nan(path: Path) -> None:
    array = np.ones((5, 6), np.float32)
    array[:, :3] = np.nan  # half the values: a hand out of frame
    np.savez(path, X=array)


def write_integers(path: Path) -> None:
    np.savez(path, X=np.ones((5, 6), np.int64))


FILE_FAULTS = {  # writer -> (kind, severity)
    write_truncated: ("unreadable", "error"),
    write_zip_of_garbage: ("unreadable", "error"),
    write_corrupt_compressed: ("unreadable", "error"),
    write_text: ("unreadable", "error"),
    write_npy_named_npz: ("unreadable", "error"),
    write_rank_1: ("rank", "error"),
    write_rank_3: ("rank", "error"),
    write_empty: ("empty", "error"),
    write_inf: ("inf", "error"),
    write_other_key: ("missing_key", "error"),
    write_wrong_width: ("width", "error"),
    write_strings: ("dtype", "error"),
    write_nan: ("nan", "warning"),
    write_integers: ("dtype", "warning"),
}


def findings_of(report) -> set[tuple[str, str, str, str]]:
    """(split, file, kind, severity) of every finding."""
    return {
        (split.name, f.file, f.kind, f.severity) for split in report.splits for f in split.findings
    }


def test_clean_dataset_root_has_no_findings(make_npz_dataset) -> None:
    root = make_npz_dataset(n=8, T=5, D=6)
    report = validate_path(root, workers=1)
    assert report.ok and findings_of(report) == set()
    train, val = report.splits
    assert (train.name, train.file_count, val.name, val.file_count) == ("train", 8, "val", 4)
    assert train.labels_path == root / "train_labels.csv"
    assert (train.T_min, train.T_median, train.T_max, train.D) == (5, 5.0, 5, 6)
    assert train.class_counts == {"gloss": {0: 3, 1: 3, 2: 2}, "cat": {0: 5, 1: 3}}
    assert train.rarest_classes("gloss") == [(2, 2), (0, 3), (1, 3)]


@pytest.mark.parametrize("write_fault", FILE_FAULTS, ids=lambda w: w.__name__)
def test_each_file_fault_is_found_alone(write_fault, write_split, tmp_path: Path) -> None:
    folder, labels = write_split(tmp_path, "train", n=6)
    write_fault(folder / "train_0003.npz")  # replaces a labelled good file
    report = validate_path(folder, labels, workers=1)
    kind, severity = FILE_FAULTS[write_fault]
    assert findings_of(report) == {("train", "train_0003.npz", kind, severity)}
    assert report.ok == (severity == "warning")


def test_messages_say_what_is_wrong(write_split, tmp_path: Path) -> None:
    folder, _ = write_split(tmp_path, "train", n=5, T=4, D=6)
    write_other_key(folder / "train_0000.npz")
    write_wrong_width(folder / "train_0001.npz")
    write_nan(folder / "train_0002.npz")
    write_empty(folder / "train_0003.npz")
    messages = {f.file: f.message for f in validate_path(folder, workers=1).splits[0].findings}
    assert "keys present: keypoints, fps" in messages["train_0000.npz"]
    assert "D = 4, most files have D = 6" in messages["train_0001.npz"]
    assert "50.0% of values are NaN" in messages["train_0002.npz"]
    assert "T = 0" in messages["train_0003.npz"]


def test_dim_replaces_the_majority_width(write_split, tmp_path: Path) -> None:
    folder, _ = write_split(tmp_path, "train", n=3, D=6)
    write_wrong_width(folder / "train_0000.npz")  # D = 4, a minority
    report = validate_path(folder, dim=4, workers=1)
    assert findings_of(report) == {
        ("train", "train_0001.npz", "width", "error"),
        ("train", "train_0002.npz", "width", "error"),
    }
    assert report.splits[0].D == 4 and report.splits[0].width_counts == {4: 1, 6: 2}


def test_nan_share_is_weighted_by_file_size(write_split, tmp_path: Path) -> None:
    folder, _ = write_split(tmp_path, "train", n=2, T=10, D=6)
    array = np.ones((30, 6), np.float32)
    array[:6] = np.nan  # 36 of 180 values
    np.savez(folder / "train_0000.npz", X=array)
    split = validate_path(folder, workers=1).splits[0]
    assert split.nan_share == pytest.approx(36 / (180 + 60))
    assert split.nan_files == 1 and (split.T_min, split.T_max) == (10, 30)


# ---------------------------------------------------------------------------------------
# Labels


def write_labels(path: Path, *rows: str, header: str = "file,gloss,cat,occluded") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


@pytest.fixture
def three_files(write_split, tmp_path: Path) -> Path:
    folder, _ = write_split(tmp_path, "train", n=3)
    return folder


def test_missing_column_names_the_expected_header(three_files: Path, tmp_path: Path) -> None:
    labels = write_labels(tmp_path / "l.csv", "train_0000,0,0", header="file,cat,occluded")
    split = validate_path(three_files, labels, workers=1).splits[0]
    # nothing else: without a gloss column the files cannot be paired, and saying so per file
    # would only bury the cause
    assert [(f.file, f.kind) for f in split.findings] == [("l.csv", "labels_columns")]
    assert "expected header 'file,gloss,cat,occluded'" in split.findings[0].message


def test_gloss_that_is_not_an_integer(three_files: Path, tmp_path: Path) -> None:
    labels = write_labels(
        tmp_path / "l.csv", "train_0000.npz,0,0,0", "train_0001.npz,abc,0,0", "train_0002,1.5,1,0"
    )
    split = validate_path(three_files, labels, workers=1).splits[0]
    assert [(f.file, f.kind, f.rows) for f in split.findings] == [
        ("l.csv", "label_not_integer", (3, 4))
    ]
    assert "'abc'" in split.findings[0].message
    assert split.class_counts["gloss"] == {0: 1}  # the bad ids are reported, not counted


def test_negative_ids_duplicates_and_orphans(three_files: Path, tmp_path: Path) -> None:
    labels = write_labels(
        tmp_path / "l.csv",
        "train_0000.npz,0,-1,0",  # negative cat
        "train_0000,1,0,0",  # the same file again, without the suffix
        "train_0001.npz,-2,0,0",  # negative gloss
        "gone.npz,1,1,0",  # no such file; train_0002 has no row
    )
    report = validate_path(three_files, labels, workers=1)
    assert {(f.file, f.kind, f.rows) for f in report.splits[0].findings} == {
        ("l.csv", "label_negative", (4,)),  # gloss is checked before cat
        ("l.csv", "label_negative", (2,)),
        ("l.csv", "label_duplicate", (3,)),
        ("gone.npz", "missing_file", ()),
        ("train_0002.npz", "unlabelled", ()),
    }


def test_root_without_labels_csv_is_an_error(make_npz_dataset) -> None:
    root = make_npz_dataset()
    (root / "val_labels.csv").unlink()
    report = validate_path(root, workers=1)
    assert findings_of(report) == {("val", "val_labels.csv", "labels_missing", "error")}


# ---------------------------------------------------------------------------------------
# A dataset with planted faults: every one is reported, and nothing else


def test_planted_faults_are_reported_exactly(make_npz_dataset) -> None:
    root = make_npz_dataset(n=24, T=7, D=6)
    train, val = root / "train", root / "val"
    write_truncated(train / "train_0002.npz")
    write_text(train / "train_0005.npz")
    write_rank_1(train / "train_0007.npz")
    write_empty(train / "train_0011.npz")
    write_inf(train / "train_0013.npz")
    write_wrong_width(train / "train_0017.npz")
    write_other_key(val / "val_0001.npz")
    write_nan(val / "val_0003.npz")  # a warning, not an error
    (train / "train_0020.npz").unlink()  # labelled, but the file is gone
    np.savez(train / "extra.npz", X=np.ones((7, 6), np.float32))  # a file without a label
    csv = root / "val_labels.csv"
    csv.write_text(csv.read_text().replace("val_0004.npz,1,", "val_0004.npz,abc,"))

    report = validate_path(root, workers=1)
    errors = {(s.name, f.file, f.kind) for s in report.splits for f in s.errors}
    assert errors == {
        ("train", "train_0002.npz", "unreadable"),
        ("train", "train_0005.npz", "unreadable"),
        ("train", "train_0007.npz", "rank"),
        ("train", "train_0011.npz", "empty"),
        ("train", "train_0013.npz", "inf"),
        ("train", "train_0017.npz", "width"),
        ("train", "train_0020.npz", "missing_file"),
        ("train", "extra.npz", "unlabelled"),
        ("val", "val_0001.npz", "missing_key"),
        ("val", "val_labels.csv", "label_not_integer"),
    }
    warnings = {(s.name, f.file, f.kind) for s in report.splits for f in s.warnings}
    assert warnings == {("val", "val_0003.npz", "nan")}
    assert report.error_count == 10 and not report.ok
    assert report.splits[0].counts_by_kind("error")["unreadable"] == 2


def test_workers_give_the_same_report_as_one_process(
    make_npz_dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_npz_dataset(n=30, T=5, D=6)
    write_inf(root / "train" / "train_0004.npz")
    write_text(root / "train" / "train_0025.npz")
    serial = validate_path(root, workers=1).to_dict()
    monkeypatch.setattr(validate, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(validate, "CHUNK_FILES", 4)  # several chunks, so order is tested
    assert validate_path(root, workers=2).to_dict() == serial


def test_validation_only_reads(make_npz_dataset) -> None:
    root = make_npz_dataset(n=6)
    write_truncated(root / "train" / "train_0001.npz")
    write_labels(root / "val_labels.csv", "val_0000,x,0,0")

    def snapshot() -> dict[str, tuple[int, str]]:
        return {
            str(p.relative_to(root)): (
                p.stat().st_mtime_ns,
                hashlib.sha256(p.read_bytes()).hexdigest(),
            )
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    before = snapshot()
    validate_path(root, workers=1)
    assert snapshot() == before


def test_report_is_plain_json(make_npz_dataset) -> None:
    root = make_npz_dataset(n=6)
    write_nan(root / "train" / "train_0001.npz")
    document = json.loads(json.dumps(validate_path(root, workers=1).to_dict()))
    train = document["splits"][0]
    assert document["ok"] is True and document["warnings"] == 1
    assert train["warnings_by_kind"] == {"nan": 1}
    assert train["T"] == {"min": 5, "median": 5.0, "max": 5} and train["D"] == 6
    assert train["classes"]["gloss"]["rarest"][0] == [0, 2]  # (id, samples)
    assert train["problems"][0]["file"] == "train_0001.npz"


# ---------------------------------------------------------------------------------------
# What counts as a dataset


def test_missing_path_and_folders_without_npz_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        find_splits(tmp_path / "nope")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UsageError, match="no .npz files and no train/ or val/ folder"):
        find_splits(tmp_path)
    with pytest.raises(UsageError, match="is not an .npz file"):
        find_splits(tmp_path / "notes.txt")


def test_dataset_root_rules(make_npz_dataset, tmp_path: Path) -> None:
    root = make_npz_dataset()
    assert [s.name for s in find_splits(root)] == ["train", "val"]
    with pytest.raises(UsageError, match="--labels applies to a folder"):
        find_splits(root, root / "train_labels.csv")
    with pytest.raises(UsageError, match="labels file .* not found"):
        find_splits(root / "train", tmp_path / "missing.csv")
    for path in (root / "val").iterdir():
        path.unlink()
    with pytest.raises(UsageError, match="val holds no .npz files"):
        find_splits(root)


def test_single_file_is_a_split_of_one(make_npz_dataset) -> None:
    root = make_npz_dataset()
    write_inf(root / "train" / "train_0000.npz")
    report = validate_path(root / "train" / "train_0000.npz", workers=1)
    assert findings_of(report) == {("train_0000.npz", "train_0000.npz", "inf", "error")}


# ---------------------------------------------------------------------------------------
# --group-by: samples per group, and groups on both sides of the split


@pytest.fixture
def signed_root(write_split, tmp_path: Path) -> Path:
    root = tmp_path / "signed"
    write_split(root, "train", 8, signers=("a", "b", "c", "d"))
    write_split(root, "val", 4, signers=("d", "e"), seed=1)
    return root


def test_groups_in_both_splits_are_one_warning_with_their_counts(signed_root: Path) -> None:
    report = validate_path(signed_root, workers=1, group_by="signer")
    train, val = report.splits
    assert report.ok and report.warning_count == 1
    assert train.group_counts == {"a": 2, "b": 2, "c": 2, "d": 2}
    assert val.group_counts == {"d": 2, "e": 2}
    assert report.straddling == {"d": {"train": 2, "val": 2}}
    (finding,) = val.findings
    assert (finding.file, finding.kind, finding.severity) == (
        "val_labels.csv",
        "group_straddle",
        "warning",
    )
    assert finding.message == (
        "1 signer group(s) in both train and val, so validation sees them in training: "
        "d (train 2, val 2)"
    )
    document = report.to_dict()
    assert document["group_by"] == {"column": "signer", "straddling": {"d": {"train": 2, "val": 2}}}
    assert document["splits"][1]["groups"] == {"column": "signer", "count": 2,
                                               "samples": {"d": 2, "e": 2}}  # fmt: skip
    assert validate_path(signed_root, workers=1).to_dict().keys() == document.keys() - {"group_by"}


def test_group_counts_of_one_split_and_what_is_refused(signed_root: Path) -> None:
    labels = signed_root / "train_labels.csv"
    labels.write_text(labels.read_text().replace(",b\n", ",\n"))
    report = validate_path(signed_root / "train", labels, workers=1, group_by="signer")
    (split,) = report.splits
    assert split.group_counts == {"a": 2, "c": 2, "d": 2} and not report.straddling
    assert findings_of(report) == {("train", "train_labels.csv", "group_missing", "error")}
    assert split.findings[0].rows == (3, 7)
    with pytest.raises(UsageError, match=r"train_labels\.csv has no column 'session'"):
        validate_path(signed_root, workers=1, group_by="session")
    with pytest.raises(UsageError, match="--group-by signer reads the labels CSV"):
        validate_path(signed_root / "train", workers=1, group_by="signer")
