"""The tokenizer of text targets: a thin wrapper over the `tokenizers` library
(docs/architecture.md, "Text targets").

Two kinds, a setting:

- `word`: one token per whitespace-separated word (WordLevel). The kind for `ctc` gloss
  targets ("MAN BOOK GIVE"), where a token is a gloss, and for small text vocabularies.
- `bpe`: byte-pair encoding over words marked with a leading "▁" (Metaspace), so that
  `decode` puts the spaces back where they were; for open vocabularies.

Both are trained on the training texts only, up to `vocab_size` tokens (the special tokens
included; `None` keeps every word of a word-level vocabulary). The special tokens come first,
so their ids are fixed: PAD 0 (also the CTC blank: a padded target position and a blank
frame are never confused, since CTC targets are never padded inside their length), BOS 1,
EOS 2, UNK 3.

Normalisation is part of the tokenizer itself (a `tokenizers` normalizer: NFKC, then
optionally lower-casing and punctuation removal, then whitespace collapsed and stripped),
so it is stored in tokenizer.json and applied identically when training, decoding and
scoring: `normalize(text)` is what metrics compare, for references and hypotheses alike.

Storage: `save(path)` writes the library's own tokenizer.json (WORK_DIR/tokenizer.json);
`to_json()` is the same document as a string, for checkpoints (which hold plain data only:
torch.load(weights_only=True)); `load(path)` reads a local file only and downloads nothing.
A tokenizer.json from elsewhere works if its vocabulary has the four special tokens under
one of the spellings of SPECIAL_ALIASES.

`tokenizers` is imported when a tokenizer is made or read, not when this module is, and
TOKENIZERS_PARALLELISM is set to false first (unless the user set it): data-loader workers
fork after the tokenizer has run, and the library would otherwise warn on every fork.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from signcli.core.errors import UsageError
from signcli.core.files import read_input_text
from signcli.core.limits import MAX_JSON_BYTES

if TYPE_CHECKING:
    from tokenizers import Tokenizer

TokenizerKind = Literal["word", "bpe"]
PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)  # ids 0, 1, 2, 3 in a tokenizer trained here
SPECIAL_ALIASES = {  # accepted spellings in a tokenizer.json made elsewhere
    PAD: (PAD, "[PAD]"),
    BOS: (BOS, "<s>", "[BOS]", "[CLS]"),
    EOS: (EOS, "</s>", "[EOS]", "[SEP]"),
    UNK: (UNK, "[UNK]"),
}
DEFAULT_BPE_VOCAB = 1000
PUNCTUATION = r"[\p{P}\p{S}]"  # Unicode punctuation and symbols (the library's Oniguruma regex)
APOSTROPHES = r"['’]"  # removed, not spaced: "don't" -> "dont"


def _tokenizers():
    """The `tokenizers` module, imported with fork-safe parallelism."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import tokenizers

    return tokenizers


def _normalizer(lowercase: bool, strip_punctuation: bool):
    tk = _tokenizers()
    norm = tk.normalizers
    steps = [norm.NFKC()]
    if lowercase:
        steps.append(norm.Lowercase())
    if strip_punctuation:
        steps.append(norm.Replace(tk.Regex(APOSTROPHES), ""))
        steps.append(norm.Replace(tk.Regex(PUNCTUATION), " "))
    steps += [norm.Replace(tk.Regex(r"\s+"), " "), norm.Strip()]
    return norm.Sequence(steps)


class TextTokenizer:
    """Text <-> token ids. Make one with `train`, `load` or `from_json`."""

    def __init__(self, tokenizer: Tokenizer, source: str = "tokenizer") -> None:
        self._tokenizer = tokenizer
        ids, vocab = {}, tokenizer.get_vocab(with_added_tokens=True)
        for name, spellings in SPECIAL_ALIASES.items():
            found = next((vocab[s] for s in spellings if s in vocab), None)
            if found is None:
                raise UsageError(
                    f"{source}: the vocabulary has no {name} token (accepted: "
                    f"{', '.join(spellings)})",
                    hint="train the tokenizer with signcli, or add the special tokens",
                )
            ids[name] = found
        count = tokenizer.get_vocab_size(with_added_tokens=True)
        highest = max(vocab.values(), default=-1)
        if highest >= count:  # an id past the output layer: a segfault in CTC, IndexError later
            raise UsageError(
                f"{source}: token id {highest:,} is outside its vocabulary of {count:,} "
                f"tokens (ids must run 0..{count - 1:,})",
                hint="give a tokenizer.json whose ids are numbered without gaps",
            )
        self.pad_id, self.bos_id, self.eos_id, self.unk_id = (ids[n] for n in SPECIAL_TOKENS)
        self._special = frozenset(ids.values())
        self.source = source

    # -- making one -----------------------------------------------------------------------

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        kind: TokenizerKind = "word",
        vocab_size: int | None = None,
        *,
        lowercase: bool = False,
        strip_punctuation: bool = False,
        min_frequency: int = 1,
    ) -> TextTokenizer:
        """Train on `texts` (the training split's). `vocab_size` counts the special tokens;
        None = every word (word) or DEFAULT_BPE_VOCAB (bpe). Deterministic: the library
        breaks frequency ties by the token itself."""
        tk = _tokenizers()
        if kind not in ("word", "bpe"):
            raise UsageError(f"unknown tokenizer kind {kind!r}: expected word or bpe")
        if vocab_size is not None and vocab_size <= len(SPECIAL_TOKENS):
            raise UsageError(
                f"vocabulary size {vocab_size} leaves no room beside the "
                f"{len(SPECIAL_TOKENS)} special tokens; give at least {len(SPECIAL_TOKENS) + 1}"
            )
        if kind == "word":
            tokenizer = tk.Tokenizer(tk.models.WordLevel(unk_token=UNK))
            tokenizer.pre_tokenizer = tk.pre_tokenizers.WhitespaceSplit()
            trainer = tk.trainers.WordLevelTrainer(
                vocab_size=vocab_size if vocab_size is not None else 2**31 - 1,
                min_frequency=min_frequency,
                special_tokens=list(SPECIAL_TOKENS),
                show_progress=False,
            )
        else:
            tokenizer = tk.Tokenizer(tk.models.BPE(unk_token=UNK))
            tokenizer.pre_tokenizer = tk.pre_tokenizers.Metaspace()
            tokenizer.decoder = tk.decoders.Metaspace()
            trainer = tk.trainers.BpeTrainer(
                vocab_size=vocab_size or DEFAULT_BPE_VOCAB,
                min_frequency=min_frequency,
                special_tokens=list(SPECIAL_TOKENS),
                show_progress=False,
            )
        tokenizer.normalizer = _normalizer(lowercase, strip_punctuation)
        tokenizer.train_from_iterator(list(texts), trainer)
        return cls(tokenizer)

    @classmethod
    def from_json(cls, text: str, source: str = "tokenizer JSON") -> TextTokenizer:
        """From the tokenizer.json document (`to_json`, a checkpoint's entry). UsageError
        naming `source` when it is not one."""
        tk = _tokenizers()
        if not isinstance(text, str):
            raise UsageError(
                f"{source}: expected the tokenizer JSON as a string, got {type(text).__name__}"
            )
        if len(text) > MAX_JSON_BYTES.value():  # a checkpoint's entry: parsed, it is 10x
            raise UsageError(f"{source}: {MAX_JSON_BYTES.exceeded('its length', len(text))}")
        try:
            tokenizer = tk.Tokenizer.from_str(text)
        except Exception as exc:  # noqa: BLE001 - the library raises a bare Exception
            reason = (
                str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            )
            raise UsageError(
                f"{source}: not a tokenizer.json of the `tokenizers` library ({reason})",
                hint="give a tokenizer.json written by signcli (WORK_DIR/tokenizer.json)",
            ) from None
        return cls(tokenizer, source)

    @classmethod
    def load(cls, path: Path) -> TextTokenizer:
        """Read a local tokenizer.json (`--tokenizer PATH`); nothing is downloaded."""
        path = Path(path)
        text = read_input_text(
            path, "tokenizer file", limit=MAX_JSON_BYTES, hint="check --tokenizer"
        )
        return cls.from_json(text, source=f"tokenizer file {path}")

    # -- storing it -----------------------------------------------------------------------

    def to_json(self) -> str:
        """The tokenizer.json document, for a checkpoint entry (a plain string)."""
        return self._tokenizer.to_str()

    def save(self, path: Path) -> None:
        """Write tokenizer.json atomically (WORK_DIR/tokenizer.json, beside ONNX files)."""
        from signcli.core.atomic import atomic_write

        atomic_write(Path(path), self.to_json())

    # -- using it -------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        """Number of ids (the special tokens included): the size of output layers."""
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    @property
    def blank_id(self) -> int:
        """The CTC blank: the PAD id."""
        return self.pad_id

    def normalize(self, text: str) -> str:
        """The text as the tokenizer sees it; metrics compare normalised references with
        decoded hypotheses (which come out normalised)."""
        normalizer = self._tokenizer.normalizer
        if normalizer is None:
            return text.strip()
        with self._library_errors():
            return normalizer.normalize_str(text)

    def encode(self, text: str, *, bos: bool = False, eos: bool = False) -> list[int]:
        """Token ids of `text` (normalised first), optionally framed by BOS / EOS."""
        with self._library_errors():
            ids = self._tokenizer.encode(text, add_special_tokens=False).ids
        return [self.bos_id] * bos + ids + [self.eos_id] * eos

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        with self._library_errors():
            encoded = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [e.ids for e in encoded]

    @contextmanager
    def _library_errors(self) -> Iterator[None]:
        """A panic of the `tokenizers` library (a BaseException that no `except Exception`
        catches) as a UsageError naming the tokenizer: a tokenizer.json made elsewhere may
        hold a regular expression that backtracks on a text until the regex engine's retry
        limit (`(.|..)+[0-9]`), which the library reports by panicking."""
        try:
            yield
        except BaseException as exc:
            if type(exc).__name__ != "PanicException":
                raise
            reason = " ".join(str(exc).split())[:160]
            raise UsageError(
                f"{self.source}: the tokenizers library failed on a text ({reason})",
                hint="a regular expression of its normalizer or pre-tokenizer backtracks "
                "without end; use a tokenizer.json written by signcli",
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        """Text of `ids`, special tokens left out, cut at the first EOS."""
        kept = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i not in self._special:
                kept.append(i)
        with self._library_errors():
            return self._tokenizer.decode(kept, skip_special_tokens=True)

    def tokens(self, text: str) -> list[str]:
        """The token strings of `text` (for reports and tests)."""
        with self._library_errors():
            return self._tokenizer.encode(text, add_special_tokens=False).tokens
