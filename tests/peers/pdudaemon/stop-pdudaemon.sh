#!/usr/bin/env bash
# Stops what start-pdudaemon.sh started: pdudaemon, then its udp relays, each by its pid
# file (PID and kernel start time: never a process found by name). Config and logs stay in
# $PEERS_STATE/pdudaemon for a look afterwards; pdudaemon.env goes.
. "$(dirname "$0")/../lib.sh"
ST="$PEERS_STATE/pdudaemon"
stop_pid "$ST/pdudaemon.pid"
ps=()
for f in "$ST"/relay-*.pid; do
  [ -e "$f" ] || continue
  stop_pid "$f" 2 &
  ps+=($!)
done
for p in "${ps[@]}"; do wait "$p" || true; done
rm -f "$ST/pdudaemon.env"
