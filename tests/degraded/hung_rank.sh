#!/usr/bin/env bash
# One rank of a 2-rank run stops (SIGSTOP) in the middle of the run: the watchdog ends the job
# within twin.watchdog_s (3 s here) plus a few seconds, with exit status 4 and a message naming
# the stopped rank; the run resumes from its last committed snapshot afterwards.
# usage: hung_rank.sh TWIN CONFIG SCRATCH MPIRUN...
set -uo pipefail
twin=$1 config=$2 dir=$3
shift 3
rm -rf "$dir" && mkdir -p "$dir"
sed -e "s|^  name: tiny|  name: tiny\n  watchdog_s: 3|" "$config" > "$dir/twin.yaml"
grep -q "watchdog_s: 3" "$dir/twin.yaml" || { echo "could not set twin.watchdog_s"; exit 1; }
"$@" "$twin" run "$dir/twin.yaml" --run-dir "$dir/run" --cycles 1000000 > "$dir/log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do
  ls "$dir"/run/state/cycle-*/snapshot.json > /dev/null 2>&1 && break
  sleep 0.05
done
victim=$(sed -n 's|^pid \([0-9]*\) .*|\1|p' "$dir/run/state/heartbeat/rank-00001")
[ -n "$victim" ] || { echo "no heartbeat of rank 1"; kill "$pid"; exit 1; }
start=$(date +%s.%N)
kill -STOP "$victim"
wait "$pid"; status=$?
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
kill -KILL "$victim" 2> /dev/null
grep "watchdog" "$dir/log" | head -n 2
echo "exit status $status, $elapsed s after SIGSTOP of rank 1 (pid $victim)"
[ "$status" -eq 4 ] || { tail -n 5 "$dir/log"; echo "expected exit status 4"; exit 1; }
grep -q "rank 1 (pid $victim) stopped responding" "$dir/log" || { echo "the message does not name rank 1"; exit 1; }
awk -v e="$elapsed" 'BEGIN { exit !(e < 15) }' || { echo "the watchdog took $elapsed s"; exit 1; }
"$@" "$twin" run "$dir/twin.yaml" --resume "$dir/run" --cycles 5 > "$dir/resume.log" 2>&1 || { tail "$dir/resume.log"; exit 1; }
echo "resumed: $(tail -n 1 "$dir/run/state/resumes.jsonl")"
