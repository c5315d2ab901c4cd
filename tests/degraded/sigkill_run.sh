#!/usr/bin/env bash
# Starts a twin run, kills it with SIGKILL mid-run, and checks that series.h5 opens and holds the
# cycles flushed before the kill.  usage: sigkill_run.sh TWIN CONFIG RUN_DIR
set -euo pipefail
twin=$1 config=$2 dir=$3
rm -rf "$dir"
"$twin" run "$config" --run-dir "$dir" --cycles 100000 > "$dir.log" 2>&1 &
pid=$!
# Wait (reading the file while it is written) until a field snapshot is on disk, then kill
# without warning.
for _ in $(seq 1 240); do
  sleep 0.5
  [ -f "$dir/series.h5" ] || continue
  n=$("$twin" inspect "$dir/series.h5" 2>/dev/null | sed -n 's|^  /fields/mean \[\([0-9]*\) x.*|\1|p' || true)
  [ -n "$n" ] && [ "$n" -ge 1 ] && break
done
sleep 0.7
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
out=$("$twin" inspect "$dir/series.h5")
echo "$out"
cycles=$(echo "$out" | sed -n 's|^  /cycle/time_s \[\([0-9]*\)\]$|\1|p')
fields=$(echo "$out" | sed -n 's|^  /fields/mean \[\([0-9]*\) x.*|\1|p')
echo "cycles recorded before the kill: $cycles, field snapshots: $fields"
[ -n "$cycles" ] && [ "$cycles" -ge 5 ] || { echo "expected at least 5 recorded cycles"; exit 1; }
[ -n "$fields" ] && [ "$fields" -ge 1 ] || { echo "expected at least one field snapshot"; exit 1; }
