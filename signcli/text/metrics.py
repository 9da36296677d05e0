"""Text metrics with the libraries the field reports them with (docs/architecture.md,
"Text targets"): word error rate from `jiwer`, BLEU and chrF from `sacrebleu`.

Inputs are lists of strings, references and hypotheses in the same order, already
normalised the same way (`TextTokenizer.normalize` on references; decoded hypotheses come
out normalised). Corpus scores are what metrics.jsonl holds:

    val_wer    wer(...)    word (gloss) errors / reference words, 0..(>1), minimised
    val_bleu   bleu(...)   sacrebleu BLEU-4, its default `13a` tokenisation, 0..100
    val_chrf   chrf(...)   sacrebleu chrF (character 6-grams, beta 2), 0..100

WER is the corpus rate (errors summed over sentences, divided by all reference words),
not a mean of sentence rates. An empty reference counts no words; a hypothesis for it
counts its words as insertions. The libraries are imported on the first call (sacrebleu
takes ~0.2 s to import).
"""

from __future__ import annotations

from collections.abc import Sequence


def _check(references: Sequence[str], hypotheses: Sequence[str]) -> tuple[list[str], list[str]]:
    references, hypotheses = list(references), list(hypotheses)
    if len(references) != len(hypotheses):
        raise ValueError(
            f"{len(references)} reference(s) but {len(hypotheses)} hypothesis(es): one each"
        )
    return references, hypotheses


def _alignment(references: list[str], hypotheses: list[str]):
    import jiwer

    return jiwer.process_words(references, hypotheses)


def wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus word error rate: (substitutions + deletions + insertions) / reference words
    (jiwer). 0.0 for no sentences; inf when there are insertions but no reference words."""
    references, hypotheses = _check(references, hypotheses)
    if not references:
        return 0.0
    words = sum(len(r.split()) for r in references)
    if words == 0:  # jiwer divides by zero here; say it plainly
        return 0.0 if not any(h.split() for h in hypotheses) else float("inf")
    return float(_alignment(references, hypotheses).wer)


def per_sample_wer(references: Sequence[str], hypotheses: Sequence[str]) -> list[float]:
    """Word error rate of each sentence (eval's predictions.parquet): errors / reference
    words, or errors (the inserted words) for an empty reference."""
    references, hypotheses = _check(references, hypotheses)
    if not references:
        return []
    output = _alignment(references, hypotheses)
    rates = []
    for reference, chunks in zip(references, output.alignments, strict=True):
        errors = 0
        for chunk in chunks:
            if chunk.type in ("substitute", "delete"):
                errors += chunk.ref_end_idx - chunk.ref_start_idx
            elif chunk.type == "insert":
                errors += chunk.hyp_end_idx - chunk.hyp_start_idx
        rates.append(errors / max(len(reference.split()), 1))
    return rates


def bleu(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus BLEU-4 of sacrebleu with its defaults (13a tokenisation, exponential
    smoothing), one reference per sentence, 0..100."""
    import sacrebleu

    references, hypotheses = _check(references, hypotheses)
    if not references:
        return 0.0
    return min(100.0, float(sacrebleu.corpus_bleu(hypotheses, [references]).score))


def chrf(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus chrF of sacrebleu with its defaults, one reference per sentence, 0..100."""
    import sacrebleu

    references, hypotheses = _check(references, hypotheses)
    if not references:
        return 0.0
    return min(100.0, float(sacrebleu.corpus_chrf(hypotheses, [references]).score))


TEXT_METRICS = {"wer": wer, "bleu": bleu, "chrf": chrf}  # name -> function; val_<name>


def text_metrics(
    references: Sequence[str], hypotheses: Sequence[str], names: Sequence[str] = ("wer",)
) -> dict[str, float]:
    """{name: corpus score} for `names` of TEXT_METRICS (a task declares which it produces:
    `ctc` wer, `translate` wer, bleu and chrf)."""
    unknown = [n for n in names if n not in TEXT_METRICS]
    if unknown:
        raise ValueError(f"unknown text metric(s) {unknown}: expected {sorted(TEXT_METRICS)}")
    return {name: TEXT_METRICS[name](references, hypotheses) for name in names}
