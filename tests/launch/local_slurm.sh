#!/usr/bin/env bash
# A single-node Slurm cluster on 127.0.0.1 for tests: local_slurm.sh start DIR | stop DIR.
# start installs Debian's slurm-wlm and munge when absent, writes DIR/slurm.conf, starts munged,
# slurmctld and slurmd, and waits until the node is idle. stop kills the daemons by their PIDs.
set -euo pipefail
action=$1 dir=$2
case "$action" in
start)
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge) >"$dir.apt.log" 2>&1
  fi
  mkdir -p "$dir"/{state,spool,log,munge}
  host=$(hostname -s)
  key=/etc/munge/munge.key
  [ -f "$key" ] || mungekey --create --keyfile="$key" 2>/dev/null || create-munge-key -f
  munged --force --socket="$dir/munge/munge.socket" --pid-file="$dir/munge.pid" --log-file="$dir/log/munged.log" \
         --seed-file="$dir/munge/seed" 2>/dev/null
  cat >"$dir/slurm.conf" <<CONF
ClusterName=hrgantest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MinJobAge=2
ReturnToService=2
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF"
  for _ in $(seq 60); do
    sinfo -h -o %t 2>/dev/null | grep -qx idle && exit 0
    sleep 1
  done
  echo "the Slurm node did not become idle; see $dir/log" >&2
  exit 1
  ;;
stop)
  for pid in slurmd.pid slurmctld.pid munge.pid; do
    [ -f "$dir/$pid" ] && kill "$(cat "$dir/$pid")" 2>/dev/null || true
  done
  ;;
esac
