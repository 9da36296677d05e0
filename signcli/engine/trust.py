"""Which code a stored run may make signcli import (docs/architecture.md, "Checkpoints").

A checkpoint or config.json is data, often someone else's, but `model.decoder_class`
names a Python module that rebuilding the model imports, and importing a module runs its
code. So `eval`, `export-onnx` and `resume` refuse a stored decoder class that is not
signcli's own before anything is imported or written, unless the user opts in with
`--trust-decoder-class`. `train --decoder-class` needs no opt-in: there the user names the
class themselves. Torch-free, so the check costs nothing before a model is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from signcli.core.errors import UsageError

TRUST_FLAG = "--trust-decoder-class"
TRUSTED_PACKAGE = "signcli"  # its modules are installed code, not the file's


def is_signcli_class(spec: str) -> bool:
    """True when `module:Class` names a module of signcli itself. The module part is split
    exactly as text/decoder.py `load_decoder_class` splits it, so what is trusted here is
    what it would import."""
    module = spec.partition(":")[0]
    return module == TRUSTED_PACKAGE or module.startswith(TRUSTED_PACKAGE + ".")


def check_decoder_class(decoder_class: object, source: Path | str, *, trusted: bool) -> None:
    """UsageError (exit 2) when the decoder class stored in `source` (a checkpoint or a
    run's config.json) is not signcli's own and the user has not passed the trust flag."""
    # not a string: the settings validation names it, and nothing is imported
    if trusted or not isinstance(decoder_class, str) or not decoder_class:
        return
    if is_signcli_class(decoder_class):
        return
    spec = decoder_class
    shown = spec if len(spec) <= 200 else spec[:197] + "..."
    raise UsageError(
        f"{source}: model.decoder_class {shown!r} is not signcli's own; rebuilding the model "
        "would import its module, and importing runs that module's code",
        hint=f"pass {TRUST_FLAG} only if you trust whoever made this file (and the module is "
        "installed here)",
    )


def check_stored_model(stored: object, source: Path | str, *, trusted: bool) -> None:
    """`check_decoder_class` on the `model` section of raw stored settings (a config.json's
    content, not yet validated); anything that is not a mapping is left to validation."""
    if not isinstance(stored, Mapping):
        return
    model: Any = stored.get("model")
    if isinstance(model, Mapping):
        check_decoder_class(model.get("decoder_class"), source, trusted=trusted)
