"""report.html: one self-contained page of an evaluation that opens offline.

Everything is inside the file (no script, no stylesheet or image fetched): the summary,
the run's learning curves (from the metrics.jsonl beside the checkpoint, when it is
there), the per-class and per-group tables, the confusion matrix, and the worst samples
(classify: wrong answers, the most confident first; text tasks: the highest WER). It is
drawn from the files the task wrote into the evaluation folder, so it shows what they say.
"""

from __future__ import annotations

import base64
import csv
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from signcli.core.atomic import atomic_write
from signcli.metrics import report

REPORT_FILE = report.REPORT_FILE
WORST_SAMPLES = 25  # rows of the worst-samples table; predictions.parquet has all
MAX_TABLE_ROWS = 500  # per-class / per-group rows shown; the CSVs have all

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f2f2f2; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; } .note { color: #666; font-size: 0.9em; }
"""


def write_html_report(
    out_dir: Path,
    summary: Mapping[str, Any],
    checkpoint: Path,
    monitor: str | None,
) -> str:
    """Write out_dir/report.html from the summary and the evaluation's files; returns its
    name."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>eval {_e(Path(checkpoint).name)}</title><style>{STYLE}</style></head><body>",
        f"<h1>eval of {_e(str(checkpoint))}</h1>",
        _summary_table(summary),
        _curves(Path(checkpoint).parent / "metrics.jsonl", monitor),
        _csv_section(out_dir / report.PER_CLASS_FILE, "Per class"),
        _csv_section(out_dir / report.PER_GROUP_FILE, "Per group (worst first)"),
        _image_section(out_dir / report.CONFUSION_PNG, "Confusion matrix"),
        _worst_samples(out_dir / report.PREDICTIONS_FILE),
        "</body></html>\n",
    ]
    atomic_write(out_dir / REPORT_FILE, "\n".join(p for p in parts if p))
    return REPORT_FILE


def _e(value: Any) -> str:
    return html.escape(str(value))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"<td class='n'>{value:.4f}</td>"
    if isinstance(value, int):
        return f"<td class='n'>{value}</td>"
    return f"<td>{_e(value)}</td>"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _summary_table(summary: Mapping[str, Any]) -> str:
    rows = [
        [key, value]
        for key, value in summary.items()
        if isinstance(value, int | float | str) and key not in ("out_dir", "checkpoint")
    ]
    decoding = summary.get("lm")
    if isinstance(decoding, Mapping):
        rows.append(["lm", ", ".join(f"{k} {v}" for k, v in decoding.items())])
    return "<h2>Summary</h2>" + _table(["", "value"], rows)


def _png(data: bytes, alt: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return f"<img alt='{_e(alt)}' src='data:image/png;base64,{encoded}'>"


def _curves(metrics: Path, monitor: str | None) -> str:
    from signcli.core.errors import SigncliError
    from signcli.metrics.jsonl import read_metrics
    from signcli.metrics.plots import curves_png

    if not metrics.is_file():
        return ""
    try:
        records = read_metrics(metrics).records
    except SigncliError:
        return ""
    return "<h2>Learning curves</h2>" + _png(curves_png(records, monitor), "learning curves")


def _csv_section(path: Path, title: str) -> str:
    if not path.is_file():
        return ""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return ""
    header, body = rows[0], [[_number(v) for v in row] for row in rows[1:]]
    note = ""
    if len(body) > MAX_TABLE_ROWS:
        note = f"<p class='note'>the first {MAX_TABLE_ROWS} of {len(body)} rows; all in {path.name}</p>"
        body = body[:MAX_TABLE_ROWS]
    return f"<h2>{_e(title)}</h2>" + _table(header, body) + note


def _number(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _image_section(path: Path, title: str) -> str:
    if not path.is_file():
        return ""
    return f"<h2>{_e(title)}</h2>" + _png(path.read_bytes(), title)


def _worst_samples(path: Path) -> str:
    """Classify: the wrong answers, most confident first; text: the highest WER first."""
    if not path.is_file():
        return ""
    import pyarrow.parquet as pq

    table = pq.read_table(path).to_pylist()
    if table and "wer" in table[0]:
        rows = sorted(table, key=lambda r: -r["wer"])[:WORST_SAMPLES]
        columns = ["id", "wer", "reference", "hypothesis"]
        caption = "Worst samples (highest WER first)"
    elif table and "true_gloss" in table[0]:
        wrong = [r for r in table if r["true_gloss"] != r["pred_gloss"]]
        rows = sorted(wrong, key=lambda r: -r["pred_prob"])[:WORST_SAMPLES]
        named = "true_gloss_name" in table[0]
        columns = ["id", "true_gloss_name" if named else "true_gloss"]
        columns += ["pred_gloss_name" if named else "pred_gloss", "pred_prob"]
        caption = f"Worst samples: {len(wrong)} wrong of {len(table)}, most confident first"
    else:
        return ""
    body = [[row.get(c) for c in columns] for row in rows]
    return f"<h2>{_e(caption)}</h2>" + _table(columns, body)
