"""Which channels the model's input stage gives the encoder for each stream, from the settings.

    plan = channel_plan(settings.data, {"x": 6})   # boston104_words: 3 joints, x and y
    plan["x"].width                                 # 18: raw | per-sample normalised | velocity

Beside a stream's raw channels (as stored, or as a body-part normaliser left them), the
input stage (models/sample_features.py) may add the stream normalised per sample and its
motion; what each stream gets depends on what its columns are:

    body-part streams (a `layout`, the multi-stream layout)  x, y, z per landmark
    `x` without a layout                                     data.coords / data.joints
    `x` beside a layout (the columns no range covers)        channels of unknown meaning

Body-part streams that `data.normalize` puts in their own frame of reference are not
normalised per sample again (they get motion channels only). `data.sample_normalize:
auto` is on only where X's coordinates are known (auto_size.resolved_inputs). Torch-free: models/size.py
counts the encoder's input widths from this without building a model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from signcli.auto_size import resolved_inputs, stream_coords
from signcli.core.streams import STREAM_NAMES
from signcli.settings import DataSettings

MOTION_ORDER = {"off": 0, "velocity": 1, "acceleration": 2}


@dataclass(frozen=True)
class StreamChannels:
    """The channel groups of one stream, each `stored` columns wide, side by side."""

    stored: int  # columns of the stream the encoder's input stage receives
    coords: int  # 3 (x, y, z per joint), 2 (x, y), 0 (columns of unknown meaning)
    raw: bool  # the stream itself
    normalized: bool  # centred and scaled over the clip
    motion: int  # 0: none, 1: velocity, 2: velocity and acceleration

    @property
    def groups(self) -> int:
        return int(self.raw) + int(self.normalized) + self.motion

    @property
    def width(self) -> int:
        """Columns the encoder reads for this stream."""
        return self.stored * self.groups

    def describe(self) -> str:
        """E.g. '6 columns of unknown meaning: raw + velocity' (the run header's input line)."""
        what = (
            f"{self.stored // self.coords} joints x {self.coords}"
            if self.coords
            else f"{self.stored} columns of unknown meaning"
        )
        motion = ["velocity", "acceleration"][: self.motion]
        groups = ["raw"] * self.raw + ["normalised per sample"] * self.normalized + motion
        return f"{what}: {' + '.join(groups)}"


def channel_plan(data: DataSettings, widths: Mapping[str, int]) -> dict[str, StreamChannels]:
    """{stream: its channels} for the streams of `widths` (as the column split gives them).
    ValueError when data.coords / data.joints do not fit a width."""
    normalize, motion, raw = resolved_inputs(data)
    plan = {}
    for name, width in widths.items():
        in_own_frame = data.normalize and name in data.normalize_streams and name in STREAM_NAMES
        coords = stream_coords(name, width, data)
        # columns of unknown meaning are normalised one by one unless data.coords says
        # X holds joints (then the columns a layout leaves are something else: left alone)
        plain_columns = coords == 0 and data.coords in ("none", "auto")
        plan[name] = StreamChannels(
            stored=width,
            coords=coords,
            raw=raw,
            normalized=normalize and not in_own_frame and (coords > 0 or plain_columns),
            motion=MOTION_ORDER[motion],
        )
        if plan[name].groups == 0:  # raw off, and this stream has nothing else
            plan[name] = StreamChannels(width, plan[name].coords, True, False, 0)
    return plan
