# Private one-node Slurm for the tests (sourced by run_slurm_test.sh and
# tests/sweep/slurm_sweep.sh): munged, slurmctld and slurmd with ports,
# state, spool, logs and sockets under $tmp (nothing in /etc or /run is
# touched; munged needs $tmp searchable by all: chmod 755).
#
#   tmp=$(mktemp -d); chmod 755 "$tmp"; source .../cluster.sh
#   if start_cluster; then ...; else echo "$why_no_slurm"; fi   # exports SLURM_CONF
#   stop_cluster                                                   # always, e.g. in an EXIT trap
#
# The node claims 2 CPUs (CR_Core) even on a 1-CPU machine (config_overrides).
# DAEMON_START_TIMEOUT (seconds, default 40) bounds the wait for an idle node.
: "${DAEMON_START_TIMEOUT:=40}"

stop_pidfile() {
  local file=$1 pid i
  [[ -s "$file" ]] || return 0
  pid=$(cat "$file")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  kill "$pid" 2>/dev/null || return 0
  for (( i = 0; i < 50; i++ )); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

free_port() {
  local p i
  for (( i = 0; i < 50; i++ )); do
    p=$(( 30000 + RANDOM % 25000 ))
    if command -v ss >/dev/null 2>&1; then
      if [[ -z "$(ss -Htan "( sport = :$p or sport = :$((p + 1)) )" 2>/dev/null)" ]]; then
        echo "$p"; return 0
      fi
    elif ! grep -qiE ":($(printf '%04X' "$p")|$(printf '%04X' $((p + 1)))) " /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
      echo "$p"; return 0
    fi
  done
  return 1
}

why_no_slurm=""
start_cluster() {
  local tool
  if [[ "$(id -u)" -ne 0 ]]; then
    why_no_slurm="not running as root: slurmd must be root to start job steps as their user (SlurmdUser=root)"
    return 1
  fi
  for tool in munged munge slurmctld slurmd sbatch sinfo scontrol scancel; do
    if ! command -v "$tool" >/dev/null 2>&1 && [[ ! -x "/usr/sbin/$tool" ]]; then
      why_no_slurm="'$tool' is not installed (Debian packages: slurm-wlm, munge)"
      return 1
    fi
  done
  local munged slurmctld slurmd
  munged=$(command -v munged || echo /usr/sbin/munged)
  slurmctld=$(command -v slurmctld || echo /usr/sbin/slurmctld)
  slurmd=$(command -v slurmd || echo /usr/sbin/slurmd)

  mkdir -p "$tmp/munge" "$tmp/state" "$tmp/spool" "$tmp/log"
  chmod 755 "$tmp/munge"
  head -c 1024 /dev/urandom > "$tmp/munge/munge.key"
  chmod 600 "$tmp/munge/munge.key"
  local sock="$tmp/munge/munge.socket"
  if ! "$munged" --key-file="$tmp/munge/munge.key" --socket="$sock" \
        --pid-file="$tmp/munge/munged.pid" --log-file="$tmp/munge/munged.log" \
        --seed-file="$tmp/munge/munged.seed" 2>"$tmp/munge/start.err"; then
    why_no_slurm="munged failed to start: $(cat "$tmp/munge/start.err")"
    return 1
  fi
  if ! munge -S "$sock" -n 2>/dev/null | unmunge -S "$sock" >/dev/null 2>&1; then
    why_no_slurm="munged started but a munge/unmunge round trip through $sock failed"
    return 1
  fi

  local port host
  port=$(free_port) || { why_no_slurm="no free TCP port pair found in 30000-55000"; return 1; }
  host=$(uname -n)
  host=${host%%.*}
  cat > "$tmp/slurm.conf" <<EOF
# Private one-node cluster for the dnn Slurm test.
ClusterName=dnntest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SwitchType=switch/none
MpiDefault=none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
MailProg=/bin/true
PlugStackConfig=$tmp/plugstack.conf
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 RealMemory=256 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  : > "$tmp/plugstack.conf"
  export SLURM_CONF="$tmp/slurm.conf"

  if ! "$slurmctld" -f "$SLURM_CONF" 2>"$tmp/log/slurmctld.start"; then
    why_no_slurm="slurmctld failed to start: $(cat "$tmp/log/slurmctld.start")"
    return 1
  fi
  if ! "$slurmd" -f "$SLURM_CONF" 2>"$tmp/log/slurmd.start"; then
    why_no_slurm="slurmd failed to start: $(cat "$tmp/log/slurmd.start")"
    return 1
  fi
  local t state=""
  for (( t = 0; t < DAEMON_START_TIMEOUT * 2; t++ )); do
    state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1 || true)
    [[ "$state" == idle ]] && return 0
    sleep 0.5
  done
  why_no_slurm="node not idle ${DAEMON_START_TIMEOUT}s after starting the daemons (sinfo state: '${state:-none}'); slurmd log: $(tail -n 3 "$tmp/log/slurmd.log" 2>/dev/null | tr '\n' ' ')"
  return 1
}

# Stops the daemons through their pid files (each may be absent).
stop_cluster() {
  stop_pidfile "$tmp/slurmd.pid"
  stop_pidfile "$tmp/slurmctld.pid"
  stop_pidfile "$tmp/munge/munged.pid"
}
