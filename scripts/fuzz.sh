#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang into BUILD_DIR and runs each for SECONDS,
# JOBS at a time; fails if any target finds a crash, a sanitizer report, a leak, a timeout or
# an out-of-memory. Usage: scripts/fuzz.sh BUILD_DIR SECONDS JOBS [TARGET...]
# (docs/ARCHITECTURE.md, "Fuzzing").
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
seconds=${2:-60}
jobs=${3:-2}
shift $(($# < 3 ? $# : 3))

CC=clang CXX=clang++ cmake -S fuzz -B "$build" -G Ninja >/dev/null
cmake --build "$build" -j "$jobs" >/dev/null

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(fuzz_csv fuzz_csv_gz fuzz_libsvm fuzz_libsvm_gz fuzz_npy fuzz_npy_gz
           fuzz_idx fuzz_idx_gz fuzz_model fuzz_weights fuzz_stdin)
fi

# The checked-in seeds (fuzz/corpus/<target>) are read, never written: what the fuzzer learns
# goes to $build/corpus/<target>, which later runs start from. Crash inputs land in
# $build/artifacts/<target>/; a finding is moved to fuzz/findings/<target>/ with its test.
run_one() {
  local t=$1
  local corpus="$build/corpus/$t" artifacts="$build/artifacts/$t/" log="$build/logs/$t.log"
  mkdir -p "$corpus" "$artifacts" "$build/logs"
  # The format's tokens (fuzz/dict/<format>.dict), shared by the plain and gzip targets.
  local format=${t#fuzz_}
  local dict=()
  format=${format%_gz}
  if [ -f "fuzz/dict/$format.dict" ]; then dict=(-dict="fuzz/dict/$format.dict"); fi
  # A hostile input of a few KB must not make a reader take hundreds of MB: the malloc limit
  # catches one large allocation, the RSS limit a slow climb; a second on one input is a hang.
  if "$build/$t" "$corpus" "fuzz/corpus/$t" -max_total_time="$seconds" -timeout=10 \
       -rss_limit_mb=2048 -malloc_limit_mb=512 -artifact_prefix="$artifacts" \
       -print_final_stats=1 "${dict[@]}" >"$log" 2>&1; then
    echo "fuzz: $t: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" |
                        grep -o '[0-9]*$') runs in ${seconds} s, no findings"
  else
    echo "fuzz: $t: FINDING (log: $log, input in $artifacts)"
    grep -m3 -E 'ERROR:|SUMMARY:|terminate called|what\(\)' "$log" | sed 's/^/fuzz:   /' || true
    return 1
  fi
}

failed=0
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done

if [ "$failed" -ne 0 ]; then
  echo "fuzz: findings above; docs/ARCHITECTURE.md (Fuzzing) says how a finding becomes a regression test" >&2
  exit 1
fi
