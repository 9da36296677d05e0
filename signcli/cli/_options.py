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

# decoding of the text tasks, shared by eval and predict (tasks/language_model.py)
BeamSizeOpt = Annotated[
    int | None,
    typer.Option(
        "--beam-size",
        min=1,
        help="Text tasks: decoding beam, 1 = greedy \\[default: the run's text.beam_size].",
        show_default=False,
    ),
]
LMOrderOpt = Annotated[
    int,
    typer.Option(
        help="ctc: beam search with an n-gram language model of this order over the "
        "run's tokens; 0 = none. Implies a beam (--beam-size, else text.beam_size, or 8 if "
        "that is 1).",
    ),
]
LMWeightOpt = Annotated[
    float | None,
    typer.Option(
        help="ctc: weight of the LM log-probability in the beam's score \\[default: 1.0].",
        show_default=False,
    ),
]
LMBonusOpt = Annotated[
    float | None,
    typer.Option(
        help="ctc: score added per emitted token with the LM (offsets its cost of "
        "every word; higher, longer answers) \\[default: 1.0].",
        show_default=False,
    ),
]
LMTextsOpt = Annotated[
    Path | None,
    typer.Option(
        help="ctc: sentences to fit the LM on, CSV file,text \\[default: the run's "
        "training texts].",
        show_default=False,
    ),
]

# how `import` reads a format's recordings, shared by import (a source tree) and predict
# (single recordings): data/recordings/
PartsOpt = Annotated[
    str | None,
    typer.Option(
        "--parts",
        metavar="PARTS",
        help="mp-folders / MediaPipe .npy: the parts of each vector in file order, e.g. hand_r "
        "or pose:4,face,hand_l,hand_r (:4 = x, y, z + visibility) \\[default: from the width, "
        "see docs/import.md].",
        show_default=False,
    ),
]
PersonOpt = Annotated[
    str | None,
    typer.Option(
        "--person",
        metavar="PERSON",
        help="openpose: whom to take when a clip has several people: auto, largest, "
        "most-moving, or INDEX (0 = leftmost) \\[default: auto].",
        show_default=False,
    ),
]
MinConfidenceOpt = Annotated[
    float | None,
    typer.Option(
        "--min-confidence",
        min=0.0,
        max=1.0,
        help="openpose: keypoints below this confidence are not detected (NaN) \\[default: 0.1].",
        show_default=False,
    ),
]
