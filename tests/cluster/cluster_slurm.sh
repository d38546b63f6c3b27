# shellcheck shell=bash
# shellcheck disable=SC2154 # cluster_id, cluster_nodes: cluster_lib.sh's
# Slurm on the namespace test cluster (cluster_lib.sh; docs/slurm.md, "Multi-node"):
# slurmctld on the head, one slurmd on every node, each under the node's hostname and
# address, so that Slurm schedules real multi-node jobs. Source it after cluster_lib.sh:
#   cluster_slurm_up DIR      # DIR: config, state, logs; returns once every node is idle
#   cluster_slurm_do CMD...   # a Slurm client command (sbatch, squeue...) on the head
#   cluster_slurm_down        # cancels jobs, stops the daemons (cluster_down ends the rest)
# As tests/slurm/slurm-local.sh: root, slurm-wlm and munge; no systemd, no cgroups; a
# munged of its own on its own socket. Each node has a TmpFS of its own (a private mount
# over DIR/tmp): PMIx keeps per-node files there under names that are the same on every
# node, as /tmp would be on real nodes.

cluster_slurm_dir=""

# munged's files, where it accepts them (a folder only munge may write), by cluster.
cluster_munge() { echo "/run/munge/${cluster_id}"; }

# Running and not a zombie: this container's init may never reap what exits.
cluster_running() {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# cluster_slurm_check: exit 77 with the reason when Slurm cannot run here.
cluster_slurm_check() {
  local tool
  for tool in slurmctld slurmd munged munge unmunge sinfo srun sbatch scontrol runuser; do
    command -v "$tool" >/dev/null ||
      cluster_skip "$tool is not installed (slurm-wlm and munge, scripts/setup-debian.sh)"
  done
}

cluster_slurm_conf() {
  local dir=$1 i nodes
  nodes="$(cluster_host 0)"
  for i in $(seq 1 $((cluster_nodes - 1))); do nodes="$nodes,$(cluster_host "$i")"; done
  cat <<CONF
ClusterName=fedchaincluster
SlurmctldHost=$(cluster_host h)($(cluster_addr h))
SlurmctldPort=6817
SlurmdPort=6818
TmpFS=$dir/tmp
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=cred_expire=10,socket=$(cluster_munge).socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
ReturnToService=2
SlurmdParameters=config_overrides
KillWait=5
SchedulerParameters=sched_interval=5,bf_interval=5
CONF
  for i in $(seq 0 $((cluster_nodes - 1))); do
    echo "NodeName=$(cluster_host "$i") NodeAddr=$(cluster_addr "$i") CPUs=2 Boards=1" \
      "SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=4000 State=UNKNOWN"
  done
  echo "PartitionName=debug Nodes=$nodes Default=YES MaxTime=INFINITE State=UP"
}

# cluster_slurm_do CMD...: a Slurm client on the head, with this cluster's config.
cluster_slurm_do() {
  SLURM_CONF="$cluster_slurm_dir/slurm.conf" cluster_exec h "$@"
}

# cluster_slurm_daemon NODE COMMAND...: a daemon in node NODE's network namespace, under
# its hostname, with DIR/tmp-NODE mounted over DIR/tmp (the TmpFS) for it and what it
# starts. nsenter rather than `ip netns exec`, which mounts a /sys of its own without
# the cgroup file system that slurmd wants.
cluster_slurm_daemon() {
  local dir=$cluster_slurm_dir
  mkdir -p "$dir/tmp-$1"
  # shellcheck disable=SC2016 # expanded by the inner shell
  SLURM_CONF="$dir/slurm.conf" nsenter --net="/run/netns/$(cluster_ns "$1")" \
    unshare --uts --mount --propagation private \
    bash -c 'hostname "$0" && mount --bind "$1" "$2" && exec "${@:3}"' \
    "$(cluster_host "$1")" "$dir/tmp-$1" "$dir/tmp" "${@:2}"
}

cluster_slurm_up() {
  cluster_slurm_check
  cluster_slurm_dir=$1
  local dir=$1 i
  mkdir -p "$dir"/{state,spool,log,run,tmp}
  cluster_slurm_conf "$dir" >"$dir/slurm.conf"
  # munged in the root namespace: its socket is a file, which every namespace reaches.
  local munge
  munge=$(cluster_munge)
  mkdir -p /run/munge && chown munge:munge /run/munge
  if [ ! -s /etc/munge/munge.key ]; then mungekey -c -f && chown munge:munge /etc/munge/munge.key; fi
  runuser -u munge -- /usr/sbin/munged --socket="$munge.socket" --pid-file="$munge.pid" \
    --log-file="$munge.log" --seed-file="$munge.seed"
  cat "$munge.pid" >"$dir/munged.pid"
  cluster_slurm_daemon h slurmctld -c -i -f "$dir/slurm.conf"
  for i in $(seq 0 $((cluster_nodes - 1))); do
    mkdir -p "$dir/spool/$(cluster_host "$i")"
    cluster_slurm_daemon "$i" slurmd -f "$dir/slurm.conf"
  done
  local deadline=$((SECONDS + 40)) states
  while [ $SECONDS -lt $deadline ]; do
    states=$(cluster_slurm_do sinfo -h -N -o %t 2>/dev/null | sort -u | tr '\n' ' ')
    [ "$states" = "idle " ] && return 0
    grep -qs "fatal:" "$dir"/log/*.log && break
    sleep 0.5
  done
  echo "cluster-slurm: the nodes did not all become idle (states: ${states:-none}); logs:" >&2
  tail -n 20 "$dir"/log/*.log >&2 || true
  return 1
}

cluster_slurm_down() {
  [ -n "$cluster_slurm_dir" ] || return 0
  local dir=$cluster_slurm_dir pid munge
  if [ -f "$dir/run/slurmctld.pid" ] && cluster_running "$(cat "$dir/run/slurmctld.pid")"; then
    cluster_slurm_do timeout 10 scancel --full --quiet -u root 2>/dev/null || true
    cluster_slurm_do timeout 10 scontrol shutdown 2>/dev/null || true
  fi
  # The daemons live in the cluster's namespaces, where cluster_down ends whatever is
  # left; munged goes last, since they authenticate through it until they are gone.
  for pid in $(cat "$dir"/run/*.pid 2>/dev/null || true); do
    for _ in $(seq 1 40); do cluster_running "$pid" || break; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ -f "$dir/munged.pid" ]; then
    pid=$(cat "$dir/munged.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do cluster_running "$pid" || break; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$dir/munged.pid"
  fi
  munge=$(cluster_munge)
  rm -f "$munge.socket" "$munge.socket.lock" "$munge.pid" "$munge.log" "$munge.seed"
  cluster_slurm_dir=""
}
