"""The torch-free text modules import nothing heavy: validate-npz and the CLI use them."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "numpy", "pandas", "tokenizers", "sacrebleu", "jiwer")
PROBE = f"""
import json, sys
import signcli.text, signcli.text.files, signcli.text.tokenizer, signcli.text.metrics
print(json.dumps(sorted(set({HEAVY!r}) & set(sys.modules))))
"""


def test_text_modules_import_light() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
