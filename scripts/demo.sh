#!/usr/bin/env bash
# `make demo`: train the default demo config and show where the run folder is.
#   scripts/demo.sh [path/to/normlab]
set -euo pipefail
cd "$(dirname "$0")/.."
NORMLAB=${1:-build/bin/normlab}
OUT=runs/demo-$(date +%Y%m%d-%H%M%S)
echo "== normlab demo: training configs/demo.json (run folder: $OUT)"
"$NORMLAB" train configs/demo.json --out "$OUT"
echo "== done. Inspect $OUT/summary.json, $OUT/metrics.csv; compare norms with:"
echo "   $NORMLAB train configs/demo.json --set model.norm.type=batchnorm"
