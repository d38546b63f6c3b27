# Third-party libraries, all from the distribution (scripts/setup-debian.sh) or from
# environment modules on a cluster (README, "Building by hand").

find_package(MPI REQUIRED COMPONENTS C CXX)

# Parallel HDF5 only: Debian's serial and parallel flavours clash, so point FindHDF5 at the
# Open MPI wrappers unless the user already chose a flavour (e.g. from a module).
if(NOT DEFINED HDF5_C_COMPILER_EXECUTABLE AND EXISTS /usr/bin/h5pcc.openmpi)
  set(HDF5_C_COMPILER_EXECUTABLE /usr/bin/h5pcc.openmpi CACHE FILEPATH "HDF5 C wrapper")
endif()
if(NOT DEFINED HDF5_CXX_COMPILER_EXECUTABLE AND EXISTS /usr/bin/h5c++.openmpi)
  set(HDF5_CXX_COMPILER_EXECUTABLE /usr/bin/h5c++.openmpi CACHE FILEPATH "HDF5 C++ wrapper")
endif()
set(HDF5_PREFER_PARALLEL ON)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(WARNING "fedchain: HDF5 at ${HDF5_C_INCLUDE_DIRS} is not the parallel flavour; "
                  "install libhdf5-openmpi-dev (scripts/setup-debian.sh)")
endif()
add_library(fedchain::hdf5 INTERFACE IMPORTED)
target_include_directories(fedchain::hdf5 INTERFACE ${HDF5_C_INCLUDE_DIRS})
target_link_libraries(fedchain::hdf5 INTERFACE ${HDF5_C_LIBRARIES} MPI::MPI_C)
target_compile_definitions(fedchain::hdf5 INTERFACE ${HDF5_C_DEFINITIONS})

find_package(Eigen3 3.3 REQUIRED NO_MODULE)
find_package(OpenSSL 3 REQUIRED)
find_package(ZLIB REQUIRED)
find_package(Threads REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
if(FEDCHAIN_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()

# oneDNN (libdnnl-dev): the CPU backend's convolutions and dense layers, compiled at run time
# for the CPU's best instruction set (docs/PERFORMANCE.md, "Training"). AUTO uses it where
# found; OFF keeps im2col and Eigen's GEMM. fedchain uses oneDNN's 2.x API (Debian 12: 2.6).
set(FEDCHAIN_ONEDNN AUTO CACHE STRING "Use oneDNN for CPU convolutions and dense layers: AUTO, ON or OFF")
set_property(CACHE FEDCHAIN_ONEDNN PROPERTY STRINGS AUTO ON OFF)
set(FEDCHAIN_HAVE_ONEDNN OFF)
if(NOT FEDCHAIN_ONEDNN STREQUAL "OFF")
  if(FEDCHAIN_ONEDNN STREQUAL "ON")
    find_package(dnnl 2 REQUIRED)
  else()
    find_package(dnnl 2 QUIET)
  endif()
  if(dnnl_FOUND AND dnnl_VERSION VERSION_LESS 3)
    set(FEDCHAIN_HAVE_ONEDNN ON)
  elseif(dnnl_FOUND)
    message(WARNING "fedchain: oneDNN ${dnnl_VERSION} found, but fedchain uses the 2.x API; "
                    "building with Eigen's kernels")
  endif()
endif()
message(STATUS "fedchain: oneDNN CPU kernels: ${FEDCHAIN_HAVE_ONEDNN}")
