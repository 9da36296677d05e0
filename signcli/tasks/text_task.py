"""What the text tasks (`ctc`, `translate`) share: texts in, tokens, text metrics out.

Targets are texts (docs/architecture.md, "Text targets"): single stream `--train-text` /
`--val-text` (`file,text`), multi-stream `meta.csv` (`id;texto`), attached to the samples
by data/sources.py as `targets["text"]`. This base class owns their life cycle:

    tokenizer   trained on the training texts (`text.tokenizer`, `text.vocab_size`,
                `text.lowercase`, `text.strip_punctuation`) or loaded (`--tokenizer`), in
                `resolve`; recorded as its JSON string in labels.json and in every
                checkpoint (`labels_map`), and as WORK_DIR/tokenizer.json. `restore` takes
                it back from a checkpoint (resume, eval, export): never trained again.
    sizes       the output ids are the vocabulary: `model.num_tokens` (and labels.json's
                `num_tokens`) holds its size, the one head size of a text task, so the
                model-size checks, checkpoint checks and config.json rebuild a text model
                as they rebuild a classifier (there are no classes: `num_gloss` and
                `num_cat` stay unset; runs that stored the vocabulary as `num_gloss` are
                read by signcli/upgrade.py).
    collate     token ids padded with PAD (0) to `[B, L]` (`tokens`) and their lengths
                (`token_lengths`), plus the raw texts on the batch (`Batch.texts`).
    metrics     the decoded hypotheses against the normalised reference texts (never the
                ids, which lost unknown words), with the metrics the task declares
                (`val_wer`; `val_bleu`, `val_chrf`), via text/metrics.py.
    eval        hypotheses.txt, references.txt and predictions.parquet (id, reference,
                hypothesis, per-sample WER), and the corpus metrics in eval.json.

A text task subclass adds its heads, forward, loss and `decode` (token id lists per sample).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import Tensor

from signcli.core.errors import UsageError
from signcli.core.run_files import TOKENIZER_FILE
from signcli.tasks.base import EvalContext, Predictions, Task

if TYPE_CHECKING:
    from signcli.data.dataset import Batch
    from signcli.data.sample import Sample, SampleSplit
    from signcli.data.sources import TrainingData
    from signcli.settings import Settings
    from signcli.text.tokenizer import TextTokenizer

__all__ = ["TOKENIZER_FILE", "TOKENIZER_KEY", "TextTask"]
TOKENIZER_KEY = "tokenizer"  # labels.json / checkpoint labels: the tokenizer.json string
HYPOTHESES_FILE = "hypotheses.txt"
REFERENCES_FILE = "references.txt"


class TextTask(Task):
    """Base of the tasks whose targets are texts; see the module docstring."""

    head_size_fields = {"num_tokens": "token ids, the tokenizer's vocabulary"}

    def __init__(self, spec) -> None:  # noqa: ANN001 - TaskSpec
        super().__init__(spec)
        self.tokenizer: TextTokenizer | None = None
        self.beam_size = 1  # eval sets text.beam_size (`prepare_eval`); validation: greedy

    # ------------------------------------------------------------------ targets

    @property
    def metric_names(self) -> list[str]:
        """The text metrics the spec declares, without `val_` (wer, bleu, chrf)."""
        return [m.name.removeprefix("val_") for m in self.spec.metrics if m.name.startswith("val_")]

    def restore(self, labels: Mapping[str, Any], source: str = "checkpoint") -> None:
        """Take the tokenizer a run stored (checkpoint labels or labels.json)."""
        from signcli.text.tokenizer import TextTokenizer

        stored = labels.get(TOKENIZER_KEY)
        if stored is None:
            raise UsageError(
                f"{source}: a {self.name} run without its tokenizer",
                hint="use a checkpoint written by a text-task run of this version",
            )
        self.tokenizer = TextTokenizer.from_json(stored, source=f"{source}: tokenizer")
        outputs = labels.get("num_tokens")
        if isinstance(outputs, int) and outputs != self.tokenizer.vocab_size:
            raise UsageError(
                f"{source}: its tokenizer has {self.tokenizer.vocab_size:,} ids but the model "
                f"{outputs:,} outputs; they must be equal",
                hint="the checkpoint's tokenizer is not the one it was trained with",
            )

    def resolve(self, settings: Settings, data: TrainingData) -> None:
        """The tokenizer (restored, loaded from `text.tokenizer_file`, or trained on the
        training texts), and the vocabulary size as the model's output count."""
        from signcli.core.limits import MAX_CLASSES
        from signcli.text.tokenizer import TextTokenizer

        text = settings.text
        if self.tokenizer is None:
            if text.tokenizer_file is not None:
                self.tokenizer = TextTokenizer.load(text.tokenizer_file)
            else:
                texts = data.train.texts or []
                self.tokenizer = TextTokenizer.train(
                    texts,
                    text.tokenizer,
                    text.vocab_size,
                    lowercase=text.lowercase,
                    strip_punctuation=text.strip_punctuation,
                )
        vocab = self.tokenizer.vocab_size
        if vocab > MAX_CLASSES.value():
            raise UsageError(
                f"tokenizer: {vocab} ids, over the limit of {MAX_CLASSES.value()} outputs",
                hint=f"lower text.vocab_size, or set {MAX_CLASSES.env} to raise the limit",
            )
        settings.model.num_tokens = vocab  # an output of the run (a config.json's is replaced)

    def labels_map(self, data: TrainingData) -> dict[str, Any]:
        assert self.tokenizer is not None, "resolve() first"
        return {
            "num_tokens": self.tokenizer.vocab_size,  # output ids (the vocabulary)
            TOKENIZER_KEY: self.tokenizer.to_json(),
        }

    def encode_target(self, text: str) -> list[int]:
        """The token ids a sample's text trains against (ctc: the ids; translate may frame
        them with BOS/EOS)."""
        assert self.tokenizer is not None
        return self.tokenizer.encode(text)

    def collate_targets(self, samples: Sequence[Sample]) -> dict[str, Tensor]:
        """`tokens` [B, L] (PAD 0 after each end) and `token_lengths` [B]; none when a
        sample has no text (eval without texts)."""
        from signcli.text.ctc import pad_targets

        if not samples or any("text" not in s.targets for s in samples):
            return {}
        tokens, lengths = pad_targets([self.encode_target(s.targets["text"]) for s in samples])
        return {"tokens": tokens, "token_lengths": lengths}

    def collate(self, samples: Sequence[Sample]) -> Batch:
        batch = super().collate(samples)
        if samples and all("text" in s.targets for s in samples):
            batch.texts = [s.targets["text"] for s in samples]
        return batch

    # ------------------------------------------------------------------ validation

    def decode(self, outputs: Mapping[str, Tensor], batch: Batch) -> list[list[int]]:
        """Token ids of each sample's hypothesis."""
        raise NotImplementedError

    def gather(self, outputs: Mapping[str, Tensor], batch: Batch) -> dict[str, Any]:
        """Hypotheses as texts; the batch's reference texts when known."""
        assert self.tokenizer is not None
        hypotheses = [self.tokenizer.decode(ids) for ids in self.decode(outputs, batch)]
        kept: dict[str, Any] = {"hypotheses": hypotheses}
        if batch.texts is not None:
            kept["references"] = [self.tokenizer.normalize(t) for t in batch.texts]
        return kept

    def validation_metrics(self, predictions: Predictions) -> dict[str, float]:
        from signcli.text.metrics import text_metrics

        references = predictions.outputs.get("references")
        if references is None:
            return {}
        scores = text_metrics(references, predictions.outputs["hypotheses"], self.metric_names)
        return {f"val_{name}": value for name, value in scores.items()}

    # ------------------------------------------------------------------ eval

    def prepare_eval(self, settings: Settings, labels: Mapping[str, Any], source: str) -> None:
        """Before eval predicts: the checkpoint's tokenizer, and the eval beam."""
        self.restore(labels, source)
        self.beam_size = settings.text.beam_size

    def check_eval_targets(
        self, split: SampleSplit, labels: Mapping[str, Any], checkpoint: Path
    ) -> None:
        """Texts need no range check: a word the tokenizer does not know is an error the
        model makes, and the metrics count it."""

    def write_eval(self, context: EvalContext) -> dict[str, Any]:
        """hypotheses.txt, references.txt (with texts) and predictions.parquet (id,
        reference, hypothesis, per-sample WER); the corpus metrics and loss in eval.json."""
        from signcli.core.atomic import atomic_write
        from signcli.metrics import report
        from signcli.text.metrics import per_sample_wer, text_metrics

        hypotheses = list(context.outputs["hypotheses"])
        references = context.outputs.get("references")
        summary: dict[str, Any] = {"beam_size": self.beam_size}
        columns: dict[str, Any] = {"id": list(context.split.ids)}
        with context.timer("metrics"):
            if references is not None:
                references = list(references)
                if context.loss is not None:
                    summary["loss"] = context.loss
                summary.update(text_metrics(references, hypotheses, self.metric_names))
                columns["reference"] = references
            columns["hypothesis"] = hypotheses
            if references is not None:
                columns["wer"] = per_sample_wer(references, hypotheses)
        with context.timer("write"):
            out = context.out_dir
            atomic_write(out / HYPOTHESES_FILE, "".join(h + "\n" for h in hypotheses))
            context.files.append(HYPOTHESES_FILE)
            if references is not None:
                atomic_write(out / REFERENCES_FILE, "".join(r + "\n" for r in references))
                context.files.append(REFERENCES_FILE)
            report.write_predictions(out / report.PREDICTIONS_FILE, columns)
            context.files.append(report.PREDICTIONS_FILE)
        return summary
