"""Every way signcli reads what an older signcli stored: one module, one place to look.

Runs keep their settings in WORK_DIR/config.json and in every checkpoint; `resume`, `eval`
and `export-onnx` read them back with the settings of today. What changed since, and how an
old record is read so that the run is rebuilt as it was trained, not with newer defaults:

| stored by a run from before                  | read as                                   |
|----------------------------------------------|-------------------------------------------|
| `model.conv_kernel` (temporal convolution)   | 0: attention blocks only                  |
| `data.augment.position_p` (position moves)   | 0: no position transform                  |
| `data.augment.position_rotate` (turns)       | 0: position moves and resizes, no turn    |
| `data.coords: auto` without `data.joints`    | none: columns of unknown meaning (new     |
| (runs from before the guess: new runs store  | runs store what auto resolved to, so a    |
| what it resolved to)                         | stored auto was never guessed)            |
| `training.length_buckets`                    | false: the random batch order             |
| `model.task` (tasks)                         | classify                                  |
| `data.cache` modes (`cache: true/false`)     | memory / off                              |
| tasks that monitor val_wer or val_bleu       | a classify run's stored monitor of one of |
|                                              | those: the task's default monitor         |
| the train state's `epoch_gloss_correct`      | 0 at an epoch boundary, None (unknown)    |
|                                              | inside an epoch                           |
| `model.num_tokens` (text tasks' output ids,  | `model.num_gloss` of a ctc/translate run  |
| which those runs stored as `num_gloss`)      | (settings and labels) is `num_tokens`     |
| models' own options (core/model_catalog.py): | the options of the run's model (and those |
| every run stored every model's options, e.g. | its task reads) are kept, the others      |
| a gru run `fusion`, `conv_kernel`            | dropped: its model never read them        |

tests/test_upgrade.py holds one stored record of each kind. Torch-free and below the
settings: it works on plain dicts and imports nothing of signcli but core/.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from signcli.core.task_specs import DEFAULT_TASK

# Keys added after runs were first written, with the value that rebuilds those runs as they
# were trained: a stored config.json or checkpoint without the key gets this, not the default.
LEGACY_VALUES = {
    "data.sample_normalize": False,  # runs from before the per-sample input channels
    "data.motion": "off",  # runs from before motion channels (auto adds velocity now)
    "data.raw_channels": True,  # runs from before the setting: raw channels were all there was
    "training.ema": "off",
    "data.augment.position_p": 0.0,  # runs from before the position transform
    "data.augment.position_rotate": 0.0,  # runs from before position turned the joints
    "model.conv_kernel": 0,
    "training.length_buckets": False,
    "model.task": "classify",  # runs from before tasks classified
}


def upgrade_stored_settings(stored: Mapping[str, Any]) -> dict[str, Any]:
    """Settings stored by a run (config.json, a checkpoint) with the keys it predates set to
    `LEGACY_VALUES`, so that the run is rebuilt as it was trained, not with newer defaults."""
    upgraded: dict[str, Any] = json.loads(json.dumps(dict(stored), default=str))
    for dotted, value in LEGACY_VALUES.items():
        *parents, leaf = dotted.split(".")
        node: Any = upgraded
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and leaf not in node:
            node[leaf] = value
    _drop_unproduced_monitor(upgraded)
    _coords_never_guessed(upgraded.get("data"))
    model = upgraded.get("model")
    if isinstance(model, dict):
        _tokens_from_gloss_count(model, model.get("task"))
        _drop_other_models_options(model)
    return upgraded


def _coords_never_guessed(data: Any) -> None:
    """A stored `data.coords: auto` without joints meant columns of unknown meaning; runs
    now resolve auto when they start (data/coords_guess.py) and store the result, so a
    stored auto comes from before that, and must not be guessed when the run is rebuilt."""
    if (
        isinstance(data, dict)
        and data.get("coords", "auto") == "auto"
        and data.get("joints") is None
    ):
        data["coords"] = "none"


def _drop_other_models_options(model: dict[str, Any]) -> None:
    """Runs written before models declared their own options stored every model's options
    in the model section (a gru run `fusion`, `num_heads`, `conv_kernel`); the options of
    other models that neither the run's model nor its task reads are dropped, so a stored
    run loads without warnings about options it never set."""
    from signcli.core.model_catalog import MODEL_CATALOG, all_options
    from signcli.core.task_specs import TASKS

    entry = MODEL_CATALOG.get(model.get("name", "transformer"))
    spec = TASKS.get(model.get("task", DEFAULT_TASK))
    if entry is None or spec is None:  # left to the settings' error
        return
    keep = {*entry.options.model_fields, *spec.model_options}
    for key in all_options():
        if key not in keep:
            model.pop(key, None)


def upgrade_stored_labels(labels: Mapping[str, Any], task: Any) -> dict[str, Any]:
    """A run's labels (labels.json, a checkpoint's) as today's task `task` reads them: a
    text task's output ids from before `num_tokens` were stored as `num_gloss`."""
    upgraded = dict(labels)
    _tokens_from_gloss_count(upgraded, task)
    return upgraded


def _tokens_from_gloss_count(record: dict[str, Any], task: Any) -> None:
    """Runs of the text tasks written before `num_tokens` kept their vocabulary size in
    `num_gloss` (and 0 in `num_cat`): moved to `num_tokens`, the class counts dropped."""
    from signcli.core.task_specs import has_text_targets

    if not isinstance(task, str) or not has_text_targets(task) or "num_tokens" in record:
        return
    if "num_gloss" in record:
        record["num_tokens"] = record.pop("num_gloss")
        if record.get("num_cat") in (0, None):
            record.pop("num_cat", None)


def cache_from_bool(value: Any) -> Any:
    """`data.cache`: runs written before the modes stored `cache: true/false`; read as
    memory / off (the settings model applies it to every source, a config file's too)."""
    if isinstance(value, bool):
        return "memory" if value else "off"
    return value


def upgrade_train_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """A checkpoint's train state from before the `epoch_gloss_correct` counter: right at an
    epoch boundary nothing is missing (0); inside an epoch its first batches went uncounted,
    so the count is unknown (None, and train_gloss_top1 of that epoch is left out)."""
    upgraded = dict(state)
    if "epoch_gloss_correct" not in upgraded:
        upgraded["epoch_gloss_correct"] = None if upgraded.get("batch_in_epoch") else 0
    return upgraded


def _drop_unproduced_monitor(stored: dict[str, Any]) -> None:
    """Runs written before tasks could monitor val_bleu or val_wer, which classification
    never produces (best.pt was never written); they get the task's default monitor, the
    one metric such a run could have followed, rather than a settings error on load."""
    from signcli.core.task_specs import TASKS, monitor_problem

    model, training = stored.get("model"), stored.get("training")
    if not isinstance(model, dict) or not isinstance(training, dict):
        return
    task, monitor = model.get("task", DEFAULT_TASK), training.get("monitor")
    if task in TASKS and isinstance(monitor, str) and monitor_problem(task, monitor) is not None:
        training.pop("monitor")
