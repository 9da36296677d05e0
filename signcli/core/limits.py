"""Upper bounds on what a file may make signcli allocate (docs/architecture.md, "Limits").

Sizes written in files rather than typed by the person running the command (a
checkpoint's stored settings and input widths, a labels CSV's class ids, the shape in an
`.npy` header) are checked against these bounds before anything is allocated, so that a
small hostile or corrupt file cannot make `eval`, `export-onnx`, `resume`, `train` or
`validate-npz` allocate terabytes or build a model for minutes. Every bound is far above
any real sign-language model or dataset. Someone who needs more raises a bound with the
environment variable `SIGNCLI_<NAME>` (`SIGNCLI_MAX_PARAMETERS=5e9`): an environment
variable, not a setting, because settings are stored inside the checkpoints whose
settings the bounds check. Torch-free; imports nothing of signcli but `errors`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from signcli.core.errors import UsageError

ENV_PREFIX = "SIGNCLI_"


class LimitExceeded(ValueError):
    """A size above its limit. A ValueError, so a pydantic validator may raise it; the
    message names the limit and the environment variable that raises it."""


@dataclass(frozen=True)
class Limit:
    """One bound: `name` (MAX_CLASSES) is also the tail of its environment variable."""

    name: str
    default: int
    unit: str  # what is counted, for messages: "classes", "parameters", "bytes"

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name

    def value(self) -> int:
        """The bound in force: the environment variable when set, else the default.
        UsageError (exit 2) when the variable is not a whole number >= 1."""
        raw = os.environ.get(self.env, "").strip()
        if not raw:
            return self.default
        try:
            number = float(raw.replace("_", "").replace(",", ""))
        except ValueError:
            number = float("nan")
        if not (number >= 1 and number == int(number)) or number == float("inf"):
            raise UsageError(
                f"{self.env}={raw!r}: expected a whole number >= 1 (default {self.default:,})",
                hint=f"unset {self.env} to use the default",
            )
        return int(number)

    def at_most(self) -> str:
        """What the bound allows and how to raise it, for messages."""
        return f"at most {self.value():,} {self.unit}; set {self.env} to raise the limit"

    def exceeded(self, what: str, value: int) -> LimitExceeded:
        """The error for `what` (a field, a stream, a line) being `value`, above the bound."""
        return LimitExceeded(f"{what} is {value:,}: {self.at_most()}")

    def check(self, what: str, value: int) -> None:
        """LimitExceeded when `value` is above the bound."""
        if value > self.value():
            raise self.exceeded(what, value)


# 2e9 float32 parameters are 8 GB of weights, 32 GB with gradients and AdamW's two
# moments: several hundred times the largest `auto` model (about 4 million parameters),
# and more than one GPU holds for training. A checkpoint's settings are refused above it
# before anything is built, so a file of a few bytes cannot ask for terabytes.
MAX_PARAMETERS = Limit("MAX_PARAMETERS", 2_000_000_000, "parameters")
# Class ids of a labels CSV, and a checkpoint's class counts: each class is a row of the
# head (d_model weights). The largest sign vocabularies are tens of thousands of glosses.
MAX_CLASSES = Limit("MAX_CLASSES", 1_000_000, "classes")
# Width D of one input stream: MediaPipe Holistic's 543 landmarks x 3 are 1,629 columns,
# CNN features 2,048. Each column is 2 x d_model weights of the input projection.
MAX_INPUT_DIM = Limit("MAX_INPUT_DIM", 100_000, "columns")
# model.max_len in frames: over 5 minutes at 30 fps, where a sign lasts seconds (default
# 512). Positions are max_len x d_model weights, and attention (export-onnx checks a
# sequence of max_len frames) grows with its square.
MAX_LEN = Limit("MAX_LEN", 10_000, "frames")
# model.num_layers: `auto` uses at most 4. Each block is built as Python modules and traced
# one by one by the ONNX export, so thousands of small ones take minutes without being big.
MAX_LAYERS = Limit("MAX_LAYERS", 128, "layers")
# model.num_heads: `auto` uses d_model / 32 (8 at 256). Attention memory grows with it.
MAX_HEADS = Limit("MAX_HEADS", 256, "heads")
# One sample's array as its `.npy` header declares it (shape x item size), read whole into
# memory, one per core by validate-npz: an hour of 2,048-wide features at 30 fps is 0.9 GB.
MAX_SAMPLE_BYTES = Limit("MAX_SAMPLE_BYTES", 2 * 1024**3, "bytes")

# People listed in one frame of OpenPose JSON (`import openpose`): a crowded street has tens;
# tracking pairs every track with every person of a frame, so a broken file listing
# millions must not get that far.
MAX_PEOPLE = Limit("MAX_PEOPLE", 100, "people in one frame")
# eval --lm-order: each sentence is padded with order - 1 start markers and every order up
# to it is counted, so memory and time grow with it; useful n-gram orders are 2 to 5.
MAX_LM_ORDER = Limit("MAX_LM_ORDER", 20, "tokens")
# N-gram events eval's language model counts: (tokens + 1) x --lm-order over its texts, each
# a tuple key and a counter entry in pure Python (up to about 200 bytes when distinct):
# 100,000 sentences of 10 tokens at order 5 are 5.5 million; a texts CSV of hundreds of MB
# at order 20 would be billions.
MAX_LM_NGRAMS = Limit("MAX_LM_NGRAMS", 20_000_000, "n-gram events")
# A labels or text CSV (and an index or meta CSV) read whole: pandas holds several times
# its size in memory, so hundreds of MB cost gigabytes. 100,000 labelled samples are
# about 5 MB; 256 MiB is fifty times more.
MAX_TABLE_BYTES = Limit("MAX_TABLE_BYTES", 256 * 1024**2, "bytes")
# The cells of such a CSV: each becomes a Python string of about 60 bytes once parsed, so
# a file of tiny cells within MAX_TABLE_BYTES (`a,a,a,...`) could hold 130 million of them
# and cost 8 GB. Counted (as delimiters and line ends) while the file streams by in
# chunks, before it is parsed; asl-signs' index (94,477 sequences x 4 columns) has 0.4
# million, so 10 million is 25 times more and costs under a gigabyte.
MAX_TABLE_CELLS = Limit("MAX_TABLE_CELLS", 10_000_000, "cells")
# A JSON document read whole: a tokenizer.json (a 30,000-piece BPE is about 2 MB), a
# dataset manifest (class names), an OpenPose frame, an import source's sign map. Python's
# objects for parsed JSON take ten times the text.
MAX_JSON_BYTES = Limit("MAX_JSON_BYTES", 64 * 1024**2, "bytes")
# Folder levels that signcli searches below a dataset or import source: a tree nested
# thousands deep (a link loop copied out, a hostile archive) would exceed Python's recursion
# limit in a recursive walk and run past the OS's path length; real datasets nest a few.
MAX_FOLDER_DEPTH = Limit("MAX_FOLDER_DEPTH", 100, "folder levels")

# Worker processes a flag or setting asks for (`--workers`, `-j`, `data.num_workers`, also
# stored in a run's config.json): each imports numpy, pyarrow or torch (100 to 300 MB)
# before doing anything, so a typo of 10,000 would take the machine down. The largest
# machines have a few hundred cores.
MAX_WORKERS = Limit("MAX_WORKERS", 256, "worker processes")


def check_workers(flag: str, workers: int | None) -> None:
    """UsageError (exit 2) when `flag` asks for more than MAX_WORKERS processes."""
    if workers is not None and workers > MAX_WORKERS.value():
        raise UsageError(
            f"{flag} {workers:,}: {MAX_WORKERS.at_most()}",
            hint=f"leave {flag} out to use the cores this process may use",
        )
