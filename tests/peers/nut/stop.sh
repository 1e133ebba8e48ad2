#!/usr/bin/env bash
# Stops what start.sh started (upsd, the drivers, the snmpsim behind snmp-ups), by recorded PID.
. "$(dirname "$0")/../lib.sh"
ST="$PEERS_STATE/nut"
for f in upsd snmp-ups dummy-ups; do stop_pid "$ST/$f.pid"; done
stop_pid "$PEERS_STATE/snmpsim-nut/snmpsim.pid"
rm -f "$PEERS_STATE/nut.env"
