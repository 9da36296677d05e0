"""Rebuild a trained model from a checkpoint alone: the settings, class counts and input
widths stored inside it are all that `eval` and `export-onnx` need (no flags).

    model, settings, labels, input_dims = load_model_from_checkpoint("run/best.pt")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from signcli.core.errors import CheckpointError, UsageError
from signcli.core.limits import ENV_PREFIX
from signcli.engine import checkpoint as ckpt
from signcli.engine.trust import check_decoder_class
from signcli.engine.warm_start import load_model_state
from signcli.models import SignModel
from signcli.settings import Settings, describe_errors
from signcli.tasks import build_task
from signcli.tasks.model import build_run_model
from signcli.tasks.size import parameter_count, size_problems
from signcli.upgrade import upgrade_stored_labels, upgrade_stored_settings

LIMIT_ENV = ENV_PREFIX + "MAX_"  # how a limit's message names its environment variable
WEIGHTS_HINT = (
    "the weights do not match the model its settings describe; "
    "was the checkpoint edited or written by another signcli version?"
)
LIMIT_HINT = (
    "the checkpoint asks for more than signcli builds unasked (signcli/core/limits.py); raise "
    "the limit only for a checkpoint you trust"
)


class RestoredModel(NamedTuple):
    """A checkpoint's model in eval mode on the CPU, and what describes it."""

    model: SignModel
    settings: Settings
    # labels.json content: the head sizes (num_gloss, num_cat; text: num_tokens), class names
    labels: dict[str, Any]
    input_dims: dict[str, int]  # {stream name: width D}, in the model's input order


def load_model_from_checkpoint(path: Path, *, trust_decoder_class: bool = False) -> RestoredModel:
    """Read `path` safely, rebuild its model and load the weights strictly.

    UsageError for a missing file, and for a stored `model.decoder_class` that is not
    signcli's own unless `trust_decoder_class` (signcli/engine/trust.py: building it would import
    the file's choice of module); CheckpointError (exit 2) for anything unreadable or
    weights that do not fit the model that the stored settings describe.
    """
    path = Path(path)
    payload = ckpt.load_checkpoint(path)  # the entries' types are checked there
    settings = stored_settings(payload, path)
    # before anything is built: building a user's decoder imports its module
    check_decoder_class(settings.model.decoder_class, path, trusted=trust_decoder_class)
    labels = _labels(payload, settings, path)
    input_dims = {str(name): int(width) for name, width in payload[ckpt.INPUTS_KEY].items()}
    try:
        # before anything is built: the sizes come from the file, which may be anyone's
        problems = size_problems(settings, input_dims, labels)
        if problems:
            raise CheckpointError(
                "\n".join(f"{path}: {problem}" for problem in problems), hint=LIMIT_HINT
            )
        parameters = parameter_count(settings, input_dims, labels)
        unfilled = ckpt.unfilled_problem(payload[ckpt.MODEL_KEY], parameters)
        if unfilled is not None:
            raise CheckpointError(f"{path}: {unfilled}", hint=WEIGHTS_HINT)
        model = build_run_model(settings, input_dims, labels)
    except CheckpointError:
        raise
    except UsageError as exc:  # stored settings that do not fit its own input widths
        raise CheckpointError(
            f"{path}: {exc.message}", hint="use the checkpoint the run wrote"
        ) from None
    try:
        load_model_state(model, payload[ckpt.MODEL_KEY], strict=True, source=str(path))
    except CheckpointError as exc:
        raise CheckpointError(exc.message, hint=WEIGHTS_HINT) from None
    model.eval()
    return RestoredModel(model, settings, labels, input_dims)


def stored_settings(payload: dict[str, Any], path: Path) -> Settings:
    """The settings stored in a checkpoint, validated as a user's are (with the values of
    keys it predates) and within the limits of signcli/core/limits.py; CheckpointError (exit 2)
    names the file and each key at fault."""
    try:
        settings = Settings.model_validate(upgrade_stored_settings(payload[ckpt.SETTINGS_KEY]))
    except ValidationError as exc:
        problems = describe_errors(exc)
        over_limit = any(LIMIT_ENV in problem for problem in problems)
        raise CheckpointError(
            "\n".join(f"{path}: stored setting {problem}" for problem in problems),
            hint=LIMIT_HINT if over_limit else "use the signcli version that wrote the checkpoint",
        ) from None
    except (TypeError, ValueError, RecursionError) as exc:  # not JSON-like data
        raise CheckpointError(
            f"{path}: its stored settings are not plain data ({type(exc).__name__}: "
            f"{str(exc)[:120]})"
        ) from None
    return settings


def _labels(payload: dict[str, Any], settings: Settings, path: Path) -> dict[str, Any]:
    """The stored head sizes and class maps, a size the labels lack taken from the model
    settings (load_checkpoint has checked their types); the first size (gloss classes,
    token ids) must be known."""
    task = build_task(settings.model.task)
    stored = upgrade_stored_labels(payload.get(ckpt.LABELS_KEY) or {}, task.name)
    sizes = task.head_sizes(settings.model)
    first, counted = next(iter(task.head_size_fields.items()))
    for key in sizes:
        if stored.get(key) is not None and (stored[key] or key != first):
            sizes[key] = int(stored[key])
    if not sizes[first]:
        raise CheckpointError(f"{path}: the checkpoint does not say how many {counted} it has")
    return {
        **sizes,
        "gloss_names": dict(stored.get("gloss_names") or {}),
        "cat_names": dict(stored.get("cat_names") or {}),
        # text tasks: the tokenizer.json string (tasks/text_task.py restores it)
        **({"tokenizer": stored["tokenizer"]} if isinstance(stored.get("tokenizer"), str) else {}),
    }
