"""`signcli import`: users' keypoint formats converted to a signcli dataset plus manifest.

One module per format (`base.Format`); `run.py` does the rest, the same for all of them.
`FORMATS` names each format's module and object, imported only when that format is used,
so `signcli --help` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from signcli.importers.base import Format

# FORMAT (as typed on the command line) -> (module, attribute) of its `base.Format`
FORMATS: dict[str, tuple[str, str]] = {
    "mp-folders": ("signcli.importers.mp_folders", "FORMAT"),
    "asl-signs": ("signcli.importers.asl_signs", "FORMAT"),
    "asl-fingerspelling": ("signcli.importers.asl_fingerspelling", "FORMAT"),
    "openpose": ("signcli.importers.openpose", "FORMAT"),
    "pose": ("signcli.importers.pose_file", "FORMAT"),
}


def get_format(name: str) -> Format:
    """The format called `name`; KeyError when there is none."""
    module, attribute = FORMATS[name]
    return getattr(import_module(module), attribute)
