#!/usr/bin/env bash
# `make reproduce`: every experiment of experiments/ at full size (>= 5 seeds per cell), then
# the report. Prints the number of runs and the time estimate before starting; rerunning
# resumes (finished runs are skipped).
#   scripts/reproduce.sh [path/to/normlab] [sweep folder]
set -euo pipefail
cd "$(dirname "$0")/.."
NORMLAB=${1:-build/bin/normlab}
OUT=${2:-runs/reproduce}
JOBS=${JOBS:-$(nproc)}
mapfile -t SPECS < <(ls experiments/*.json)
RUNS=$("$NORMLAB" sweep "${SPECS[@]}" --out "$OUT" --dry-run --quiet | sed -n "s/.* \([0-9]*\) to run;.*/\1/p" | tail -1)
# Measured on a 2-core machine (docs/experiments.md): 8 min 20 s for the whole set, 15 min under load.
echo "== normlab reproduce: ${#SPECS[@]} experiments, ${RUNS:-?} runs still to do, $JOBS jobs;"
echo "   estimate: 8-15 minutes on 2 cores for the whole set from scratch (measured; less when resuming)"
"$NORMLAB" sweep "${SPECS[@]}" --jobs "$JOBS" --out "$OUT"
"$NORMLAB" report "$OUT"
