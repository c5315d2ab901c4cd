#!/usr/bin/env bash
# Starts a long twin run, sends it SIGTERM or SIGINT once it is under way, and checks the clean
# stop: exit status 128 + the signal, summary.json naming the signal and the cycles done,
# metrics.prom, and a series.h5 holding as many cycles as the summary.
# usage: signal_run.sh TWIN CONFIG RUN_DIR TERM|INT
set -euo pipefail
twin=$1 config=$2 dir=$3 sig=$4
rm -rf "$dir" "$dir.log"
"$twin" run "$config" --run-dir "$dir" --cycles 1000000 > "$dir.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do  # until the first metrics.prom: the loop is running
  sleep 0.25
  [ -f "$dir/metrics.prom" ] && break
done
kill -s "$sig" "$pid"
status=0
wait "$pid" || status=$?
cat "$dir.log" | tail -n 5
case $sig in TERM) want=143 ;; INT) want=130 ;; esac
[ "$status" -eq "$want" ] || { echo "exit status $status, expected $want"; exit 1; }
grep -q "SIG$sig received: stopping after" "$dir.log" || { echo "no log line naming the signal"; exit 1; }
[ -f "$dir/metrics.prom" ] || { echo "no metrics.prom"; exit 1; }
summary="$dir/summary.json"
[ -f "$summary" ] || { echo "no summary.json"; exit 1; }
grep -q "\"stopped_by\": \"SIG$sig\"" "$summary" || { echo "summary.json does not name SIG$sig"; exit 1; }
cycles=$(sed -n 's|^  "cycles": \([0-9]*\),$|\1|p' "$summary")
[ -n "$cycles" ] && [ "$cycles" -gt 0 ] && [ "$cycles" -lt 1000000 ] || { echo "summary.json cycles '$cycles'"; exit 1; }
echo "summary.json: stopped by SIG$sig after $cycles cycles"
recorded=$("$twin" inspect "$dir/series.h5" | sed -n 's|^  /cycle/time_s \[\([0-9]*\)\]$|\1|p')
echo "series.h5 holds $recorded cycles"
[ "$recorded" = "$cycles" ] || { echo "series.h5 holds $recorded cycles, the summary $cycles"; exit 1; }
# The final snapshot: committed at the cycles done, and the run resumes from it.
snapshot="$dir/state/$(printf 'cycle-%08d' "$cycles")/snapshot.json"
[ -f "$snapshot" ] || { echo "no final snapshot at cycle $cycles ($(ls "$dir/state" | tr '\n' ' '))"; exit 1; }
"$twin" run "$config" --resume "$dir" --cycles $((cycles + 2)) > "$dir.resume.log" 2>&1 || { tail -n 5 "$dir.resume.log"; exit 1; }
grep -q "\"cycles\": $((cycles + 2))," "$dir/summary.json" || { echo "the resumed run did not reach cycle $((cycles + 2))"; exit 1; }
"$twin" audit verify "$dir/audit.jsonl"
echo "final snapshot at cycle $cycles; resumed to cycle $((cycles + 2))"
