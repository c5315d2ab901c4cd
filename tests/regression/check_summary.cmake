# Checks a run's summary.json against the closed-loop targets of the plate twin.
#   cmake -DSUMMARY=runs/plate/summary.json -P check_summary.cmake
file(READ "${SUMMARY}" json)
set(failures "")
# _expect(OP KEY... LIMIT): OP is GREATER (fails above the limit) or LESS (fails below it); the
# last argument is the limit, the others the JSON path.
macro(_expect op)
  set(_path ${ARGN})
  list(POP_BACK _path limit)
  string(JSON value GET "${json}" ${_path})
  if(value ${op} limit)
    list(APPEND failures "${_path}: ${value} vs limit ${limit}")
  endif()
  message(STATUS "${_path}: ${value}")
endmacro()
macro(expect_at_most)
  _expect(GREATER ${ARGN})
endmacro()
macro(expect_at_least)
  _expect(LESS ${ARGN})
endmacro()
expect_at_least(realtime_factor 10)
expect_at_most(deadline_misses 0)
expect_at_most(rmse_ratio 0.3)
expect_at_most(parameter_error diffusivity_factor relative_error 0.05)
expect_at_most(parameter_error cooling_factor relative_error 0.05)
# Healthy readings rejected while the plant behaves as the twin models it (a failing heater,
# degrading cooling or a heat source makes real departures that QC may reject: those cycles and
# the 8 after are counted apart, in healthy_rejected_fraction).
expect_at_most(qc healthy_rejected_fraction_nominal 0.01)
# The filter's confidence against the truth (issue 16 sets its targets; today's figures are far
# below them): here, that every cycle after the spin-up and outside the three plant faults and
# their settling (226 of 360) is checked, for both parameters and all 16 sensors.
expect_at_least(confidence parameters checks 452)
expect_at_least(confidence sensors checks 3616)
expect_at_most(confidence parameters coverage_2sigma 1)
expect_at_most(confidence sensors coverage_2sigma 1)
# In observation space (what replay and stream runs have): every assimilated reading after the
# spin-up, 340 cycles of 16 sensors less QC's rejections.
expect_at_least(confidence innovations readings 5000)
expect_at_most(confidence innovations coverage_2sigma 1)
# The grid check ran at start-up and reported each parameter's and each sensor's figure.
string(JSON ran GET "${json}" confidence grid_check ran)
if(NOT ran STREQUAL "ON")
  list(APPEND failures "the grid check did not run")
else()
  expect_at_least(confidence grid_check cycles 60)
  string(JSON np LENGTH "${json}" confidence grid_check parameters)
  string(JSON ns LENGTH "${json}" confidence grid_check sensors)
  if(NOT np EQUAL 2 OR NOT ns EQUAL 16)
    list(APPEND failures "the grid check reported ${np} parameters and ${ns} sensors (2 and 16 expected)")
  endif()
  expect_at_least(confidence grid_check parameters diffusivity_factor uncertainty 0)
  expect_at_least(confidence grid_check sensors T10 0)
endif()
string(JSON all GET "${json}" qc all_faults_rejected_within_3_cycles)
if(NOT all STREQUAL "ON")
  list(APPEND failures "a scheduled sensor fault was not rejected within 3 cycles")
endif()
string(JSON nfaults LENGTH "${json}" qc faults)
if(nfaults LESS 5)
  list(APPEND failures "expected the 5 scheduled sensor faults in summary.json, found ${nfaults}")
endif()
if(failures)
  message(FATAL_ERROR "closed-loop targets missed: ${failures}")
endif()
