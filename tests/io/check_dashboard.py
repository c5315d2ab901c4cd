"""Checks docs/grafana/twinrt-dashboard.json against what twinrt writes: every panel's PromQL is
valid (promtool check rules, with the dashboard's variables filled in) and every metric it reads
is in the metrics.prom files given (a run's, so a renamed metric breaks the test).

Usage: check_dashboard.py DASHBOARD.json METRICS.prom [METRICS.prom ...]
"""
import json
import os
import re
import subprocess
import sys
import tempfile


def main():
    dashboard = json.load(open(sys.argv[1]))
    present = set()
    for path in sys.argv[2:]:
        for line in open(path):
            if line and not line.startswith("#"):
                present.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    failures, exprs = [], []
    for panel in dashboard.get("panels", []):
        targets = panel.get("targets", [])
        if not targets:
            failures.append(f"panel '{panel.get('title')}' has no query")
        for t in targets:
            expr = t["expr"].replace("$twin", ".*").replace("${twin}", ".*")
            exprs.append(expr)
            for name in set(re.findall(r"\btwin_[a-z0-9_]+", expr)):
                if name not in present:
                    failures.append(f"panel '{panel.get('title')}' reads {name}, which no metrics.prom given has")
    # promtool parses PromQL when it checks rules: one recording rule per query.
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as rules:
        rules.write("groups:\n  - name: dashboard\n    rules:\n")
        for i, expr in enumerate(exprs):
            rules.write(f"      - record: twin:dashboard_query_{i}\n        expr: {json.dumps(expr)}\n")
    try:
        check = subprocess.run(["promtool", "check", "rules", rules.name], capture_output=True, text=True)
    finally:
        os.unlink(rules.name)
    if check.returncode != 0:
        failures.append("promtool check rules: " + (check.stdout + check.stderr).strip())
    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print(f"{len(dashboard['panels'])} panels, {len(exprs)} queries: valid PromQL over metrics twinrt writes")


main()
