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
# E6 needs ranks > 1 (mpirun and an MPI build); without them it is left out, saying why.
if ! "$NORMLAB" version | grep -q "^mpi: built" || ! command -v mpirun >/dev/null 2>&1; then
  echo "== normlab reproduce: this normlab has no MPI (or mpirun is missing): skipping experiments/e6_*.json"
  mapfile -t SPECS < <(ls experiments/*.json | grep -v '/e6_')
fi
RUNS=$("$NORMLAB" sweep "${SPECS[@]}" --out "$OUT" --dry-run --quiet | sed -n "s/.* \([0-9]*\) to run;.*/\1/p" | tail -1)
# Measured on 2-core machines (docs/experiments.md): 8 min 20 s for E0-E5, C1, C2, A1, 15 min
# under load; E6 (data parallel, up to 8 ranks oversubscribed) adds about 7 min; all 433 runs
# took 5 min 35 s on the machine of 2026-12-06.
echo "== normlab reproduce: ${#SPECS[@]} experiments, ${RUNS:-?} runs still to do, $JOBS jobs;"
echo "   estimate: 6-22 minutes on 2 cores for the whole set from scratch (measured; less when resuming)"
"$NORMLAB" sweep "${SPECS[@]}" --jobs "$JOBS" --out "$OUT"
"$NORMLAB" report "$OUT"
