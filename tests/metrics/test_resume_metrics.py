"""`resume_metrics`: a resumed run's metrics.jsonl goes back to exactly one line per epoch the
checkpoint finished, and every line it drops or cannot restore is named in a warning."""

from __future__ import annotations

import json
from pathlib import Path

from signcli.metrics.jsonl import resume_metrics

TORN = '{"epoch": 4, "train_lo'


def epochs(path: Path) -> list[int]:
    return [json.loads(line)["epoch"] for line in path.read_text().splitlines()]


def test_a_torn_last_line_after_the_checkpoint_is_dropped_with_a_warning(
    write_jsonl, run_records
) -> None:
    path = write_jsonl(run_records, tail=TORN)
    warnings = resume_metrics(path, 3)
    assert warnings == [
        f"{path}:4: dropped a torn last line (not valid JSON: a run killed while appending it?)"
    ]
    assert epochs(path) == [1, 2, 3] and path.read_text().endswith("\n")


def test_the_checkpoints_own_torn_line_is_recreated_from_its_metrics(
    write_jsonl, run_records
) -> None:
    path = write_jsonl(run_records[:2], tail='{"epoch": 3, "step"')
    warnings = resume_metrics(path, 3, run_records[2])
    assert warnings[0].startswith(f"{path}:3: dropped a torn last line")
    assert warnings[1] == (
        f"{path}: epoch 3, the last one the checkpoint finished, had no line (its line was "
        "the torn one); re-created it from the checkpoint's metrics"
    )
    assert [json.loads(line) for line in path.read_text().splitlines()] == run_records


def test_without_the_checkpoints_metrics_the_missing_epoch_is_named(
    write_jsonl, run_records
) -> None:
    path = write_jsonl(run_records[:2], tail='{"epoch": 3, "step"')
    warnings = resume_metrics(path, 3, None)
    assert "its line was the torn one" in warnings[1]
    assert "the checkpoint does not hold its metrics" in warnings[1]
    assert "the log misses epoch 3" in warnings[1]
    assert epochs(path) == [1, 2]


def test_lines_after_the_checkpoint_and_duplicates_go(write_jsonl, run_records) -> None:
    second_try = {**run_records[1], "train_loss": 1.1}
    path = write_jsonl([run_records[0], run_records[1], second_try, run_records[2]])
    warnings = resume_metrics(path, 2)  # epoch 3's line came before its checkpoint: dropped
    assert warnings == [f"{path}:3: a second line for epoch 2; kept this one"]
    assert epochs(path) == [1, 2]
    assert json.loads(path.read_text().splitlines()[1])["train_loss"] == 1.1


def test_a_gap_before_the_checkpoint_is_named(write_jsonl, run_records) -> None:
    path = write_jsonl([run_records[0], run_records[2]])
    assert resume_metrics(path, 3) == [
        f"{path}: no line for epoch(s) 2, which finished before the checkpoint: the log misses them"
    ]


def test_a_complete_file_is_left_alone(run_jsonl: Path) -> None:
    before = run_jsonl.stat()
    assert resume_metrics(run_jsonl, 3) == []
    after = run_jsonl.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_complete_last_line_without_its_newline_is_kept(write_jsonl, run_records) -> None:
    path = write_jsonl(run_records[:2], tail=json.dumps(run_records[2]))
    assert resume_metrics(path, 3) == []
    assert epochs(path) == [1, 2, 3] and path.read_text().endswith("}\n")


def test_a_run_resumed_before_its_first_epoch_has_no_file(tmp_path: Path, run_records) -> None:
    path = tmp_path / "metrics.jsonl"
    assert resume_metrics(path, 0) == [] and not path.exists()
    assert "re-created it" in resume_metrics(path, 1, run_records[0])[0]
    assert epochs(path) == [1]
