"""Synthetic signed sentences: continuous clips of synthetic signs, with gloss and text targets.

For the text tasks (`ctc`, `translate`; docs/architecture.md, "Text targets") what
`synthetic.py` is for classification: learnable data with known answers, numpy only.

Grammar. A sentence is, in sign order (glosses, the `ctc` target):

    [TIME] SUBJECT OBJECT [ADJECTIVE] VERB [NOT]        e.g. YESTERDAY GIRL CAR RED SEE NOT

and its spoken-language translation (the `translate` target) puts the words in English
order, with the tense the time sign sets and "not" as an auxiliary:

    yesterday the girl did not see the red car

so a translation is not the glosses read left to right: the verb moves forward, the
adjective before its noun, and one sign (NOT, YESTERDAY) changes words elsewhere
(did ... see, gave). 24 signs (SIGNS), 3 * 6 * 6 * 4 * 6 * 2 = 5,184 sentences.

Clips. Each sign is one class of `synthetic.py` (sign k = gloss class k: its location,
movement, handshapes and second hand), performed for SIGN_FRAMES frames with the timing
variation of a single sign; consecutive signs are joined by a transition of
TRANSITION_FRAMES frames in which the hands move from the end posture of one sign to the
start of the next, with a short rest before the first and after the last. The whole
sentence is then recorded as one signer (one scale, rotation and offset; landmark noise;
hands not detected for runs of frames), so the only cue to the boundaries is the movement.

Files (`write_sentence_dataset`): the single-stream layout plus the text CSVs,

    root/train/train_00000.npz ...   X [T, 156]
    root/train_labels.csv            file,gloss,gloss_name   (gloss: the verb, 0..5; the
                                     labels CSV the layout requires, and a classify target)
    root/train_glosses.csv           file,text   space-separated glosses (task ctc)
    root/train_text.csv              file,text   the English sentence (task translate)
    root/val_...                     the same for val
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from signcli.data.synthetic import (
    KEYPOINT_DIM,
    _as_recorded,
    _drop_hands,
    _make_sign,
    _select_columns,
    _sign_points,
)

TIMES = {"YESTERDAY": "past", "TOMORROW": "future"}  # no time sign: present
SUBJECTS = {"MAN": "man", "WOMAN": "woman", "BOY": "boy", "GIRL": "girl", "TEACHER": "teacher",
            "FRIEND": "friend"}  # fmt: skip
OBJECTS = {"BOOK": "book", "APPLE": "apple", "BALL": "ball", "CUP": "cup", "KEY": "key",
           "CAR": "car"}  # fmt: skip
ADJECTIVES = {"RED": "red", "BIG": "big", "NEW": "new"}
VERBS = {  # gloss: (base, 3rd person present, past)
    "GIVE": ("give", "gives", "gave"),
    "SEE": ("see", "sees", "saw"),
    "TAKE": ("take", "takes", "took"),
    "WANT": ("want", "wants", "wanted"),
    "BUY": ("buy", "buys", "bought"),
    "FIND": ("find", "finds", "found"),
}
NEGATION = "NOT"
SIGNS = (*TIMES, *SUBJECTS, *OBJECTS, *ADJECTIVES, *VERBS, NEGATION)  # sign k = class k
SIGN_CLASS = {gloss: k for k, gloss in enumerate(SIGNS)}

SIGN_FRAMES = (8, 13)  # frames of one sign, inclusive
TRANSITION_FRAMES = (2, 5)  # frames between two signs
REST_FRAMES = (1, 4)  # before the first and after the last sign
ADJECTIVE_SHARE, NEGATION_SHARE = 0.5, 0.25


@dataclass
class SyntheticSentence:
    """One sentence: `x` float32 [T, D] (NaN = not detected), its glosses and English text."""

    id: str
    x: np.ndarray
    glosses: list[str]
    text: str
    spans: list[tuple[int, int]] = field(default_factory=list)  # [start, end) frames per sign

    @property
    def gloss_text(self) -> str:
        return " ".join(self.glosses)

    @property
    def verb(self) -> int:
        """The verb's index in VERBS (the clip-level label of the labels CSV)."""
        return list(VERBS).index(next(g for g in self.glosses if g in VERBS))


def make_sentence(rng: np.random.Generator) -> tuple[list[str], str]:
    """A random sentence of the grammar: (glosses in sign order, English text)."""
    time = rng.choice([None, *TIMES])
    subject = str(rng.choice(list(SUBJECTS)))
    obj = str(rng.choice(list(OBJECTS)))
    adjective = str(rng.choice(list(ADJECTIVES))) if rng.random() < ADJECTIVE_SHARE else None
    verb = str(rng.choice(list(VERBS)))
    negated = bool(rng.random() < NEGATION_SHARE)
    glosses = [g for g in (time, subject, obj, adjective, verb) if g is not None]
    glosses += [NEGATION] if negated else []
    return [str(g) for g in glosses], translate(glosses)


def translate(glosses: list[str]) -> str:
    """The English sentence of a gloss sequence of the grammar."""
    time = next((g for g in glosses if g in TIMES), None)
    subject = SUBJECTS[next(g for g in glosses if g in SUBJECTS)]
    obj = OBJECTS[next(g for g in glosses if g in OBJECTS)]
    adjective = next((ADJECTIVES[g] for g in glosses if g in ADJECTIVES), None)
    base, present, past = VERBS[next(g for g in glosses if g in VERBS)]
    negated = NEGATION in glosses
    tense = TIMES.get(time, "present") if time else "present"
    if tense == "future":
        verb = f"will not {base}" if negated else f"will {base}"
    elif tense == "past":
        verb = f"did not {base}" if negated else past
    else:
        verb = f"does not {base}" if negated else present
    words = [time.lower()] if time else []
    words += ["the", subject, verb, "the", *([adjective] if adjective else []), obj]
    return " ".join(words)


@functools.lru_cache(maxsize=len(SIGNS))
def _sign(gloss: str):
    return _make_sign(SIGN_CLASS[gloss])


def _sentence_keypoints(
    glosses: list[str], rng: np.random.Generator, missing_rate: float
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """float32 [T, 156] of the signs of `glosses` in a row, and each sign's frames."""
    pieces, spans, rest, T = [], [], [], 0

    def hold(points: np.ndarray, frames: int, one_handed: bool) -> None:
        nonlocal T
        pieces.append(np.repeat(points[None], frames, axis=0))
        rest.append(np.full(frames, one_handed))
        T += frames

    previous, previous_one_handed = None, False
    for k, gloss in enumerate(glosses):
        sign = _sign(gloss)
        points = _sign_points(sign, rng, int(rng.integers(SIGN_FRAMES[0], SIGN_FRAMES[1] + 1)))
        one_handed = sign.left_mode == "rest"
        if k == 0:
            hold(points[0], int(rng.integers(REST_FRAMES[0], REST_FRAMES[1] + 1)), one_handed)
        else:  # the hands travel from where the last sign ended to where this one starts
            n = int(rng.integers(TRANSITION_FRAMES[0], TRANSITION_FRAMES[1] + 1))
            w = (np.arange(1, n + 1) / (n + 1))[:, None, None]
            pieces.append((1 - w) * previous[-1] + w * points[0])
            rest.append(np.full(n, one_handed and previous_one_handed))
            T += n
        spans.append((T, T + len(points)))
        pieces.append(points)
        rest.append(np.full(len(points), one_handed))
        T += len(points)
        previous, previous_one_handed = points, one_handed
    hold(previous[-1], int(rng.integers(REST_FRAMES[0], REST_FRAMES[1] + 1)), previous_one_handed)
    frames = _as_recorded(np.concatenate(pieces), rng)
    return _drop_hands(frames, rng, missing_rate, np.concatenate(rest)), spans


def make_sentences(
    n: int, seed: int = 0, dim: int = KEYPOINT_DIM, missing_rate: float = 0.1
) -> list[SyntheticSentence]:
    """`n` random sentences of the grammar as continuous clips [T, dim]; the same seed
    gives the same sentences (and the signs themselves never depend on the seed)."""
    if n < 0 or dim < 1:
        raise ValueError(f"need n >= 0 and dim >= 1 (got n={n}, dim={dim})")
    rng = np.random.default_rng(seed)
    sentences = []
    for i in range(n):
        glosses, text = make_sentence(rng)
        x, spans = _sentence_keypoints(glosses, rng, missing_rate)
        sentences.append(
            SyntheticSentence(f"sentence_{i:05d}", _select_columns(x, dim), glosses, text, spans)
        )
    return sentences


def write_sentence_dataset(
    root: Path,
    n_train: int,
    n_val: int,
    seed: int = 0,
    dim: int = KEYPOINT_DIM,
    compact: bool = False,
) -> Path:
    """Write the layout of the module docstring under `root` and return `root`. `compact`:
    coordinates rounded to 1e-3 and stored as float16 in compressed npz (the bundled
    example; signcli reads them as float32)."""
    root = Path(root)
    for index, (split, n) in enumerate((("train", n_train), ("val", n_val))):
        split_seed = int(np.random.default_rng([seed, index]).integers(2**31))
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        labels, glosses, texts = (
            [["file", "gloss", "gloss_name"]],
            [["file", "text"]],
            [["file", "text"]],
        )
        for i, sentence in enumerate(make_sentences(n, split_seed, dim)):
            name = f"{split}_{i:05d}.npz"
            if compact:
                np.savez_compressed(folder / name, X=np.round(sentence.x, 3).astype(np.float16))
            else:
                np.savez(folder / name, X=sentence.x)
            labels.append([name, sentence.verb, list(VERBS)[sentence.verb]])
            glosses.append([name, sentence.gloss_text])
            texts.append([name, sentence.text])
        for suffix, rows in (("labels", labels), ("glosses", glosses), ("text", texts)):
            with open(root / f"{split}_{suffix}.csv", "w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerows(rows)
    return root
