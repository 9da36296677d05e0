"""core/write_targets.py: an output a user names is never an input of the command nor a
run's own file (issue 23, data loss)."""

from __future__ import annotations

from pathlib import Path

import pytest

from signcli.core.errors import UsageError
from signcli.core.write_targets import check_write_target


def make_run(folder: Path) -> Path:
    folder.mkdir()
    for name in ("config.json", "metrics.jsonl", "last.pt"):
        (folder / name).write_text("run file\n")
    return folder


@pytest.mark.parametrize("name", ["config.json", "metrics.jsonl", "last.pt", "best.pt"])
def test_a_run_file_in_a_run_folder_is_refused(tmp_path: Path, name: str) -> None:
    run = make_run(tmp_path / "run")
    with pytest.raises(UsageError, match=f"--out .*{name} is one of the run's own files"):
        check_write_target(run / name, "--out")


def test_an_input_is_refused_also_through_a_link(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("file,gloss\n")
    link = tmp_path / "alias.csv"
    link.symlink_to(labels)
    with pytest.raises(UsageError, match="an input of this command"):
        check_write_target(link, "--log-csv", inputs=[None, labels])


def test_other_names_and_folders_without_a_run_are_allowed(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    check_write_target(run / "model.onnx", "--out")  # beside the run: a new name
    (tmp_path / "plain").mkdir()
    check_write_target(tmp_path / "plain" / "config.json", "--out")  # no run there
