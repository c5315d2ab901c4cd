#!/usr/bin/env bash
# The disk fills up under a run (a file-size limit of 200 KiB, ulimit -f, so that every
# snapshot part fails with EFBIG while series.h5 and audit.jsonl still fit): the run goes on to
# its end (exit 0), each failed snapshot is logged with the reason and counted in summary.json,
# and no snapshot is ever committed half-written (none is committed at all).
# With `series` as 4th argument, series.h5 is what fills the disk (a field every cycle, a limit of
# 600 KiB): recording stops with the file closed intact, the twin goes on to its end (exit 0, no
# crash), and the snapshots taken after that refuse to continue the run's series.
# usage: disk_full.sh TWIN CONFIG SCRATCH [snapshots|series]
set -uo pipefail
twin=$1 config=$2 dir=$3 what=${4:-snapshots}
rm -rf "$dir" && mkdir -p "$dir"
if [ "$what" = series ]; then
  sed -e "s|field_every: 5|field_every: 1|" "$config" > "$dir/twin.yaml"
  ( ulimit -f 600; export PMIX_MCA_gds=hash OMPI_MCA_btl=self,tcp
    exec "$twin" run "$dir/twin.yaml" --run-dir "$dir/run" --cycles 40 ) > "$dir/log" 2>&1
  status=$?
  grep -m 1 "recording stops" "$dir/log"
  [ "$status" -eq 0 ] || { grep -v "^ " "$dir/log" | tail -n 5; echo "exit status $status, expected 0"; exit 1; }
  grep -q '"cycles": 40,' "$dir/run/summary.json" || { echo "the run did not reach its end"; exit 1; }
  rows=$("$twin" inspect "$dir/run/series.h5" | sed -n 's|^  /cycle/time_s \[\([0-9]*\)\]$|\1|p')
  echo "series.h5 holds $rows cycles, readable"
  [ -n "$rows" ] && [ "$rows" -gt 0 ] && [ "$rows" -lt 40 ] || { echo "series.h5 rows '$rows'"; exit 1; }
  out=$("$twin" run "$dir/twin.yaml" --resume "$dir/run" --cycles 50 2>&1); status=$?
  echo "resume: exit $status"
  [ "$status" -eq 2 ] && echo "$out" | grep -q "could not write series.h5" || { echo "$out" | tail -n 2; exit 1; }
  exit 0
fi
sed -e "s|field_every: 5|field_every: 0|" "$config" > "$dir/twin.yaml"
( ulimit -f 200; export PMIX_MCA_gds=hash OMPI_MCA_btl=self,tcp; exec "$twin" run "$dir/twin.yaml" --run-dir "$dir/run" --cycles 40 ) > "$dir/log" 2>&1
status=$?
grep -m 2 "could not write its part" "$dir/log"
[ "$status" -eq 0 ] || { tail -n 5 "$dir/log"; echo "exit status $status, expected 0"; exit 1; }
grep -q "File too large" "$dir/log" || { echo "the failure's reason is not logged"; exit 1; }
python3 - "$dir/run" <<'PY'
import json, sys, glob, os
run = sys.argv[1]
s = json.load(open(f"{run}/summary.json"))["snapshots"]
print("summary.json snapshots:", s)
assert s["failed"] >= 4 and s["committed"] == 0, s
committed = glob.glob(f"{run}/state/cycle-*/snapshot.json")
assert not committed, f"committed snapshots exist: {committed}"
PY
