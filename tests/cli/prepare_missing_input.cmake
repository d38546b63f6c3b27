# Runs the real `fedchain data prepare` with an --idx-dir that does not exist and passes
# only if it exits 2, says which directory is missing, and writes no output (not even a
# temp file). Usage: cmake -DFEDCHAIN=path/to/fedchain -DWORK_DIR=dir -P this-file
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
execute_process(
  COMMAND "${FEDCHAIN}" data prepare fashion-mnist --out "${WORK_DIR}/out/fm.h5"
          --idx-dir "${WORK_DIR}/no-such-dir"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("exit ${rc}: ${out}${err}")
if(NOT rc EQUAL 2)
  message(FATAL_ERROR "expected exit code 2, got ${rc}")
endif()
if(NOT "${err}" MATCHES "no-such-dir: no such directory")
  message(FATAL_ERROR "the message does not name the missing directory")
endif()
file(GLOB_RECURSE left "${WORK_DIR}/*")
if(left)
  message(FATAL_ERROR "prepare left files behind: ${left}")
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
