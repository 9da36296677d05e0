"""TextTokenizer: word-level and BPE round trips, normalisation, and storage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signcli.core.errors import UsageError
from signcli.text.tokenizer import SPECIAL_TOKENS, TextTokenizer

SENTENCES = [
    "Yesterday the man gave the book.",
    "Tomorrow the girl will see the red car!",
    "The teacher doesn't want the big apple",
    "the friend finds the key",
]
GLOSSES = ["MAN BOOK GIVE", "YESTERDAY GIRL CAR RED SEE NOT", "IX-1p BOOK GIVE"]


def test_word_level_glosses_round_trip_with_fixed_special_ids() -> None:
    tokenizer = TextTokenizer.train(GLOSSES, "word")
    assert (tokenizer.pad_id, tokenizer.bos_id, tokenizer.eos_id, tokenizer.unk_id) == (0, 1, 2, 3)
    assert tokenizer.blank_id == 0
    assert tokenizer.vocab_size == len(SPECIAL_TOKENS) + 10  # 10 distinct glosses
    ids = tokenizer.encode("IX-1p BOOK GIVE")
    assert len(ids) == 3 and min(ids) >= len(SPECIAL_TOKENS)  # a gloss is one token, hyphen and all
    assert tokenizer.decode(ids) == "IX-1p BOOK GIVE"
    framed = tokenizer.encode("MAN BOOK", bos=True, eos=True)
    assert framed[0] == 1 and framed[-1] == 2 and tokenizer.decode(framed) == "MAN BOOK"
    assert tokenizer.decode([*tokenizer.encode("MAN"), 2, *tokenizer.encode("BOOK")]) == "MAN"
    assert tokenizer.encode("DOG MAN")[0] == tokenizer.unk_id
    assert tokenizer.decode(tokenizer.encode("DOG MAN")) == "MAN"  # unknown words drop out


def test_normalisation_is_a_setting_and_applies_to_training_and_scoring() -> None:
    plain = TextTokenizer.train(SENTENCES, "word")
    assert plain.normalize("  The  man\tgave. ") == "The man gave."
    normal = TextTokenizer.train(SENTENCES, "word", lowercase=True, strip_punctuation=True)
    assert normal.normalize("  The  man\tgave. ") == "the man gave"
    assert normal.normalize("doesn't «Straße»") == "doesnt straße"
    # decoding gives normalised text: the reference must be normalised the same to compare
    sentence = SENTENCES[0]
    assert normal.decode(normal.encode(sentence)) == normal.normalize(sentence)
    assert "book." in plain.tokens(sentence) and "book" in normal.tokens(sentence)


def test_bpe_round_trip_and_vocab_size() -> None:
    tokenizer = TextTokenizer.train(SENTENCES * 3, "bpe", vocab_size=60, lowercase=True)
    assert tokenizer.vocab_size <= 60
    for sentence in SENTENCES:
        assert tokenizer.decode(tokenizer.encode(sentence)) == tokenizer.normalize(sentence)
    unseen = "the man sees the red key"
    assert tokenizer.decode(tokenizer.encode(unseen)) == unseen  # pieces of seen words
    assert len(tokenizer.encode("the")) == 1
    with pytest.raises(UsageError, match="no room"):
        TextTokenizer.train(SENTENCES, "bpe", vocab_size=4)
    with pytest.raises(UsageError, match="unknown tokenizer kind"):
        TextTokenizer.train(SENTENCES, "char")  # type: ignore[arg-type]


def test_save_load_and_json_give_the_same_tokenizer(tmp_path: Path) -> None:
    tokenizer = TextTokenizer.train(SENTENCES, "bpe", vocab_size=80, strip_punctuation=True)
    path = tmp_path / "tokenizer.json"
    tokenizer.save(path)
    assert json.loads(path.read_text())["model"]["type"] == "BPE"
    for other in (TextTokenizer.load(path), TextTokenizer.from_json(tokenizer.to_json())):
        assert other.to_json() == tokenizer.to_json()
        for sentence in SENTENCES:
            assert other.encode(sentence) == tokenizer.encode(sentence)
            assert other.normalize(sentence) == tokenizer.normalize(sentence)
    import io

    import torch

    buffer = io.BytesIO()
    torch.save({"tokenizer": tokenizer.to_json()}, buffer)  # as a checkpoint holds it
    buffer.seek(0)
    stored = torch.load(buffer, weights_only=True)["tokenizer"]
    assert TextTokenizer.from_json(stored).encode(SENTENCES[1]) == tokenizer.encode(SENTENCES[1])
    again = TextTokenizer.train(SENTENCES, "bpe", vocab_size=80, strip_punctuation=True)
    assert again.to_json() == tokenizer.to_json()  # deterministic training


def test_bad_tokenizer_files_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        TextTokenizer.load(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UsageError, match=r"bad\.json: not a tokenizer\.json"):
        TextTokenizer.load(bad)
    document = json.loads(TextTokenizer.train(GLOSSES, "word").to_json())
    document["model"]["vocab"].pop("<bos>")
    document["added_tokens"] = [t for t in document["added_tokens"] if t["content"] != "<bos>"]
    with pytest.raises(UsageError, match="no <bos> token"):
        TextTokenizer.from_json(json.dumps(document))


def test_ids_outside_the_vocabulary_are_refused() -> None:
    """A hand-made tokenizer.json whose ids skip past its size (id 1000 of 5 tokens) once
    crashed ctc's loss with a segfault and translate's embedding with an IndexError."""
    document = json.loads(TextTokenizer.train(GLOSSES, "word").to_json())
    document["model"]["vocab"] = {"<pad>": 0, "<bos>": 1, "<eos>": 2, "<unk>": 3, "HELLO": 1000}
    with pytest.raises(UsageError, match="token id 1,000 is outside its vocabulary of 5 tokens"):
        TextTokenizer.from_json(json.dumps(document))


def test_a_tokenizer_that_does_not_fit_the_models_outputs_is_refused() -> None:
    from signcli.tasks import build_task

    tokenizer = TextTokenizer.train(GLOSSES, "word")
    labels = {"num_tokens": tokenizer.vocab_size + 7, "tokenizer": tokenizer.to_json()}
    with pytest.raises(UsageError, match=f"tokenizer has {tokenizer.vocab_size} ids but the"):
        build_task("ctc").restore(labels, "best.pt")
    build_task("ctc").restore({**labels, "num_tokens": tokenizer.vocab_size}, "best.pt")


def test_a_regex_that_backtracks_without_end_is_a_usage_error_naming_the_tokenizer() -> None:
    """issue 23: a tokenizer.json made elsewhere whose normalizer's regex backtracks until
    the regex engine's retry limit made the library panic (a BaseException, past every
    `except Exception`): a traceback and exit 1."""
    document = json.loads(TextTokenizer.train(["a b c"], "word").to_json())
    document["normalizer"] = {"type": "Replace", "pattern": {"Regex": "(.|..)+\\d"}, "content": ""}
    tokenizer = TextTokenizer.from_json(json.dumps(document), source="tokenizer file t.json")
    text = "yesterday the teacher bought the ball"
    for call in (tokenizer.encode, tokenizer.normalize, lambda t: tokenizer.encode_batch([t])):
        with pytest.raises(UsageError, match=r"^tokenizer file t.json: the tokenizers library"):
            call(text)
