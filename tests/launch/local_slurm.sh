#!/usr/bin/env bash
# A Slurm cluster on 127.0.0.1 for tests: local_slurm.sh start DIR [NODES] | stop DIR.
# start installs Debian's slurm-wlm and munge when absent, writes DIR/slurm.conf, starts munged,
# slurmctld and one slurmd per node (node1..nodeN: distinct NodeName and port on this one host),
# and waits until every node is idle. stop cancels the jobs and kills the daemons by their PIDs.
set -euo pipefail
action=$1 dir=$2 nodes=${3:-1}
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
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=10
# cred_expire: also how long a requeued job waits before it may start again (default 120 s)
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
SlurmctldPort=16817
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MinJobAge=2
ReturnToService=2
MpiDefault=none
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  for n in $(seq "$nodes"); do
    echo "NodeName=node$n NodeHostname=$host NodeAddr=127.0.0.1 Port=$((16817 + n)) CPUs=$(nproc) State=UNKNOWN"
    mkdir -p "$dir/spool/node$n"
  done >>"$dir/slurm.conf"
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -f "$SLURM_CONF"
  for n in $(seq "$nodes"); do slurmd -f "$SLURM_CONF" -N "node$n"; done
  for _ in $(seq 60); do
    [ "$(sinfo -h -N -o %t 2>/dev/null | grep -cx idle)" -eq "$nodes" ] && exit 0
    sleep 1
  done
  echo "the Slurm nodes did not all become idle; see $dir/log" >&2
  exit 1
  ;;
stop)
  # Jobs first: their slurmstepd and tasks outlive a killed slurmd.
  export SLURM_CONF="$dir/slurm.conf"
  scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
  for _ in $(seq 30); do
    [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
    sleep 1
  done
  for pid in "$dir"/slurmd-*.pid "$dir/slurmctld.pid" "$dir/munge.pid"; do
    [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
  done
  ;;
esac
