#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build (make fuzz-build) for SECONDS each, from a seed
# corpus made of the repo's real files, and prints executions/s and coverage per target.
#   scripts/fuzz.sh BUILD_DIR SECONDS NORMLAB [TIMEOUT]   (NORMLAB: a normal build's CLI, for a seed
#   checkpoint; TIMEOUT: seconds one input may take, default 1 (wall clock: on a machine busy with
#   other work, a larger one tells slow inputs from a starved process; the slowest is printed))
# Corpora grow in BUILD_DIR/corpus/<target>/; crashes are written to BUILD_DIR/crashes/<target>/
# (minimise one with: BUILD_DIR/bin/fuzz_<target> -minimize_crash=1 -runs=10000 CRASH, then
# commit it under tests/fuzz/regressions/<target>/ and fix the bug). Exit 1 if any target failed.
set -euo pipefail
build=${1:-build-fuzz}
seconds=${2:-60}
cli=${3:-build/bin/normlab}
timeout=${4:-1}
root=$(cd "$(dirname "$0")/.." && pwd)
seeds=$build/seeds
rm -rf "$seeds"
mkdir -p "$seeds"/{config,override,safetensors,idx,text,spec}

# config: the repo's example configs and the printed defaults of every model type.
cp "$root"/configs/*.json "$seeds/config/"
# spec: the lab's experiment specs, one with a profile, and one whose base is a file name (the
# target resolves it in its own scratch folder: fuzz_spec.cpp).
cp "$root"/experiments/*.json "$seeds/spec/"
printf '%s' '{"name":"by_file","base":"base.json","set":{"train.steps":3},"variants":{"a":{"set":{"model.hidden_size":4}},"b":{"label":"B"}},"grid":{"variant":["a","b"],"seed":[0,1]},"metrics":{"mse":{"path":"test.mse","higher_is_better":false}},"claims":[{"id":"c","statement":"a beats b","better":{"variant":"a"},"worse":{"variant":"b"}}],"profiles":{"quick":{"set":{"train.steps":1},"grid":{"seed":[0]}}}}' > "$seeds/spec/by-file"
# override: the --set lines the docs use.
printf '%s\n' 'optim.lr=3e-4' 'model.norm.type=batchnorm' 'train.steps=10' 'model.hidden=[64,32]' \
  'data.type=adding' 'model.norm={"type":"layernorm","eps":1e-5}' > "$seeds/override/docs"
# safetensors: a real checkpoint from a tiny run.
tiny=$(mktemp -d)
printf '%s' '{"data":{"type":"adding","train_size":32,"val_size":8,"test_size":8},"model":{"type":"rnn_regressor","hidden_size":4},"train":{"steps":2,"batch_size":8}}' > "$tiny/cfg.json"
"$cli" --threads 1 train "$tiny/cfg.json" --out "$tiny/run" --quiet
cp "$tiny/run/checkpoint.safetensors" "$seeds/safetensors/"
rm -rf "$tiny"
# idx: the Fashion-MNIST test labels, gzip as shipped (mode byte 0) and their first 200 bytes
# uncompressed (plain, mode 0; and to be gzip-compressed by the target, mode 1).
fm=/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
if [[ -f $fm ]]; then
  { printf '\x00'; cat "$fm"; } > "$seeds/idx/labels-gz"
  { printf '\x00'; zcat "$fm" | head -c 200; } > "$seeds/idx/labels-plain"
  { printf '\x01'; zcat "$fm" | head -c 200; } > "$seeds/idx/labels-to-gzip"
fi
# text: word lists (english 0xFF french) and a licence text.
{ head -c 3000 /usr/share/dict/american-english 2>/dev/null || true; printf '\xff'
  head -c 3000 /usr/share/dict/french 2>/dev/null || true; } > "$seeds/text/words"
head -c 4000 /usr/share/common-licenses/BSD > "$seeds/text/bsd" 2>/dev/null || true

status=0
for exe in "$build"/bin/fuzz_*; do
  target=$(basename "$exe"); name=${target#fuzz_}
  # FUZZ_ONLY="spec idx": run only those targets.
  if [[ -n ${FUZZ_ONLY:-} && " $FUZZ_ONLY " != *" $name "* ]]; then continue; fi
  mkdir -p "$build/corpus/$name" "$build/crashes/$name"
  log=$build/fuzz-$name.log
  if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     "$exe" "$build/corpus/$name" "$seeds/$name" -max_total_time="$seconds" -timeout="$timeout" \
       -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$build/crashes/$name/" -print_final_stats=1 \
       >"$log" 2>&1; then result=ok; else result=FAILED; status=1; fi
  execs=$(grep -o 'exec/s: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  runs=$(grep -o '^stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  slowest=$(grep -o '^stat::slowest_unit_time_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  rss=$(grep -o '^stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  printf '%-12s %-6s exec/s %-8s cov %-6s ft %-6s runs %-9s slowest %ss rss %sMB (%s)\n' "$name" "$result" \
    "${execs:-?}" "${cov:-?}" "${ft:-?}" "${runs:-?}" "${slowest:-?}" "${rss:-?}" "$log"
done
exit $status
