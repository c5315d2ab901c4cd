# Installs the libraries, the `twin` command, the public headers and an exported, versioned
# package config, so a facility project can use find_package(twinrt) and link twinrt::twinrt.
include_guard(GLOBAL)
include(CMakePackageConfigHelpers)

set(TWIN_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/twinrt")

set_target_properties(twin_kokkos PROPERTIES EXPORT_NAME kokkos)
# Installed binaries find their sibling libraries wherever the prefix is moved.
set_target_properties(twinrt_ground twinrt_solvers twinrt_advisor twinrt PROPERTIES INSTALL_RPATH "$ORIGIN")
set_target_properties(twin PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
install(TARGETS twinrt_ground twinrt_solvers twinrt_advisor twinrt twin_kokkos twinrt_c
  EXPORT twinrtTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS twin RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(PROGRAMS ${PROJECT_SOURCE_DIR}/src/cli/twin-supervise DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/twin DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY configs/ DESTINATION ${CMAKE_INSTALL_DATADIR}/twinrt/configs)
# The C API's bindings (docs/embedding.md): the Fortran module's source, compiled with the user's
# program, and the Python module, which finds libtwinrt two folders up.
set(TWIN_FORTRAN_MODULE_DIR ${CMAKE_INSTALL_DATADIR}/twinrt/fortran)
install(FILES src/capi/twinrt.f90 DESTINATION ${TWIN_FORTRAN_MODULE_DIR})
install(FILES src/capi/python/twinrt.py DESTINATION ${CMAKE_INSTALL_LIBDIR}/twinrt/python)
# Relocatable: the prefix is found from the .pc file's own folder.
file(RELATIVE_PATH TWIN_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
configure_file(cmake/twinrt.pc.in "${PROJECT_BINARY_DIR}/twinrt.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/twinrt.pc" DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(EXPORT twinrtTargets NAMESPACE twinrt:: DESTINATION ${TWIN_INSTALL_CMAKEDIR})

configure_package_config_file(cmake/twinrtConfig.cmake.in
  "${PROJECT_BINARY_DIR}/twinrtConfig.cmake"
  INSTALL_DESTINATION ${TWIN_INSTALL_CMAKEDIR}
  PATH_VARS TWIN_FORTRAN_MODULE_DIR)
write_basic_package_version_file("${PROJECT_BINARY_DIR}/twinrtConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/twinrtConfig.cmake" "${PROJECT_BINARY_DIR}/twinrtConfigVersion.cmake"
  DESTINATION ${TWIN_INSTALL_CMAKEDIR})
