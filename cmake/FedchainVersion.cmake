# Version facts that `fedchain --version` prints: version, git commit, build type, CUDA/NCCL.
execute_process(COMMAND git rev-parse --short=12 HEAD
                WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
                OUTPUT_VARIABLE FEDCHAIN_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE
                ERROR_QUIET)
if(NOT FEDCHAIN_GIT_COMMIT)
  set(FEDCHAIN_GIT_COMMIT unknown)
endif()
