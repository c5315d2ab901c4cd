# A run with --pace 20 of tiny.yaml (4 cycles of 5 s): its summary says the pace, took at least
# the 1 s of wall clock the pace asks for, and reports the reading-to-advice latency.
#   cmake -DSUMMARY=.../summary.json -P check_paced.cmake
file(READ "${SUMMARY}" s)
string(JSON pace GET "${s}" pace)
string(JSON wall GET "${s}" wall_s)
string(JSON cycles GET "${s}" cycles)
string(JSON latency GET "${s}" reading_to_advice_ms p50)
if(NOT pace EQUAL 20 OR NOT cycles EQUAL 4)
  message(FATAL_ERROR "pace ${pace}, cycles ${cycles}: expected 20 and 4")
endif()
if(wall LESS 0.99)
  message(FATAL_ERROR "a run paced at 20x for 20 s of facility time took ${wall} s of wall clock (at least 1 s expected)")
endif()
if(NOT latency GREATER_EQUAL 0)
  message(FATAL_ERROR "no reading_to_advice_ms in the summary: ${latency}")
endif()
message(STATUS "paced: ${wall} s wall for 20 s of facility time at 20x; reading to advice ${latency} ms p50")
