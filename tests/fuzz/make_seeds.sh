#!/usr/bin/env bash
# Makes the binary seeds of the fuzzers (tests/fuzz/seeds/) with twinrt itself: a series.h5, a
# snapshot part and manifest, and a model package of a very small twin. The text seeds are
# written by hand; the configs in configs/ and tests/data/ seed the config fuzzer directly.
# Usage: tests/fuzz/make_seeds.sh [build/bin/twin]    (then commit tests/fuzz/seeds)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
twin="$(realpath "${1:-$root/build/bin/twin}")"
seeds="$root/tests/fuzz/seeds"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
cat > seed.yaml <<'YAML'
twin: {name: seed, cycles: 3, control_period_s: 5.0}
grid: {cells: [6, 4], extent_m: [0.3, 0.2]}
physics: {diffusivity_m2_s: 4.0e-6, initial_value: 293.15}
controls:
  - {name: H1, shape: gaussian, center_m: [0.1, 0.1], size_m: [0.05, 0.05], gain: 0.1, unit: kW, initial: 0.5, max: 1.0, sensor: T1}
sensors:
  - {name: T1, position_m: [0.1, 0.1], noise_std: 0.2}
  - {name: T2, position_m: [0.2, 0.1], noise_std: 0.2}
ensemble: {members: 3, seed: 1}
advisor: {registry: registry}
training: {ensemble: 1, hidden: [4], epochs: 2, lead_cycles: [1], control_sequences: 2, members_per_solver: 1,
           segments: 2, warmup_cycles: 1, anomaly_scenarios: 0}
snapshots: {every: 1, keep: 1}
YAML
"$twin" train seed.yaml > train.log 2>&1 || { cat train.log; exit 1; }
"$twin" run seed.yaml --run-dir run > run.log 2>&1 || { cat run.log; exit 1; }
mkdir -p "$seeds/series" "$seeds/model_package" "$seeds/snapshot"
cp run/series.h5 "$seeds/series/seed-series.h5"
cp registry/surrogate-v0001.h5 "$seeds/model_package/seed-surrogate.h5"
snap="$(ls -d run/state/cycle-* | tail -1)"
{ printf '\000'; cat "$snap/part-00000.h5"; } > "$seeds/snapshot/seed-part"
{ printf '\001'; cat "$snap/snapshot.json"; } > "$seeds/snapshot/seed-manifest"
ls -l "$seeds"/series "$seeds"/model_package "$seeds"/snapshot
