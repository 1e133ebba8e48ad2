#!/usr/bin/env bash
# Stops the devices of start.sh: its snmpsim and every BMC, each by its recorded PID (never
# by name), all at once; removes discover.env. State and logs stay for a look afterwards.
. "$(dirname "$0")/../lib.sh"
ST="$PEERS_STATE/discover"
ps=()
for f in "$ST/snmpsim.pid" "$ST"/bmcs/*/ipmi_sim.pid; do
  [ -e "$f" ] || continue
  stop_pid "$f" &
  ps+=($!)
done
for p in "${ps[@]}"; do wait "$p" || true; done
rm -f "$PEERS_STATE/discover.env"
