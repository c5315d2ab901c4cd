# Finds every dependency of twinrt as a target. Debian 12 packages: cmake/install_deps.sh.
include_guard(GLOBAL)

find_package(MPI REQUIRED COMPONENTS C CXX)

# --- Kokkos -----------------------------------------------------------------
# Debian's Kokkos 3.4 (from Trilinos) exports an imported target whose include path points at
# /usr/lib/include, so we build our own interface target from the package's variables.
# Set TWIN_KOKKOS_ROOT to a standalone Kokkos install (OpenMP/CUDA build) to use that instead.
set(TWIN_KOKKOS_ROOT "" CACHE PATH "Prefix of a standalone Kokkos install (empty: Debian's Serial Kokkos)")
if(TWIN_KOKKOS_ROOT)
  # cmake/build_kokkos.sh builds one (docs/backends.md). Its config warns and forces the cache
  # variable when CMAKE_CXX_EXTENSIONS is unset; our targets use CXX_EXTENSIONS OFF anyway.
  if(NOT DEFINED CMAKE_CXX_EXTENSIONS)
    set(CMAKE_CXX_EXTENSIONS OFF)
  endif()
  find_package(Kokkos REQUIRED CONFIG PATHS "${TWIN_KOKKOS_ROOT}" NO_DEFAULT_PATH)
  add_library(twin_kokkos INTERFACE)
  target_link_libraries(twin_kokkos INTERFACE Kokkos::kokkos)
  # Installed twinrt binaries must find this Kokkos, not Debian's (cmake/build_kokkos.sh gives
  # both the same soname): once all targets exist, append its directory to their INSTALL_RPATH.
  # (INSTALL_RPATH_USE_LINK_PATH would skip it when the prefix lies inside the source tree.)
  set(_twin_kokkos_loc "")
  set(_twin_kokkos_soname "")
  if(TARGET Kokkos::kokkoscore)
    get_target_property(_twin_kokkos_configs Kokkos::kokkoscore IMPORTED_CONFIGURATIONS)
    if(_twin_kokkos_configs)
      list(GET _twin_kokkos_configs 0 _twin_kokkos_config)
      get_target_property(_twin_kokkos_loc Kokkos::kokkoscore IMPORTED_LOCATION_${_twin_kokkos_config})
      get_target_property(_twin_kokkos_soname Kokkos::kokkoscore IMPORTED_SONAME_${_twin_kokkos_config})
    endif()
  endif()
  if(_twin_kokkos_loc)
    get_filename_component(TWIN_KOKKOS_LIBDIR "${_twin_kokkos_loc}" DIRECTORY)
    function(_twin_kokkos_install_rpath dir)
      get_property(_targets DIRECTORY "${dir}" PROPERTY BUILDSYSTEM_TARGETS)
      foreach(_t IN LISTS _targets)
        get_target_property(_type ${_t} TYPE)
        if(_type STREQUAL "SHARED_LIBRARY" OR _type STREQUAL "EXECUTABLE" OR _type STREQUAL "MODULE_LIBRARY")
          set_property(TARGET ${_t} APPEND PROPERTY INSTALL_RPATH "${TWIN_KOKKOS_LIBDIR}")
        endif()
      endforeach()
      get_property(_subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
      foreach(_sub IN LISTS _subdirs)
        _twin_kokkos_install_rpath("${_sub}")
      endforeach()
    endfunction()
    cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _twin_kokkos_install_rpath "${CMAKE_SOURCE_DIR}")
  endif()
  # Debian's PETSc loads Debian's Kokkos too (PETSc -> ML -> Teuchos -> libtrilinos_kokkoscore).
  # Two Kokkos libraries in one process abort at exit unless ours carries Debian's soname, which
  # cmake/build_kokkos.sh gives it (--debian-soname, on by default where Debian's is installed).
  find_library(_twin_debian_kokkoscore NAMES trilinos_kokkoscore NO_CACHE)
  if(_twin_debian_kokkoscore)
    if(_twin_kokkos_soname AND NOT _twin_kokkos_soname MATCHES "trilinos_kokkoscore")
      message(WARNING "twinrt: the Kokkos in TWIN_KOKKOS_ROOT (${_twin_kokkos_soname}) is not the "
        "one Debian's PETSc loads (${_twin_debian_kokkoscore}); binaries will hold two Kokkos "
        "runtimes and may abort at exit. Build it with cmake/build_kokkos.sh (docs/backends.md).")
    endif()
  endif()
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
