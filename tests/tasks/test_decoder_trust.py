"""A stored run must not make signcli import code: eval, export-onnx and resume refuse a
checkpoint or config.json whose model.decoder_class is not signcli's own (exit 2, nothing
imported, nothing written) unless --trust-decoder-class (signcli/engine/trust.py)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from signcli.cli import app
from signcli.core.errors import UsageError
from signcli.engine.trust import check_decoder_class, check_stored_model, is_signcli_class
from tests.tasks.sentence_runs import small_sentences

MODULE = "trust_probe_decoders"
MARKER = "imported.marker"
# a user's decoder (the interface of docs/architecture.md, "Text targets") whose module
# leaves a marker file beside itself when it is imported, i.e. when its code runs
PROBE = f"""
from pathlib import Path

from torch import nn

Path(__file__).with_name({MARKER!r}).write_text("imported")


class Probe(nn.Module):
    def __init__(self, vocab_size, d_model):
        super().__init__()
        self.d_model = d_model
        self.embed = nn.Embedding(vocab_size, d_model)
        self.out = nn.Linear(d_model, vocab_size)

    def forward(self, memory, memory_mask, tokens):
        real = memory_mask.unsqueeze(-1)
        pooled = (memory * real).sum(1) / real.sum(1).clamp(min=1)
        return self.out(self.embed(tokens) + pooled.unsqueeze(1))

    def step(self, memory, memory_mask, tokens):
        return self.forward(memory, memory_mask, tokens)[:, -1]
"""
runner = CliRunner()


@pytest.fixture(scope="module")
def user_decoder_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(work dir, module folder): a 1-epoch translate run of the probe decoder. Training
    imports the module; the marker is removed afterwards and the module forgotten, so a
    later import writes the marker again."""
    from signcli.engine.recipes import start_run
    from tests.tasks.sentence_runs import text_task_settings

    root = tmp_path_factory.mktemp("trust")
    modules = root / "modules"
    modules.mkdir()
    (modules / f"{MODULE}.py").write_text(PROBE)
    work = root / "run"
    settings = text_task_settings(
        small_sentences(),
        work,
        "translate",
        "model.max_target_len=12",
        f"model.decoder_class={MODULE}:Probe",
        "training.batch_size=8",
        texts="text",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(modules))
        start_run(settings)
    assert (modules / MARKER).is_file()  # training imported it: the probe works
    _forget(modules)
    return work, modules


def _forget(modules: Path) -> None:
    """No marker, and the module not in sys.modules: the next import runs it again."""
    (modules / MARKER).unlink(missing_ok=True)
    sys.modules.pop(MODULE, None)


@pytest.fixture
def importable(user_decoder_run, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The run, with the probe's folder on sys.path: an import would succeed, so only the
    trust check can keep the marker from appearing."""
    work, modules = user_decoder_run
    _forget(modules)
    monkeypatch.syspath_prepend(str(modules))
    yield work, modules
    _forget(modules)


def _snapshot(folder: Path) -> dict[str, int]:
    """Every entry's mtime, the folder's own included: a file created and removed again
    (the work directory's lock) changes the folder's."""
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in [folder, *folder.rglob("*")]}


def _refused(result, source: Path) -> None:
    assert result.exit_code == 2, result.output
    assert f"{MODULE}:Probe" in result.output and str(source) in result.output
    assert "--trust-decoder-class" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_eval_refuses_a_users_decoder_class_unless_trusted(importable, tmp_path) -> None:
    work, modules = importable
    best, out = work / "best.pt", tmp_path / "eval"
    args = ["eval", str(best), "--data-dir", str(small_sentences()), "--out", str(out), "--json"]
    _refused(runner.invoke(app, args), best)
    assert not (modules / MARKER).exists() and MODULE not in sys.modules
    assert not out.exists()

    trusted = runner.invoke(app, [*args, "--trust-decoder-class"])
    assert trusted.exit_code == 0, trusted.output
    assert (modules / MARKER).is_file() and (out / "eval.json").is_file()


@pytest.mark.slow
def test_export_onnx_refuses_a_users_decoder_class_unless_trusted(importable, tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    work, modules = importable
    best, out = work / "best.pt", tmp_path / "onnx" / "model.onnx"
    args = ["export-onnx", str(best), "--out", str(out), "--no-check", "--json"]
    _refused(runner.invoke(app, args), best)
    assert not (modules / MARKER).exists() and MODULE not in sys.modules
    assert not out.parent.exists()

    trusted = runner.invoke(app, [*args, "--trust-decoder-class"])
    assert trusted.exit_code == 0, trusted.output
    assert (modules / MARKER).is_file() and out.is_file()
    assert out.with_name("model.decoder_step.onnx").is_file()


def test_resume_refuses_a_users_decoder_class_unless_trusted(importable, tmp_path) -> None:
    work, modules = importable
    copy = tmp_path / "run"
    shutil.copytree(work, copy)
    before = _snapshot(copy)
    args = ["resume", str(copy), "--epochs", "2", "--quiet"]
    _refused(runner.invoke(app, args), copy / "config.json")
    assert not (modules / MARKER).exists() and MODULE not in sys.modules
    assert _snapshot(copy) == before  # not even the lock file came and went

    trusted = runner.invoke(app, [*args, "--trust-decoder-class"])
    assert trusted.exit_code == 0, trusted.output
    assert (modules / MARKER).is_file()
    assert len((copy / "metrics.jsonl").read_text().splitlines()) == 2


def test_a_checkpoint_swapped_under_a_clean_config_is_still_refused(importable, tmp_path) -> None:
    """config.json naming the built-in decoder does not vouch for last.pt: resume refuses
    a last.pt whose model settings differ, before the model is built."""
    import json

    work, modules = importable
    copy = tmp_path / "run"
    shutil.copytree(work, copy)
    config = json.loads((copy / "config.json").read_text())
    config["model"]["decoder_class"] = None
    (copy / "config.json").write_text(json.dumps(config))
    result = runner.invoke(app, ["resume", str(copy), "--epochs", "2", "--quiet"])
    assert result.exit_code == 2, result.output
    assert not (modules / MARKER).exists() and MODULE not in sys.modules


@pytest.mark.parametrize(
    ("spec", "own"),
    [
        ("signcli.text.decoder:TextDecoder", True),
        ("signcli:Anything", True),
        (f"{MODULE}:Probe", False),
        ("signcli_lookalike:Decoder", False),  # a prefix of the name is not the package
        ("os:system", False),
        (":Decoder", False),
    ],
)
def test_only_signclis_own_modules_are_trusted(spec: str, own: bool) -> None:
    assert is_signcli_class(spec) is own
    stored = {"model": {"decoder_class": spec}}
    if own:
        check_stored_model(stored, "config.json", trusted=False)
    else:
        with pytest.raises(UsageError, match="config.json: model.decoder_class"):
            check_stored_model(stored, "config.json", trusted=False)
    check_stored_model(stored, "config.json", trusted=True)  # the opt-in allows any


@pytest.mark.parametrize("value", [None, ""])
def test_the_builtin_decoder_needs_no_flag(value) -> None:
    check_decoder_class(value, "best.pt", trusted=False)
    check_stored_model({"model": {"decoder_class": value}}, "config.json", trusted=False)
    check_stored_model({"model": {}}, "config.json", trusted=False)
