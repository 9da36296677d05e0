"""Column layouts: which columns of a single-stream keypoint array are which body part.

    --layout hand_l=0:63,hand_r=63:126,pose=126:156     (the bundled example's X [T, 156])

Each entry names a stream of the multi-stream layout and a half-open column range
START:STOP of whole landmarks (x, y, z: both ends multiples of 3). With a layout, the
model splits `x` into those streams, so single-stream data gets the per-stream
normalisation, the multi-stream fusion and the sign-aware augmentation without being
converted. Columns that no range covers stay together as the stream `x`. The settings
parse layouts with `parse_layout` (so numpy is imported only where arrays are split:
`--help` stays light); the model and the augmentation split with `layout_columns`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from signcli.core.streams import STREAM_NAMES

if TYPE_CHECKING:
    import numpy as np

COORDS = 3  # x, y, z per landmark
REST = "x"  # columns outside every range: data/sample.py SINGLE_STREAM (not imported: numpy)
EXAMPLE = "hand_l=0:63,hand_r=63:126,pose=126:156"

ColumnRange = tuple[int, int]


def parse_layout(spec: str) -> dict[str, ColumnRange]:
    """`"hand_l=0:63,pose=126:156"` -> {"hand_l": (0, 63), "pose": (126, 156)}.

    ValueError says which entry is malformed; `check_layout` checks the ranges.
    """
    layout: dict[str, ColumnRange] = {}
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, columns = entry.partition("=")
        start, colon, stop = columns.partition(":")
        if not (sep and colon and start.strip().isdigit() and stop.strip().isdigit()):
            raise ValueError(f"{entry!r} is not STREAM=START:STOP (e.g. {EXAMPLE})")
        name = name.strip()
        if name in layout:
            raise ValueError(f"stream {name!r} is given twice")
        layout[name] = (int(start), int(stop))
    if not layout:
        raise ValueError(f"no column ranges given (e.g. {EXAMPLE})")
    return layout


def check_layout(layout: Mapping[str, ColumnRange]) -> list[str]:
    """The problems of a layout on its own (stream names, landmark-aligned, no overlap)."""
    problems = []
    for name, (start, stop) in layout.items():
        if name not in STREAM_NAMES:
            problems.append(f"{name!r} is not a stream ({', '.join(STREAM_NAMES)})")
        if not start < stop:
            problems.append(f"{name}={start}:{stop} is empty (START must be below STOP)")
        elif start % COORDS or stop % COORDS:
            problems.append(
                f"{name}={start}:{stop} does not cover whole landmarks "
                f"(x, y, z: START and STOP must be multiples of {COORDS})"
            )
    ranges = sorted((r, name) for name, r in layout.items() if r[0] < r[1])
    for i, ((_, a_stop), a) in enumerate(ranges):
        for (b_start, b_stop), b in ranges[i + 1 :]:
            if b_start < a_stop:
                last = min(a_stop, b_stop) - 1
                problems.append(f"{a} and {b} overlap (columns {b_start}..{last})")
    return problems


def layout_columns(layout: Mapping[str, ColumnRange], width: int) -> dict[str, np.ndarray]:
    """{stream: column indices} of an array `width` wide, in STREAM_NAMES order, then REST for
    the columns no range covers. ValueError when a range ends past `width`."""
    import numpy as np

    beyond = {name: stop for name, (_, stop) in layout.items() if stop > width}
    if beyond:
        shown = ", ".join(f"{name} ends at {stop}" for name, stop in beyond.items())
        raise ValueError(f"the layout does not fit arrays {width} columns wide ({shown})")
    columns = {
        name: np.arange(*layout[name], dtype=np.int64) for name in STREAM_NAMES if name in layout
    }
    covered = np.zeros(width, dtype=bool)
    for index in columns.values():
        covered[index] = True
    if not covered.all():
        columns[REST] = np.flatnonzero(~covered)
    return columns


def split_columns(array: np.ndarray, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """[T, width] -> {stream: [T, D_stream]}."""
    return {name: array[:, index] for name, index in columns.items()}


def join_columns(
    streams: Mapping[str, np.ndarray], columns: Mapping[str, np.ndarray], width: int
) -> np.ndarray:
    """The inverse of `split_columns`: {stream: [T, D_stream]} -> [T, width]."""
    import numpy as np

    T = next(iter(streams.values())).shape[0]
    array = np.empty((T, width), dtype=np.float32)
    for name, index in columns.items():
        array[:, index] = streams[name]
    return array
