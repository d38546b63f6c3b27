# CUDA and NCCL are optional at build time (FEDCHAIN_CUDA=AUTO|ON|OFF). AUTO turns them on
# when nvcc is found, on PATH or at /usr/local/cuda/bin/nvcc. Whether a GPU is present is
# decided at run time (train.device = auto), never here.

set(FEDCHAIN_HAVE_CUDA OFF)
set(FEDCHAIN_HAVE_NCCL OFF)

if(NOT FEDCHAIN_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER)
    find_program(FEDCHAIN_NVCC nvcc HINTS ENV CUDA_HOME PATHS /usr/local/cuda/bin)
    if(FEDCHAIN_NVCC)
      set(CMAKE_CUDA_COMPILER ${FEDCHAIN_NVCC} CACHE FILEPATH "CUDA compiler")
    endif()
  endif()
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90 CACHE STRING "CUDA architectures to build for")
    endif()
    set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
    set(CMAKE_CUDA_STANDARD 17)  # CMake 3.25 does not know nvcc 13 supports 20
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(FEDCHAIN_HAVE_CUDA ON)
    find_library(FEDCHAIN_NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} ENV NCCL_HOME
                 PATH_SUFFIXES lib lib64)
    find_path(FEDCHAIN_NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} ENV NCCL_HOME
              PATH_SUFFIXES include)
    if(FEDCHAIN_NCCL_LIBRARY AND FEDCHAIN_NCCL_INCLUDE_DIR)
      set(FEDCHAIN_HAVE_NCCL ON)
      add_library(fedchain::nccl INTERFACE IMPORTED)
      target_include_directories(fedchain::nccl INTERFACE ${FEDCHAIN_NCCL_INCLUDE_DIR})
      target_link_libraries(fedchain::nccl INTERFACE ${FEDCHAIN_NCCL_LIBRARY})
    endif()
  elseif(FEDCHAIN_CUDA STREQUAL "ON")
    message(FATAL_ERROR "fedchain: FEDCHAIN_CUDA=ON but no nvcc was found; pass "
                        "-DCMAKE_CUDA_COMPILER=/path/to/nvcc or use FEDCHAIN_CUDA=AUTO")
  endif()
endif()
if(FEDCHAIN_CUDA STREQUAL "ON" AND NOT FEDCHAIN_HAVE_NCCL)
  message(FATAL_ERROR "fedchain: FEDCHAIN_CUDA=ON but NCCL (nccl.h, libnccl) was not found; "
                      "set NCCL_HOME")
endif()
message(STATUS "fedchain: CUDA ${FEDCHAIN_HAVE_CUDA}, NCCL ${FEDCHAIN_HAVE_NCCL}")
