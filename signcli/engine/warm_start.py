"""Load model weights into a model, reporting keys and shapes that do not match by name."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import torch

from signcli.core.errors import CheckpointError

log = logging.getLogger("signcli")
MAX_LISTED = 8


def load_model_state(
    model: torch.nn.Module, state: Mapping[str, torch.Tensor], *, strict: bool, source: str
) -> list[str]:
    """Copy matching tensors; mismatches are an error when `strict`, else a warning.

    Returns the mismatch descriptions (empty when everything matched).
    """
    own = model.state_dict()
    problems: list[str] = []
    usable: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        if key not in own:
            problems.append(f"unexpected key {key}")
        elif tuple(own[key].shape) != tuple(tensor.shape):
            problems.append(
                f"{key}: shape {tuple(tensor.shape)} in the checkpoint, {tuple(own[key].shape)} in the model"
            )
        else:
            usable[key] = tensor
    problems.extend(f"missing key {key}" for key in own if key not in state)
    if problems:
        listed = "; ".join(problems[:MAX_LISTED])
        more = f" and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        message = f"{source}: weights do not fit the model: {listed}{more}"
        if strict:
            raise CheckpointError(
                message,
                hint="check the model settings, or use --no-init-strict to load what matches",
            )
        log.warning("%s (loading the %d tensors that match)", message, len(usable))
    model.load_state_dict(usable, strict=False)
    return problems
