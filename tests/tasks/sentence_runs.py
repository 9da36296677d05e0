"""Settings of tiny text-task runs on the synthetic signed sentences
(`signcli.data.synthetic_sentences.write_sentence_dataset`), shared by the ctc, language
model and decoder-trust tests: one place for the tiny model and the file names."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from signcli.data.synthetic_sentences import write_sentence_dataset
from signcli.settings import Settings, load_settings
from tests.tiny import TINY_MODEL


def text_task_settings(
    root: Path, work_dir: Path, task: str, *extra: str, texts: str = "glosses"
) -> Settings:
    """A 1-epoch CPU run of `task` on ROOT's train/ and val/ with their `{split}_{texts}.csv`
    (glosses for ctc, text for translate), batch 4; `extra` overrides come last and win."""
    return load_settings(
        overrides=[
            f"model.task={task}",
            f"data.train_dir={root / 'train'}",
            f"data.train_text={root / f'train_{texts}.csv'}",
            f"data.val_dir={root / 'val'}",
            f"data.val_text={root / f'val_{texts}.csv'}",
            *TINY_MODEL,
            "training.batch_size=4",
            "training.epochs=1",
            "training.device=cpu",
            f"training.work_dir={work_dir}",
            *extra,
        ]
    )


@functools.cache
def small_sentences() -> Path:
    """The 16 + 6 sentences examples/sentences held before it grew to a set the ctc quick
    start learns from (make_sentences.py, seed 0), written once per test process into a
    temporary folder: the runs of the translate tests stay as small and exact as they were."""
    root = Path(tempfile.mkdtemp(prefix="signcli-sentences-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return write_sentence_dataset(root / "sentences", 16, 6, seed=0, compact=True)
