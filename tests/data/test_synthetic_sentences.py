"""Synthetic sentences: the grammar, its translation, determinism and the written layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from signcli.data.labels import read_labels
from signcli.data.npz import read_npz_array
from signcli.data.synthetic_sentences import (
    KEYPOINT_DIM,
    SIGNS,
    make_sentences,
    translate,
    write_sentence_dataset,
)
from signcli.text.files import read_texts


def test_translation_reorders_and_inflects() -> None:
    assert translate(["MAN", "BOOK", "GIVE"]) == "the man gives the book"
    assert translate(["YESTERDAY", "GIRL", "CAR", "RED", "SEE", "NOT"]) == (
        "yesterday the girl did not see the red car"
    )
    assert translate(["TOMORROW", "BOY", "KEY", "BUY"]) == "tomorrow the boy will buy the key"
    assert translate(["TEACHER", "CUP", "BIG", "WANT", "NOT"]) == (
        "the teacher does not want the big cup"
    )
    assert (
        translate(["YESTERDAY", "FRIEND", "BALL", "TAKE"]) == "yesterday the friend took the ball"
    )
    assert len(SIGNS) == len(set(SIGNS)) == 24


def test_sentences_are_continuous_clips_of_their_signs() -> None:
    sentences = make_sentences(12, seed=3)
    again = make_sentences(12, seed=3)
    for s, t in zip(sentences, again, strict=True):
        assert s.glosses == t.glosses and np.array_equal(s.x, t.x, equal_nan=True)
    assert [s.glosses for s in make_sentences(12, seed=4)] != [s.glosses for s in sentences]
    for s in sentences:
        assert s.x.dtype == np.float32 and s.x.shape[1] == KEYPOINT_DIM
        assert len(s.spans) == len(s.glosses) and s.text == translate(s.glosses)
        starts, ends = zip(*s.spans, strict=True)
        assert 0 < starts[0] and ends[-1] < len(s.x)  # rest before and after
        assert all(e < n for e, n in zip(ends, starts[1:], strict=False))  # transitions between
        assert not np.isinf(s.x).any() and np.isnan(s.x).any()
    assert {len(s.glosses) for s in make_sentences(40, seed=0)} >= {3, 4, 5}


def test_written_layout_reads_back(tmp_path: Path) -> None:
    root = write_sentence_dataset(tmp_path / "sentences", n_train=5, n_val=2, seed=1, compact=True)
    for split, n in (("train", 5), ("val", 2)):
        labels = read_labels(root / f"{split}_labels.csv")
        assert labels.ok and len(labels.ids) == n and set(labels.gloss) <= set(range(6))
        glosses, texts = (
            read_texts(root / f"{split}_glosses.csv"),
            read_texts(root / f"{split}_text.csv"),
        )
        assert glosses.ok and texts.ok and list(glosses.texts) == labels.ids == list(texts.texts)
        first = labels.ids[0]
        assert translate(glosses.texts[first].split()) == texts.texts[first]
        x = read_npz_array(root / split / f"{first}.npz")
        assert x.shape[1] == KEYPOINT_DIM and np.isnan(x).any()


def test_bundled_example_is_valid_and_small() -> None:
    from signcli.data.validate import validate_path

    root = Path(__file__).resolve().parents[2] / "examples" / "sentences"
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    # 120 + 20 clips (~1.7 MB): enough for the ctc quick start to learn from (16 + 6 clips,
    # under 400 KB, left its val WER at 1.0; issue 26)
    assert size < 2 * 1024 * 1024
    report = validate_path(root, workers=1)
    assert report.ok and [s.name for s in report.splits] == ["train", "val"]
    for split in ("train", "val"):
        glosses = read_texts(root / f"{split}_glosses.csv")
        texts = read_texts(root / f"{split}_text.csv")
        assert glosses.ok and texts.ok and glosses.texts.keys() == texts.texts.keys()
        assert all(translate(glosses.texts[i].split()) == texts.texts[i] for i in texts.texts)
