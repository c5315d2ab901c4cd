# Checks any shipped twin's run (plant source, no advisor) against what every twin must do, and
# reports issue 16's accuracy and confidence targets without asserting them (docs/twins.md says
# which twins meet which today):
#   cmake -DSUMMARY=runs/channel/summary.json -DSENSOR_FAULTS=4 -P check_twin.cmake
# Asserted: real time >= 10x with no deadline miss; every scheduled sensor fault (SENSOR_FAULTS of
# them) rejected by QC within 3 cycles; at most 1 % of healthy readings rejected while the plant
# behaves as modelled; the filter's confidence measured after the spin-up (the checks exist, the
# figures are finite); the analysis better than the free run.
# Reported: analysis RMSE <= 0.3x the free run; final parameters within 5 %; parameter and sensor
# coverage of the truth by +-2 sd in 0.85..0.99. With -DASSERT=rmse_ratio, sensor_coverage or
# both (comma-separated), the RMSE target, and sensor coverage of at least 0.85 (the
# filter not too sure of the state), are asserted instead of reported.
file(READ "${SUMMARY}" json)
set(failures "")
set(missed "")
macro(_get var)
  string(JSON ${var} GET "${json}" ${ARGN})
endmacro()
macro(_fail_if condition text)
  if(${condition})
    list(APPEND failures "${text}")
  endif()
endmacro()
_get(rtf realtime_factor)
_get(misses deadline_misses)
message(STATUS "realtime_factor ${rtf}, deadline_misses ${misses}")
_fail_if("rtf LESS 10" "realtime_factor ${rtf} < 10")
_fail_if("misses GREATER 0" "${misses} deadline misses")

_get(all qc all_faults_rejected_within_3_cycles)
string(JSON nfaults LENGTH "${json}" qc faults)
message(STATUS "QC: ${nfaults} sensor faults, all rejected within 3 cycles: ${all}")
_fail_if("NOT all STREQUAL ON" "a scheduled sensor fault was not rejected within 3 cycles")
_fail_if("NOT nfaults EQUAL SENSOR_FAULTS" "expected ${SENSOR_FAULTS} scheduled sensor faults in summary.json, found ${nfaults}")
_get(nominal qc healthy_rejected_fraction_nominal)
message(STATUS "healthy readings rejected while the plant behaves as modelled: ${nominal}")
_fail_if("nominal GREATER 0.01" "QC rejected ${nominal} of healthy readings (more than 1 %)")

_get(ratio rmse_ratio)
message(STATUS "analysis RMSE / free run: ${ratio}")
if(ratio STREQUAL "null")
  message(FATAL_ERROR "rmse_ratio is null: the free run matched the truth, so this twin's plant is no test of the filter")
endif()
_fail_if("NOT ratio LESS 1" "the analysis (RMSE ratio ${ratio}) is no better than the free run")
string(FIND ",${ASSERT}," ",rmse_ratio," _assert_rmse)
string(FIND ",${ASSERT}," ",sensor_coverage," _assert_sensors)
if(ratio GREATER 0.3 AND _assert_rmse GREATER -1)
  list(APPEND failures "RMSE ratio ${ratio} (target 0.3)")
elseif(ratio GREATER 0.3)
  list(APPEND missed "RMSE ratio ${ratio} (target 0.3)")
endif()

string(JSON nparams LENGTH "${json}" parameter_error)
math(EXPR last "${nparams} - 1")
foreach(i RANGE ${last})
  string(JSON name MEMBER "${json}" parameter_error ${i})
  _get(err parameter_error ${name} relative_error)
  _get(estimate parameter_error ${name} estimate)
  _get(std parameter_error ${name} std)
  _get(truth parameter_error ${name} truth)
  message(STATUS "${name}: ${estimate} +- ${std} (truth ${truth}, relative error ${err})")
  if(err GREATER 0.05)
    list(APPEND missed "${name} ${err} off (target 0.05)")
  endif()
endforeach()

foreach(kind parameters sensors)
  _get(checks confidence ${kind} checks)
  _get(coverage confidence ${kind} coverage_2sigma)
  _get(ssr confidence ${kind} spread_skill_ratio)
  message(STATUS "${kind}: coverage ${coverage} over ${checks} checks, spread/skill ${ssr}")
  _fail_if("checks LESS 100" "only ${checks} ${kind} confidence checks after the spin-up")
  _fail_if("coverage GREATER 1 OR coverage LESS 0" "${kind} coverage ${coverage} outside [0, 1]")
  if(kind STREQUAL "sensors" AND coverage LESS 0.85 AND _assert_sensors GREATER -1)
    list(APPEND failures "sensors coverage ${coverage} (target 0.85..0.99)")
  elseif(coverage LESS 0.85 OR coverage GREATER 0.99)
    list(APPEND missed "${kind} coverage ${coverage} (target 0.85..0.99)")
  endif()
endforeach()

if(missed)
  message(STATUS "issue 16 targets missed (reported, not asserted): ${missed}")
endif()
if(failures)
  message(FATAL_ERROR "twin targets missed: ${failures}")
endif()
