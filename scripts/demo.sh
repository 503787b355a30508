#!/usr/bin/env bash
# `make demo`: the headline LayerNorm-vs-BatchNorm comparison in a few minutes on 2 cores —
# E1 (batch size 128 -> 2, MLP on Fashion-MNIST) and E4 (padded word -> language batches) at
# their reduced "quick" size, 3 seeds per cell — then the report with computed verdicts.
#   scripts/demo.sh [path/to/normlab] [sweep folder]
# Rerunning skips the runs already finished (the sweep resumes); delete the folder to start over.
set -euo pipefail
cd "$(dirname "$0")/.."
NORMLAB=${1:-build/bin/normlab}
OUT=${2:-runs/demo}
JOBS=${JOBS:-$(nproc)}
echo "== normlab demo: where does LayerNorm beat BatchNorm? (sweep folder: $OUT, $JOBS jobs)"
"$NORMLAB" sweep experiments/e1_batch_size.json experiments/e4_padding.json \
  --profile quick --jobs "$JOBS" --out "$OUT"
"$NORMLAB" report "$OUT"
echo "== done. Every experiment at full size: make reproduce   (the worked example: $NORMLAB explain)"
