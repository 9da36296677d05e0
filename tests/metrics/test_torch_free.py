"""The metrics package serves `metrics-check` on CI runners: it must not import torch."""

from __future__ import annotations

import subprocess
import sys


def test_metrics_package_imports_no_heavy_module() -> None:
    code = (
        "import sys, signcli.metrics.gate, signcli.metrics.junit; "
        "print(sorted({'torch', 'numpy', 'pandas'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
