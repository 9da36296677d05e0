"""How big the model that some settings describe would be, counted before it is built.

`size_problems` checks a run's settings with its input widths and head sizes (`sizes`:
classify's class counts, the text tasks' output ids; `Task.head_sizes`, and a run's
labels.json holds them) against the bounds of `core/limits.py`: every input width, every
head size, and the number of
parameters the model would have, which `parameter_parts` computes from the settings
alone: the input stage and encoder by models/size.py, the heads by the run's task
(`Task.head_parameter_parts`). tests/models/test_model_size.py holds them equal to the
parameters and buffers of the models as built, for every registered model, so a change to
a model that is not made there too fails a test. Nothing is allocated, so a checkpoint
asking for terabytes is refused in microseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from signcli.auto_size import resolve_auto_model
from signcli.core.limits import MAX_CLASSES, MAX_INPUT_DIM, MAX_PARAMETERS, Limit, LimitExceeded
from signcli.models.size import encoder_parts
from signcli.settings import Settings
from signcli.tasks import build_task


def parameter_parts(
    settings: Settings, input_dims: Mapping[str, int], sizes: Mapping[str, Any]
) -> dict[str, tuple[int, str]]:
    """{part of the model: (parameters and buffers, the settings that size it)}."""
    model = resolve_auto_model(settings.model)
    parts, out = encoder_parts(settings, input_dims)
    parts.update(build_task(model.task).head_parameter_parts(model, out, sizes))
    return parts


def parameter_count(
    settings: Settings, input_dims: Mapping[str, int], sizes: Mapping[str, Any]
) -> int:
    """Parameters and buffers of the model `build_run_model` would build from these."""
    return sum(n for n, _ in parameter_parts(settings, input_dims, sizes).values())


def size_problems(
    settings: Settings, input_dims: Mapping[str, int], sizes: Mapping[str, Any]
) -> list[str]:
    """Why a model of these settings, input widths and head sizes is too big to build
    (core/limits.py), one line each naming the field; empty when it is not."""
    problems = []
    for name, width in input_dims.items():
        problems += _over(MAX_INPUT_DIM, f"the input width of stream {name}", width)
    for key, counted in build_task(settings.model.task).head_size_fields.items():
        problems += _over(MAX_CLASSES, f"model.{key} ({counted})", int(sizes.get(key) or 0))
    if problems:  # the count would be as wrong as these
        return problems
    parts = parameter_parts(settings, input_dims, sizes)
    total = sum(n for n, _ in parts.values())
    if total > MAX_PARAMETERS.value():
        part, (count, sizes) = max(parts.items(), key=lambda item: item[1][0])
        problems.append(
            f"the model would have {total:,} parameters ({4 * total / 1e9:,.1f} GB as float32), "
            f"{count:,} of them in the {part} ({sizes}): {MAX_PARAMETERS.at_most()}"
        )
    return problems


def _over(limit: Limit, what: str, value: int) -> list[str]:
    try:
        limit.check(what, value)
    except LimitExceeded as exc:
        return [str(exc)]
    return []
