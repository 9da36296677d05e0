"""Tasks: the kind of target a run learns (classify, ctc, translate), one place each.

    from signcli.tasks import build_task, task_spec
    task_spec("classify").metric_names     # torch-free: what settings and metrics-check read
    task = build_task("classify")           # the implementation (imports torch)

See core/task_specs.py (declarations) and tasks/base.py (the interface).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from signcli.core.task_specs import (
    DEFAULT_TASK,
    TASKS,
    MetricSpec,
    TaskSpec,
    availability_problem,
    metric_mode,
    monitor_problem,
    task_spec,
)

if TYPE_CHECKING:
    from signcli.tasks.base import Task


def build_task(name: str) -> Task:
    """The `Task` implementation of `name`. ValueError for an unknown task or one that is
    declared but not implemented (the settings refuse both before anything runs)."""
    problem = availability_problem(name)
    if problem is not None:
        raise ValueError(problem)
    spec = task_spec(name)
    assert spec.implementation is not None
    module, _, cls = spec.implementation.partition(":")
    return getattr(importlib.import_module(module), cls)(spec)


__all__ = [
    "DEFAULT_TASK",
    "TASKS",
    "MetricSpec",
    "TaskSpec",
    "availability_problem",
    "build_task",
    "metric_mode",
    "monitor_problem",
    "task_spec",
]
