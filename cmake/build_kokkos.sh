#!/usr/bin/env bash
# Builds a standalone Kokkos (Serial + OpenMP, or Serial + OpenMP + CUDA) from the Debian source
# package `trilinos` (packages/kokkos, Kokkos 3.4.1 on bookworm and trixie) and installs it into a
# prefix that twinrt can use through -DTWIN_KOKKOS_ROOT=PREFIX. See docs/backends.md.
#
# Debian's binary Kokkos (libtrilinos-kokkos-dev) has the Serial backend only. The `lammps` source
# packages are no alternative: both bookworm's (+ds1) and trixie's (+dfsg) strip lib/kokkos.
#
# Idempotent: each step is skipped when its result is already there (deb-src entry, downloaded
# source, extracted source, configured build tree); `cmake --build`/`--install` are incremental.
#
# Usage: cmake/build_kokkos.sh [--backend openmp|cuda] [--prefix DIR] [--jobs N]
#                              [--source-dir DIR] [--work-dir DIR] [--arch KOKKOS_ARCH]
#                              [--debian-soname auto|on|off] [--fetch-only] [--force]
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: cmake/build_kokkos.sh [options]
  --backend openmp|cuda  openmp (default): Serial + OpenMP. cuda: Serial + OpenMP + CUDA (needs nvcc).
  --prefix DIR           install prefix (default: $PWD/build-kokkos/install, or
                         $PWD/build-kokkos/install-cuda for --backend cuda)
  --jobs N               parallel compile jobs (default: nproc)
  --source-dir DIR       use an already extracted Kokkos source tree (the directory holding Kokkos'
                         top CMakeLists.txt, e.g. one carried to an offline machine); skips apt
  --work-dir DIR         where the source package, the extracted source and the build tree go
                         (default: $PWD/build-kokkos)
  --arch NAME            Kokkos GPU architecture for --backend cuda (default: HOPPER90 when the
                         Kokkos source knows it, else AMPERE80 -- see docs/backends.md)
  --debian-soname auto|on|off
                         give libkokkoscore/libkokkoscontainers the sonames of Debian's
                         libtrilinos_kokkos* (auto, the default: when those are installed), so that a
                         process that also loads Debian's PETSc (-> ML -> Teuchos -> Debian's Kokkos)
                         holds one Kokkos, not two (two abort at exit: see docs/backends.md)
  --fetch-only           only fetch and extract the Kokkos source (to carry to an offline machine);
                         prints its directory
  --force                build CUDA even where this script knows the combination fails
  -h, --help             this text
EOF
}

backend=openmp
prefix=""
jobs="$(nproc 2>/dev/null || echo 2)"
source_dir=""
work_dir="$PWD/build-kokkos"
arch=""
fetch_only=0
force=0
debian_soname=auto
while [[ $# -gt 0 ]]; do
  case "$1" in
    --backend) backend="${2:?--backend needs a value}"; shift 2 ;;
    --backend=*) backend="${1#*=}"; shift ;;
    --prefix) prefix="${2:?--prefix needs a value}"; shift 2 ;;
    --prefix=*) prefix="${1#*=}"; shift ;;
    --jobs|-j) jobs="${2:?--jobs needs a value}"; shift 2 ;;
    --jobs=*) jobs="${1#*=}"; shift ;;
    --source-dir) source_dir="${2:?--source-dir needs a value}"; shift 2 ;;
    --source-dir=*) source_dir="${1#*=}"; shift ;;
    --work-dir) work_dir="${2:?--work-dir needs a value}"; shift 2 ;;
    --work-dir=*) work_dir="${1#*=}"; shift ;;
    --arch) arch="${2:?--arch needs a value}"; shift 2 ;;
    --arch=*) arch="${1#*=}"; shift ;;
    --debian-soname) debian_soname="${2:?--debian-soname needs a value}"; shift 2 ;;
    --debian-soname=*) debian_soname="${1#*=}"; shift ;;
    --cuda) backend=cuda; shift ;;
    --fetch-only) fetch_only=1; shift ;;
    --force) force=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "build_kokkos.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
case "$backend" in
  openmp|cuda) ;;
  *) echo "build_kokkos.sh: --backend must be openmp or cuda, not '$backend'" >&2; exit 2 ;;
esac
case "$debian_soname" in
  auto|on|off) ;;
  *) echo "build_kokkos.sh: --debian-soname must be auto, on or off, not '$debian_soname'" >&2; exit 2 ;;
esac
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "build_kokkos.sh: --jobs must be a positive integer" >&2; exit 2; }

log() { printf '[build_kokkos] %s\n' "$*" >&2; }
die() { printf '[build_kokkos] ERROR: %s\n' "$*" >&2; exit 1; }

mkdir -p "$work_dir"
work_dir="$(cd "$work_dir" && pwd)"
if [[ -z "$prefix" ]]; then
  if [[ "$backend" == cuda ]]; then prefix="$work_dir/install-cuda"; else prefix="$work_dir/install"; fi
fi
case "$prefix" in /*) ;; *) prefix="$PWD/$prefix" ;; esac

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); fi
fi
as_root() {
  if [[ "$(id -u)" -ne 0 && ${#SUDO[@]} -eq 0 ]]; then
    die "needs root for: $* (run as root or install sudo)"
  fi
  "${SUDO[@]}" "$@"
}

# --- 1. the Kokkos source ------------------------------------------------------------------
# The codename whose deb-src entry we add: the system's own (trilinos 13.2.0 is in bookworm and
# trixie alike), bookworm when it cannot be read.
codename() {
  local c=""
  if [[ -r /etc/os-release ]]; then c="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"; fi
  echo "${c:-bookworm}"
}

# The Debian mirror the system already uses for $1 (so that a local mirror or proxy keeps working).
debian_mirror() {
  local suite="$1" uri=""
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r "$f" ]] || continue
    # deb822 stanzas: print the URIs of a stanza whose Types has `deb` and Suites has the suite.
    uri="$(awk -v suite="$suite" '
      function flush() { if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && uris != "" && enabled != "no") { split(uris, u, " "); print u[1]; found=1; exit } }
      BEGIN { RS=""; FS="\n" }
      { types=""; suites=""; uris=""; enabled="";
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/)   { types=$i;  sub(/^Types:[ \t]*/, "", types) }
          if ($i ~ /^Suites:/)  { suites=$i; sub(/^Suites:[ \t]*/, "", suites) }
          if ($i ~ /^URIs:/)    { uris=$i;   sub(/^URIs:[ \t]*/, "", uris) }
          if ($i ~ /^Enabled:/) { enabled=tolower($i); sub(/^enabled:[ \t]*/, "", enabled) }
        }
        flush() }' "$f")"
    [[ -n "$uri" ]] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r "$f" ]] || continue
    uri="$(awk -v suite="$suite" '
      $1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                    if ($(i+1) == suite) { print $i; exit } }' "$f")"
    [[ -n "$uri" ]] && { echo "$uri"; return; }
  done
  echo "http://deb.debian.org/debian"
}

# True when apt already knows the trilinos source package (some deb-src entry is active).
have_trilinos_source() {
  local uris
  uris="$(apt-get source --print-uris trilinos 2>/dev/null)" || return 1
  [[ "$uris" == *trilinos_*.orig.tar* ]]
}

ensure_deb_src() {
  if have_trilinos_source; then
    log "apt already has a deb-src entry for trilinos"
    return
  fi
  local suite mirror
  suite="$(codename)"
  mirror="$(debian_mirror "$suite")"
  local has_deb822=0 f
  for f in /etc/apt/sources.list.d/*.sources; do [[ -r "$f" ]] && has_deb822=1; done
  if [[ $has_deb822 -eq 1 ]]; then
    local target=/etc/apt/sources.list.d/twinrt-src.sources
    if [[ ! -e "$target" ]]; then
      log "adding deb-src ($mirror $suite main) as $target"
      local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
      {
        echo "# Added by twinrt cmake/build_kokkos.sh: Debian source packages (Kokkos via trilinos)"
        echo "Types: deb-src"
        echo "URIs: $mirror"
        echo "Suites: $suite"
        echo "Components: main"
        [[ -r "$keyring" ]] && echo "Signed-By: $keyring"
      } | as_root tee "$target" >/dev/null
    fi
  else
    local target=/etc/apt/sources.list.d/twinrt-src.list
    if [[ ! -e "$target" ]]; then
      log "adding deb-src ($mirror $suite main) as $target"
      {
        echo "# Added by twinrt cmake/build_kokkos.sh: Debian source packages (Kokkos via trilinos)"
        echo "deb-src $mirror $suite main"
      } | as_root tee "$target" >/dev/null
    fi
  fi
  log "apt-get update"
  as_root apt-get update -qq >&2
  have_trilinos_source || die "apt still finds no source package 'trilinos' after adding a deb-src entry"
}

fetch_source() {
  local pkg_dir="$work_dir/src-pkg" dest="$work_dir/kokkos-src"
  if [[ -f "$dest/CMakeLists.txt" && -d "$dest/core/src" ]]; then
    log "Kokkos source already extracted in $dest"
    echo "$dest"
    return
  fi
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: pass --source-dir with an extracted Kokkos source"
  ensure_deb_src
  mkdir -p "$pkg_dir"
  local size
  size="$(apt-get source --print-uris trilinos 2>/dev/null | awk '/\.orig\.tar/ { print $3 }' | head -n1)"
  log "source package trilinos: orig tarball $((${size:-0} / 1048576)) MiB (the Kokkos part is ~12 MiB)"
  # apt-get source skips files that are already there with the right checksum. Root downloads
  # unsandboxed (a harmless warning) because _apt cannot write into the work dir.
  (cd "$pkg_dir" && apt-get source --download-only trilinos >&2)
  local tarball
  tarball="$(ls -1 "$pkg_dir"/trilinos_*.orig.tar.* 2>/dev/null | head -n1)"
  [[ -n "$tarball" ]] || die "no trilinos orig tarball in $pkg_dir"
  # Only packages/kokkos, straight out of the orig tarball (no dpkg-source -x of the 1.5 GB tree).
  # Debian's patches touch Kokkos' TriBITS test declarations only, which a standalone build skips.
  local top
  top="$( (tar -tf "$tarball" 2>/dev/null || true) | head -n1 | cut -d/ -f1)"
  log "extracting $top/packages/kokkos from $(basename "$tarball")"
  rm -rf "$dest.tmp"
  mkdir -p "$dest.tmp"
  tar -xf "$tarball" -C "$dest.tmp" --strip-components=3 "$top/packages/kokkos"
  [[ -f "$dest.tmp/CMakeLists.txt" ]] || die "extraction gave no $dest.tmp/CMakeLists.txt"
  rm -rf "$dest"
  mv "$dest.tmp" "$dest"
  echo "$dest"
}

if [[ -n "$source_dir" ]]; then
  [[ -f "$source_dir/CMakeLists.txt" && -d "$source_dir/core/src" ]] \
    || die "--source-dir $source_dir is not a Kokkos source tree (no CMakeLists.txt and core/src)"
  source_dir="$(cd "$source_dir" && pwd)"
  log "using Kokkos source $source_dir"
else
  source_dir="$(fetch_source)"
fi

kokkos_version="$(awk '/set\(Kokkos_VERSION_(MAJOR|MINOR|PATCH)/ { gsub(/[()]/, " "); v[$2] = $3 }
  END { printf "%d.%d.%d", v["Kokkos_VERSION_MAJOR"], v["Kokkos_VERSION_MINOR"], v["Kokkos_VERSION_PATCH"] }' \
  "$source_dir/CMakeLists.txt")"
log "Kokkos source version $kokkos_version"

if [[ $fetch_only -eq 1 ]]; then
  echo "Kokkos $kokkos_version source: $source_dir"
  echo "Carry it (e.g. tar -C $(dirname "$source_dir") -czf kokkos-src.tar.gz $(basename "$source_dir")) and run"
  echo "  cmake/build_kokkos.sh --source-dir DIR/$(basename "$source_dir") --backend cuda"
  exit 0
fi

# --- 2. configure, build, install ------------------------------------------------------------
command -v cmake >/dev/null 2>&1 || die "cmake not found"
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi

cmake_args=(
  -DCMAKE_BUILD_TYPE=Release
  -DCMAKE_INSTALL_PREFIX="$prefix"
  -DBUILD_SHARED_LIBS=ON
  -DCMAKE_POSITION_INDEPENDENT_CODE=ON
  -DCMAKE_CXX_STANDARD=17
  -DCMAKE_CXX_EXTENSIONS=OFF
  -DKokkos_ENABLE_SERIAL=ON
  -DKokkos_ENABLE_OPENMP=ON
  -DKokkos_ENABLE_TESTS=OFF
  -DKokkos_ENABLE_EXAMPLES=OFF
)

if [[ "$backend" == cuda ]]; then
  nvcc="$(command -v nvcc || true)"
  [[ -z "$nvcc" && -x /usr/local/cuda/bin/nvcc ]] && nvcc=/usr/local/cuda/bin/nvcc
  [[ -n "$nvcc" ]] || die "--backend cuda needs nvcc (not on PATH nor in /usr/local/cuda/bin)"
  cuda_version="$("$nvcc" --version | sed -n 's/.*release \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p')"
  log "nvcc $nvcc (CUDA $cuda_version)"
  kokkos_major="${kokkos_version%%.*}"
  cuda_major="${cuda_version%%.*}"
  if [[ -z "$arch" ]]; then
    if grep -q "HOPPER90" "$source_dir/cmake/kokkos_arch.cmake"; then
      arch=HOPPER90
    else
      arch=AMPERE80
      log "WARNING: Kokkos $kokkos_version does not know HOPPER90 (its newest NVIDIA arch is AMPERE86)."
      log "WARNING: with AMPERE80, Kokkos::initialize aborts on a compute capability 9.x GPU (H100/H200):"
      log "WARNING: Kokkos 3.4 requires the compiled major arch to equal the device's."
    fi
  fi
  grep -q "KOKKOS_ARCH_OPTION(${arch}[ )]" "$source_dir/cmake/kokkos_arch.cmake" \
    || die "Kokkos $kokkos_version has no architecture option Kokkos_ARCH_$arch (see $source_dir/cmake/kokkos_arch.cmake)"
  if [[ "$kokkos_major" -lt 4 && "${cuda_major:-0}" -ge 12 && $force -eq 0 ]]; then
    die "Kokkos $kokkos_version does not compile with CUDA $cuda_version (tried with CUDA 13.0):
core/src/Cuda/Kokkos_Cuda_Half.hpp: no conversion half_t -> __half, __half2double undefined;
core/src/Cuda/Kokkos_CudaSpace.cpp:596: cudaMemPrefetchAsync takes a cudaMemLocation since CUDA 13;
core/src/Cuda/Kokkos_Cuda_Graph_Impl.hpp: the 5-argument cudaGraphInstantiate, gone since CUDA 12.
Kokkos 3.4 also knows no Hopper arch (its newest is AMPERE86). Use a Kokkos >= 4.x source with
--source-dir, a CUDA 11 toolkit, or --force to try anyway."
  fi
  export NVCC_WRAPPER_DEFAULT_COMPILER="${NVCC_WRAPPER_DEFAULT_COMPILER:-$(command -v g++ || echo g++)}"
  PATH="$(dirname "$nvcc"):$PATH"; export PATH
  # nvcc_wrapper compiles for a built-in default arch when no -arch is given (sm_35 in 3.4,
  # sm_70 in 4.x), which CUDA 12/13 no longer accept; CMake's compiler check passes none. Use a
  # copy, kept beside the install (consumers compile through it), whose default is our arch.
  sm="sm_${arch//[!0-9]/}"
  mkdir -p "$prefix/bin"
  wrapper="$prefix/bin/nvcc_wrapper_$sm"
  sed "s/^default_arch=.*/default_arch=\"$sm\"/" "$source_dir/bin/nvcc_wrapper" > "$wrapper"
  chmod +x "$wrapper"
  cmake_args+=(
    -DCMAKE_CXX_COMPILER="$wrapper"
    -DKokkos_ENABLE_CUDA=ON
    -DKokkos_ENABLE_CUDA_LAMBDA=ON
    "-DKokkos_ARCH_${arch}=ON"
  )
fi

# --- one Kokkos per process ------------------------------------------------------------------
# Debian's PETSc links ML, ML links Teuchos, and Teuchos links Debian's libtrilinos_kokkoscore
# (Serial, also 3.4.1). A twinrt binary linked against this Kokkos would load both libraries;
# they define the same symbols, so Debian's copy constructs and destroys the globals of ours a
# second time ("double free or corruption" at exit). Naming our libraries with Debian's sonames
# makes the dynamic loader satisfy Teuchos' DT_NEEDED with ours (loaded first, through twinrt's
# RUNPATH), so only one Kokkos is in the process. Teuchos calls three Kokkos functions
# (finalize_all, Profiling::pushRegion/popRegion), all in this Kokkos with the same signatures.
project_include=""
debian_soname_of() { # $1: library base name, e.g. trilinos_kokkoscore -> its SONAME, or nothing
  local f
  for f in /usr/lib/*-linux-gnu/lib"$1".so /usr/lib/lib"$1".so /usr/lib64/lib"$1".so; do
    [[ -e "$f" ]] || continue
    objdump -p "$f" 2>/dev/null | awk '$1 == "SONAME" { print $2; exit }'
    return 0
  done
  return 0
}
if [[ "$debian_soname" != off ]]; then
  if ! command -v objdump >/dev/null 2>&1; then
    [[ "$debian_soname" == on ]] && die "--debian-soname on needs objdump (binutils)"
    log "WARNING: no objdump: cannot read Debian's Kokkos sonames (--debian-soname skipped)"
  else
    # Only a Kokkos of the same major.minor as Debian's can stand in for it (Teuchos calls
    # Kokkos::finalize_all, which Kokkos 4 removed).
    debian_version="$(sed -n 's/^set(PACKAGE_VERSION "\([0-9.]*\)")/\1/p' \
      /usr/lib/*-linux-gnu/cmake/Kokkos/KokkosConfigVersion.cmake 2>/dev/null | head -n1)"
    same_series=1
    if [[ -n "$debian_version" ]]; then
      d_major="${debian_version%%.*}"; d_rest="${debian_version#*.}"; d_minor="${d_rest%%.*}"
      k_major="${kokkos_version%%.*}"; k_rest="${kokkos_version#*.}"; k_minor="${k_rest%%.*}"
      (( 10#$d_major == 10#$k_major && 10#$d_minor == 10#$k_minor )) || same_series=0
    fi
    rules=""
    if [[ $same_series -eq 0 && "$debian_soname" == auto ]]; then
      log "WARNING: Kokkos $kokkos_version is not the series of Debian's ($debian_version): not"
      log "WARNING: taking Debian's sonames; binaries that load Debian's PETSc will hold two Kokkos."
    fi
    if [[ $same_series -eq 1 || "$debian_soname" == on ]]; then
      for lib in kokkoscore kokkoscontainers; do
        so="$(debian_soname_of "trilinos_$lib")"
        [[ -n "$so" ]] || continue
        # libtrilinos_kokkoscore.so.13.2 -> OUTPUT_NAME trilinos_kokkoscore, VERSION/SOVERSION 13.2
        ver="${so#"libtrilinos_$lib.so."}"
        [[ "$ver" != "$so" && -n "$ver" ]] || continue
        rules+="$(printf '  if(TARGET %s)\n    set_target_properties(%s PROPERTIES OUTPUT_NAME trilinos_%s VERSION %s SOVERSION %s)\n  endif()' \
          "$lib" "$lib" "$lib" "$ver" "$ver")"$'\n'
        log "lib$lib will carry the soname of Debian's: $so"
      done
    fi
    if [[ -n "$rules" ]]; then
      project_include="$work_dir/debian-soname-$backend.cmake"
      {
        echo "# Generated by twinrt cmake/build_kokkos.sh (--debian-soname). Included after"
        echo "# project(Kokkos); renames the Kokkos libraries, once all targets exist, to the"
        echo "# sonames of Debian's Kokkos so that a process loads one Kokkos, not two."
        echo "include_guard(GLOBAL)"
        echo "function(_twin_debian_soname)"
        printf '%s' "$rules"
        echo "endfunction()"
        echo 'cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _twin_debian_soname)'
      } > "$project_include"
    elif [[ "$debian_soname" == on ]]; then
      die "--debian-soname on: no Debian libtrilinos_kokkoscore found"
    fi
  fi
fi
if [[ -n "$project_include" ]]; then
  cmake_args+=(-DCMAKE_PROJECT_Kokkos_INCLUDE="$project_include")
else
  cmake_args+=(-UCMAKE_PROJECT_Kokkos_INCLUDE)
fi

mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"
build_dir="$work_dir/build-$backend"
# A build tree configured from another source or prefix is started anew (keeps reruns idempotent).
if [[ -f "$build_dir/CMakeCache.txt" ]]; then
  if ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$source_dir" "$build_dir/CMakeCache.txt" \
     || ! grep -qx "CMAKE_INSTALL_PREFIX:PATH=$prefix" "$build_dir/CMakeCache.txt"; then
    log "build tree $build_dir was configured for another source or prefix: starting it anew"
    rm -rf "$build_dir"
  fi
fi

log "configure: $build_dir"
cmake -S "$source_dir" -B "$build_dir" "${generator[@]}" "${cmake_args[@]}" >&2
start=$(date +%s)
log "build with $jobs job(s)"
cmake --build "$build_dir" -j "$jobs" >&2
# Drop what an earlier install of this build tree put there (library names may have changed).
if [[ -f "$build_dir/install_manifest.txt" ]]; then
  while IFS= read -r f; do rm -f -- "$f"; done < "$build_dir/install_manifest.txt"
fi
cmake --install "$build_dir" >&2
log "built and installed in $(( $(date +%s) - start )) s"

config="$(ls -1d "$prefix"/lib*/cmake/Kokkos/KokkosConfig.cmake 2>/dev/null | head -n1)"
[[ -n "$config" ]] || die "no KokkosConfig.cmake under $prefix/lib*/cmake/Kokkos"
devices="$(sed -n 's/^SET(Kokkos_DEVICES \(.*\))$/\1/Ip' "$(dirname "$config")"/KokkosConfig*.cmake | head -n1)"

src_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cat <<EOF

Kokkos $kokkos_version (${backend}; devices: ${devices:-see $config}) installed in $prefix
Configure twinrt against it with:

  cmake -S $src_root -B $src_root/build-${backend/openmp/omp} -G Ninja -DCMAKE_BUILD_TYPE=Release -DTWIN_KOKKOS_ROOT=$prefix
  cmake --build $src_root/build-${backend/openmp/omp}
  OMP_NUM_THREADS=\$(nproc) OMP_PROC_BIND=spread OMP_PLACES=threads ctest --test-dir $src_root/build-${backend/openmp/omp}

EOF
