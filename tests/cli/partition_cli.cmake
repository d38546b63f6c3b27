# Runs the real `fedchain data partition` on the prepared Fashion-MNIST: the summary and the
# first rows at 10,000 clients, --ranks as the old name of --clients, the old spellings of
# label_shards, and exit 2 naming what to change for impossible requests. Prints "skipped:"
# (ctest's SKIP_REGULAR_EXPRESSION) where the dataset package is not installed.
# Usage: cmake -DFEDCHAIN=... -DIDX_DIR=... -DWORK_DIR=... -P this-file
include(${CMAKE_CURRENT_LIST_DIR}/prepared_dataset.cmake)
prepare_fashion_mnist("${WORK_DIR}/fm.h5")
file(WRITE "${WORK_DIR}/job.toml"
     "[job]\nseed = 42\nranks = 4\n[data]\npath = \"${WORK_DIR}/fm.h5\"\n")

# partition(EXPECTED_EXIT OUT_VAR ARGS...): runs `fedchain data partition job.toml ARGS...`,
# fails unless it exits EXPECTED_EXIT, and leaves stdout and stderr together in OUT_VAR.
function(partition expected out_var)
  execute_process(COMMAND "${FEDCHAIN}" data partition "${WORK_DIR}/job.toml" ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL expected)
    message(FATAL_ERROR
            "data partition ${ARGN}: expected exit ${expected}, got ${rc}:\n${out}${err}")
  endif()
  set(${out_var} "${out}${err}" PARENT_SCOPE)
endfunction()

function(expect text pattern)
  if(NOT text MATCHES "${pattern}")
    message(FATAL_ERROR "expected to match '${pattern}' in:\n${text}")
  endif()
endfunction()

partition(0 big --clients 10000 --set data.partition=label_shards)
expect("${big}" "label_shards over 10000 clients, seed 42: 60000 samples of 10 classes")
expect("${big}" "samples +6 +6 +6\n")
expect("${big}" "classes \\(non-zero\\) +2 +2 +2\n")
expect("${big}" "the first 20 of 10000 clients")
expect("${big}" "\n +19 +6 ")
if(big MATCHES "\n +20 +6 ")
  message(FATAL_ERROR "more than the first 20 rows printed:\n${big}")
endif()

# The old names: --ranks for --clients, shards and classes_per_rank for label_shards and
# classes_per_client; the same output.
partition(0 new --clients 30 --set data.partition=label_shards --set data.classes_per_client=3)
partition(0 old --ranks 30 --set data.partition=shards --set data.classes_per_rank=3)
if(NOT new STREQUAL old)
  message(FATAL_ERROR "the old spellings give another partition:\n${new}\n---\n${old}")
endif()
expect("${new}" "\n +29 +2000 ")

partition(0 default --set data.partition=quantity --set data.alpha=0.3)
expect("${default}" "quantity over 4 clients")

partition(2 too_many --clients 70000)
expect("${too_many}" "60000 training samples cannot give each of 70000 clients at least one")
expect("${too_many}" "clients.total")
partition(2 too_many_classes --clients 10 --set data.partition=label_shards
          --set data.classes_per_client=11)
expect("${too_many_classes}" "data.classes_per_client = 11 must be between 1 and the dataset's 10")
partition(2 starved --clients 10000 --set data.partition=dirichlet --set data.alpha=0.5)
expect("${starved}" "client [0-9]+ first\\); raise data.alpha = 0.5")
file(REMOVE_RECURSE "${WORK_DIR}")
message("data partition: summaries, old names and refusals as expected")
