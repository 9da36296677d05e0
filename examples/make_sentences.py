"""Make the bundled synthetic-sentence example (tasks ctc and translate), or a larger set.

    python examples/make_sentences.py                        # rewrites examples/sentences/ (small)
    python examples/make_sentences.py --out DIR --train 800 --val 100     # a set to train on

Sentences of synthetic signs with a small grammar (signcli/data/synthetic_sentences.py):
glosses in sign order, `YESTERDAY GIRL CAR RED SEE NOT`, and their English translation,
`yesterday the girl did not see the red car`. The layout is the single-stream one plus
the text CSVs:

    train/*.npz, val/*.npz        X [T, 156] continuous clips (float16, rounded to 1e-3)
    train_labels.csv              file,gloss,gloss_name   (the verb: the layout's labels CSV)
    train_glosses.csv             file,text   glosses        (--train-text for task ctc)
    train_text.csv                file,text   English        (--train-text for task translate)
    val_labels.csv, val_glosses.csv, val_text.csv

The bundled copy is small (a few hundred KB: it shows the format and runs smoke checks);
generate a larger set to train a model that translates.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from signcli.data.synthetic_sentences import write_sentence_dataset

OUT = Path(__file__).resolve().parent / "sentences"
BUNDLED = {"train": 120, "val": 20}  # enough for the ctc quick start to learn (WER < 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (replaced)")
    parser.add_argument("--train", type=int, default=BUNDLED["train"], help="training sentences")
    parser.add_argument("--val", type=int, default=BUNDLED["val"], help="validation sentences")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    write_sentence_dataset(args.out, args.train, args.val, seed=args.seed, compact=True)
    size_kb = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file()) / 1024
    print(f"wrote {args.out} ({args.train} + {args.val} sentences, {size_kb:.0f} KB)")


if __name__ == "__main__":
    main()
