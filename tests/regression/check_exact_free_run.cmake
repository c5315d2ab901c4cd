# A plant identical to the twin (tests/data/bar_exact.yaml): the free run follows the truth, so
# summary.json reports its RMSE as 0 and no analysis / free-run ratio (null), not a division by ~0.
#   cmake -DSUMMARY=runs/bar_exact/summary.json -P check_exact_free_run.cmake
file(READ "${SUMMARY}" json)
string(JSON free GET "${json}" rmse_free_run)
string(JSON analysis GET "${json}" rmse_analysis)
string(JSON ratio_type TYPE "${json}" rmse_ratio)
message(STATUS "rmse_free_run ${free}, rmse_analysis ${analysis}, rmse_ratio is ${ratio_type}")
if(NOT free LESS 1e-9)
  message(FATAL_ERROR "the free run of a plant identical to the twin is off the truth by ${free}")
endif()
if(NOT analysis GREATER 0)
  message(FATAL_ERROR "rmse_analysis ${analysis}: expected the noisy readings to move the analysis off the truth")
endif()
if(NOT ratio_type STREQUAL "NULL")
  string(JSON ratio GET "${json}" rmse_ratio)
  message(FATAL_ERROR "rmse_ratio is ${ratio} with a free run that matches the truth; expected null")
endif()
