"""Fuzz the text-target readers: `file,text` CSVs and meta.csv (`read_texts`,
`check_text_file`) as random CSV text in several encodings and random bytes, and
tokenizer.json (`TextTokenizer.load`) as damaged documents and random bytes, tokenizer
vocabularies with redrawn ids, and eval's language-model options.

`read_texts` collects every problem as a finding naming the file, and keeps only
non-empty texts of non-empty ids; `check_text_file` does the same; `load_texts` and
`TextTokenizer.load` raise only DataError or UsageError naming the file; a tokenizer that
loads never encodes an id past its vocabulary; LM options are refused (UsageError) or
within `MAX_LM_ORDER`; all without a Python warning, in bounded memory and time."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import Sandbox, expect_only, fuzz, message_names, run_bounded
from tests.fuzz.strategies import csv_bytes

# property-based fuzzing of a reader or command: the full lane runs it
pytestmark = pytest.mark.slow

SAMPLE_IDS = ["s0", "s1", "s2"]


def _read(path: Path) -> None:
    from signcli.core.errors import DataError, UsageError
    from signcli.text.files import check_text_file, load_texts, read_texts

    table = expect_only(lambda: read_texts(path))
    for problem in table.problems:
        message_names(problem, path)
    assert all(
        isinstance(k, str) and k and isinstance(v, str) and v.strip()
        for k, v in table.texts.items()
    )
    report = expect_only(lambda: check_text_file(path, SAMPLE_IDS, other_ids=["s3"]))
    assert report.paired <= len(SAMPLE_IDS)
    for problem in report.problems:
        message_names(problem, path)
    outcome = expect_only(lambda: load_texts(path, SAMPLE_IDS), (DataError, UsageError))
    if isinstance(outcome, BaseException):
        message_names(outcome, path)
    else:
        assert len(outcome) == len(SAMPLE_IDS)


@fuzz(30, long=3000)
@given(data=csv_bytes)
def test_text_files_report_problems_naming_the_file(data: bytes, tmp_path: Path) -> None:
    with Sandbox(tmp_path) as box:
        path = box.file("meta.csv", data)
        box.freeze()
        run_bounded(lambda: _read(path))


def _tokenizer_document() -> str:
    from signcli.text.tokenizer import TextTokenizer

    return TextTokenizer.train(["MAN BOOK GIVE", "GIRL CAR SEE NOT"], "word").to_json()


@st.composite
def tokenizer_bytes(draw: st.DrawFn) -> bytes:
    """A real tokenizer.json cut, with bytes flipped or a part removed, or random bytes."""
    document = _tokenizer_document().encode()
    kind = draw(st.sampled_from(["cut", "flip", "drop", "random"]))
    if kind == "random":
        return draw(st.binary(max_size=300))
    start = draw(st.integers(0, len(document) - 1))
    if kind == "cut":
        return document[:start]
    if kind == "flip":
        return document[:start] + draw(st.binary(min_size=1, max_size=4)) + document[start + 1 :]
    return document[:start] + document[start + draw(st.integers(1, 40)) :]


def _load_tokenizer(path: Path) -> None:
    from signcli.core.errors import UsageError
    from signcli.text.tokenizer import TextTokenizer

    outcome = expect_only(lambda: TextTokenizer.load(path), (UsageError,))
    if isinstance(outcome, BaseException):
        message_names(outcome, path)
    else:
        assert isinstance(outcome.decode(outcome.encode("MAN BOOK")), str)
        assert outcome.vocab_size >= 4


@fuzz(20, long=2000)
@given(data=tokenizer_bytes())
def test_tokenizer_files_raise_only_usage_errors(data: bytes, tmp_path: Path) -> None:
    with Sandbox(tmp_path) as box:
        path = box.file("tokenizer.json", data)
        box.freeze()
        run_bounded(lambda: _load_tokenizer(path))


@st.composite
def tokenizer_vocabularies(draw: st.DrawFn) -> str:
    """A real tokenizer.json whose vocabulary's ids are redrawn: gaps, ids past the size,
    repeated ids (a hand-made tokenizer once crashed ctc's loss with a segfault)."""
    import json

    document = json.loads(_tokenizer_document())
    vocab = document["model"]["vocab"]
    ids = draw(st.lists(st.integers(0, 10**6), min_size=len(vocab), max_size=len(vocab)))
    document["model"]["vocab"] = dict(zip(vocab, ids, strict=True))
    return json.dumps(document)


def _encode_within_vocabulary(text: str) -> None:
    from signcli.core.errors import UsageError
    from signcli.text.tokenizer import TextTokenizer

    outcome = expect_only(lambda: TextTokenizer.from_json(text), (UsageError,))
    if not isinstance(outcome, BaseException):
        ids = outcome.encode("MAN BOOK GIVE GIRL CAR SEE NOT UNKNOWN", bos=True, eos=True)
        assert max(ids) < outcome.vocab_size, (ids, outcome.vocab_size)


@fuzz(20, long=2000)
@given(text=tokenizer_vocabularies())
def test_a_tokenizer_never_gives_an_id_past_its_vocabulary(text: str) -> None:
    run_bounded(lambda: _encode_within_vocabulary(text))


def _check_lm_options(order: int, weight: float | None, bonus: float | None) -> None:
    from signcli.core.errors import UsageError
    from signcli.core.limits import MAX_LM_ORDER
    from signcli.core.task_specs import task_spec
    from signcli.tasks.language_model import LMOptions

    options = LMOptions(order, weight, bonus)
    outcome = expect_only(lambda: options.check(task_spec("ctc"), Path("best.pt")), (UsageError,))
    if not isinstance(outcome, BaseException) and options.wanted:
        assert order <= MAX_LM_ORDER.value()


@fuzz(30, long=3000)
@given(
    order=st.integers(-(10**12), 10**12) | st.integers(-2, 30),
    weight=st.none() | st.floats(allow_nan=True, allow_infinity=True),
    bonus=st.none() | st.floats(allow_nan=True, allow_infinity=True),
)
def test_lm_options_are_refused_or_within_the_limits(
    order: int, weight: float | None, bonus: float | None
) -> None:
    run_bounded(lambda: _check_lm_options(order, weight, bonus))
