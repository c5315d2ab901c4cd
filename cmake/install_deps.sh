#!/usr/bin/env bash
# Installs the Debian 12 packages twinrt needs: to build and run it, and with --tests also the
# tools its tests drive (the fuzzers' clang, the bindings' compilers, ParaView, promtool,
# chromium). Idempotent: packages already present are skipped; safe to run on every build.
# Usage: cmake/install_deps.sh [--tests]     (as root, or with sudo available)
set -euo pipefail

tests=0
case "${1:-}" in
  --tests) tests=1 ;;
  "") ;;
  *) echo "usage: cmake/install_deps.sh [--tests]" >&2; exit 2 ;;
esac

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache git
  # the design card's packages
  libtrilinos-kokkos-dev petsc-dev libtorch-dev libopenmpi-dev openmpi-bin
  libhdf5-openmpi-dev hdf5-tools libspdlog-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # OpenBLAS replaces the reference BLAS that LibTorch and PETSc would otherwise link
  libopenblas0-serial
  # hashes for model packages and audit records
  libssl-dev
  # Boost.Math (header-only): the chi-square quantile of the filter's consistency test
  libboost-dev
  # twin report's charts: dygraphs, vendored into each report.html
  libjs-dygraphs
)
test_packages=(
  # the fuzzers (tests/fuzz): clang's libFuzzer and sanitizer runtimes
  clang libclang-rt-14-dev
  # the C API's bindings and their tests: Fortran (iso_c_binding) and Python (ctypes, numpy)
  gfortran python3-numpy
  # outputs read by other tools: series.xmf in ParaView (pvbatch, h5py), metrics.prom and the
  # Grafana dashboard's PromQL by promtool, report.html in a headless chromium (PIL: screenshot)
  paraview python3-paraview python3-h5py prometheus chromium python3-pil
)
[ $tests -eq 1 ] && packages+=("${test_packages[@]}")

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install_deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi

echo "install_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
