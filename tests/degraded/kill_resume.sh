#!/usr/bin/env bash
# A run killed with SIGKILL at a random moment, then resumed with --resume, gives the same
# results as an uninterrupted run, bit for bit (tests/regression/compare_runs.sh: summary.json,
# audit.jsonl and series.h5 apart from timings). The kill lands after the first committed
# snapshot, at a random delay (printed: the seed reproduces it).
# usage: kill_resume.sh TWIN CONFIG SCRATCH NP CYCLES [MPIRUN...]
set -uo pipefail
twin=$1 config=$2 scratch=$3 np=$4 cycles=$5
shift 5
launcher=("$@")
[ "$np" -gt 1 ] || launcher=()
seed=${KILL_SEED:-$RANDOM}
RANDOM=$seed
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$scratch" && mkdir -p "$scratch"
run() { "${launcher[@]}" "$twin" run "$config" --cycles "$cycles" "$@"; }

run --run-dir "$scratch/reference" > "$scratch/reference.log" 2>&1 || { tail "$scratch/reference.log"; exit 1; }
setsid bash -c "$(printf '%q ' "${launcher[@]}" "$twin" run "$config" --cycles "$cycles" --run-dir "$scratch/killed")" > "$scratch/killed.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do  # until a snapshot is committed
  ls "$scratch"/killed/state/cycle-*/snapshot.json > /dev/null 2>&1 && break
  sleep 0.05
done
delay=$(printf "0.%03d" $((RANDOM % 1000)))
sleep "$delay"
kill -KILL -- -"$pid" 2> /dev/null
pkill -KILL -f -- "--run-dir $scratch/killed" 2> /dev/null  # ranks mpirun left behind
wait "$pid" 2> /dev/null
while pgrep -f -- "--run-dir $scratch/killed" > /dev/null; do sleep 0.05; done
echo "seed $seed: killed after a committed snapshot + ${delay} s; snapshots: $(ls "$scratch/killed/state" | tr '\n' ' ')"
if [ -f "$scratch/killed/summary.json" ]; then
  echo "the run finished before the kill: nothing to test (a slower machine? use a longer run)"; exit 1
fi
run --resume "$scratch/killed" > "$scratch/resumed.log" 2>&1 || { tail "$scratch/resumed.log"; exit 1; }
echo "resumed from $(tail -n 1 "$scratch/killed/state/resumes.jsonl")"
"$twin" audit verify "$scratch/killed/audit.jsonl" || exit 1
bash "$here/../regression/compare_runs.sh" "$scratch/reference" "$scratch/killed"
