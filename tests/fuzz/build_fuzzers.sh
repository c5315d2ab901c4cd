#!/usr/bin/env bash
# Configures and builds the fuzzers (tests/fuzz/CMakeLists.txt) beside a release build.
#   tests/fuzz/build_fuzzers.sh [MAIN_BUILD [FUZZ_BUILD]]   (defaults: build, build/fuzz)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
main="$(realpath "${1:-$root/build}")"
fuzz="${2:-$main/fuzz}"
cxx="$(command -v clang++ || command -v clang++-14 || true)"
cc="$(command -v clang || command -v clang-14 || true)"
[ -n "$cxx" ] && [ -n "$cc" ] || { echo "build_fuzzers: clang is not installed (cmake/install_deps.sh installs it)" >&2; exit 2; }
launcher=()
command -v ccache > /dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S "$root/tests/fuzz" -B "$fuzz" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" \
  -DTWIN_MAIN_BUILD="$main" "${launcher[@]}" > /dev/null
cmake --build "$fuzz" -j 2
