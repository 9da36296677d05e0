#!/usr/bin/env bash
# The training gate CI runs after the tests: a few epochs on the bundled example, then
# metrics-check against examples/ci/rules.yaml. Exit 1 when training got worse.
#   bash examples/ci/gate.sh [WORK_DIR]
set -euo pipefail
work="${1:-runs/ci}"
signcli train transformer --config examples/quickstart.yaml --set training.epochs=5 \
    --work-dir "$work" --overwrite --quiet
signcli metrics-check "$work/metrics.jsonl" --rules examples/ci/rules.yaml --junit "$work/junit.xml"
