#!/usr/bin/env bash
# twin report on what a killed run leaves (no summary.json, a torn last audit line) still gives
# a page that loads and draws; a directory that is not a run is refused (exit 2) saying why.
# Usage: report_of_a_cut_run.sh TWIN PYTHON CHECK_REPORT FINISHED_RUN_DIR SCRATCH
set -euo pipefail
twin=$1 python=$2 check=$3 finished=$4 scratch=$5
cut="$scratch/report_cut_run"
rm -rf "$cut" && mkdir -p "$cut"
cp "$finished/effective.yaml" "$finished/series.h5" "$cut/"
head -n 10 "$finished/audit.jsonl" > "$cut/audit.jsonl"
printf '{"cycle": 9, "mode": 7, "anomaly": {"flagged": "yes"}}\n' >> "$cut/audit.jsonl"  # fields of the wrong type
printf '{"cycle": 11, "mode": "fallb' >> "$cut/audit.jsonl"   # the write a kill interrupted
"$twin" report "$cut"
grep -q '"finished":false' "$cut/report.html" || { echo "the page does not say the run did not finish" >&2; exit 1; }
grep -q '"audit_lines_skipped":2' "$cut/report.html" || { echo "the torn and the mistyped audit lines were not counted" >&2; exit 1; }
# without summary.json the sensors' bands are the members' spread, and the page says so
"$python" "$check" "$cut/report.html" --min-charts 3 --expect-text "spread alone"

# A damaged summary.json is left out and said so; the page still draws.
cp "$finished/summary.json" "$cut/summary.json"
truncate -s 100 "$cut/summary.json"
"$twin" report "$cut"
grep -q '"summary_problem":".*summary.json: not a JSON object' "$cut/report.html" || { echo "the damaged summary.json is not reported" >&2; exit 1; }
"$python" "$check" "$cut/report.html" --min-charts 3

not_a_run="$scratch/report_not_a_run"
rm -rf "$not_a_run" && mkdir -p "$not_a_run"
set +e
out=$("$twin" report "$not_a_run" 2>&1)
code=$?
set -e
[ $code -eq 2 ] || { echo "twin report on an empty directory exited $code, expected 2: $out" >&2; exit 1; }
echo "$out" | grep -q "effective.yaml: missing" || { echo "unclear refusal: $out" >&2; exit 1; }
if echo "$out" | grep -q "report written"; then echo "a refused report says it was written: $out" >&2; exit 1; fi
echo "report of a cut run: ok; an empty directory refused: $out"
