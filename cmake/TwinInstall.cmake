# Installs the libraries, the `twin` command, the public headers and an exported, versioned
# package config, so a facility project can use find_package(twinrt) and link twinrt::twinrt.
include_guard(GLOBAL)
include(CMakePackageConfigHelpers)

set(TWIN_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/twinrt")

set_target_properties(twin_kokkos PROPERTIES EXPORT_NAME kokkos)
# Installed binaries find their sibling libraries wherever the prefix is moved.
set_target_properties(twinrt_ground twinrt_solvers twinrt_advisor twinrt PROPERTIES INSTALL_RPATH "$ORIGIN")
set_target_properties(twin PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
install(TARGETS twinrt_ground twinrt_solvers twinrt_advisor twinrt twin_kokkos
  EXPORT twinrtTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS twin RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(PROGRAMS ${PROJECT_SOURCE_DIR}/src/cli/twin-supervise DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/twin DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY configs/ DESTINATION ${CMAKE_INSTALL_DATADIR}/twinrt/configs)
install(EXPORT twinrtTargets NAMESPACE twinrt:: DESTINATION ${TWIN_INSTALL_CMAKEDIR})

configure_package_config_file(cmake/twinrtConfig.cmake.in
  "${PROJECT_BINARY_DIR}/twinrtConfig.cmake"
  INSTALL_DESTINATION ${TWIN_INSTALL_CMAKEDIR})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/twinrtConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/twinrtConfig.cmake" "${PROJECT_BINARY_DIR}/twinrtConfigVersion.cmake"
  DESTINATION ${TWIN_INSTALL_CMAKEDIR})
