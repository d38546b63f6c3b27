# Shared by the end-to-end test scripts (source it): Open MPI as root and oversubscribed,
# a failure helper, and the per-height state roots of a run.

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1

fail() { echo "FAIL: $*"; exit 1; }

# "height state_root" for every row of RUN_DIR/metrics.csv, the column found by name.
roots() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "state_root") c = i; next }
           { print $1, $c }' "$1/metrics.csv"
}
