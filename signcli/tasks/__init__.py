"""Tasks: the kind of target a run learns (classify, ctc, translate), one place each.

    from signcli.tasks import build_task, task_spec
    task_spec("classify").metric_names     # torch-free: what settings and metrics-check read
    task = build_task("classify")           # the implementation (imports torch)

See tasks/registry.py (declarations) and tasks/base.py (the interface).
"""

from signcli.tasks.registry import (
    DEFAULT_TASK,
    TASKS,
    MetricSpec,
    TaskSpec,
    availability_problem,
    build_task,
    metric_mode,
    monitor_problem,
    task_spec,
)

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
