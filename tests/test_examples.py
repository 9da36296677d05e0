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


def test_example_configs_are_valid_settings_and_the_layout_comment_too(tmp_path: Path) -> None:
    from signcli.settings import load_settings

    for config in sorted(EXAMPLES.glob("*.yaml")):
        assert load_settings(config).data is not None, config
    text = (EXAMPLES / "quickstart.yaml").read_text()
    uncommented = text.replace("  # layout:", "  layout:")
    assert uncommented != text
    (tmp_path / "layout.yaml").write_text(uncommented)
    assert load_settings(tmp_path / "layout.yaml").data.layout == {
        "hand_l": (0, 63), "hand_r": (63, 126), "pose": (126, 156)
    }  # fmt: skip
