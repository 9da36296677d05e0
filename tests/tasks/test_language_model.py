"""`eval --lm-order`: a ctc run's beam search with an n-gram LM of its training texts
(tasks/language_model.py): the files and the summary, which texts are read by
default, and the errors (exit 2, naming the flag or file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from signcli.cli import app
from signcli.core.errors import UsageError
from signcli.data.synthetic_sentences import write_sentence_dataset
from signcli.engine.recipes import start_run
from signcli.settings import load_settings
from signcli.tasks import task_spec
from signcli.tasks.language_model import LMOptions, _training_texts
from signcli.text.files import read_texts
from tests.tasks.sentence_runs import text_task_settings

runner = CliRunner()
N_TRAIN = 10


@pytest.fixture(scope="module")
def ctc_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-epoch ctc run on tiny synthetic gloss sentences; read-only."""
    root = write_sentence_dataset(tmp_path_factory.mktemp("sentences"), N_TRAIN, 4, seed=5, dim=12)
    work = root / "run"
    settings = text_task_settings(root, work, "ctc")
    start_run(settings)
    return work


def run_eval(ctc_run: Path, out: Path, *extra: str):
    return runner.invoke(app, ["eval", str(ctc_run / "last.pt"), "--out", str(out), *extra])


@pytest.mark.slow
def test_eval_with_an_lm_writes_its_files_and_records_the_lm(ctc_run: Path, tmp_path: Path) -> None:
    result = run_eval(ctc_run, tmp_path / "a", "--lm-order", "2", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    texts = ctc_run.parent / "train_glosses.csv"
    assert summary["lm"] == {
        "order": 2,
        "weight": 1.0,
        "bonus": 1.0,
        "texts": str(texts.absolute()),
        "sentences": N_TRAIN,
    }
    assert summary["beam_size"] == 8  # the run's text.beam_size is 1: an LM implies a beam
    assert json.loads((tmp_path / "a" / "eval.json").read_text())["lm"] == summary["lm"]
    assert len((tmp_path / "a" / "hypotheses.txt").read_text().splitlines()) == 4
    assert "wer" in summary

    given = tmp_path / "lm.csv"
    given.write_text("file,text\na,ONE TWO\nb,TWO ONE\nc,UNKNOWN WORDS HERE\n")
    args = ["--lm-order", "3", "--lm-texts", str(given), "--lm-weight", "0.5", "--beam-size", "3"]
    result = run_eval(ctc_run, tmp_path / "b", *args)
    assert result.exit_code == 0, result.output
    assert "3-gram LM of 3 sentences" in " ".join(result.stdout.split())
    lm = json.loads((tmp_path / "b" / "eval.json").read_text())["lm"]
    assert (lm["sentences"], lm["weight"], lm["texts"]) == (3, 0.5, str(given.absolute()))
    assert json.loads((tmp_path / "b" / "eval.json").read_text())["beam_size"] == 3

    result = run_eval(ctc_run, tmp_path / "c", "--json")
    assert result.exit_code == 0 and "lm" not in json.loads(result.stdout)  # off by default

    # a beam size the user gives is kept, 1 included (one prefix, scored with the LM)
    result = run_eval(ctc_run, tmp_path / "d", "--lm-order", "2", "--beam-size", "1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["beam_size"] == 1


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--lm-order", "-1"], "--lm-order must be 0"),
        (["--lm-order", "2", "--lm-weight", "-0.5"], "--lm-weight must be a finite number >= 0"),
        (["--lm-order", "2", "--lm-weight", "nan"], "--lm-weight must be a finite number"),
        (["--lm-order", "2", "--lm-bonus", "inf"], "--lm-bonus must be a finite number"),
        (["--lm-weight", "0.5"], "--lm-weight needs a language model"),
        (["--lm-order", "2", "--lm-texts", "{tmp}/missing.csv"], "missing.csv not found"),
        (["--lm-order", "2", "--lm-texts", "{tmp}/latin1.csv"], "latin1.csv: not UTF-8"),
        (["--lm-order", "2", "--lm-texts", "{tmp}/empty.csv"], "no sentences"),
    ],
)
def test_bad_lm_options_exit_2_naming_the_flag_or_file(
    ctc_run: Path, tmp_path: Path, args: list[str], named: str
) -> None:
    (tmp_path / "latin1.csv").write_bytes("file,text\na,CAF\xc9\n".encode("latin-1"))
    (tmp_path / "empty.csv").write_text("file,text\n")
    args = [a.format(tmp=tmp_path) for a in args]
    result = run_eval(ctc_run, tmp_path / "out", *args)
    assert result.exit_code == 2, result.output
    first, *rest = result.output.strip().splitlines()
    assert named in first
    if "--lm-texts" in args:
        assert "--lm-texts" in result.output  # the way out
    assert not (tmp_path / "out" / "eval.json").exists()


def test_lm_options_on_a_classifier_exit_2(trained_run) -> None:
    args = ["eval", str(trained_run.work_dir / "best.pt"), "--lm-order", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "--lm-order is for ctc models" in result.output
    with pytest.raises(UsageError, match="--lm-texts is for ctc models"):
        LMOptions(texts=Path("t.csv")).check(task_spec("translate"), Path("x.pt"))
    LMOptions().check(task_spec("translate"), Path("x.pt"))  # nothing asked, nothing to refuse


def test_default_texts_are_the_training_side_only(ctc_run: Path, tmp_path: Path) -> None:
    settings = load_settings(base=json.loads((ctc_run / "config.json").read_text()))
    path, texts = _training_texts(None, settings, ctc_run / "last.pt")
    assert path == Path(settings.data.train_text) and len(texts) == N_TRAIN

    # a validation split carved from train: the LM must not read its texts
    settings.data.val_fraction = 0.3
    run = tmp_path / "carved"
    run.mkdir()
    with pytest.raises(UsageError, match="split.json not found"):
        _training_texts(None, settings, run / "last.pt")
    train_table = read_texts(path).texts  # {sample id: text}, as training pairs them
    ids = sorted(train_table)[:6]
    split = {"fraction": 0.3, "group_by": None, "seed": 0, "train_ids": ids, "val_ids": []}
    (run / "split.json").write_text(json.dumps(split))
    _, texts = _training_texts(None, settings, run / "last.pt")
    assert texts == [train_table[i] for i in ids]

    # multi-stream: meta.csv holds every split's texts; the training index picks
    settings.data.val_fraction = None
    settings.data.pose_dir = tmp_path
    (tmp_path / "meta.csv").write_text("id;texto\nx;A B\ny;B C\nz;C D\n")
    (tmp_path / "train_index.csv").write_text("id\ny\nx\n")
    settings.data.meta, settings.data.train_index = (
        tmp_path / "meta.csv",
        tmp_path / "train_index.csv",
    )
    assert _training_texts(None, settings, run / "last.pt")[1] == ["B C", "A B"]


def test_an_lm_order_above_the_limit_is_refused_before_fitting(tmp_path: Path) -> None:
    from signcli.core.task_specs import task_spec
    from signcli.tasks.language_model import LMOptions

    with pytest.raises(UsageError, match="--lm-order is 1,000,000,000: .*SIGNCLI_MAX_LM_ORDER"):
        LMOptions(10**9).check(task_spec("ctc"), tmp_path / "best.pt")
    LMOptions(3).check(task_spec("ctc"), tmp_path / "best.pt")


def test_texts_times_order_past_the_limit_are_refused_before_counting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """issue 23: the order was bounded, but not the counting it multiplies: a texts CSV of
    hundreds of MB at order 20 would count billions of n-grams in Python dictionaries."""
    from signcli.tasks.language_model import build_language_model
    from signcli.text.tokenizer import TextTokenizer

    texts = tmp_path / "lm.csv"
    texts.write_text("file,text\n" + "".join(f"s{i},a b c d\n" for i in range(10)))
    tokenizer = TextTokenizer.train(["a b c d"], "word")
    settings = load_settings(flags={"model.task": "ctc"})
    monkeypatch.setenv("SIGNCLI_MAX_LM_NGRAMS", "100")
    with pytest.raises(UsageError, match=r"--lm-order 3 over .*lm.csv \(50 tokens.*150 n-gram"):
        build_language_model(LMOptions(3, texts=texts), settings, tmp_path / "best.pt", tokenizer)
    lm, record = build_language_model(
        LMOptions(2, texts=texts), settings, tmp_path / "best.pt", tokenizer
    )  # 100 events: within the bound
    assert record["sentences"] == 10
