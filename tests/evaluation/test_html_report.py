"""eval's report.html: one self-contained page (nothing fetched) with the curves, tables,
confusion matrix and worst samples."""

from __future__ import annotations

import re
from pathlib import Path

from signcli.evaluation.run import evaluate


def test_report_html_is_self_contained_and_complete(trained_run, tmp_path: Path) -> None:
    result = evaluate(
        trained_run.work_dir / "best.pt",
        trained_run.data / "val",
        trained_run.data / "val_labels.csv",
        out_dir=tmp_path / "eval",
    )
    assert "report.html" in result.summary["files"]
    page = (tmp_path / "eval" / "report.html").read_text()
    # offline: no scripts, and every src/href is inline data
    assert "<script" not in page
    assert all(
        src.startswith("data:image/png;base64,") for src in re.findall(r"src='([^']*)'", page)
    )
    assert "href=" not in page
    for section in ("Summary", "Learning curves", "Per class", "Confusion matrix", "Worst samples"):
        assert f"<h2>{section}" in page, section
    assert page.count("<img") == 2  # curves and confusion
    wrong = int(re.search(r"Worst samples: (\d+) wrong of 12", page).group(1))
    rows = page.split("Worst samples")[1].count("<tr>") - 1
    assert rows == min(wrong, 25)
