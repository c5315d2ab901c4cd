#!/usr/bin/env bash
# Compares two run directories of the same twin, apart from wall-clock timings: summary.json
# (timing keys left out), audit.jsonl (latency, the hash chain, which covers it, and the anchor of
# the run before left out) and
# every dataset of series.h5 but /cycle/timings_ms (h5diff, exact). Prints the differences and
# exits 1 when there are any. Used to show that a change keeps a run's results bit for bit.
#   usage: tests/regression/compare_runs.sh RUN_DIR_A RUN_DIR_B
set -uo pipefail
a=$1 b=$2
status=0
python3 - "$a" "$b" <<'PY' || status=1
import json, sys
a, b = sys.argv[1], sys.argv[2]
timing = {"setup_s", "wall_s", "twin_wall_s", "source_wall_s", "realtime_factor", "realtime_factor_with_source",
          "cycle_ms", "stage_mean_ms", "advise_ms", "deadline_misses", "deadline_misses_by", "source_wait_ms", "reading_to_advice_ms",
          "snapshots", "stopped_by", "audit", "resources", "histograms", "energy_to_insight_j"}
def walk(x, y, path, out):
    if isinstance(x, dict) and isinstance(y, dict):
        for k in sorted(set(x) | set(y)):
            if k in timing: continue
            if k not in x or k not in y: out.append(f"{path}.{k}: only in one"); continue
            walk(x[k], y[k], f"{path}.{k}", out)
    elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        for i, (p, q) in enumerate(zip(x, y)): walk(p, q, f"{path}[{i}]", out)
    elif x != y:
        out.append(f"{path}: {x} | {y}")
diffs = []
walk(json.load(open(f"{a}/summary.json")), json.load(open(f"{b}/summary.json")), "summary", diffs)
ra = [json.loads(l) for l in open(f"{a}/audit.jsonl")]
rb = [json.loads(l) for l in open(f"{b}/audit.jsonl")]
strip = lambda r: {k: v for k, v in r.items() if k not in ("latency_ms", "hash", "prev", "previous_run")}
if len(ra) != len(rb): diffs.append(f"audit.jsonl: {len(ra)} | {len(rb)} records")
bad = [i for i, (p, q) in enumerate(zip(ra, rb)) if strip(p) != strip(q)]
if bad: diffs.append(f"audit.jsonl: {len(bad)} records differ, the first at line {bad[0] + 1}")
print(f"summary.json and audit.jsonl ({len(ra)} records): {len(diffs)} differences")
for d in diffs[:20]: print("  " + d)
sys.exit(1 if diffs else 0)
PY
datasets=$(h5diff -r "$a/series.h5" "$b/series.h5" 2>&1 | grep -E "^dataset|differences found" | paste - -)
differing=$(echo "$datasets" | grep -vP "\t0 differences found" | grep -v "timings_ms")
echo "series.h5: $(echo "$datasets" | grep -c '^dataset') datasets compared (timings_ms left out)"
if [ -n "$differing" ]; then echo "$differing" | sed 's/^/  differs: /'; status=1; fi
exit $status
