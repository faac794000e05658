#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for trying `--platform=slurm` by hand (not used by CI).
#
#   apt-get install -y slurm-wlm munge [slurmdbd mariadb-server]    # Debian packages, as root
#   scripts/slurm_local.sh start      # writes $SLURM_LOCAL_DIR/slurm.conf, starts munged, slurmctld, slurmd
#   sinfo; python open_lth.py lottery ... --platform=slurm
#   scripts/slurm_local.sh stop       # stops the daemons it started (by their pid files)
#
# With slurmdbd and mariadb-server installed, accounting is switched on too (sacct works: submitit uses it to notice
# jobs that ended without a result, e.g. after scancel); without them sacct says accounting is disabled.
# Everything lives in $SLURM_LOCAL_DIR (default /tmp/slurm_local); the config is pointed at with SLURM_CONF, so print
# `export SLURM_CONF=...` and use it in the shell that runs sbatch/squeue.
set -euo pipefail

DIR=${SLURM_LOCAL_DIR:-/tmp/slurm_local}
CONF=$DIR/slurm.conf
HOST=$(hostname -s)
CPUS=$(nproc)
MEMORY=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))

write_config() {
  mkdir -p "$DIR"/state "$DIR"/spool "$DIR"/munge "$DIR"/mysql
  local accounting="AccountingStorageType=accounting_storage/none"
  if have_accounting; then
    accounting="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/linux"
  fi
  cat > "$CONF" <<EOF
ClusterName=openlth
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
$accounting
JobRequeue=1
KillWait=10
NodeName=$HOST CPUs=$CPUS RealMemory=$MEMORY State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
  if have_accounting; then
    cat > "$DIR"/slurmdbd.conf <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=$DIR/slurmdbd.pid
LogFile=$DIR/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=slurm_acct_db
StoragePort=3306
EOF
    chmod 600 "$DIR"/slurmdbd.conf
  fi
}

have_accounting() { command -v slurmdbd >/dev/null && command -v mysqld >/dev/null; }

wait_for() {  # wait_for <seconds> <command...>
  local seconds=$1; shift
  for _ in $(seq "$seconds"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  "$@"
}

start() {
  write_config
  export SLURM_CONF=$CONF
  [ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
  chown root:root /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
  munged --force --key-file=/etc/munge/munge.key --socket="$DIR"/munge/munge.socket.2 \
         --pid-file="$DIR"/munge/munged.pid --log-file="$DIR"/munge/munged.log --seed-file="$DIR"/munge/seed
  mkdir -p /run/munge && ln -sf "$DIR"/munge/munge.socket.2 /run/munge/munge.socket.2
  wait_for 10 munge -n
  if have_accounting; then
    if [ ! -d "$DIR"/mysql/mysql ]; then
      mariadb-install-db --user=root --datadir="$DIR"/mysql --auth-root-authentication-method=normal >/dev/null
    fi
    mysqld_safe --user=root --datadir="$DIR"/mysql --socket="$DIR"/mysql.sock --port=3306 \
                --pid-file="$DIR"/mysqld.pid --skip-grant-tables >/dev/null 2>&1 &
    wait_for 30 mysqladmin --socket="$DIR"/mysql.sock ping
    mkdir -p /run/mysqld && ln -sf "$DIR"/mysql.sock /run/mysqld/mysqld.sock
    slurmdbd  # Reads slurmdbd.conf beside $SLURM_CONF.
    wait_for 30 sacctmgr -i list cluster
    sacctmgr -i add cluster openlth >/dev/null 2>&1 || true
  fi
  slurmctld -f "$CONF"
  slurmd -f "$CONF"
  wait_for 30 bash -c "sinfo -h -o %T | grep -qx idle"
  sinfo
  echo "export SLURM_CONF=$CONF"
}

stop() {
  for daemon in slurmd slurmctld slurmdbd; do
    [ -s "$DIR/$daemon.pid" ] && kill "$(cat "$DIR/$daemon.pid")" 2>/dev/null || true
  done
  [ -s "$DIR"/mysqld.pid ] && kill "$(cat "$DIR"/mysqld.pid)" 2>/dev/null || true
  [ -s "$DIR"/munge/munged.pid ] && kill "$(cat "$DIR"/munge/munged.pid)" 2>/dev/null || true
  echo stopped
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
