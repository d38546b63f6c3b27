# `fedchain data prepare cifar10|cifar100|mnist` and `fedchain data import` as users run them:
# files generated in the published formats (tests/support/make_image_files.py) and arrays
# saved by numpy itself (np.save, where numpy is installed); every bad input exits 2 naming
# the file and leaves no output. Usage: cmake -DFEDCHAIN=... -DPYTHON=... -DMAKE_FILES=...
# -DWORK_DIR=... -P this-file
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run_ok)
  execute_process(COMMAND "${FEDCHAIN}" ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "fedchain ${ARGN}: exit ${rc}: ${out}${err}")
  endif()
  set(last_out "${out}" PARENT_SCOPE)
endfunction()

# expect_refused(PATTERN OUT ARGS...): exit 2, stderr matches PATTERN, OUT not created.
function(expect_refused pattern out)
  execute_process(COMMAND "${FEDCHAIN}" ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE stdout
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 2)
    message(FATAL_ERROR "fedchain ${ARGN}: expected exit 2, got ${rc}: ${stdout}${err}")
  endif()
  if(NOT "${err}" MATCHES "${pattern}")
    message(FATAL_ERROR "fedchain ${ARGN}: '${err}' does not match '${pattern}'")
  endif()
  if(EXISTS "${out}")
    message(FATAL_ERROR "fedchain ${ARGN} left ${out} behind")
  endif()
  file(GLOB temps "${WORK_DIR}/*.tmp.*")
  if(temps)
    message(FATAL_ERROR "fedchain ${ARGN} left temporary files: ${temps}")
  endif()
endfunction()

execute_process(COMMAND "${PYTHON}" "${MAKE_FILES}" "${WORK_DIR}/src" 10 8 RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "make_image_files.py failed")
endif()

run_ok(data prepare cifar10 --from "${WORK_DIR}/src/cifar" --out "${WORK_DIR}/c10.h5")
if(NOT "${last_out}" MATCHES "50 train and 10 test images of 3 x 32 x 32")
  message(FATAL_ERROR "prepare cifar10 printed: ${last_out}")
endif()
run_ok(data show "${WORK_DIR}/c10.h5")
if(NOT "${last_out}" MATCHES "source cifar10" OR NOT "${last_out}" MATCHES "data_batch_5.bin")
  message(FATAL_ERROR "data show printed: ${last_out}")
endif()

expect_refused("pass --from DIR" "${WORK_DIR}/data/mnist.h5" data prepare mnist)
expect_refused("nowhere: no such directory" "${WORK_DIR}/c100.h5" data prepare cifar100
               --from "${WORK_DIR}/nowhere" --out "${WORK_DIR}/c100.h5")
file(MAKE_DIRECTORY "${WORK_DIR}/cut")
foreach(b 1 2 3 4 5)
  file(COPY_FILE "${WORK_DIR}/src/cifar/data_batch_${b}.bin" "${WORK_DIR}/cut/data_batch_${b}.bin")
endforeach()
# 6,000 bytes: record 1 is cut short.
execute_process(COMMAND "${PYTHON}" -c
  "import sys; d = open(sys.argv[1], 'rb').read(); open(sys.argv[2], 'wb').write(d[:6000])"
  "${WORK_DIR}/src/cifar/test_batch.bin" "${WORK_DIR}/cut/test_batch.bin")
expect_refused("test_batch.bin: truncated: 6000 bytes .*record 1 is cut short" "${WORK_DIR}/cut.h5"
               data prepare cifar10 --from "${WORK_DIR}/cut" --out "${WORK_DIR}/cut.h5")

set(npy "${WORK_DIR}/src/npy")
run_ok(data import --images "${npy}/x.npy" --labels "${npy}/y.npy" --clients "${npy}/c.npy"
       --test-percent 10 --name toy --out "${WORK_DIR}/toy.h5")
if(NOT "${last_out}" MATCHES "45 train and 5 test images of 3 x 8 x 8 .*client ids")
  message(FATAL_ERROR "data import printed: ${last_out}")
endif()
expect_refused("give --test-images and --test-labels, or --test-percent" "${WORK_DIR}/no.h5"
               data import --images "${npy}/x.npy" --labels "${npy}/y.npy" --out "${WORK_DIR}/no.h5")
expect_refused("absent.npy: no such file" "${WORK_DIR}/no.h5" data import --images
               "${npy}/x.npy" --labels "${npy}/absent.npy" --test-percent 10
               --out "${WORK_DIR}/no.h5")

# Arrays as numpy writes them: float32 channels-last images, uint8 labels, in .npy and HDF5.
execute_process(COMMAND "${PYTHON}" -c "import numpy, h5py" RESULT_VARIABLE no_numpy)
if(no_numpy)
  message("numpy or h5py missing: the np.save and h5py cases are not run")
else()
  execute_process(COMMAND "${PYTHON}" -c [=[
import sys, numpy as np, h5py
out = sys.argv[1]
rng = np.random.default_rng(3)
x = rng.random((12, 6, 5, 2), dtype=np.float32)
np.save(out + "/xf.npy", x)
np.save(out + "/yf.npy", np.arange(12, dtype=np.uint8) % 4)
np.save(out + "/short_c.npy", np.zeros(7, dtype=np.int16))
np.save(out + "/xbig.npy", x.astype(">f4"))
with h5py.File(out + "/arrays.h5", "w") as f:
    f["train/x"] = x
    f["train/y"] = np.arange(12, dtype=np.int32) % 4
]=] "${WORK_DIR}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "numpy could not write the arrays")
  endif()
  run_ok(data import --images "${WORK_DIR}/xf.npy" --labels "${WORK_DIR}/yf.npy" --channels-last
         --test-percent 25 --out "${WORK_DIR}/f.h5")
  if(NOT "${last_out}" MATCHES "9 train and 3 test images of 2 x 6 x 5 .*4 classes")
    message(FATAL_ERROR "import of np.save arrays printed: ${last_out}")
  endif()
  run_ok(data import --images "${WORK_DIR}/arrays.h5:train/x" --labels
         "${WORK_DIR}/arrays.h5:/train/y" --channels-last --test-percent 25
         --out "${WORK_DIR}/h.h5")
  execute_process(COMMAND "${PYTHON}" -c [=[
import sys, numpy as np, h5py
a, b = h5py.File(sys.argv[1] + "/f.h5"), h5py.File(sys.argv[1] + "/h.h5")
x = np.load(sys.argv[1] + "/xf.npy").transpose(0, 3, 1, 2)
keep = [i for i in range(12) if (i + 1) * 25 // 100 == i * 25 // 100]
assert a["train/images"].dtype == np.float32 and a["train/images"].shape == (9, 2, 6, 5)
assert np.array_equal(a["train/images"][:], x[keep]), "pixels moved"
assert np.array_equal(a["train/images"][:], b["train/images"][:]), ".npy and HDF5 differ"
assert list(a["test/labels"][:]) == [3, 3, 3], list(a["test/labels"][:])
]=] "${WORK_DIR}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "the imported arrays are not numpy's arrays transposed")
  endif()
  expect_refused("xbig.npy: dtype '>f4' is not read" "${WORK_DIR}/no.h5" data import --images
                 "${WORK_DIR}/xbig.npy" --labels "${WORK_DIR}/yf.npy" --test-percent 25
                 --out "${WORK_DIR}/no.h5")
  expect_refused("x.npy holds 50 images but .*short_c.npy holds 7 entries" "${WORK_DIR}/no.h5"
                 data import --images "${npy}/x.npy" --labels "${npy}/y.npy" --clients
                 "${WORK_DIR}/short_c.npy" --test-percent 10 --out "${WORK_DIR}/no.h5")
  expect_refused("arrays.h5: no dataset nothere" "${WORK_DIR}/no.h5" data import --images
                 "${WORK_DIR}/arrays.h5:nothere" --labels "${WORK_DIR}/yf.npy" --test-percent 25
                 --out "${WORK_DIR}/no.h5")
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
