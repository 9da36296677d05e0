"""The JUnit report parses and counts tests and failures the way CI systems read them."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from signcli.metrics.junit import write_junit
from signcli.metrics.rules import CheckResult

CHECKS = [
    CheckResult("val_gloss_top1 at best", "val_gloss_top1", 0.85, ">= 0.8", True, "epoch 2"),
    CheckResult("train_loss at last", "train_loss", 0.9, "<= 0.5", False, "last, epoch 3"),
    CheckResult("train_loss at last", "train_loss", 0.9, ">= 0.1", True, "last, epoch 3"),
]


def test_report_has_one_suite_one_case_per_check_and_failures(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "junit.xml"
    write_junit(path, CHECKS, ["metrics.jsonl:4: ignoring an incomplete last line"])
    assert os.listdir(path.parent) == ["junit.xml"]
    root = ET.parse(path).getroot()
    (suite,) = root.findall("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "val_gloss_top1 at best",
        "train_loss at last",
        "train_loss at last (2)",  # names stay unique
    ]
    (failure,) = suite.iter("failure")
    assert failure.get("message") == "observed 0.9, expected <= 0.5 (last, epoch 3)"
    assert "incomplete last line" in suite.findtext("system-err")
