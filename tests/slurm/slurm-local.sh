#!/usr/bin/env bash
# A real one-node Slurm cluster under a temp folder, for tests (label slurm).
#   eval "$(tests/slurm/slurm-local.sh start DIR)"   # exports SLURM_CONF, starts the daemons
#   tests/slurm/slurm-local.sh stop DIR              # cancels jobs, stops only what it started
# Needs root, slurm-wlm and munge (scripts/setup-debian.sh). No systemd, no cgroups.
# Exit 77 from `start` means Slurm cannot run here (packages missing, not root): skip.
set -euo pipefail

cmd=${1:?usage: slurm-local.sh start|stop DIR}
dir=$(realpath -m "${2:?usage: slurm-local.sh start|stop DIR}")
conf=$dir/slurm.conf

# Two consecutive free TCP ports (slurmctld, slurmd): clusters started side by side by
# different test runs on one machine must not answer each other's commands.
free_port_pair() {
  local port
  for port in $(shuf -i 20000-39998 -n 40); do
    if [ -z "$(ss -Hltn "( sport = :$port or sport = :$((port + 1)) )")" ]; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

start() {
  for tool in slurmctld slurmd munged sinfo srun sbatch; do
    command -v "$tool" >/dev/null || { echo "SKIPPED: $tool not installed (run scripts/setup-debian.sh)" >&2; exit 77; }
  done
  [ "$(id -u)" -eq 0 ] || { echo "SKIPPED: the local Slurm cluster needs root" >&2; exit 77; }
  local host port
  host=$(hostname -s)
  port=$(free_port_pair) || { echo "slurm-local: no two free TCP ports found" >&2; exit 1; }
  mkdir -p "$dir"/{state,spool,log,run}
  cat >"$conf" <<CONF
ClusterName=fedchaintest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
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
AuthInfo=cred_expire=10
SchedulerParameters=sched_interval=5,bf_interval=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=8 Boards=1 SocketsPerBoard=1 CoresPerSocket=8 ThreadsPerCore=1 RealMemory=16000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF=$conf
  mkdir -p /run/munge && chown munge:munge /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey -c -f && chown munge:munge /etc/munge/munge.key
  fi
  # A munged already running (another test, the host) serves us as well; one we start
  # is recorded so that stop ends only it.
  if ! pgrep -x munged >/dev/null; then
    runuser -u munge -- /usr/sbin/munged
    cat /run/munge/munged.pid >"$dir/run/munged.pid"
  fi
  slurmctld -c -i -f "$conf"
  slurmd -f "$conf"
  for _ in $(seq 1 60); do
    [ "$(sinfo -h -o %t 2>/dev/null)" = "idle" ] && { echo "export SLURM_CONF=$conf"; return 0; }
    sleep 0.5
  done
  echo "slurm-local: the node did not become idle; logs in $dir/log" >&2
  stop
  exit 1
}

stop() {
  export SLURM_CONF=$conf
  [ -f "$conf" ] || return 0
  scancel --full --quiet -u root 2>/dev/null || true
  scontrol shutdown 2>/dev/null || true
  local pids=()
  for pidfile in "$dir/run/slurmctld.pid" "$dir/run/slurmd.pid"; do
    [ -f "$pidfile" ] && pids+=("$(cat "$pidfile")")
  done
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
  # Wait for the daemons to exit, so their state folder can be removed after us.
  for _ in $(seq 1 40); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 0.25
  done
  if [ -f "$dir/run/munged.pid" ]; then
    kill "$(cat "$dir/run/munged.pid")" 2>/dev/null || true
    rm -f "$dir/run/munged.pid"
  fi
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *) echo "usage: slurm-local.sh start|stop DIR" >&2; exit 2 ;;
esac
