#!/usr/bin/env bash
# While a run writes its run directory, a second run into it (a resume, or --overwrite) is
# refused with exit 2 and the reason; once the first has ended, the resume goes ahead.
# usage: locked_run_dir.sh TWIN CONFIG SCRATCH
set -uo pipefail
twin=$1 config=$2 dir=$3
rm -rf "$dir" "$dir.log"
"$twin" run "$config" --run-dir "$dir" --cycles 1000000 > "$dir.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do
  ls "$dir"/state/cycle-*/snapshot.json > /dev/null 2>&1 && break
  sleep 0.05
done
for second in "--resume $dir" "--run-dir $dir --overwrite"; do
  out=$("$twin" run "$config" $second 2>&1); status=$?
  echo "twin run $second: exit $status: $(echo "$out" | tail -n 1)"
  [ "$status" -eq 2 ] || { kill "$pid"; echo "expected exit 2"; exit 1; }
  echo "$out" | grep -q "another twin run is writing the run directory" || { kill "$pid"; echo "no reason given"; exit 1; }
done
kill -TERM "$pid"; wait "$pid"
out=$("$twin" run "$config" --resume "$dir" --cycles 1 2>&1); status=$?
echo "after the first run ended: twin run --resume: exit $status"
[ "$status" -eq 0 ] || { echo "$out" | tail -n 3; exit 1; }
