# Helpers shared by every twinrt target.
include_guard(GLOBAL)

# Compile options every twinrt target gets (targets only, no global flags).
add_library(twin_warnings INTERFACE)
target_compile_options(twin_warnings INTERFACE
  $<$<COMPILE_LANG_AND_ID:CXX,GNU,Clang>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor>
  $<$<AND:$<BOOL:${TWIN_WARNINGS_AS_ERRORS}>,$<COMPILE_LANG_AND_ID:CXX,GNU,Clang>>:-Werror>)

# Sanitizers for the asan preset: TWIN_SANITIZE="address;undefined".
set(TWIN_SANITIZE "" CACHE STRING "Sanitizers to build with (e.g. address;undefined)")
add_library(twin_sanitizers INTERFACE)
if(TWIN_SANITIZE)
  list(JOIN TWIN_SANITIZE "," _twin_san)
  target_compile_options(twin_sanitizers INTERFACE -fsanitize=${_twin_san} -fno-omit-frame-pointer)
  target_link_options(twin_sanitizers INTERFACE -fsanitize=${_twin_san})
endif()

# twin_target_defaults(TARGET): C++17, no extensions, PIC, the project's warnings and sanitizers.
function(twin_target_defaults target)
  target_compile_features(${target} PUBLIC cxx_std_17)
  set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF POSITION_INDEPENDENT_CODE ON)
  target_link_libraries(${target} PRIVATE $<BUILD_INTERFACE:twin_warnings> $<BUILD_INTERFACE:twin_sanitizers>)
endfunction()

# twin_include_root(TARGET FOLDER NAME): TARGET exports one include root that holds only its
# own headers, as NAME/ (so sources write #include "NAME/x.hpp"). The root is a folder of the
# build tree with one link, NAME -> FOLDER; a library that does not link TARGET cannot include
# its headers, and a lower layer that tries to include an upper one fails to compile.
function(twin_include_root target folder name)
  set(root "${PROJECT_BINARY_DIR}/include_roots/${name}")
  file(MAKE_DIRECTORY "${root}")
  if(NOT EXISTS "${root}/${name}")
    file(CREATE_LINK "${folder}" "${root}/${name}" SYMBOLIC)
  endif()
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${root}>)
endfunction()
