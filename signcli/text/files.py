"""Read the text targets of a dataset and pair them with its samples (docs/architecture.md,
"Text targets").

Two files hold texts, one row per sample:

    single stream   --train-text / --val-text   `file,text`   comma, `file` with or without .npz
    multi-stream    meta.csv (--meta)           `id;texto`    semicolon, one file for every split

Both are UTF-8 CSV (a BOM is allowed) in which a text holding the delimiter, a quote or a
line break is quoted the CSV way (`"a; b"`, a quote inside doubled); the header is read without
case, `file`/`id` name the id column and `text`/`texto` the text column in either file.
The stdlib `csv` module reads them (not pandas) so that every problem names the line of
the file where it is, line numbers counting a quoted line break as the editor does.

`read_texts` collects problems (like `labels.read_labels`), `pair_texts` / `load_texts`
raise a DataError for training, and `check_text_file` is the report of `validate-npz`.
Torch- and numpy-free (imports in milliseconds).
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from signcli.core.errors import DataError, excerpt
from signcli.core.files import FileTooLarge, NotARegularFile, open_table

ID_COLUMNS = ("file", "id")  # the first one the header has names the sample
TEXT_COLUMNS = ("text", "texto")
SHOWN = 5  # lines or ids named in one message
UNREADABLE = ("text_missing", "text_unreadable", "text_encoding", "text_columns")
ENCODING_HINT = "save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8 OLD > NEW`)"
QUOTE_HINT = 'quote a text that holds the delimiter: "a, b" (a quote inside doubled: "say ""hi""")'


@dataclass(frozen=True)
class TextProblem:
    """A problem of a text file, shaped like `data.npz.Problem` (kind, message, severity)
    but numpy-free; `lines` are the 1-based lines of the file it is on."""

    kind: str
    message: str
    severity: str = "error"  # "error" | "warning"
    lines: tuple[int, ...] = ()


@dataclass
class TextTable:
    """A parsed text file: {sample id: text} (stripped; empty texts are problems, not kept)."""

    path: Path
    texts: dict[str, str]
    lines: dict[str, int]  # sample id -> line its row starts on
    problems: list[TextProblem]
    delimiter: str = ","

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    @property
    def errors(self) -> list[TextProblem]:
        return [p for p in self.problems if p.severity == "error"]


def _shown(items: Sequence, limit: int = SHOWN) -> str:
    text = ", ".join(str(i) for i in items[:limit])
    return text + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _delimiter(first_line: str) -> str:
    """`;` when the header is `id;texto`-like (a `;` and no `,`), else `,`."""
    return ";" if ";" in first_line and "," not in first_line else ","


def _decode(path: Path, data: bytes) -> tuple[str | None, TextProblem | None]:
    """UTF-8 text (BOM dropped), or a problem naming the lines that are not UTF-8."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    bad = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad.append((number, line[exc.start : exc.start + 4]))
    lines = tuple(n for n, _ in bad)
    example = bad[0][1] if bad else b""
    return None, TextProblem(
        "text_encoding",
        f"{path}: not UTF-8 on line(s) {_shown(lines)} (bytes {example!r}); {ENCODING_HINT}",
        lines=lines,
    )


def sibling_text_file(folder: Path | str) -> Path:
    """`<folder>_text.csv` beside a split's folder (a dataset root's `train_text.csv` beside
    `train/`): where training, eval and eval's language model look for a split's texts
    when no file is named."""
    folder = Path(folder)
    return folder.parent / f"{folder.name}_text.csv"


def read_texts(path: Path, delimiter: str | None = None) -> TextTable:
    """Parse a text file (`file,text` or `id;texto`; the delimiter from the header unless
    given). Problems are collected, not raised, each naming the file and its lines; only a
    path that is not a regular file (a FIFO, a folder) raises a UsageError before opening."""
    path = Path(path)
    table = TextTable(path, {}, {}, [])
    try:
        with open_table(path, "text file") as handle:
            data = handle.read()
    except NotARegularFile:  # a FIFO, a folder: refused, as the command cannot go on
        raise
    except FileNotFoundError:
        table.problems.append(TextProblem("text_missing", f"text file {path} not found"))
        return table
    except FileTooLarge as exc:
        table.problems.append(TextProblem("text_too_large", exc.message))
        return table
    except OSError as exc:
        table.problems.append(
            TextProblem("text_unreadable", f"{path}: cannot read ({exc.strerror or exc})")
        )
        return table
    text, problem = _decode(path, data)
    if problem is not None:
        table.problems.append(problem)
        return table
    assert text is not None
    table.delimiter = delimiter or _delimiter(text.split("\n", 1)[0])
    try:
        _parse(table, text)
    except csv.Error as exc:
        table.problems.append(
            TextProblem("text_unreadable", f"{path}: cannot parse CSV ({exc})", lines=())
        )
    return table


def _parse(table: TextTable, text: str) -> None:
    path, delimiter = table.path, table.delimiter
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [cell.strip().lower() for cell in next(reader, [])]
    expected = "'file,text' (or 'id;texto' for meta.csv)"
    id_column = next((c for c in ID_COLUMNS if c in header), None)
    text_column = next((c for c in TEXT_COLUMNS if c in header), None)
    if id_column is None or text_column is None:
        found = delimiter.join(header) or "nothing"
        table.problems.append(
            TextProblem(
                "text_columns", f"{path}: expected header {expected}, found {excerpt(found)}"
            )
        )
        return
    twice = sorted({c for c in header if header.count(c) > 1 and c in (id_column, text_column)})
    if twice:
        table.problems.append(
            TextProblem(
                "text_columns",
                f"{path}: column(s) {', '.join(twice)} given more than once (the header is "
                f"read without case: {excerpt(delimiter.join(header))}); keep one of each",
            )
        )
        return
    id_at, text_at = header.index(id_column), header.index(text_column)
    found: dict[str, list[int]] = {}  # problem kind -> lines
    first_line: dict[str, int] = {}
    duplicates: list[tuple[str, int, int]] = []
    end = reader.line_num
    from signcli.core.files import sample_id

    for row in reader:
        line, end = end + 1, reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue  # a blank line (spreadsheets leave them at the end)
        if len(row) > len(header):
            found.setdefault("text_extra_cells", []).append(line)
        if len(row) <= max(id_at, text_at):
            found.setdefault("text_missing_cells", []).append(line)
            continue
        sample = sample_id(row[id_at].strip())
        value = row[text_at].strip()
        if not sample:
            found.setdefault("text_no_id", []).append(line)
            continue
        if sample in first_line:
            duplicates.append((sample, first_line[sample], line))
            continue
        first_line[sample] = line
        if not value:
            found.setdefault("text_empty", []).append(line)
            continue
        table.texts[sample] = value
    table.lines = first_line
    width = len(header)
    messages = {
        "text_extra_cells": f"more cells than the header's {width} on line(s) {{}}; {QUOTE_HINT}",
        "text_missing_cells": f"no {text_column} cell on line(s) {{}}; give every row its "
        f"{id_column} and {text_column}",
        "text_no_id": f"empty {id_column} on line(s) {{}}",
        "text_empty": f"empty {text_column} on line(s) {{}}; give the sample its text or "
        "remove the sample from the split",
    }
    for kind, message in messages.items():
        if kind in found:
            lines = tuple(found[kind])
            table.problems.append(
                TextProblem(kind, f"{path}: " + message.format(_shown(lines)), lines=lines)
            )
    if duplicates:
        shown = [f"{excerpt(s)} (lines {a} and {b})" for s, a, b in duplicates]
        table.problems.append(
            TextProblem(
                "text_duplicate",
                f"{path}: {id_column} listed more than once: {_shown(shown)}; keep one row "
                "per sample",
                lines=tuple(b for _, _, b in duplicates),
            )
        )


def pair_texts(table: TextTable, ids: Sequence[str], flag: str = "the text file") -> list[str]:
    """The text of each sample id, in order. DataError (exit 2) when the file has errors or
    a sample has no text, naming the file, the lines or ids, and `flag` (where it came from)."""
    if not table.ok:
        raise DataError(
            "\n".join(p.message for p in table.errors),
            hint=f"fix the file, or give another with {flag}",
        )
    missing = [i for i in ids if i not in table.texts]
    if missing:
        raise DataError(
            f"{table.path}: no text for {len(missing)} of the {len(ids)} sample(s) "
            f"(e.g. {_shown(missing)})",
            hint=f"add a row for each to the file given with {flag}, or remove those samples",
        )
    return [table.texts[i] for i in ids]


def load_texts(path: Path, ids: Sequence[str], flag: str = "the text file") -> list[str]:
    """`read_texts` + `pair_texts`: the texts of `ids` from `path`, or a DataError."""
    return pair_texts(read_texts(path), ids, flag)


# ---------------------------------------------------------------------------------------
# validate-npz


@dataclass(frozen=True)
class LengthStats:
    """Lengths of the paired texts, in tokens."""

    count: int
    min: int
    median: float
    mean: float
    p95: int
    max: int

    @classmethod
    def of(cls, lengths: Sequence[int]) -> LengthStats | None:
        if not lengths:
            return None
        ordered = sorted(lengths)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        return cls(
            len(ordered),
            ordered[0],
            float(statistics.median(ordered)),
            float(statistics.fmean(ordered)),
            p95,
            ordered[-1],
        )


@dataclass
class TextCheck:
    """What `check_text_file` found: problems, counts and token lengths."""

    path: Path
    texts: int = 0  # rows with a text
    paired: int = 0  # data ids that have one
    problems: list[TextProblem] = field(default_factory=list)
    lengths: LengthStats | None = None

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    def summary(self) -> str:
        line = f"{self.path}: {self.texts} text(s), {self.paired} paired with data"
        if self.lengths is not None:
            s = self.lengths
            line += (
                f"; tokens per text min {s.min}, median {s.median:g}, mean {s.mean:.1f}, "
                f"p95 {s.p95}, max {s.max}"
            )
        return line


def check_text_file(
    path: Path,
    data_ids: Iterable[str],
    *,
    other_ids: Iterable[str] = (),
    tokenize: Callable[[str], Sequence] | None = None,
    max_tokens: int | None = None,
) -> TextCheck:
    """Check the text file `path` against the samples `data_ids` that need a text.

    Errors: what `read_texts` finds (encoding, columns, empty texts, duplicate ids) and
    data ids without a text. Warnings: texts of ids that are neither data ids nor
    `other_ids` (the ids of the other splits, for a meta.csv shared by all), and with
    `max_tokens` (model.max_target_len) texts longer than that, which training cuts.
    Lengths are in tokens of `tokenize` (a tokenizer's `encode`), else whitespace words.
    """
    table = read_texts(path)
    report = TextCheck(Path(path), texts=len(table.texts), problems=list(table.problems))
    if any(p.kind in UNREADABLE for p in table.problems):  # nothing to pair
        return report
    data_ids = list(data_ids)
    known = set(data_ids) | set(other_ids)
    without_text = [i for i in data_ids if i not in table.texts]
    empty_lines = set(next((p.lines for p in table.problems if p.kind == "text_empty"), ()))
    without_text = [i for i in without_text if table.lines.get(i) not in empty_lines]
    if without_text:
        report.problems.append(
            TextProblem(
                "text_missing_for_data",
                f"{path}: no text for {len(without_text)} sample(s) with data (e.g. "
                f"{_shown(without_text)}); add a row for each",
            )
        )
    without_data = [i for i in table.texts if i not in known]
    if without_data:
        report.problems.append(
            TextProblem(
                "text_without_data",
                f"{path}: {len(without_data)} text(s) of ids without data (e.g. "
                f"{_shown(without_data)}); they are not used",
                "warning",
                lines=tuple(table.lines[i] for i in without_data),
            )
        )
    paired = [table.texts[i] for i in data_ids if i in table.texts]
    report.paired = len(paired)
    count = tokenize or str.split
    lengths = [len(count(text)) for text in paired]
    report.lengths = LengthStats.of(lengths)
    if max_tokens is not None:
        long = [i for i in data_ids if i in table.texts and len(count(table.texts[i])) > max_tokens]
        if long:
            report.problems.append(
                TextProblem(
                    "text_too_long",
                    f"{path}: {len(long)} text(s) longer than {max_tokens} tokens (e.g. "
                    f"{_shown(long)}), cut in training; raise model.max_target_len to keep them",
                    "warning",
                    lines=tuple(table.lines[i] for i in long),
                )
            )
    return report
