#!/usr/bin/env python3
"""Compares the filter's figures of two runs of one twin drawn at two scales (summary.json):
RMSE against the truth and the free run, the final parameters and their spread, the coverage of
the truth, QC's rejections. Floating-point figures agree to a relative 1e-6 (the two grids'
arithmetic differs in the last digits), coverages to 0.01. Prints what differs; exits 1 if any.
With --units U, B's field is in units U times A's (its RMSEs are divided by U).
  usage: same_figures.py SUMMARY_A SUMMARY_B [--units U]
"""
import json
import sys

a, b = (json.load(open(p)) for p in sys.argv[1:3])
units = float(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--units" else 1.0
diffs = []


def close(x, y, what, rel=1e-6, absolute=0.0):
    if not (abs(x - y) <= max(rel * max(abs(x), abs(y)), absolute)):
        diffs.append(f"{what}: {x} against {y}")


if b["rmse_ratio"] is None or a["rmse_ratio"] is None:
    diffs.append(f"rmse_ratio: {a['rmse_ratio']} against {b['rmse_ratio']}")
else:
    close(a["rmse_ratio"], b["rmse_ratio"], "rmse_ratio")
for key in ("rmse_analysis", "rmse_free_run"):
    close(a[key], b[key] / units, key)
for name, pa in a["parameter_error"].items():
    pb = b["parameter_error"][name]
    for key in ("estimate", "std"):
        close(pa[key], pb[key], f"parameter_error.{name}.{key}")
for what in ("parameters", "sensors"):
    close(a["confidence"][what]["coverage_2sigma"], b["confidence"][what]["coverage_2sigma"],
          f"confidence.{what}.coverage_2sigma", rel=0.0, absolute=0.01)
if a["qc"]["rejected"] != b["qc"]["rejected"]:
    diffs.append(f"qc.rejected: {a['qc']['rejected']} against {b['qc']['rejected']}")
for d in diffs:
    print(d)
print(f"{len(diffs)} figures differ" if diffs else "the same figures")
sys.exit(1 if diffs else 0)
