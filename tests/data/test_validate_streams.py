"""validate-npz --streams: the multi-stream layout, checked by the same per-file checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from signcli.cli import app
from signcli.core.errors import UsageError
from signcli.data.synthetic import write_multistream_dataset
from signcli.data.validate import validate_streams

STREAMS = ["face", "hand_l", "hand_r", "pose"]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_multistream_dataset(tmp_path / "ms", 8, 4, num_gloss=3, num_cat=2, seed=0)


def errors(report) -> set[tuple[str, str, str]]:
    return {(split.name, f.file, f.kind) for split in report.splits for f in split.errors}


def test_clean_layout_has_no_errors(root: Path) -> None:
    report = validate_streams(root, STREAMS, workers=1)
    assert report.ok and [s.name for s in report.splits] == [*STREAMS, "samples"]
    assert report.splits[-1].file_count == 12
    assert set(report.splits[-1].class_counts) == {"gloss", "cat"}


def test_planted_faults_are_named_and_nothing_else(root: Path) -> None:
    ids = sorted(p.stem for p in (root / "pose").iterdir())
    a, b, c, d = ids[:4]
    hand = np.load(root / "hand_l" / f"{a}.npy")
    np.save(root / "hand_l" / f"{a}.npy", hand[:-1])  # one frame short: T disagrees
    (root / "face" / f"{b}.npy").unlink()  # a stream file missing
    (root / "pose" / f"{c}.npy").write_text("not an array")  # unreadable
    with open(root / "labels.csv", "a") as handle:  # labelled, but in no index
        handle.write("ghost,0,0,sign_00\n")
    index = (root / "train_index.csv").read_text().splitlines()
    (root / "train_index.csv").write_text(
        "\n".join([*index, "nobody"]) + "\n"
    )  # no files, no label
    report = validate_streams(root, STREAMS, workers=1)
    assert errors(report) == {
        ("samples", a, "length_mismatch"),
        ("samples", b, "missing_stream"),
        ("pose", f"{c}.npy", "unreadable"),
        ("samples", "ghost", "unindexed_label"),
        ("samples", "nobody", "missing_file"),
        ("samples", "nobody", "unlabelled"),
    }
    assert d not in {f.file for s in report.splits for f in s.findings if f.severity == "error"}


def test_missing_stream_folder_is_a_usage_error(root: Path) -> None:
    with pytest.raises(UsageError, match="stream folder"):
        validate_streams(root, ["hand_l", "nope"], workers=1)


def test_cli_streams_option(root: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["validate-npz", str(root), "--streams", "all", "--json"])
    assert ok.exit_code == 0, ok.output
    np.save(root / "hand_r" / "extra.npy", np.zeros((3, 63), np.float32))  # id in one stream only
    bad = runner.invoke(app, ["validate-npz", str(root), "--streams", "hand_l,hand_r"])
    assert bad.exit_code == 1 and "missing_stream" in bad.output
    wrong = runner.invoke(app, ["validate-npz", str(root), "--streams", "hands"])
    assert wrong.exit_code == 2 and "expected names from" in wrong.output


def test_group_by_counts_labels_and_warns_of_groups_in_two_indexes(root: Path) -> None:
    lines = (root / "labels.csv").read_text().splitlines()  # 8 train ids, then 4 val ids
    signers = ["signer", *"aabbccdd", *"ddee"]
    (root / "labels.csv").write_text(
        "".join(f"{row},{s}\n" for row, s in zip(lines, signers, strict=True))
    )
    report = validate_streams(root, ["pose"], workers=1, group_by="signer")
    samples = report.splits[-1]
    assert report.ok and samples.group_counts == {"d": 4, "a": 2, "b": 2, "c": 2, "e": 2}
    assert report.straddling == {"d": {"train": 2, "val": 2}}
    assert [f.kind for f in samples.warnings] == ["group_straddle"]
    with pytest.raises(UsageError, match=r"labels\.csv has no column 'session'"):
        validate_streams(root, ["pose"], workers=1, group_by="session")
