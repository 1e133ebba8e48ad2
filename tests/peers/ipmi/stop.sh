#!/usr/bin/env bash
# Stop simulated BMCs by their pid files: stop.sh [NAME ...] (default: every one).
. "$(dirname "$0")/../lib.sh"
if [ $# -eq 0 ]; then
  for f in "$PEERS_STATE"/ipmi-*/ipmi_sim.pid "$PEERS_STATE"/pyghmi-*/bmc.pid; do
    [ -f "$f" ] && stop_pid "$f"
  done
  exit 0
fi
for n in "$@"; do stop_pid "$PEERS_STATE/ipmi-$n/ipmi_sim.pid"; done
