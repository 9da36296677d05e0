"""`asl-fingerspelling`: Kaggle's "Google - American Sign Language Fingerspelling Recognition".

    SRC/train.csv                      path, file_id, sequence_id, participant_id, phrase
    SRC/train_landmarks/<file_id>.parquet
    SRC/supplemental_metadata.csv      the same columns (optional)
    SRC/supplemental_landmarks/<file_id>.parquet

`path` in the CSVs is relative to SRC. Each parquet holds many sequences in wide
format, read by data/recordings/asl_fingerspelling.py (which `signcli predict` uses for a
single parquet too: each of its sequences is a recording).

An item per CSV row: id `<participant_id>__<sequence_id>`, text = phrase, signer =
participant_id, no label (a phrase is text, not a class), group = the parquet, so `read`
gets the items of one file together and reads it once. The supplemental set (other
phrases, same signers and format) is imported with the training set when its CSV exists;
`INDEX_CSVS` lists what is read. Rows whose parquet is missing are skipped in `scan`, one
reason per sequence, and so are a second row with the same ids and a row whose sequence_id
is not an integer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from signcli.core.errors import excerpt
from signcli.data.recordings.asl_fingerspelling import SEQUENCE_COLUMN, read_file
from signcli.importers._kaggle import FileLister, listed_path, read_index
from signcli.importers.base import (
    MEDIAPIPE_HOLISTIC,
    ImportFormatError,
    Scan,
    SourceItem,
    Streams,
    safe_id,
)

# the index CSVs read, in order; the first must exist, the others are used when present
INDEX_CSVS = ("train.csv", "supplemental_metadata.csv")
INDEX_COLUMNS = ("path", "file_id", "sequence_id", "participant_id", "phrase")
LAYOUT_TEXT = (
    "the Kaggle asl-fingerspelling layout: SRC/train.csv "
    "(path, file_id, sequence_id, participant_id, phrase) and the parquet files it lists"
)


class AslFingerspelling:
    """Kaggle ASL fingerspelling: CSV index + wide parquet files of many sequences each."""

    name = "asl-fingerspelling"
    landmark_set = MEDIAPIPE_HOLISTIC
    units = "normalized"
    description = "Kaggle ASL Fingerspelling: SRC/train.csv + wide parquet files of many phrases"

    def scan(self, src: Path) -> Scan:
        src = Path(src)
        lister = FileLister()
        items: list[SourceItem] = []
        skipped: list[tuple[str, str]] = []
        seen: dict[str, str] = {}  # id -> "<csv> line <n>"
        listed = missing = 0
        for csv_name in INDEX_CSVS:
            if csv_name != INDEX_CSVS[0] and not (src / csv_name).is_file():
                continue
            rows = read_index(src, csv_name, INDEX_COLUMNS, LAYOUT_TEXT)
            listed += len(rows)
            for line, row in enumerate(rows, start=2):  # line 1 is the header
                where = f"{csv_name} line {line}"
                rel, sequence, participant = (
                    (row[c] or "").strip() for c in ("path", SEQUENCE_COLUMN, "participant_id")
                )  # a short row gives None
                if not (rel and sequence and participant):
                    skipped.append(
                        (f"{src / csv_name}:{line}", "empty path, sequence_id or participant_id")
                    )
                    continue
                path = listed_path(src, rel)
                if path is None:
                    skipped.append((f"{src / csv_name}:{line}", f"path {excerpt(rel)} leaves SRC"))
                    continue
                try:
                    sequence_number = int(sequence)
                except ValueError:
                    skipped.append(
                        (str(path), f"sequence_id {excerpt(sequence)} in {where} is not an integer")
                    )
                    continue
                if not lister.exists(path):
                    missing += 1
                    skipped.append((str(path), f"missing file (sequence {sequence}, {where})"))
                    continue
                item_id = safe_id(participant, sequence)
                if item_id in seen:
                    skipped.append(
                        (str(path), f"id {item_id} of {where} already taken by {seen[item_id]}")
                    )
                    continue
                seen[item_id] = where
                items.append(
                    SourceItem(
                        id=item_id,
                        ref=(str(path), sequence_number),
                        signer=participant,
                        text=row["phrase"] or "",
                        group=str(path),
                    )
                )
        if not listed:
            raise ImportFormatError(
                f"{src / INDEX_CSVS[0]} lists no sequences (expected {LAYOUT_TEXT})"
            )
        if missing == listed:
            raise ImportFormatError(
                f"none of the parquet files the CSVs list is under {src} (expected {LAYOUT_TEXT})"
            )
        return Scan(items=items, skipped=skipped)

    def read(self, items: Sequence[SourceItem]) -> list[Streams | str]:
        by_file: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
        for position, item in enumerate(items):
            path, sequence = item.ref
            by_file[str(path)][int(sequence)].append(position)
        results: list[Streams | str] = [""] * len(items)
        for path, wanted in by_file.items():
            found = read_file(Path(path), sorted(wanted))
            for sequence, positions in wanted.items():
                for position in positions:
                    results[position] = found[sequence]
        return results


FORMAT = AslFingerspelling()
