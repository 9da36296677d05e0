"""training.compile: the compiled run trains, checkpoints the plain module and resumes exactly.

The suite compiles with the aot_eager backend (dynamo tracing and autograd, no C++ build):
inductor's compile takes minutes on a 2-core CPU; benchmarks/bench_gpu.py and bench_compile.py
measure it (docs/benchmarks.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from signcli.core.errors import UsageError
from signcli.engine.recipes import resume_run, start_run

from .test_resume import StopAfter, assert_same_run, final_weights, tiny_settings

COMPILED = ("training.compile=true", "training.compile_backend=eager", "training.epochs=2")


@pytest.fixture
def data_root(make_npz_dataset) -> Path:
    return make_npz_dataset(n=10, T=6, D=6)


@pytest.mark.slow
def test_compiled_run_resumes_exactly(data_root: Path, tmp_path: Path) -> None:
    reference, stopped = tmp_path / "reference", tmp_path / "stopped"
    start_run(tiny_settings(data_root, reference, *COMPILED))
    start_run(tiny_settings(data_root, stopped, *COMPILED), [StopAfter(epoch=1)])
    resume_run(stopped)
    assert_same_run(reference, stopped)
    # the checkpoint holds the plain module's keys, loadable without compiling
    eager = tmp_path / "eager"
    start_run(tiny_settings(data_root, eager, "training.epochs=2"))
    assert final_weights(eager).keys() == final_weights(reference).keys()


@pytest.mark.slow
def test_unknown_backend_is_a_usage_error(data_root: Path, tmp_path: Path) -> None:
    settings = tiny_settings(
        data_root, tmp_path / "run", "training.compile=true", "training.compile_backend=turbo"
    )
    with pytest.raises(UsageError, match="compile_backend.*turbo"):
        start_run(settings)


def test_padding_the_time_axis_changes_no_output(make_npz_dataset, tmp_path: Path) -> None:
    """A compiled run pads batches to a multiple of 32 frames; the model must not see it."""
    import torch

    from signcli.engine.trainer import Trainer

    root = make_npz_dataset(n=6, T=7, D=6)
    trainer = Trainer(tiny_settings(root, tmp_path / "run"), default_hooks=False)
    batch = trainer.task.collate([trainer.data.train.dataset[i] for i in range(4)])
    padded = batch.pad_time(32)
    assert padded.mask.shape[1] == 32 and padded.streams["x"].shape[1] == 32
    assert int(padded.mask.sum()) == int(batch.mask.sum())
    trainer.model.eval()
    with torch.no_grad():
        plain = trainer.task.forward(trainer.model, batch)
        longer = trainer.task.forward(trainer.model, padded)
    for name in plain:
        torch.testing.assert_close(plain[name], longer[name], rtol=1e-5, atol=1e-5)
