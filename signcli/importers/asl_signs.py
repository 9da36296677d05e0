"""`asl-signs`: Kaggle's "Google - Isolated Sign Language Recognition" (GISLR) layout.

    SRC/train.csv                             path, participant_id, sequence_id, sign
                                              (another name: --index FILE)
    SRC/train_landmark_files/<participant>/<sequence>.parquet
    SRC/sign_to_prediction_index_map.json     {sign: class index}  (optional)

`path` in train.csv is relative to SRC. Each parquet is one sequence in long format, read
by data/recordings/asl_signs.py (which `signcli predict` uses for a single parquet too).

An item per train.csv row: id `<participant_id>__<sequence_id>`, label = sign, signer =
participant_id. A row whose parquet is missing is skipped in `scan` with the reason (the
competition's data is often copied in part); so is a second row with the same ids, and,
when the class map exists, a row whose sign it lacks.

`FORMAT.class_order(SRC)` gives the signs in the order of the map's indices, so class ids
can match the competition's (and models trained on it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from signcli.core.errors import excerpt
from signcli.core.files import read_input_text
from signcli.core.limits import MAX_JSON_BYTES
from signcli.data.recordings.asl_signs import read_sequence
from signcli.data.recordings.kaggle import one_line
from signcli.importers._kaggle import FileLister, listed_path, read_index
from signcli.importers.base import (
    MEDIAPIPE_HOLISTIC,
    ImportFormatError,
    Scan,
    SourceItem,
    Streams,
    safe_id,
)

INDEX_CSV = "train.csv"
INDEX_COLUMNS = ("path", "participant_id", "sequence_id", "sign")
CLASS_MAP_JSON = "sign_to_prediction_index_map.json"
LAYOUT_TEXT = (
    "the Kaggle asl-signs layout: SRC/train.csv (path, participant_id, sequence_id, sign) "
    "and the parquet files it lists"
)


class AslSigns:
    """Kaggle GISLR: train.csv + one long-format parquet per sign."""

    name = "asl-signs"
    landmark_set = MEDIAPIPE_HOLISTIC
    units = "normalized"
    description = "Kaggle Isolated Sign Language Recognition: SRC/train.csv + one parquet per sign"
    options = ("index",)

    def scan(self, src: Path, index: str | None = None) -> Scan:
        src = Path(src)
        index_name = index or INDEX_CSV
        rows = read_index(src, index_name, INDEX_COLUMNS, LAYOUT_TEXT)
        if not rows:
            raise ImportFormatError(
                f"{src / index_name} lists no sequences (expected {LAYOUT_TEXT})"
            )
        class_map = read_class_map(src)
        lister = FileLister()
        items: list[SourceItem] = []
        skipped: list[tuple[str, str]] = []
        seen: dict[str, int] = {}  # id -> train.csv line
        missing = 0
        for line, row in enumerate(rows, start=2):  # line 1 is the header
            rel, participant, sequence, sign = (
                (row[c] or "").strip() for c in INDEX_COLUMNS
            )  # a short row gives None
            if not (rel and participant and sequence and sign):
                empty = [
                    c
                    for c, v in zip(INDEX_COLUMNS, (rel, participant, sequence, sign), strict=True)
                    if not v
                ]
                skipped.append((f"{src / index_name}:{line}", f"empty {', '.join(empty)}"))
                continue
            path = listed_path(src, rel)
            if path is None:
                skipped.append((f"{src / index_name}:{line}", f"path {excerpt(rel)} leaves SRC"))
                continue
            if not lister.exists(path):
                missing += 1
                skipped.append((str(path), f"missing file (listed in {index_name} line {line})"))
                continue
            if class_map is not None and sign not in class_map:
                skipped.append((str(path), f"sign {excerpt(sign)} is not in {CLASS_MAP_JSON}"))
                continue
            item_id = safe_id(participant, sequence)
            if item_id in seen:
                reason = f"id {item_id} already taken by {index_name} line {seen[item_id]}"
                skipped.append((str(path), reason))
                continue
            seen[item_id] = line
            items.append(SourceItem(id=item_id, ref=str(path), label=sign, signer=participant))
        if missing == len(rows):
            raise ImportFormatError(
                f"none of the {len(rows)} parquet files {index_name} lists is under {src} "
                f"(first: {rows[0]['path']}; expected {LAYOUT_TEXT})"
            )
        return Scan(items=items, skipped=skipped)

    def read(self, items: Sequence[SourceItem]) -> list[Streams | str]:
        return [read_sequence(Path(item.ref)) for item in items]

    def class_order(self, src: Path) -> list[str] | None:
        """The signs ordered by their index in SRC/sign_to_prediction_index_map.json, or
        None when SRC has no such file; ImportFormatError when it is malformed."""
        class_map = read_class_map(Path(src))
        if class_map is None:
            return None
        return sorted(class_map, key=class_map.__getitem__)


def read_class_map(src: Path) -> dict[str, int] | None:
    """{sign: index} from SRC/sign_to_prediction_index_map.json, None when absent. The
    indices must be 0..n-1, each once (they become class ids)."""
    path = src / CLASS_MAP_JSON
    if not path.exists():  # a FIFO or folder there is refused by read_input_text
        return None
    text = read_input_text(path, "sign map", limit=MAX_JSON_BYTES)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else one_line(error)
        raise ImportFormatError(f"{path} is not readable JSON ({reason})") from None
    if not isinstance(data, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in data.values()
    ):
        raise ImportFormatError(f"{path} must be one object {{sign: integer index}}")
    if sorted(data.values()) != list(range(len(data))):
        raise ImportFormatError(f"{path}: the indices must be 0..{len(data) - 1}, each once")
    return data


FORMAT = AslSigns()
