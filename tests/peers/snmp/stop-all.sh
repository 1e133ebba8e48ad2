#!/usr/bin/env bash
# Stops every snmpsim instance start-all.sh started (each by its recorded PID), in parallel.
. "$(dirname "$0")/../lib.sh"
for f in "$PEERS_STATE"/snmpsim-*/snmpsim.pid; do
  [ -e "$f" ] && stop_pid "$f" &
done
stop_pid "$PEERS_STATE/snmpd/snmpd.pid" &
wait
rm -f "$PEERS_STATE/snmp.env"
