"""Reading, checking and batching samples.

Torch-free modules (`npz`, `labels`, `validate`, `synthetic`) serve `validate-npz` and
everything else; `dataset` holds the torch Dataset and collate used by training. `recordings/` reads one
recording of each format `signcli import` knows (import and predict share it).
"""
