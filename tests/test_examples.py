"""The bundled example exists in both layouts and passes validation (it ships in the repo)."""

from __future__ import annotations

from pathlib import Path

from signcli.data.validate import validate_path, validate_streams

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_single_stream_example_is_valid() -> None:
    report = validate_path(EXAMPLES / "data", workers=1)
    assert report.ok and [s.name for s in report.splits] == ["train", "val"]
    assert all(s.D == 156 for s in report.splits)


def test_multistream_example_is_valid_and_matches() -> None:
    report = validate_streams(
        EXAMPLES / "data_multistream", ["face", "hand_l", "hand_r", "pose"], workers=1
    )
    assert report.ok
    samples = report.splits[-1]
    single = validate_path(EXAMPLES / "data", workers=1)
    assert samples.file_count == sum(s.file_count for s in single.splits)
