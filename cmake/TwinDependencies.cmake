# Finds every dependency of twinrt as a target. Debian 12 packages: cmake/install_deps.sh.
include_guard(GLOBAL)

find_package(MPI REQUIRED COMPONENTS C CXX)

# --- Kokkos -----------------------------------------------------------------
# Debian's Kokkos 3.4 (from Trilinos) exports an imported target whose include path points at
# /usr/lib/include, so we build our own interface target from the package's variables.
# Set TWIN_KOKKOS_ROOT to a standalone Kokkos install (OpenMP/CUDA build) to use that instead.
set(TWIN_KOKKOS_ROOT "" CACHE PATH "Prefix of a standalone Kokkos install (empty: Debian's Serial Kokkos)")
if(TWIN_KOKKOS_ROOT)
  find_package(Kokkos REQUIRED CONFIG PATHS "${TWIN_KOKKOS_ROOT}" NO_DEFAULT_PATH)
  add_library(twin_kokkos INTERFACE)
  target_link_libraries(twin_kokkos INTERFACE Kokkos::kokkos)
else()
  find_package(Kokkos REQUIRED CONFIG)
  set(_twin_kokkos_libs "")
  foreach(_lib IN LISTS Kokkos_LIBRARIES)
    find_library(_twin_lib_${_lib} NAMES ${_lib} PATHS ${Kokkos_LIBRARY_DIRS} NO_DEFAULT_PATH REQUIRED)
    list(APPEND _twin_kokkos_libs "${_twin_lib_${_lib}}")
  endforeach()
  get_filename_component(_twin_kokkos_inc "${Kokkos_INCLUDE_DIRS}" REALPATH)
  add_library(twin_kokkos INTERFACE)
  target_include_directories(twin_kokkos SYSTEM INTERFACE "${_twin_kokkos_inc}")
  target_link_libraries(twin_kokkos INTERFACE ${_twin_kokkos_libs} ${CMAKE_DL_LIBS})
endif()
add_library(twinrt::kokkos ALIAS twin_kokkos)
set(TWIN_KOKKOS_DEVICES "${Kokkos_DEVICES}")
message(STATUS "twinrt: Kokkos ${Kokkos_VERSION} devices: ${Kokkos_DEVICES}")

# --- PETSc (pkg-config) -----------------------------------------------------
find_package(PkgConfig REQUIRED)
pkg_check_modules(PETSC REQUIRED IMPORTED_TARGET PETSc)
message(STATUS "twinrt: PETSc ${PETSC_VERSION}")

# --- LibTorch -----------------------------------------------------------------
find_package(Torch REQUIRED)
message(STATUS "twinrt: LibTorch ${Torch_VERSION}")

# --- parallel HDF5 ------------------------------------------------------------
set(HDF5_PREFER_PARALLEL ON)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "twinrt needs a parallel HDF5 (Debian: libhdf5-openmpi-dev); found a serial one at ${HDF5_C_INCLUDE_DIRS}")
endif()
add_library(twin_hdf5 INTERFACE)
target_include_directories(twin_hdf5 SYSTEM INTERFACE ${HDF5_C_INCLUDE_DIRS})
target_link_libraries(twin_hdf5 INTERFACE ${HDF5_C_LIBRARIES} MPI::MPI_C)
target_compile_definitions(twin_hdf5 INTERFACE ${HDF5_C_DEFINITIONS})
message(STATUS "twinrt: HDF5 ${HDF5_VERSION} (parallel)")

# --- the rest -----------------------------------------------------------------
find_package(spdlog REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
find_package(Threads REQUIRED)
if(TWIN_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(TWIN_BUILD_BENCHMARKS)
  find_package(benchmark REQUIRED)
endif()
