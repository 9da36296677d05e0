"""Options shared by several commands, as `Annotated` aliases (typer and pathlib only)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Settings file (YAML or JSON); flags and --set override it."
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        metavar="SECTION.KEY=VALUE",
        help="Override one setting, typed by the settings model (repeatable), "
        "e.g. --set optim.lr=3e-4.",
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one machine-readable JSON document instead of tables.")
]
KeyOpt = Annotated[
    str | None,
    typer.Option("--key", help="Array key inside each .npz: X (keypoints) or X2048 (features)."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the final summary.")]
DeviceOpt = Annotated[
    str | None, typer.Option("--device", help="auto, cpu, cuda or mps.", show_default=False)
]
TrustDecoderClassOpt = Annotated[
    bool,
    typer.Option(
        "--trust-decoder-class",
        help="Build the model.decoder_class stored in the run (checkpoint, config.json) even "
        "when it is not signcli's own: that imports its module, which runs its code, so only "
        "for a run you trust.",
    ),
]
