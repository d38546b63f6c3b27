#!/usr/bin/env bash
# Open MPI's launcher agent for the namespace test cluster (tests/cluster/cluster_lib.sh),
# in ssh's place (`mpirun --mca plm_rsh_agent launcher-agent.sh`): mpirun calls
# `launcher-agent.sh HOST COMMAND...` to start its daemon (orted) on HOST. The agent finds
# HOST's network namespace in the map file named by FEDCHAIN_CLUSTER_MAP (lines "HOST
# NAMESPACE") and runs COMMAND there, under HOST as hostname, through a shell as sshd
# would (Open MPI quotes the daemon's arguments for one).
set -euo pipefail
host=$1
shift
map=${FEDCHAIN_CLUSTER_MAP:?launcher-agent.sh: FEDCHAIN_CLUSTER_MAP names no node map}
ns=$(awk -v h="$host" '$1 == h { print $2 }' "$map")
[ -n "$ns" ] || { echo "launcher-agent.sh: no node $host in $map" >&2; exit 255; }
# shellcheck disable=SC2016 # expanded by the inner shell
exec ip netns exec "$ns" unshare --uts bash -c 'hostname "$0" && eval "$1"' "$host" "$*"
