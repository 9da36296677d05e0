"""Runs you can see: a plain line at least every PLAIN_EVERY_S off a terminal, the
end-of-run summary, and curves.png drawn as the run goes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.console import Console

from signcli.engine import callbacks, progress
from signcli.engine.progress import ProgressHook, format_duration
from signcli.engine.recipes import resume_run, start_run
from signcli.settings import load_settings


def tiny_settings(data: Path, work: Path, *extra: str):
    return load_settings(
        overrides=[
            f"data.train_dir={data / 'train'}",
            f"data.train_labels={data / 'train_labels.csv'}",
            f"data.val_dir={data / 'val'}",
            f"data.val_labels={data / 'val_labels.csv'}",
            "model.d_model=16",
            "model.num_layers=1",
            "model.num_heads=2",
            "model.ff_dim=32",
            "training.batch_size=2",
            "training.epochs=2",
            "training.log_every=1000",  # no step lines by count: only by time
            f"training.work_dir={work}",
            *extra,
        ]
    )


def plain_hook() -> ProgressHook:
    return ProgressHook("plain", Console(soft_wrap=True, force_terminal=False))


def test_a_plain_line_at_least_every_interval(
    make_npz_dataset, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch
) -> None:
    data = make_npz_dataset(n=8)
    monkeypatch.setattr(progress, "PLAIN_EVERY_S", 3600.0)
    start_run(tiny_settings(data, tmp_path / "slow"), [plain_hook()])
    quiet = capsys.readouterr().out
    assert " batch " not in quiet  # log_every 1000 and an hour's interval: epoch lines only
    monkeypatch.setattr(progress, "PLAIN_EVERY_S", 0.0)  # every batch is "30 s later"
    start_run(tiny_settings(data, tmp_path / "fast"), [plain_hook()])
    out = capsys.readouterr().out
    assert re.search(r"epoch 1/2 batch 1/4 step \d  loss ", out), out
    assert "epoch 1/2 validation batch 1/" in out


def test_the_summary_says_time_best_files_and_what_next(
    make_npz_dataset, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    data = make_npz_dataset(n=8)
    work = tmp_path / "run"
    start_run(tiny_settings(data, work, "training.threads=1"), [plain_hook()])
    out = capsys.readouterr().out
    assert "done: 2 epoch(s), 8 steps in " in out and "best val_gloss_top1" in out
    assert "math: 1 thread(s): training.threads" in out
    assert "wrote config.json, labels.json, metrics.jsonl, last.pt, best.pt, curves.png" in out
    assert f"next: signcli eval {work / 'best.pt'}" in out
    assert f"signcli export-onnx {work / 'best.pt'} --out {work / 'model.onnx'}" in out


def test_curves_png_is_drawn_and_redrawn_on_resume(make_npz_dataset, tmp_path: Path) -> None:
    data = make_npz_dataset(n=8)
    work = tmp_path / "run"
    start_run(tiny_settings(data, work))
    curves = work / "curves.png"
    first = curves.read_bytes()
    assert first.startswith(b"\x89PNG")
    resume_run(work, epochs=3)
    assert curves.read_bytes() != first  # a third epoch drawn (with the first two)


def test_curves_are_drawn_once_for_an_epoch(
    make_npz_dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drawing after the last epoch is the run's end drawing: not drawn twice."""
    import signcli.metrics.plots as plots

    drawn: list[list[int]] = []
    real = plots.curves_png

    def counted(records, *args):
        drawn.append([int(r["epoch"]) for r in records])
        return real(records, *args)

    monkeypatch.setattr(plots, "curves_png", counted)
    monkeypatch.setattr(callbacks, "CURVES_EVERY_S", 0.0)  # after every epoch
    start_run(tiny_settings(make_npz_dataset(n=8), tmp_path / "run"))
    assert drawn == [[1], [1, 2]]
    monkeypatch.setattr(callbacks, "CURVES_EVERY_S", 1e9)  # after the first epoch only
    drawn.clear()
    start_run(tiny_settings(make_npz_dataset(n=8), tmp_path / "again", "training.epochs=3"))
    assert drawn == [[1], [1, 2, 3]]  # the end drawing shows the epochs since


@pytest.mark.parametrize(("seconds", "shown"), [(1.23, "1.2 s"), (65, "1m 05s"), (7325, "2h 02m")])
def test_format_duration(seconds: float, shown: str) -> None:
    assert format_duration(seconds) == shown


def test_interrupt_and_resume_number_epochs_alike(make_npz_dataset, tmp_path: Path) -> None:
    from signcli.core.errors import TrainingInterrupted
    from signcli.engine.state import TrainState
    from signcli.engine.trainer import Trainer

    assert TrainState(epoch=2, step=8).position(4) == "after epoch 2, step 8"
    inside = TrainState(epoch=1, step=6, batch_in_epoch=2)
    assert inside.position(4) == "in epoch 2 after batch 2/4, step 6"

    data = make_npz_dataset(n=8)
    trainer = Trainer(tiny_settings(data, tmp_path / "run"))
    trainer.state = inside
    with pytest.raises(TrainingInterrupted) as stopped:
        trainer._interrupt(saved=True)
    assert "stopped in epoch 2 after batch 2/4, step 6;" in str(stopped.value)
    console = Console(record=True, force_terminal=False, width=300)
    ProgressHook("plain", console).on_train_start(trainer)
    assert "resuming in epoch 2 after batch 2/4, step 6" in console.export_text()
