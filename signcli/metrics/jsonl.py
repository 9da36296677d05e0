"""metrics.jsonl: one JSON object per finished epoch (docs/architecture.md, "metrics.jsonl").

Every write rewrites the whole file through `atomic_write` (old lines + the new one), so a
process killed at any instant leaves the old file or the new one, never a torn line. Files
from tools that append in place may still end in a torn line: reading warns and ignores a
broken *last* line, while a broken line in the middle is an error. `resume_metrics` puts a
resumed run's file back to one line per finished epoch. Torch-free.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path

from signcli.core.atomic import atomic_write
from signcli.core.errors import DataError
from signcli.core.files import read_input_text
from signcli.core.limits import MAX_TABLE_BYTES
from signcli.core.structured import value_problem

EPOCH_KEY = "epoch"
_SNAKE_CASE = re.compile(r"^[a-z][a-z0-9_]*$")

Record = dict[str, float]


@dataclass
class MetricsLog:
    """The epochs of one run, in file order, and what was odd about the file."""

    path: Path
    records: list[Record]
    warnings: list[str] = field(default_factory=list)
    line_numbers: list[int] = field(default_factory=list)  # of each record in the file

    def metric_names(self) -> list[str]:
        """Every key that appears in at least one epoch, in order of first appearance."""
        names: dict[str, None] = {}
        for record in self.records:
            names.update(dict.fromkeys(record))
        return list(names)

    def series(self, metric: str) -> list[tuple[int, float]]:
        """(epoch, value) of every epoch that logged `metric`; epochs without it are skipped."""
        return [(int(r[EPOCH_KEY]), r[metric]) for r in self.records if metric in r]

    def where(self, metric: str) -> str:
        """`path:line` of the last record that logged `metric` (error messages name it)."""
        numbered = zip(self.line_numbers, self.records, strict=False)
        lines = [lineno for lineno, record in numbered if metric in record]
        return f"{self.path}:{lines[-1]}" if lines else str(self.path)

    @property
    def last_epoch(self) -> int:
        return int(self.records[-1][EPOCH_KEY])


def read_metrics(path: Path) -> MetricsLog:
    """Read a metrics.jsonl. A missing or unreadable file is a UsageError, an empty one or a
    bad line in the middle a DataError (file and line named); a torn last line is a warning."""
    path = Path(path)
    text = _read_text(path)
    records, warnings = _parse(path, text)
    if not records:
        reason = "is empty" if not warnings else "has no complete line"
        raise DataError(
            f"{path} {reason}: no epoch has finished",
            hint="train for at least one epoch, or point at the run's own metrics.jsonl",
        )
    return MetricsLog(
        path,
        [record for _, _, record in records],
        warnings,
        [lineno for lineno, _, _ in records],
    )


def append_metrics(path: Path, record: Mapping[str, float]) -> None:
    """Add one epoch's line, rewriting the file atomically (a torn last line is dropped)."""
    path = Path(path)
    line = format_record(record)
    lines = [raw for _, raw, _ in _parse(path, _read_text(path))[0]] if path.exists() else []
    atomic_write(path, "".join(raw + "\n" for raw in [*lines, line]))


def resume_metrics(
    path: Path, done_epoch: int, checkpoint_record: Mapping[str, float] | None = None
) -> list[str]:
    """Make `path` hold exactly one line for each epoch 1..`done_epoch` (the epochs the
    checkpoint a run resumes from has finished), rewriting it atomically if needed; returns
    warnings naming the file and line.

    A torn last line is dropped. Lines of later epochs (written before a kill stopped the
    checkpoint that would have followed them) are dropped silently: the run trains those
    epochs again. Of two lines for one epoch the later is kept. The line of `done_epoch`
    itself, if missing, is re-created from `checkpoint_record` (the metrics the checkpoint
    holds) when that is its epoch; any other missing epoch is named in a warning.
    """
    path = Path(path)
    text = _read_text(path) if path.exists() else ""
    records, torn = _parse_lines(path, text)
    warnings = []
    if torn is not None:
        warnings.append(
            f"{path}:{torn}: dropped a torn last line (not valid JSON: a run killed while "
            "appending it?)"
        )
    lines: dict[int, str] = {}
    for lineno, raw, record in records:
        epoch = int(record[EPOCH_KEY])
        if epoch > done_epoch:
            continue
        if epoch in lines:
            warnings.append(f"{path}:{lineno}: a second line for epoch {epoch}; kept this one")
        lines[epoch] = raw
    warnings += _fill_missing(path, lines, done_epoch, checkpoint_record, torn is not None)
    new_text = "".join(lines[epoch] + "\n" for epoch in sorted(lines))
    if new_text != text:
        atomic_write(path, new_text)
    return warnings


def _fill_missing(
    path: Path,
    lines: dict[int, str],
    done_epoch: int,
    checkpoint_record: Mapping[str, float] | None,
    torn: bool,
) -> list[str]:
    """Re-create the line of `done_epoch` from the checkpoint's record if it is missing;
    warnings for every epoch up to `done_epoch` that still has no line."""
    if done_epoch < 1:
        return []
    warnings = []
    last = f"epoch {done_epoch}, the last one the checkpoint finished, had no line"
    if torn:
        last += " (its line was the torn one)"
    if done_epoch not in lines:
        if checkpoint_record is not None and checkpoint_record.get(EPOCH_KEY) == done_epoch:
            lines[done_epoch] = format_record(checkpoint_record)
            warnings.append(f"{path}: {last}; re-created it from the checkpoint's metrics")
        else:
            warnings.append(
                f"{path}: {last} and the checkpoint does not hold its metrics "
                f"(written by an older signcli): the log misses epoch {done_epoch}"
            )
    earlier = [epoch for epoch in range(1, done_epoch) if epoch not in lines]
    if earlier:
        warnings.append(
            f"{path}: no line for epoch(s) {', '.join(map(str, earlier))}, which finished "
            "before the checkpoint: the log misses them"
        )
    return warnings


def format_record(record: Mapping[str, float]) -> str:
    """One JSON line: snake_case keys, numbers only, `epoch` required."""
    bad_keys = [k for k in record if not isinstance(k, str) or not _SNAKE_CASE.match(k)]
    if bad_keys:
        raise ValueError(f"metrics keys must be snake_case, got {bad_keys}")
    if EPOCH_KEY not in record:
        raise ValueError(f"a metrics record needs an '{EPOCH_KEY}' key, got {sorted(record)}")
    values: dict[str, float] = {}
    for key, value in record.items():
        if isinstance(value, bool) or not isinstance(value, Real):
            raise ValueError(f"metric {key} must be a number, got {value!r}")
        if isinstance(value, int) and abs(value) > sys.float_info.max:  # read_metrics refuses
            raise ValueError(f"metric {key} is an integer beyond what a float holds")
        # numpy and torch scalars become plain int/float so json writes them
        values[key] = int(value) if _is_int(value) else float(value)
    return json.dumps(values, separators=(", ", ": "))


def _is_int(value: Real) -> bool:
    return isinstance(value, int) or type(value).__name__.startswith(("int", "uint"))


def _read_text(path: Path) -> str:
    # open_input: a FIFO would block the read until something writes to it
    return read_input_text(
        path, "metrics file", limit=MAX_TABLE_BYTES, hint="check the path to metrics.jsonl"
    )


def _parse(path: Path, text: str) -> tuple[list[tuple[int, str, Record]], list[str]]:
    """(line number, raw line, record) per complete line, and warnings. Blank lines are
    skipped."""
    records, torn = _parse_lines(path, text)
    if torn is None:
        return records, []
    return records, [
        f"{path}:{torn}: ignoring an incomplete last line (a run killed while writing it?)"
    ]


def _parse_lines(path: Path, text: str) -> tuple[list[tuple[int, str, Record]], int | None]:
    """(line number, raw line, record) per complete line, and the number of a torn last
    line (not valid JSON), if any. A last line that is valid JSON but lacks its newline is
    complete (a JSON object cannot be cut short and still parse), so it is kept."""
    numbered = [(n, raw.strip()) for n, raw in enumerate(text.splitlines(), 1) if raw.strip()]
    records: list[tuple[int, str, Record]] = []
    for index, (lineno, raw) in enumerate(numbered):
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            if index == len(numbered) - 1:
                return records, lineno
            raise DataError(f"{path}:{lineno}: not valid JSON: {exc.msg}") from None
        except ValueError as exc:  # valid JSON, but a number Python refuses to read
            raise DataError(f"{path}:{lineno}: {value_problem(exc)}") from None
        except RecursionError:
            raise DataError(f"{path}:{lineno}: nested too deeply to be a metrics line") from None
        records.append((lineno, raw, _check_record(path, lineno, obj)))
    return records, None


def _shown(value: object) -> str:
    """A bad value of a line, as JSON, cut short (a line may hold anything)."""
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_record(path: Path, lineno: int, obj: object) -> Record:
    where = f"{path}:{lineno}"
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    for key, value in obj.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DataError(f"{where}: {key} must be a number, got {_shown(value)}")
        if isinstance(value, int) and abs(value) > sys.float_info.max:  # every check is float
            raise DataError(
                f"{where}: {key} is an integer of {len(str(abs(value))):,} digits, "
                "beyond what a float holds"
            )
    epoch = obj.get(EPOCH_KEY)
    if epoch is None:
        raise DataError(f"{where}: no '{EPOCH_KEY}' key", hint="each line is one finished epoch")
    if not math.isfinite(epoch) or epoch != int(epoch) or epoch < 1:
        raise DataError(f"{where}: {EPOCH_KEY} must be a whole number >= 1, got {epoch}")
    return obj
