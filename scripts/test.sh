#!/usr/bin/env bash
# The whole test suite from a fresh checkout: install dependencies (apt, idempotent),
# configure, build and run every ctest test. Exits non-zero on any failure.
#   bash scripts/test.sh            # the CI preset: release build, warnings are errors
#   PRESET=debug bash scripts/test.sh
#   CTEST_ARGS="-L unit" bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${PRESET:-ci}

bash scripts/setup-debian.sh

# Open MPI refuses root without these; CI and the build containers run as root.
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_mpi_yield_when_idle=1

jobs=$(nproc)
echo "test.sh: configure and build (preset $preset, $jobs jobs)"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs"

echo "test.sh: run the test suite"
# shellcheck disable=SC2086
ctest --preset "$preset" -j "$jobs" ${CTEST_ARGS:-}
