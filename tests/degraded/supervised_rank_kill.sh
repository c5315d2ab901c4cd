#!/usr/bin/env bash
# A rank of a supervised 2-rank run is killed (SIGKILL) in the middle of the run: the job ends,
# twin-supervise relaunches it with --resume, and the finished run equals an uninterrupted one
# bit for bit (compare_runs.sh).
# usage: supervised_rank_kill.sh TWIN SUPERVISE CONFIG SCRATCH CYCLES MPIRUN...
set -uo pipefail
twin=$1 supervise=$2 config=$3 dir=$4 cycles=$5
shift 5
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$dir" && mkdir -p "$dir"
"$@" "$twin" run "$config" --cycles "$cycles" --run-dir "$dir/reference" > "$dir/reference.log" 2>&1 || exit 1
"$supervise" --backoff 1 --attempts 3 -- "$@" "$twin" run "$config" --cycles "$cycles" --run-dir "$dir/run" > "$dir/log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  ls "$dir"/run/state/cycle-*/snapshot.json > /dev/null 2>&1 && break
  sleep 0.05
done
sleep 0.$((RANDOM % 10))
victim=$(sed -n 's|^pid \([0-9]*\) .*|\1|p' "$dir/run/state/heartbeat/rank-00001")
kill -KILL "$victim" && echo "killed rank 1 (pid $victim)"
wait "$pid"; status=$?
grep "twin-supervise" "$dir/log"
[ "$status" -eq 0 ] || { tail -n 5 "$dir/log"; echo "the supervised run ended with $status"; exit 1; }
grep -q "relaunching from its last committed snapshot" "$dir/log" || { echo "no relaunch: the kill came too late?"; exit 1; }
bash "$here/../regression/compare_runs.sh" "$dir/reference" "$dir/run"
