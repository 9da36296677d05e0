"""`eval --lm-order N`: the n-gram language model a ctc model's beam search adds (text/lm.py,
text/ctc.py `beam_decode`; docs/architecture.md, "Text targets").

The LM is fitted at eval time, in milliseconds, on token ids of sentences, tokenized with
the run's own tokenizer (the checkpoint's), so its ids are the model's outputs. Which
sentences: `--lm-texts CSV` (all its rows, `file,text` or `id;texto`), else the run's
training texts as training read them: single stream `data.train_text` (a dataset root's
`train_text.csv` was resolved into it), else the `<folder>_text.csv` beside the training
folder; multi-stream the `meta.csv` rows of the training index. With `data.val_fraction` the run carved its validation samples out of those, so
only the training side of the run's split.json counts: an LM that had read the
validation sentences would score them too well.

Nothing here touches validation during training, which stays greedy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signcli.core.errors import UsageError
from signcli.core.limits import MAX_LM_NGRAMS, MAX_LM_ORDER

if TYPE_CHECKING:
    from signcli.core.task_specs import TaskSpec
    from signcli.settings import Settings
    from signcli.text.lm import NGramLM
    from signcli.text.tokenizer import TextTokenizer

DEFAULT_WEIGHT = 1.0
DEFAULT_BONUS = 1.0
LM_BEAM_SIZE = 8  # the beam an LM gets when the run's text.beam_size is 1 (greedy)
TEXTS_HINT = "pass --lm-texts CSV (file,text: the sentences to fit the language model on)"


@dataclass(frozen=True)
class LMOptions:
    """What eval was asked for; `order` 0 means no language model."""

    order: int = 0
    weight: float | None = None
    bonus: float | None = None
    texts: Path | None = None

    @property
    def wanted(self) -> bool:
        return self.order > 0

    def check(self, task: TaskSpec, checkpoint: Path) -> None:
        """UsageError (exit 2) naming the flag: a negative order, a weight that is negative
        or not finite, a bonus that is not finite, LM options without `--lm-order` or on a
        model whose task takes no language model (`TaskSpec.eval_options`: ctc's)."""
        given = [
            flag
            for flag, value in (
                ("--lm-order", self.order or None),
                ("--lm-weight", self.weight),
                ("--lm-bonus", self.bonus),
                ("--lm-texts", self.texts),
            )
            if value is not None
        ]
        if not given:
            return
        if "lm" not in task.eval_options:
            raise UsageError(
                f"{given[0]} is for ctc models' beam search; {checkpoint} is a {task.name} model"
            )
        if self.order < 0:
            raise UsageError(f"--lm-order must be 0 (no language model) or more, got {self.order}")
        if self.order > MAX_LM_ORDER.value():  # before the model pads sentences with it
            raise UsageError(str(MAX_LM_ORDER.exceeded("--lm-order", self.order)))
        if self.weight is not None and not (math.isfinite(self.weight) and self.weight >= 0):
            raise UsageError(f"--lm-weight must be a finite number >= 0, got {self.weight}")
        if self.bonus is not None and not math.isfinite(self.bonus):
            raise UsageError(f"--lm-bonus must be a finite number, got {self.bonus}")
        if not self.wanted:
            raise UsageError(
                f"{given[0]} needs a language model", hint="pass --lm-order N (2 or 3 to start)"
            )


def build_language_model(
    options: LMOptions,
    settings: Settings,
    checkpoint: Path,
    tokenizer: TextTokenizer,
) -> tuple[NGramLM, dict[str, Any]]:
    """The fitted LM and its record for eval.json (order, weight, bonus, texts, sentences)."""
    from signcli.text.lm import NGramLM

    path, texts = _training_texts(options.texts, settings, checkpoint)
    if not texts:
        raise UsageError(f"{path}: no sentences to fit the language model on", hint=TEXTS_HINT)
    # bounded before the counting, whose dictionaries grow with tokens x order: first by
    # the words (no slow encoding of a huge file), then by the tokens
    _check_events(path, options.order, sum(len(text.split()) + 1 for text in texts))
    sentences = [tokenizer.encode(text) for text in texts]
    _check_events(path, options.order, sum(len(ids) + 1 for ids in sentences))
    lm = NGramLM.fit(sentences, options.order, tokenizer.vocab_size)
    record = {
        "order": options.order,
        "weight": DEFAULT_WEIGHT if options.weight is None else float(options.weight),
        "bonus": DEFAULT_BONUS if options.bonus is None else float(options.bonus),
        "texts": str(Path(path).absolute()),
        "sentences": lm.sentences,
    }
    return lm, record


def _check_events(path: Path | str, order: int, tokens: int) -> None:
    """UsageError naming the texts and --lm-order when fitting would count more than
    MAX_LM_NGRAMS n-gram events (`tokens` with each sentence's end, x the order)."""
    events = tokens * order
    if events > MAX_LM_NGRAMS.value():
        raise UsageError(
            f"--lm-order {order} over {path} ({tokens:,} tokens with the sentence ends) counts "
            f"{events:,} n-gram events: {MAX_LM_NGRAMS.at_most()}",
            hint="fit on fewer texts (--lm-texts) or a lower --lm-order",
        )


def _training_texts(
    given: Path | None, settings: Settings, checkpoint: Path
) -> tuple[Path, list[str]]:
    """(the file, its sentences): every row of `given`, else the run's training texts."""
    from signcli.data.multistream import stream_dirs
    from signcli.text.files import pair_texts, sibling_text_file

    if given is not None:
        table = _read(Path(given), "--lm-texts")
        return Path(given), list(table.texts.values())
    multi = bool(stream_dirs(settings.data))
    path = settings.data.meta if multi else settings.data.train_text
    if path is None and not multi and settings.data.train_dir is not None:
        path = sibling_text_file(settings.data.train_dir)  # where training found them
        path = path if path.is_file() else None
    if path is None:
        raise UsageError(
            f"{checkpoint}: the run records no training texts "
            f"({'data.meta' if multi else 'data.train_text'})",
            hint=TEXTS_HINT,
        )
    table = _read(Path(path), "the run's training texts")
    try:
        ids = _training_ids(settings, checkpoint, multi)
        texts = list(table.texts.values()) if ids is None else pair_texts(table, ids, "--lm-texts")
    except UsageError as exc:  # a missing index or split file: the hint is the way out
        raise UsageError(exc.message, hint=TEXTS_HINT) from None
    return Path(path), texts


def _read(path: Path, what: str):  # noqa: ANN202 - text.files.TextTable
    """The parsed texts CSV, or one UsageError naming it and `--lm-texts`."""
    from signcli.text.files import read_texts

    table = read_texts(path)
    if not table.ok:
        first = table.errors[0].message
        raise UsageError(f"language model texts ({what}): {first}", hint=TEXTS_HINT)
    return table


def _training_ids(settings: Settings, checkpoint: Path, multi: bool) -> list[str] | None:
    """The ids whose texts the run trained on, where the texts file holds others too
    (carved validation, multi-stream meta.csv); None: every row of the file."""
    from signcli.core.run_files import SPLIT_FILE

    if settings.data.val_fraction is not None:
        from signcli.data.split import read_split_file

        split_file = Path(checkpoint).parent / SPLIT_FILE
        if not split_file.exists():  # a FIFO or folder there: named by read_split_file
            raise UsageError(
                f"{split_file} not found: the run carved its validation samples out of its "
                "training texts (data.val_fraction) and the LM must not read them",
                hint=TEXTS_HINT,
            )
        return list(read_split_file(split_file).train_ids)
    if multi:
        from signcli.data.stream_files import read_index

        if settings.data.train_index is None:
            raise UsageError(f"{checkpoint}: the run records no training index", hint=TEXTS_HINT)
        return read_index(settings.data.train_index)
    return None
