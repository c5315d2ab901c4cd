# Test helpers. Labels in use: unit, mpi, degraded, regression, install, performance, gpu.
include_guard(GLOBAL)
include(GoogleTest)

# mpirun flags: oversubscribe (CI machines have 2 cores, tests use up to 4 ranks), and the
# explicit permission Open MPI wants when run as root (containers, CI).
set(TWIN_MPIEXEC_PREFLAGS ${MPIEXEC_PREFLAGS})
if(MPIEXEC_EXECUTABLE MATCHES "mpirun|mpiexec")
  execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version OUTPUT_VARIABLE _twin_mpi_v ERROR_QUIET)
  if(_twin_mpi_v MATCHES "Open MPI|OpenRTE")
    list(APPEND TWIN_MPIEXEC_PREFLAGS --oversubscribe)
    execute_process(COMMAND id -u OUTPUT_VARIABLE _twin_uid OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(_twin_uid STREQUAL "0")
      list(APPEND TWIN_MPIEXEC_PREFLAGS --allow-run-as-root)
    endif()
  endif()
endif()

# twin_add_test_executable(NAME SOURCES ...): a GoogleTest executable with twinrt's MPI-aware main.
function(twin_add_test_executable name)
  add_executable(${name} ${ARGN})
  twin_target_defaults(${name})
  target_link_libraries(${name} PRIVATE twin_test_main)
endfunction()

# twin_add_unit_test(TARGET [LABELS ...]): one ctest entry running the whole executable on one
# process (no mpirun), labelled unit plus LABELS.
function(twin_add_unit_test target)
  cmake_parse_arguments(ARG "" "" "LABELS" ${ARGN})
  add_test(NAME ${target} COMMAND ${target})
  set_tests_properties(${target} PROPERTIES LABELS "unit;${ARG_LABELS}" TIMEOUT 300)
endfunction()

# twin_add_mpi_test(TARGET RANKS 1 2 4 [LABELS ...]): one ctest entry per rank count,
# NAME_npN, run through mpiexec and labelled mpi plus LABELS.
function(twin_add_mpi_test target)
  cmake_parse_arguments(ARG "" "" "RANKS;LABELS;ARGS" ${ARGN})
  if(NOT ARG_RANKS)
    set(ARG_RANKS 1 2 4)
  endif()
  foreach(n IN LISTS ARG_RANKS)
    add_test(NAME ${target}_np${n}
      COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${n} ${TWIN_MPIEXEC_PREFLAGS}
              $<TARGET_FILE:${target}> ${MPIEXEC_POSTFLAGS} ${ARG_ARGS})
    set_tests_properties(${target}_np${n} PROPERTIES LABELS "mpi;${ARG_LABELS}" PROCESSORS ${n} TIMEOUT 300)
  endforeach()
endfunction()
