#!/usr/bin/env bash
# A stream source that goes silent: readings for two periods, then nothing for 3.5 s (the
# silence limit is 1 s), then one more period and the end of the stream. The twin must not wait
# for the writer: each silent cycle runs after 1 s on what it has, its advice is the safe
# default (mode fallback, reason "source down"), the silent cycles count as deadline misses,
# and it must not run ahead of the facility either (silent advice at most once per second).
# usage: silent_stream.sh TWIN STREAM_CONFIG SCRATCH
set -uo pipefail
twin=$1 config=$2 dir=$3
rm -rf "$dir" && mkdir -p "$dir"
mkfifo "$dir/in"
sed -e "s|^source:.*|source: {type: stream, stream_input: $dir/in, advice_output: $dir/advice.jsonl, silence_s: 1}|" \
    -e "s|cycles: 30|cycles: 8|" "$config" > "$dir/twin.yaml"
"$twin" run "$dir/twin.yaml" --run-dir "$dir/run" > "$dir/log" 2>&1 &
pid=$!
exec 3> "$dir/in"
send() { for s in S1 S2 S3 S4 S5 S6; do echo "{\"t\": $1, \"sensor\": \"$s\", \"value\": 293.5}" >&3; done; }
send 5; send 15
sleep 3.5
send 45
exec 3>&-
wait "$pid"; status=$?
cat "$dir/log" | grep -v "^\s*$" | tail -n 4
[ "$status" -eq 0 ] || { echo "exit status $status"; exit 1; }
python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
advice = [json.loads(l) for l in open(f"{d}/advice.jsonl")]
summary = json.load(open(f"{d}/run/summary.json"))
down = [a for a in advice if a["reason"].startswith("source down")]
print(f"{len(advice)} advice lines, {len(down)} with the source down; silent cycles {summary['source_silent_cycles']}, "
      f"deadline misses {summary['deadline_misses']} ({summary['deadline_misses_by']})")
assert len(down) >= 2, "silent cycles must advise the safe default, saying the source is down"
assert all(a["mode"] == "fallback" for a in down), "a silent cycle's mode is fallback"
assert summary["source_silent_cycles"] == len(down)
assert summary["deadline_misses_by"]["source_silent"] == len(down), "silent cycles are deadline misses"
assert summary["advisor"]["gates"].get("source_down", 0) == len(down)
assert len(down) <= 4, f"{len(down)} silent cycles in 3.5 s: the twin ran ahead of the facility"
PY
