# shellcheck shell=bash
# A test cluster of N "nodes" on one machine (docs/slurm.md, "Multi-node"): each node is a
# Linux network namespace with its own hostname (a UTS namespace), joined to the others by
# a bridge through a veth pair; Open MPI runs over TCP between them. Source it, then:
#   cluster_up WORK NODES          # nodes fcc<pid>n0.. at 10.223.0.1.., a head fcc<pid>nh
#   cluster_mpirun NP ARGS...      # mpirun on the head, its daemons on the nodes
#   cluster_link down|up NODE      # cut (or restore) a node's cable: its veth on the bridge
#   cluster_down                   # everything cluster_up made, and every process in it
# cluster_up exits 77 (skip) with the reason when namespaces cannot be made here. The
# caller sets `trap cluster_down EXIT` (cluster_up does so when no EXIT trap is set).
# Needs root, iproute2 and util-linux's unshare. Names carry the harness's pid, so runs
# side by side do not collide; a run killed with SIGKILL leaves its names behind, and the
# next cluster_up removes those whose pid is gone.

cluster_lib_dir=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
cluster_subnet=10.223.0.0/24
cluster_nodes=0
cluster_id=""
cluster_work=""

cluster_skip() {
  echo "SKIPPED: $*" >&2
  exit 77
}

# The names of node I's namespace and hostname, and of its veth end on the bridge; node
# h is the head.
cluster_ns() { echo "${cluster_id}n$1"; }
cluster_host() { echo "${cluster_id}n$1"; }
cluster_veth() { echo "${cluster_id}v$1"; }
cluster_addr() { if [ "$1" = h ]; then echo 10.223.0.254; else echo "10.223.0.$(($1 + 1))"; fi; }

# Whether this machine lets us make namespaces, bridges and veth pairs: tried for real
# with a throwaway namespace, since capabilities, seccomp and read-only /run all refuse
# differently.
cluster_check() {
  [ "$(id -u)" -eq 0 ] || cluster_skip "the cluster harness needs root (ip netns add)"
  local tool
  for tool in ip unshare nsenter hostname; do
    command -v "$tool" >/dev/null || cluster_skip "$tool is not installed (iproute2, util-linux)"
  done
  local probe="fcc$$probe" out
  if ! out=$(ip netns add "$probe" 2>&1); then
    cluster_skip "ip netns add is not permitted here: $out"
  fi
  if ! out=$(ip netns exec "$probe" unshare --uts true 2>&1); then
    ip netns del "$probe" 2>/dev/null || true
    cluster_skip "cannot run in a namespace (ip netns exec, unshare --uts): $out"
  fi
  if ! out=$(ip link add "fcc$$pb" type bridge 2>&1); then
    ip netns del "$probe" 2>/dev/null || true
    cluster_skip "cannot make a bridge: $out"
  fi
  ip link del "fcc$$pb" 2>/dev/null || true
  ip netns del "$probe"
}

# Namespaces and links of earlier runs killed before their cleanup, whose pid is gone.
cluster_reap_stale() {
  local name pid
  for name in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep -E '^fcc[0-9]+n([0-9]+|h)$'); do
    pid=${name#fcc}
    pid=${pid%n*}
    kill -0 "$pid" 2>/dev/null && continue
    cluster_kill_in "$name"
    ip netns del "$name" 2>/dev/null || true
    rm -rf "/etc/netns/${name:?}"
  done
  for name in $(ip -o link show 2>/dev/null | awk -F': ' '{ print $2 }' | cut -d@ -f1 |
    grep -E '^fcc[0-9]+(br|v([0-9]+|h))$'); do
    pid=${name#fcc}
    pid=${pid%%[bv]*}
    kill -0 "$pid" 2>/dev/null || ip link del "$name" 2>/dev/null || true
  done
}

# Every process in namespace NS: TERM, then KILL, until none is left.
cluster_kill_in() {
  local ns=$1 pids tries
  for tries in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086
    if [ "$tries" -le 4 ]; then kill -TERM $pids 2>/dev/null || true; else kill -KILL $pids 2>/dev/null || true; fi
    sleep 0.25
  done
}

# cluster_up WORK NODES: the namespaces (a head, where mpirun runs as on a login or batch
# node, and NODES compute nodes), the bridge, one veth pair per namespace with its
# address, loopback up, /etc/netns/NS/hosts naming every node (`ip netns exec` mounts it
# over /etc/hosts), and the hostfile and agent map for mpirun.
cluster_up() {
  cluster_work=$1
  cluster_nodes=$2
  cluster_check
  cluster_reap_stale
  cluster_id="fcc$$"
  [ -n "$(trap -p EXIT)" ] || trap cluster_down EXIT
  mkdir -p "$cluster_work/ompi-tmp"
  ip link add "${cluster_id}br" type bridge
  ip link set "${cluster_id}br" up
  local i
  for i in h $(seq 0 $((cluster_nodes - 1))); do
    echo "$(cluster_addr "$i") $(cluster_host "$i")"
  done >"$cluster_work/hosts"
  echo "127.0.0.1 localhost" >>"$cluster_work/hosts"
  : >"$cluster_work/hostfile"
  : >"$cluster_work/nodes.map"
  : >"$cluster_work/netns.inodes"
  for i in h $(seq 0 $((cluster_nodes - 1))); do
    cluster_add_node "$i"
    [ "$i" = h ] && continue
    echo "$(cluster_host "$i") slots=64" >>"$cluster_work/hostfile"
    echo "$(cluster_host "$i") $(cluster_ns "$i")" >>"$cluster_work/nodes.map"
  done
  # mpirun's kernel gives up on a peer after about 13 s of unanswered retransmissions
  # (Linux's default, 15 retries, takes about 15 minutes): after MPI_Abort mpirun tells
  # every daemon to end its ranks, and only a failed connection tells it that a lost node's
  # daemon never will (docs/slurm.md, "Multi-node").
  ip netns exec "$(cluster_ns h)" sysctl -qw net.ipv4.tcp_retries2=5
  cluster_wait_reachable
}

# cluster_add_node I: node I's namespace (I = h: the head), wired to the bridge.
cluster_add_node() {
  local ns veth
  ns=$(cluster_ns "$1")
  veth=$(cluster_veth "$1")
  ip netns add "$ns"
  stat -L -c %i "/run/netns/$ns" >>"$cluster_work/netns.inodes"
  mkdir -p "/etc/netns/$ns"
  cp "$cluster_work/hosts" "/etc/netns/$ns/hosts"
  ip link add "$veth" type veth peer name eth0 netns "$ns"
  ip link set "$veth" master "${cluster_id}br" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$(cluster_addr "$1")/24" dev eth0
  ip -n "$ns" link set eth0 up
}

# Every node answers on TCP from the head (the bridge forwards once its ports are up; a
# host whose firewall drops bridged traffic never gets there: skipped with the reason).
cluster_wait_reachable() {
  local i deadline=$((SECONDS + 10))
  for i in $(seq 0 $((cluster_nodes - 1))); do
    # Port 1 listens nowhere: "refused" is the answer of a reachable node.
    until [[ "$(cluster_exec h timeout 1 bash -c "exec 3<>/dev/tcp/$(cluster_addr "$i")/1" \
      2>&1)" == *refused* ]]; do
      if [ $SECONDS -ge $deadline ]; then
        cluster_down
        cluster_skip "node $i ($(cluster_addr "$i")) is unreachable from the head over the bridge (a firewall on bridged traffic?)"
      fi
      sleep 0.1
    done
  done
}

# cluster_exec NODE COMMAND...: COMMAND in node NODE's namespace (h: the head), under its
# hostname.
cluster_exec() {
  # shellcheck disable=SC2016 # expanded by the inner shell
  ip netns exec "$(cluster_ns "$1")" unshare --uts \
    bash -c 'hostname "$0" && exec "$@"' "$(cluster_host "$1")" "${@:2}"
}

# The Open MPI settings of a multi-node job: TCP only between ranks (shared memory would
# carry every message between ranks of one node, and hide the network from them), both
# the MPI and the runtime's traffic on the cluster's subnet, every daemon started by the
# agent from the head (no tree spawn).
cluster_mpi_args() {
  echo --hostfile "$cluster_work/hostfile" \
    --mca plm_rsh_agent "$cluster_lib_dir/launcher-agent.sh" --mca plm_rsh_no_tree_spawn 1 \
    --mca btl tcp,self --mca btl_tcp_if_include "$cluster_subnet" \
    --mca oob_tcp_if_include "$cluster_subnet" --mca orte_tmpdir_base "$cluster_work/ompi-tmp"
}

# cluster_mpirun NP ARGS...: mpirun on the head; `--npernode K` in ARGS spreads the ranks.
# Ended (exit 124) after cluster_timeout seconds (default 600), so a hang fails a test.
cluster_mpirun() {
  local np=$1
  shift
  # shellcheck disable=SC2046,SC2016 # the words of cluster_mpi_args; the inner shell's $0
  FEDCHAIN_CLUSTER_MAP="$cluster_work/nodes.map" timeout "${cluster_timeout:-600}" \
    ip netns exec "$(cluster_ns h)" unshare --uts bash -c 'hostname "$0" && exec "$@"' \
    "$(cluster_host h)" mpirun -n "$np" --oversubscribe $(cluster_mpi_args) "$@"
}

# cluster_link down|up NODE: the node's cable pulled (its veth on the bridge down: no
# packet in or out, no reset, as when a switch port dies) or plugged back. Plugged back,
# the addresses that failed to resolve meanwhile are forgotten everywhere (the kernel would
# otherwise refuse connections to them for a while), and the node answers before it returns.
cluster_link() {
  ip link set "$(cluster_veth "$2")" "$1"
  [ "$1" = up ] || return 0
  local i
  for i in h $(seq 0 $((cluster_nodes - 1))); do ip -n "$(cluster_ns "$i")" neigh flush all; done
  cluster_wait_reachable
}

# cluster_kill_node NODE: every process left in the node (a lost node's daemon and ranks
# live on, cut off, until its network comes back).
cluster_kill_node() {
  cluster_kill_in "$(cluster_ns "$1")"
}

cluster_down() {
  [ -n "$cluster_id" ] || return 0
  local i ns
  for i in h $(seq 0 $((cluster_nodes - 1))); do
    ns=$(cluster_ns "$i")
    cluster_kill_in "$ns"
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "/etc/netns/${ns:?}"
    ip link del "$(cluster_veth "$i")" 2>/dev/null || true
  done
  ip link del "${cluster_id}br" 2>/dev/null || true
  rm -rf "${cluster_work:?}/ompi-tmp"
  cluster_id=""
}

# cluster_leftovers ID WORK: what cluster ID (made with work folder WORK) left behind:
# namespaces, links, /etc/netns folders, and processes still in one of its network
# namespaces, one per line; nothing when the cleanup was complete. A deleted namespace
# lives on while a process is in it: such processes are found by the namespaces' inodes,
# and told from those of a namespace made since with a freed inode by their hostname.
cluster_leftovers() {
  local id=$1 work=$2 pid inode
  ip netns list 2>/dev/null | awk '{ print "namespace " $1 }' | grep -E " ${id}n([0-9]+|h)$" || true
  ip -o link show 2>/dev/null | awk -F': ' '{ print "link " $2 }' | cut -d@ -f1 |
    grep -E " ${id}(br|v([0-9]+|h))$" || true
  find /etc/netns -maxdepth 1 -name "${id}n*" 2>/dev/null | sed 's/^/folder /' || true
  [ -s "$work/netns.inodes" ] || return 0
  for pid in /proc/[0-9]*; do
    inode=$(readlink "$pid/ns/net" 2>/dev/null) || continue
    inode=${inode#net:[}
    grep -qx "${inode%]}" "$work/netns.inodes" || continue
    [[ "$(nsenter -t "${pid#/proc/}" -u hostname 2>/dev/null)" == "${id}n"* ]] || continue
    echo "process ${pid#/proc/} $(tr '\0' ' ' <"$pid/cmdline" 2>/dev/null)"
  done
  return 0
}
