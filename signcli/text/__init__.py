"""Text targets: gloss sequences (task `ctc`) and sentences (task `translate`).

docs/architecture.md, "Text targets". The modules are independent building blocks:

    files.py      read `file,text` CSVs and `meta.csv` (`id;texto`), pair them with sample
                  ids, and `check_text_file` for validate-npz (torch-free)
    tokenizer.py  `TextTokenizer`: word-level or BPE over the `tokenizers` library, its
                  normalisation, tokenizer.json and the JSON string kept in checkpoints
    metrics.py    corpus WER (jiwer), BLEU and chrF (sacrebleu), per-sample WER
    ctc.py        `CTCHead`, `ctc_loss`, greedy and prefix-beam decoding
    decoder.py    `TextDecoder` (own attention blocks, ONNX-exportable `step`), greedy and
                  beam search, `load_decoder_class` for `--decoder-class`

Importing this package imports nothing heavy: each module imports torch, tokenizers,
jiwer or sacrebleu itself, and the torch-free ones only inside the functions that need them.
"""
