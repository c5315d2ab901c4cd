#!/usr/bin/env bash
# metrics.prom passes `promtool check metrics` (format and lint: base units, counter names,
# histograms) with no finding at all. Usage: check_metrics.sh METRICS.prom ...
set -u
command -v promtool >/dev/null || { echo "promtool not found: cmake/install_deps.sh --tests installs prometheus" >&2; exit 1; }
status=0
for f in "$@"; do
  [ -s "$f" ] || { echo "$f: missing or empty" >&2; status=1; continue; }
  out=$(promtool check metrics < "$f" 2>&1) || status=1
  if [ -n "$out" ]; then echo "$f:"; echo "$out"; status=1; fi
done
[ $status -eq 0 ] && echo "promtool: no finding in $*"
exit $status
