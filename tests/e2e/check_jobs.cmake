# Every job file shipped in jobs/ must pass `fedchain job check`: a job a user copies must
# not fail on a key we renamed. Usage: cmake -DFEDCHAIN=... -DJOBS_DIR=... -P check_jobs.cmake
file(GLOB jobs "${JOBS_DIR}/*.toml")
list(LENGTH jobs count)
if(count EQUAL 0)
  message(FATAL_ERROR "no job files found in ${JOBS_DIR}")
endif()
foreach(job IN LISTS jobs)
  execute_process(COMMAND ${FEDCHAIN} job check ${job} RESULT_VARIABLE rc
                  OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${job} does not pass `fedchain job check` (exit ${rc}):\n${out}${err}")
  endif()
endforeach()
message("${count} job files pass `fedchain job check`")
