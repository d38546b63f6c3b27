# Shared by the interleaved peer comparisons (bench/flower/run.sh, bench/mpi4py/run.sh):
# waiting for a quiet machine, marking runs that a compiler or ctest disturbed, and keeping
# each system's best run. Source it after setting quiet_wait (1: wait) and work (a temp
# folder); it sets watcher.
watcher=
declare -A best best_any quiet

# note_run SYSTEM SECONDS LOAD: the best over every run, and over the quiet ones (a load
# without a "(busy)" or "(disturbed)" mark).
note_run() {
  best_any[$1]=$(/usr/bin/python3 -c "print(min(float('${best_any[$1]:-inf}'), $2))")
  if [[ "$3" != *"("* ]]; then
    best[$1]=$(/usr/bin/python3 -c "print(min(float('${best[$1]:-inf}'), $2))")
    quiet[$1]=$((${quiet[$1]:-0} + 1))
  fi
}

# settle_best SYSTEM...: a system without a quiet run takes its best over every run.
settle_best() {
  local system
  for system in "$@"; do
    if [ -z "${best[$system]:-}" ]; then best[$system]=${best_any[$system]}; fi
  done
}

wait_quiet() {  # prints the 1-minute load the run starts at; "(busy)" if it never got quiet
  local waited=0 load
  while [ "$quiet_wait" = 1 ]; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    if ! pgrep -f 'cc1plus|ninja|ctest' >/dev/null &&
      /usr/bin/python3 -c "import sys; sys.exit(0 if $load < 1.0 else 1)"; then
      break
    fi
    if [ "$waited" -ge 1500 ]; then
      echo "$load (busy)"
      return
    fi
    sleep 20
    waited=$((waited + 20))
  done
  cut -d' ' -f1 /proc/loadavg
}

watch_start() {  # touches $work/disturbed if a compiler or ctest runs before watch_stop
  rm -f "$work/disturbed"
  (while :; do
    if pgrep -f 'cc1plus|ninja|ctest' >/dev/null; then touch "$work/disturbed"; fi
    sleep 2
  done) &
  watcher=$!
}
watch_stop() {
  kill "$watcher"
  wait "$watcher" 2>/dev/null || true
  watcher=
}
