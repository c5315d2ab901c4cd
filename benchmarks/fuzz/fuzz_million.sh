#!/usr/bin/env bash
# Every fuzzer for 1e6 executions (or RUNS), two side by side, and a report: executions, rate,
# corpus and findings per fuzzer (target: 0 findings). Builds the fuzzers first when needed.
# On this project's 2-core machine the six take about an hour: the HDF5 readers run a few
# hundred inputs a second, the text readers thousands (docs/testing.md, Fuzzing).
#   benchmarks/fuzz/fuzz_million.sh [RUNS] [BUILD]     (defaults: 1000000, build)
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
runs="${1:-1000000}"
main="$(realpath "${2:-$root/build}")"
[ -x "$main/fuzz/bin/fuzz_snapshot" ] || bash "$root/tests/fuzz/build_fuzzers.sh" "$main" "$main/fuzz" || exit 2
start=$SECONDS
bash "$root/tests/fuzz/run_fuzzers.sh" --build "$main/fuzz" --runs "$runs" --jobs 2
status=$?
echo "fuzz_million: $runs executions per fuzzer in $((SECONDS - start)) s, report in $main/fuzz/fuzz_report.json"
cat "$main/fuzz/fuzz_report.json"
exit $status
