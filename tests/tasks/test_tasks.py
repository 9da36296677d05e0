"""Tasks: the declarations settings and metrics-check read, the refusals they make before
anything trains, the classify task as today's classification, and the hook events."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from signcli.cli import app
from signcli.core import task_specs as registry
from signcli.core.errors import SettingsError, TrainingInterrupted
from signcli.settings import Settings, load_settings, monitor_mode
from signcli.tasks import TASKS, availability_problem, build_task, metric_mode, task_spec
from signcli.upgrade import upgrade_stored_settings

runner = CliRunner()

# the metrics.jsonl keys of a classification run (docs/architecture.md, "metrics.jsonl")
CLASSIFY_KEYS = {
    *("epoch", "step", "lr", "train_loss", "train_gloss_top1", "val_loss"),
    *("val_gloss_top1", "val_gloss_top5", "val_cat_top1", "epoch_s", "samples_per_s"),
    "train_pad_share",
}


def test_every_task_declares_distinct_metrics_with_a_direction() -> None:
    for spec in TASKS.values():
        names = spec.metric_names
        assert len(names) == len(set(names)), spec.name
        assert spec.default_monitor in names
        assert all(metric.mode in ("min", "max") for metric in spec.all_metrics)
    assert set(task_spec("classify").logged_keys) == CLASSIFY_KEYS
    # the text metrics: error rates fall, BLEU and chrF rise
    assert metric_mode("val_wer", "ctc") == "min" and metric_mode("val_wer", "translate") == "min"
    assert metric_mode("val_bleu", "translate") == "max"
    assert metric_mode("val_chrf") == "max"
    assert metric_mode("val_bleu", "classify") is None


def test_every_task_is_available_and_builds(monkeypatch) -> None:
    for name in ("classify", "ctc", "translate"):
        assert availability_problem(name) is None
        assert build_task(name).name == name
    # a task declared without its implementation is refused by name
    declared = dataclasses.replace(registry.TASKS["translate"], implementation=None)
    monkeypatch.setitem(registry.TASKS, "translate", declared)
    assert "not available yet" in str(availability_problem("translate"))
    with pytest.raises(ValueError, match="not available yet"):
        build_task("translate")


@pytest.mark.parametrize("monitor", ["val_wer", "val_bleu", "val_chrf"])
def test_a_monitor_the_task_never_produces_is_a_settings_error(monitor: str) -> None:
    # before: accepted, and the run never wrote best.pt (val_bleu) or crashed with a
    # TypeError once early stopping compared None (val_wer --early-stop 1)
    with pytest.raises(SettingsError) as info:
        load_settings(flags={"training.monitor": monitor, "training.early_stop": 1})
    text = str(info.value)
    assert text.startswith(f"training.monitor: task classify does not produce {monitor}")
    assert "val_gloss_top1" in text and "val_loss" in text  # what it does produce


def test_the_monitor_defaults_to_the_task_s_and_its_direction_is_declared() -> None:
    settings = load_settings()
    assert settings.model.task == "classify"
    assert settings.training.monitor == "val_gloss_top1"
    assert monitor_mode("val_loss") == "min" and monitor_mode("train_gloss_top1") == "max"
    assert (
        monitor_mode("val_wer", "ctc") == "min" and monitor_mode("val_bleu", "translate") == "max"
    )


def test_a_stored_run_without_a_task_is_classify_and_an_unproduced_monitor_is_dropped() -> None:
    stored = Settings().model_dump(mode="json")
    del stored["model"]["task"]
    stored["training"]["monitor"] = "val_bleu"  # accepted before tasks; never produced
    settings = Settings.model_validate(upgrade_stored_settings(stored))
    assert settings.model.task == "classify"
    assert settings.training.monitor == "val_gloss_top1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["train", "transformer", "--task", "ctc", "--monitor", "val_bleu"],
            "task ctc does not produce val_bleu",
        ),
        (["train", "transformer", "--task", "translat"], "did you mean translate?"),
        (["train", "transformer", "--monitor", "val_wer"], "does not produce val_wer"),
        (
            ["train", "transformer", "--task", "translate", "--monitor", "val_gloss_top1"],
            "task translate does not produce val_gloss_top1",
        ),
    ],
)
def test_cli_refuses_before_training(args: list[str], message: str, tmp_path: Path) -> None:
    work_dir = tmp_path / "run"
    extra = ["--work-dir", str(work_dir)] if args[0] == "train" else []
    result = runner.invoke(app, [*args, *extra])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not work_dir.exists()


@pytest.mark.slow
def test_numpy_only_modules_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import signcli.data.sample, signcli.data.augment, signcli.settings\n"
        "import signcli.tasks, signcli.tasks.base, signcli.metrics.gate\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_classify_task_model_is_the_classifier_of_before() -> None:
    """Checkpoints keep loading: the task's heads have the names and shapes of the heads
    SignClassifier (a SignModel with classification_heads) built before tasks."""
    import torch

    from signcli.models.classifier import SignModel
    from signcli.models.registry import MODEL_REGISTRY
    from signcli.settings import ModelSettings
    from signcli.tasks.classify import classification_heads
    from signcli.tasks.model import build_model

    model_settings = ModelSettings(d_model=16, num_layers=1, num_heads=2, ff_dim=32, dropout=0.0)
    torch.manual_seed(0)
    built = build_model(model_settings, {"x": 6}, {"num_gloss": 5, "num_cat": 2})
    encoder = MODEL_REGISTRY["transformer"](model_settings, {"x": 6})
    direct = SignModel(encoder, classification_heads(encoder.out_dim, 5, 2, "mean", 0.0))
    assert {k: v.shape for k, v in built.state_dict().items()} == {
        k: v.shape for k, v in direct.state_dict().items()
    }
    assert built.head_names == ["gloss", "cat"]


# ---------------------------------------------------------------------------------------
# metrics-check


def _run_dir(tmp_path: Path, task: str | None) -> Path:
    work_dir = tmp_path / "run"
    work_dir.mkdir()
    lines = [
        {"epoch": 1, "step": 2, "lr": 0.001, "train_loss": 2.0, "val_loss": 1.9, "val_wer": 0.7},
        {"epoch": 2, "step": 4, "lr": 0.001, "train_loss": 1.5, "val_loss": 1.4, "val_wer": 0.5},
        {"epoch": 3, "step": 6, "lr": 0.001, "train_loss": 1.2, "val_loss": 1.6, "val_wer": 0.6},
    ]
    (work_dir / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    if task is not None:
        config = Settings().model_dump(mode="json")
        config["model"]["task"] = task
        (work_dir / "config.json").write_text(json.dumps(config))
    return work_dir


def _rules(tmp_path: Path, *rules: dict) -> Path:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"checks": list(rules)}))
    return path


def test_metrics_check_refuses_a_metric_the_run_s_task_never_produces(tmp_path: Path) -> None:
    work_dir = _run_dir(tmp_path, "classify")
    rules = _rules(tmp_path, {"metric": "val_bleu", "min": 10})
    for target in (work_dir, work_dir / "metrics.jsonl"):
        result = runner.invoke(app, ["metrics-check", str(target), "--rules", str(rules)])
        assert result.exit_code == 2, result.output
        assert "a run of task classify never produces it" in result.output
        assert "val_gloss_top1" in result.output


def test_metrics_check_follows_the_task_s_direction_for_best(tmp_path: Path) -> None:
    work_dir = _run_dir(tmp_path, "ctc")  # declared: val_wer falls
    rules = _rules(tmp_path, {"metric": "val_wer", "at": "best", "max": 0.5})
    result = runner.invoke(app, ["metrics-check", str(work_dir), "--rules", str(rules), "--json"])
    assert result.exit_code == 0, result.output
    check = json.loads(result.stdout)["checks"][0]
    assert check["observed"] == 0.5 and "lowest" in check["detail"]


def test_metrics_check_without_config_checks_the_file_only(tmp_path: Path) -> None:
    work_dir = _run_dir(tmp_path, None)
    rules = _rules(tmp_path, {"metric": "val_bleu", "min": 10})
    result = runner.invoke(app, ["metrics-check", str(work_dir), "--rules", str(rules)])
    assert result.exit_code == 2 and "unknown metric 'val_bleu'" in result.output
    rules = _rules(tmp_path, {"metric": "val_wer", "at": "best", "max": 0.5})
    result = runner.invoke(app, ["metrics-check", str(work_dir), "--rules", str(rules)])
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------------------------------
# hooks


def test_hooks_add_metrics_keys_save_on_interrupt_and_a_run_from_before_tasks_resumes(
    make_npz_dataset, tmp_path: Path
) -> None:
    from signcli.engine.hooks import Hook
    from signcli.engine.recipes import resume_run, start_run

    root = make_npz_dataset(n=12, T=5, D=6)
    settings = load_settings(
        overrides=[
            f"data.train_dir={root / 'train'}",
            f"data.train_labels={root / 'train_labels.csv'}",
            f"data.val_dir={root / 'val'}",
            f"data.val_labels={root / 'val_labels.csv'}",
            *("model.d_model=16", "model.num_layers=1", "model.num_heads=2", "model.ff_dim=32"),
            *("training.batch_size=4", "training.epochs=2", "training.device=cpu"),
            f"training.work_dir={tmp_path / 'run'}",
        ]
    )

    class Extra(Hook):
        def __init__(self) -> None:
            self.interrupted = 0

        def on_epoch_metrics(self, trainer, metrics) -> None:
            metrics["val_gloss_errors"] = 1.0 - metrics["val_gloss_top1"]

        def on_step_end(self, trainer) -> None:
            if trainer.state.epoch == 1 and trainer.state.batch_in_epoch == 1:
                os.kill(os.getpid(), signal.SIGTERM)  # handled: stop after this step

        def on_interrupt(self, trainer) -> None:
            self.interrupted += 1

    hook = Extra()
    with pytest.raises(TrainingInterrupted):
        start_run(settings, [hook])
    assert hook.interrupted == 1
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1 and "val_gloss_errors" in json.loads(lines[0])
    # the checkpoint hook saved last.pt at the interrupted step, so the run resumes there
    from signcli.engine.checkpoint import STATE_KEY, load_checkpoint

    state = load_checkpoint(tmp_path / "run" / "last.pt")[STATE_KEY]
    assert (state["epoch"], state["batch_in_epoch"]) == (1, 1)
    _as_before_tasks(tmp_path / "run")
    resume_run(tmp_path / "run")
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 2


def _as_before_tasks(work_dir: Path) -> None:
    """Make the run's config.json and last.pt those of a run written before tasks: no
    model.task anywhere."""
    from signcli.engine.checkpoint import SETTINGS_KEY, load_checkpoint, save_checkpoint

    config = json.loads((work_dir / "config.json").read_text())
    del config["model"]["task"]
    (work_dir / "config.json").write_text(json.dumps(config))
    payload = load_checkpoint(work_dir / "last.pt")
    del payload[SETTINGS_KEY]["model"]["task"]
    save_checkpoint(work_dir / "last.pt", payload)


def test_log_columns_are_each_tasks_validation_metrics() -> None:
    assert task_spec("classify").log_columns == (
        "epoch",  # classify's header is the one every older --log-csv has
        "train_loss",
        "val_loss",
        "val_gloss_top1",
        "val_gloss_top5",
        "val_cat_top1",
        "lr",
    )
    assert task_spec("translate").log_columns == (
        "epoch",
        "train_loss",
        "val_loss",
        "val_wer",
        "val_bleu",
        "val_chrf",
        "lr",
    )
