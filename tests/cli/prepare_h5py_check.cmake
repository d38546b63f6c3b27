# Prepares the real Fashion-MNIST with `fedchain data prepare` and reads it back with h5py,
# the way users will open it: shapes, dtypes, attributes, class counts. Prints "skipped:"
# (ctest's SKIP_REGULAR_EXPRESSION) where the dataset package or h5py is not installed.
# Usage: cmake -DFEDCHAIN=... -DPYTHON=... -DIDX_DIR=... -DWORK_DIR=... -P this-file
execute_process(COMMAND "${PYTHON}" -c "import h5py" RESULT_VARIABLE no_h5py)
if(no_h5py)
  message("skipped: ${PYTHON} cannot import h5py (install python3-h5py)")
  return()
endif()
include(${CMAKE_CURRENT_LIST_DIR}/prepared_dataset.cmake)
prepare_fashion_mnist("${WORK_DIR}/fm.h5")
set(check [=[
import sys, h5py
f = h5py.File(sys.argv[1], "r")
assert f.attrs["source"] == "fashion-mnist", f.attrs["source"]
assert f.attrs["num_classes"] == 10 and f.attrs["channels"] == 1
assert f.attrs["format_version"] == 2
sources = f.attrs["source_sha256"].splitlines()
assert len(sources) == 4, sources
for line in sources:
    digest, name = line.split("  ")
    assert len(digest) == 64 and name.endswith("-ubyte.gz"), line
for split, n in (("train", 60000), ("test", 10000)):
    images, labels = f[split + "/images"], f[split + "/labels"]
    assert images.shape == (n, 1, 28, 28) and str(images.dtype) == "uint8", images
    assert labels.shape == (n,) and str(labels.dtype) == "uint8", labels
    counts = [0] * 10
    for y in labels[:]:
        counts[y] += 1
    assert counts == [n // 10] * 10, counts
print("h5py reads", sys.argv[1], "as expected")
]=])
execute_process(COMMAND "${PYTHON}" -c "${check}" "${WORK_DIR}/fm.h5" RESULT_VARIABLE rc)
file(REMOVE_RECURSE "${WORK_DIR}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "h5py could not read the prepared file as expected")
endif()
