# Runs COMMAND (a ;-list) and passes only when it exits non-zero AND its output matches
# EXPECT (a regex). Used to prove that a failure is detected, and detected for the right
# reason. Usage: cmake -DCOMMAND=... -DEXPECT=... -P expect_failure.cmake
execute_process(COMMAND ${COMMAND} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(rc EQUAL 0)
  message(FATAL_ERROR "expected a non-zero exit, got 0")
endif()
if(NOT "${out}${err}" MATCHES "${EXPECT}")
  message(FATAL_ERROR "exit ${rc} as expected, but the output does not match '${EXPECT}'")
endif()
message("expected failure seen: exit ${rc}, output matches '${EXPECT}'")
