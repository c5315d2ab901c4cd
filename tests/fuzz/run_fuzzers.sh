#!/usr/bin/env bash
# Runs twinrt's fuzzers (built by tests/fuzz/CMakeLists.txt) and reports, per fuzzer, the
# executions, their rate, the corpus reached and every crash, hang, leak or sanitizer report.
# Exit status 0 only when no fuzzer found anything.
#
#   tests/fuzz/run_fuzzers.sh [--build DIR] [--seconds N | --runs N] [--jobs N] [NAME...]
#     --build DIR   the fuzz build (default build/fuzz)
#     --seconds N   run each fuzzer for N seconds (default 60)
#     --runs N      run each fuzzer for N executions instead (e.g. 1000000)
#     --jobs N      fuzzers run side by side (default 1)
#     --seed N      libFuzzer's random seed (default: a new one each run; ctest fixes it, so
#                   that a CI run explores the same inputs each time and a finding reproduces)
#     NAME          config stream_line replay_csv series model_package snapshot (default: all)
#
# The corpus each fuzzer grows is kept in DIR/corpus/NAME (seeded from tests/fuzz/seeds/NAME
# and, for config, configs/ and tests/data/): a longer run goes on from where the last one
# stopped. Findings land in DIR/findings/NAME/ (crash-*, timeout-*, leak-*, oom-*); replay one
# with `DIR/bin/fuzz_NAME FILE`. A JSON summary of the run goes to DIR/fuzz_report.json.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="$root/build/fuzz"
seconds=60
runs=""
jobs=1
seed=0
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$(realpath "$2")"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    -h|--help) sed -n 2,18p "$0"; exit 0 ;;
    -*) echo "run_fuzzers: unknown option $1" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
[ ${#names[@]} -gt 0 ] || names=(config stream_line replay_csv series model_package snapshot)

run_one() {
  local name="$1" bin="$build/bin/fuzz_$1"
  [ -x "$bin" ] || { echo "run_fuzzers: $bin is missing (build tests/fuzz first)" >&2; return 2; }
  local corpus="$build/corpus/$name" findings="$build/findings/$name" log="$build/logs/$name.log"
  mkdir -p "$corpus" "$findings" "$(dirname "$log")"
  local seeds=("$root/tests/fuzz/seeds/$name")
  local extra=()
  if [ "$name" = config ]; then
    seeds+=("$root/configs" "$root/tests/data" "$root/tests/cli/data")
    extra+=(-dict="$root/tests/fuzz/config.dict")
  fi
  # libhdf5 1.10 leaks a little on most damaged files (lsan.supp); each such input would make
  # libFuzzer scan the whole heap for leaks (with LibTorch loaded: ~50 ms an input, ten times
  # the reading). The HDF5 readers are fuzzed without per-input leak checks; their ids are
  # owned by Hdf5Id, and the text readers keep the checks.
  case "$name" in series|model_package|snapshot) extra+=(-detect_leaks=0) ;; esac
  local limit=(-max_total_time="$seconds")
  [ -n "$runs" ] && limit=(-runs="$runs")
  # Each run has a scratch directory of its own (the readers that take a path write one file).
  local scratch
  scratch="$(mktemp -d)"
  touch "$scratch/.start"  # findings of this run are the files newer than this
  local start=$SECONDS
  # A damaged HDF5 file can make libhdf5 itself ask for absurd blocks (a local heap of 2^60
  # bytes); glibc's malloc then returns NULL and HDF5 fails the call, which is what twinrt
  # relies on. allocator_may_return_null and a high -malloc_limit_mb let the fuzzer behave the
  # same; memory actually used is still capped by -rss_limit_mb.
  TMPDIR="$scratch" LSAN_OPTIONS="suppressions=$root/tests/fuzz/lsan.supp:print_suppressions=0" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=1:abort_on_error=1:symbolize=1:allocator_may_return_null=1" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "$bin" "${limit[@]}" -timeout=10 -rss_limit_mb=3072 -malloc_limit_mb=1048576 -print_final_stats=1 -seed="$seed" -artifact_prefix="$findings/" \
    "${extra[@]}" "$corpus" "${seeds[@]}" > "$log" 2>&1
  local status=$?
  local executed rate files found
  found="$(find "$findings" -type f -newer "$scratch/.start" | wc -l)"
  rm -rf "$scratch"
  executed="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
  rate="$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
  files="$(find "$corpus" -type f | wc -l)"
  local verdict=ok
  if [ $status -ne 0 ] || [ "$found" -gt 0 ]; then verdict=FOUND; fi
  printf 'fuzz %-14s %10s executions in %4d s (%s/s), corpus %s inputs, findings %s: %s\n' \
    "$name" "${executed:-?}" $((SECONDS - start)) "${rate:-?}" "$files" "$found" "$verdict"
  printf '{"name":"%s","executions":%s,"seconds":%d,"exec_per_s":%s,"corpus":%s,"findings":%s,"status":%d}\n' \
    "$name" "${executed:-0}" $((SECONDS - start)) "${rate:-0}" "$files" "$found" "$status" > "$build/logs/$name.json"
  if [ "$verdict" != ok ]; then
    echo "--- $log (tail) ---"
    tail -40 "$log"
    return 1
  fi
}

failed=0
pids=()
for name in "${names[@]}"; do
  if [ "$jobs" -le 1 ]; then
    run_one "$name" || failed=1
  else
    run_one "$name" &
    pids+=($!)
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
  fi
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done
{ echo "["; first=1; for name in "${names[@]}"; do
    [ -f "$build/logs/$name.json" ] || continue
    [ $first -eq 1 ] || echo ","; first=0; cat "$build/logs/$name.json"; done; echo "]"; } > "$build/fuzz_report.json"
exit $failed
