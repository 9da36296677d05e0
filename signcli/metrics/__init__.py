"""metrics.jsonl: writing it during training, reading it back, and gating CI on it.

    jsonl.py     append / truncate / read the file (one JSON object per finished epoch)
    rules.py     CheckResult, which way each metric is better, the rules file and its checks
    baseline.py  compare a run with a baseline run at their last epochs
    junit.py     the checks as a JUnit XML report for CI systems
    gate.py      `check_metrics`: what `signcli metrics-check` runs

Torch-free, and cheap to import: the engine imports `jsonl` at every training run.
"""
