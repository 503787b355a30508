#!/bin/sh
# Runs a fuzz replay binary on its arguments and fails if the scratch folder of that process
# (tests/fuzz/fuzz_util.h: normlab_fuzz_<pid> in /dev/shm, else in $TMPDIR or /tmp) is still
# there after it exits: every replay in every test run would otherwise leave one behind.
#   check_scratch_removed.sh EXE ARGS...
exe=$1
shift
out=$(mktemp)
"$exe" "$@" > "$out" &
pid=$!
wait "$pid" || { echo "$exe exited with $?"; rm -f "$out"; exit 1; }
# The check means something only if the target ran (and so made its folder).
if ! grep -q '^replayed [1-9]' "$out"; then
  echo "no input was replayed: $(cat "$out")"
  rm -f "$out"
  exit 1
fi
rm -f "$out"
for base in /dev/shm "${TMPDIR:-/tmp}"; do
  if [ -e "$base/normlab_fuzz_$pid" ]; then
    echo "left behind: $base/normlab_fuzz_$pid"
    exit 1
  fi
done
echo "scratch folder of $exe (pid $pid) removed"
