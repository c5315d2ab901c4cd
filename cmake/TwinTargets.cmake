# Helpers shared by every twinrt target.
include_guard(GLOBAL)

# Compile options every twinrt target gets (targets only, no global flags).
add_library(twin_warnings INTERFACE)
target_compile_options(twin_warnings INTERFACE
  $<$<COMPILE_LANG_AND_ID:CXX,GNU,Clang>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor>
  $<$<AND:$<BOOL:${TWIN_WARNINGS_AS_ERRORS}>,$<COMPILE_LANG_AND_ID:CXX,GNU,Clang>>:-Werror>)

# twin_library(NAME SOURCES ...): a twinrt library with C++17 and the project's warnings.
function(twin_target_defaults target)
  target_compile_features(${target} PUBLIC cxx_std_17)
  set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF POSITION_INDEPENDENT_CODE ON)
  target_link_libraries(${target} PRIVATE $<BUILD_INTERFACE:twin_warnings>)
endfunction()
