#!/usr/bin/env bash
# Runs a small twin into RUN_DIR and opens its series.xmf with ParaView (tests/io/check_xdmf.py).
# Usage: xdmf_in_paraview.sh TWIN CONFIG RUN_DIR CELLS... EXTENTS...
set -euo pipefail
twin=$1 config=$2 run=$3
shift 3
command -v pvbatch >/dev/null || { echo "pvbatch not found: cmake/install_deps.sh --tests installs paraview" >&2; exit 1; }
"$twin" run "$config" --run-dir "$run" --overwrite --overwrite >/dev/null
# pvbatch is ParaView's MPI-enabled batch interpreter: as root OpenMPI needs to be told.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
pvbatch "$(dirname "$0")/check_xdmf.py" "$run" "$@" 2>&1 | grep -v "^Skipping unrecognized array type"
