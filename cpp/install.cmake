# The installed C++ package: headers, the shared and static libraries, exported targets
# (fastconv::fastconv, fastconv::fastconv_static), fastconvConfig.cmake with its version file,
# and a pkg-config file. Everything here is component "dev". A wheel carries it too, inside the
# Python package (site-packages/fastconv/{include,lib}), which its cmake.root entry point names,
# so a native build finds it after `pip install fastconv`.
include(CMakePackageConfigHelpers)
set(_root ${FASTCONV_INSTALL_ROOT})
set(_libdir ${_root}${CMAKE_INSTALL_LIBDIR})
set(_includedir ${_root}${CMAKE_INSTALL_INCLUDEDIR})
set(_cmake_dir ${_libdir}/cmake/fastconv)

install(TARGETS fastconv_shared fastconv_static EXPORT fastconvTargets COMPONENT dev
        ARCHIVE DESTINATION ${_libdir}
        LIBRARY DESTINATION ${_libdir}
        RUNTIME DESTINATION ${_root}${CMAKE_INSTALL_BINDIR})
install(DIRECTORY cpp/include/fastconv DESTINATION ${_includedir} COMPONENT dev
        FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/generated/fastconv/version.hpp
        DESTINATION ${_includedir}/fastconv COMPONENT dev)
install(EXPORT fastconvTargets NAMESPACE fastconv:: DESTINATION ${_cmake_dir} COMPONENT dev)

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/fastconvConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/fastconvConfig.cmake INSTALL_DESTINATION ${_cmake_dir})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/fastconvConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/fastconvConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/fastconvConfigVersion.cmake
        DESTINATION ${_cmake_dir} COMPONENT dev)

set(FASTCONV_PC_OPENMP "")
if(OpenMP_CXX_FOUND)
  set(FASTCONV_PC_OPENMP "${OpenMP_CXX_FLAGS}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/fastconv.pc.in ${CMAKE_CURRENT_BINARY_DIR}/fastconv.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/fastconv.pc DESTINATION ${_libdir}/pkgconfig COMPONENT dev)
