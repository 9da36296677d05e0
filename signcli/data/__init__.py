"""Reading, checking and batching samples.

Torch-free modules (`npz`, `labels`, `validate`, `synthetic`) serve `validate-npz` and
everything else; `dataset` holds the torch Dataset and collate used by training.
"""
