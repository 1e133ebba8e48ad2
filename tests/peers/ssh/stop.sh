#!/usr/bin/env bash
# Stop the peers of start.sh (by their recorded PIDs), with their open sessions: sshd and
# the telnet acceptors run their sessions as direct children, which get a SIGTERM too.
# The libvirt holder goes before libvirtd, which then has no client left.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
ST="$PEERS_STATE/ssh"
for pidf in "$ST"/sshd-*/pid "$ST"/telnetd/pid "$ST"/emu/telnet-accept.pid "$ST"/fakenos/pid; do
  [ -f "$pidf" ] || continue
  if pid_alive "$pidf"; then
    pkill -TERM -P "$(tr -dc 0-9 <"$pidf")" 2>/dev/null || true
  fi
  stop_pid "$pidf"
done
stop_pid "$ST/libvirt/holder.pid"
stop_pid "$ST/libvirt/libvirtd.pid" 10
rm -f "$ST/peers.env"
