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
# different test runs on one machine must not answer each other's commands. They come
# from below the kernel's ephemeral range, where no outgoing connection (MPI's, sinfo's)
# can hold them, and no socket in any state may have them.
free_port_pair() {
  local ephemeral_low port
  ephemeral_low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  for port in $(shuf -i 10000-$((ephemeral_low - 2)) -n 40); do
    if [ -z "$(ss -Htan "( sport = :$port or sport = :$((port + 1)) )")" ]; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

# A port free when chosen can still be taken before slurmctld binds it: start again on
# other ports, a few times, when that is why the node did not come up.
start() {
  for _ in 1 2 3; do
    start_once && return 0
    grep -qs "Address already in use" "$dir"/log/*.log || break
    echo "slurm-local: a port was taken before the daemons bound it; retrying on others" >&2
    rm -rf "${dir:?}"/{state,spool,log,run,tmp} "$conf"
  done
  exit 1
}

start_once() {
  for tool in slurmctld slurmd munged munge unmunge sinfo srun sbatch; do
    command -v "$tool" >/dev/null || { echo "SKIPPED: $tool not installed (run scripts/setup-debian.sh)" >&2; exit 77; }
  done
  [ "$(id -u)" -eq 0 ] || { echo "SKIPPED: the local Slurm cluster needs root" >&2; exit 77; }
  local host port
  host=$(hostname -s)
  port=$(free_port_pair) || { echo "slurm-local: no two free TCP ports found" >&2; return 1; }
  mkdir -p "$dir"/{state,spool,log,run,tmp}
  cat >"$conf" <<CONF
ClusterName=fedchaintest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
# Job ids and TmpFS of our own too: PMIx keeps per-step folders named by job and step id
# under TmpFS, and two clusters' job 1 would share them.
FirstJobId=$port
TmpFS=$dir/tmp
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
AuthInfo=cred_expire=10,socket=/run/munge/fedchain-$port.socket
SchedulerParameters=sched_interval=5,bf_interval=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=8 Boards=1 SocketsPerBoard=1 CoresPerSocket=8 ThreadsPerCore=1 RealMemory=16000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF=$conf
  mkdir -p /run/munge && chown munge:munge /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey -c -f && chown munge:munge /etc/munge/munge.key
  fi
  # A munged of our own on its own socket (AuthInfo above): one shared with another
  # cluster would vanish when that cluster stops. Its files go where munged accepts them.
  local munge=/run/munge/fedchain-$port
  echo "$munge" >"$dir/run/munged.prefix"
  runuser -u munge -- /usr/sbin/munged --socket="$munge.socket" --pid-file="$munge.pid" \
    --log-file="$munge.log" --seed-file="$munge.seed"
  cat "$munge.pid" >"$dir/run/munged.pid"
  local until=$((SECONDS + 10))
  until munge -S "$munge.socket" -n </dev/null 2>/dev/null | unmunge -S "$munge.socket" >/dev/null 2>&1; do
    [ $SECONDS -lt $until ] || { echo "slurm-local: munged does not answer" >&2; stop; return 1; }
    sleep 0.1
  done
  slurmctld -c -i -f "$conf"
  slurmd -f "$conf"
  # A deadline in seconds: sinfo itself may wait seconds for a controller that is not up.
  local deadline=$((SECONDS + 30))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(sinfo -h -o %t 2>/dev/null)" = "idle" ] && { echo "export SLURM_CONF=$conf"; return 0; }
    grep -qs "fatal:" "$dir"/log/*.log && break
    sleep 0.5
  done
  echo "slurm-local: the node did not become idle; the daemons' logs:" >&2
  tail -n 20 "$dir"/log/*.log >&2 || true
  stop
  return 1
}

stop() {
  export SLURM_CONF=$conf
  [ -f "$conf" ] || return 0
  # Only a live controller can answer; asking a dead one waits out its timeouts.
  if [ -f "$dir/run/slurmctld.pid" ] && running "$(cat "$dir/run/slurmctld.pid")"; then
    scancel --full --quiet -u root 2>/dev/null || true
    scontrol shutdown 2>/dev/null || true
  fi
  local pids=()
  for pidfile in "$dir/run/slurmctld.pid" "$dir/run/slurmd.pid"; do
    [ -f "$pidfile" ] && pids+=("$(cat "$pidfile")")
  done
  end_processes "${pids[@]}"
  # munged last: the Slurm daemons authenticate through it until they are gone.
  if [ -f "$dir/run/munged.pid" ]; then
    end_processes "$(cat "$dir/run/munged.pid")"
    rm -f "$dir/run/munged.pid"
  fi
  if [ -f "$dir/run/munged.prefix" ]; then
    local munge
    munge=$(cat "$dir/run/munged.prefix")
    rm -f "$munge.socket" "$munge.socket.lock" "$munge.pid" "$munge.log" "$munge.seed"
    rm -f "$dir/run/munged.prefix"
  fi
}

# Running and not a zombie: this container's init may never reap what exits.
running() {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# TERM, then KILL after 10 s for a daemon stuck (slurmd retrying a dead munged ignores
# TERM for a long while); waits until they are gone, so the state folder can be removed.
end_processes() {
  [ $# -gt 0 ] || return 0
  local pid signal
  for signal in TERM KILL; do
    kill -s $signal "$@" 2>/dev/null || true
    for _ in $(seq 1 40); do
      local alive=0
      for pid in "$@"; do running "$pid" && alive=1; done
      [ $alive -eq 0 ] && return 0
      sleep 0.25
    done
  done
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *) echo "usage: slurm-local.sh start|stop DIR" >&2; exit 2 ;;
esac
