# Install rules and the CMake package, so another project can do
#   find_package(normlab REQUIRED)   target_link_libraries(app PRIVATE normlab::normlab)
# Layout under the prefix:
#   include/normlab/{core,layers,optim,models,data,train}/*.h   (#include "core/ops.h" works)
#   lib/libnormlab.a, lib/cmake/normlab/normlab{Config,ConfigVersion,Targets}.cmake, bin/normlab
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Consumers compile normlab's headers, which need C++20.
target_compile_features(normlab PUBLIC cxx_std_20)

set(NORMLAB_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/normlab)

install(TARGETS normlab EXPORT normlabTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS normlab_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

foreach(dir ${NORMLAB_DIRS})
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/ DESTINATION include/normlab/${dir}
          FILES_MATCHING PATTERN "*.h")
endforeach()

# The library is static by default, so its private dependencies (OpenBLAS, zlib) must reach
# the consumer's link line: CMake records them in the exported INTERFACE_LINK_LIBRARIES as
# $<LINK_ONLY:...> (OpenBLAS by the absolute path Debian's OpenBLASConfig.cmake gives; zlib as
# the ZLIB::ZLIB target, which normlabConfig.cmake finds again). For a shared build
# (-DBUILD_SHARED_LIBS=ON) they stay private.
install(EXPORT normlabTargets NAMESPACE normlab:: DESTINATION ${NORMLAB_CMAKE_DIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/normlabConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/normlabConfig.cmake INSTALL_DESTINATION ${NORMLAB_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/normlabConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/normlabConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/normlabConfigVersion.cmake
        DESTINATION ${NORMLAB_CMAKE_DIR})
