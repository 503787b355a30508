#!/bin/sh
# Heap blocks of 4 KB or more that a training step takes from malloc, per reference workload
# (docs/performance-history.md, twelfth round). Tensor buffers come from normlab's caching allocator
# and `normlab bench models --memory` counts its system allocations; this counts the other
# heap blocks (std::vector and the like) large enough to land on a fresh page. It runs each
# workload for 20 and for 120 timed steps and prints the difference per step: 0 in a steady
# state. MIN_BYTES=N counts blocks of N bytes or more instead (MIN_BYTES=1: every block, the
# small tensor handles, shapes and graph nodes included; twenty-first round). Needs root (a
# uprobe on glibc's malloc) and perf.
#
#   scripts/heap-blocks.sh [build/bin/normlab] [workload ...]
#   MIN_BYTES=1 scripts/heap-blocks.sh build/bin/normlab lm_tiny rnn_ln_b4
set -eu
bin=${1:-build/bin/normlab}
[ $# -gt 0 ] && shift
workloads=${*:-lm_ln lm_bn lm_tiny rnn_ln rnn rnn_ln_b4 mlp mlp_ln mlp_bn mlp_ln_b4 mlp_bn_b4}
libc=$(ldd "$bin" | awk '/libc\.so/ {print $3}')
probe=normlab_heap_malloc
perf probe -q -x "$libc" -a "$probe=malloc bytes=%di:u64" 2>/dev/null || true
event=$(perf probe -l 2>/dev/null | awk -v p="$probe" '$0 ~ p {print $1; exit}')
[ -n "$event" ] || { echo "heap-blocks.sh: could not place a uprobe on malloc in $libc (root and perf needed)" >&2; exit 1; }
min_bytes=${MIN_BYTES:-4096}
count() {  # workload reps -> heap blocks >= min_bytes over the whole run
  perf stat -x, -e "$event" --filter "bytes >= $min_bytes" "$bin" --threads 1 bench models --only "$1" \
    --reps "$2" 2>&1 >/dev/null | awk -F, -v e="$event" '$3 == e {print $1}'
}
printf '%-12s %10s %10s %10s\n' workload "20 steps" "120 steps" "per step"
for w in $workloads; do
  a=$(count "$w" 20)
  b=$(count "$w" 120)
  printf '%-12s %10s %10s %10s\n' "$w" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", (b - a) / 100}')"
done
perf probe -q -d "$event" 2>/dev/null || true
