"""The task interface is enough for a target that is not a class: a toy task plugged in
the way docs/architecture.md ("Tasks") says a fourth task goes (a `Task` subclass and a
`TaskSpec`), trained, monitored in its declared direction, and resumed exactly."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
import torch
from torch import nn

from signcli.core import task_specs as registry
from signcli.core.errors import SettingsError
from signcli.core.task_specs import MetricSpec, TaskSpec
from signcli.engine.checkpoint import MODEL_KEY, load_checkpoint
from signcli.engine.hooks import Hook
from signcli.engine.recipes import resume_run, start_run
from signcli.models.heads import masked_mean
from signcli.settings import load_settings
from signcli.tasks.base import Task


class MeanHead(nn.Module):
    def __init__(self, in_dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_dim, 1)

    def forward(self, x, mask):
        return self.fc(masked_mean(x, mask))[:, 0]


class GlossRegression(Task):
    """Predicts the gloss id as a number: a float target, one output, MSE, val_mae."""

    def collate_targets(self, samples):
        return {"value": torch.tensor([float(s.targets["gloss"]) for s in samples])}

    def build_heads(self, in_dim, model, labels):
        return nn.ModuleDict({"value": MeanHead(in_dim)})

    def loss_module(self, optim):
        return lambda outputs, targets: nn.functional.mse_loss(outputs["value"], targets["value"])

    def gather(self, outputs, batch):
        return {"value": outputs["value"].float().cpu()}

    def validation_metrics(self, predictions):
        error = (predictions.outputs["value"] - predictions.targets["value"]).abs().mean()
        return {"val_mae": float(error)}


SPEC = TaskSpec(
    "gloss_regression",
    "the gloss id as a number (a test's toy task)",
    (MetricSpec("val_mae", "min", "mean absolute error"),),
    "val_mae",
    "signcli_toy_task:GlossRegression",
)


@pytest.fixture
def toy_task(monkeypatch):
    module = types.ModuleType("signcli_toy_task")
    module.GlossRegression = GlossRegression
    monkeypatch.setitem(sys.modules, "signcli_toy_task", module)
    monkeypatch.setitem(registry.TASKS, SPEC.name, SPEC)


def _settings(root: Path, work_dir: Path, *extra: str):
    return load_settings(
        overrides=[
            f"data.train_dir={root / 'train'}",
            f"data.train_labels={root / 'train_labels.csv'}",
            f"data.val_dir={root / 'val'}",
            f"data.val_labels={root / 'val_labels.csv'}",
            *("model.d_model=16", "model.num_layers=1", "model.num_heads=2", "model.ff_dim=32"),
            *("training.batch_size=4", "training.epochs=3", "training.deterministic=true"),
            f"training.work_dir={work_dir}",
            "training.device=cpu",
            "model.task=gloss_regression",
            *extra,
        ]
    )


class StopAfterEpoch(Hook):
    def on_epoch_end(self, trainer, metrics) -> None:
        if trainer.state.epoch == 1:
            trainer.should_stop = True


@pytest.mark.slow
def test_a_fourth_task_trains_monitors_its_metric_and_resumes_exactly(
    toy_task, make_npz_dataset, tmp_path: Path
) -> None:
    root = make_npz_dataset(n=8, T=5, D=6)
    with pytest.raises(SettingsError, match="does not produce val_gloss_top1"):
        _settings(root, tmp_path / "x", "training.monitor=val_gloss_top1")

    whole = start_run(_settings(root, tmp_path / "whole")).trainer
    assert whole.monitor == "val_mae" and whole.monitor_mode == "min"
    lines = [json.loads(x) for x in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()]
    assert [sorted(k for k in x if k.startswith("val_")) for x in lines] == [
        ["val_loss", "val_mae"]
    ] * 3
    assert "train_gloss_top1" not in lines[0]  # classify's, not this task's
    best = min(x["val_mae"] for x in lines)
    assert whole.state.best_metric == pytest.approx(best)  # minimised, as declared
    assert (tmp_path / "whole" / "best.pt").is_file()

    start_run(_settings(root, tmp_path / "split"), [StopAfterEpoch()])
    resume_run(tmp_path / "split")
    timing = ("epoch_s", "samples_per_s")
    again = [json.loads(x) for x in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert [{k: v for k, v in x.items() if k not in timing} for x in again] == [
        {k: v for k, v in x.items() if k not in timing} for x in lines
    ]
    a = load_checkpoint(tmp_path / "whole" / "last.pt")[MODEL_KEY]
    b = load_checkpoint(tmp_path / "split" / "last.pt")[MODEL_KEY]
    assert all(torch.equal(a[k], b[k]) for k in a)
