# For the cli scripts that need the real Fashion-MNIST as fedchain prepares it.
# prepare_fashion_mnist(OUT): `fedchain data prepare` from ${IDX_DIR} into OUT in a fresh
# ${WORK_DIR}; where the dataset package is not installed it prints "skipped: ..." (ctest's
# SKIP_REGULAR_EXPRESSION) and returns from the calling script (a macro, so return() does).
macro(prepare_fashion_mnist out)
  if(NOT IS_DIRECTORY "${IDX_DIR}")
    message("skipped: ${IDX_DIR} is absent (install dataset-fashion-mnist)")
    return()
  endif()
  file(REMOVE_RECURSE "${WORK_DIR}")
  execute_process(
    COMMAND "${FEDCHAIN}" data prepare fashion-mnist --out "${out}" --idx-dir "${IDX_DIR}"
    RESULT_VARIABLE prepare_rc)
  if(NOT prepare_rc EQUAL 0)
    message(FATAL_ERROR "fedchain data prepare failed with exit ${prepare_rc}")
  endif()
endmacro()
