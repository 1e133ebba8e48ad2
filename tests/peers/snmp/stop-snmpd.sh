#!/usr/bin/env bash
# Stops the snmpd that start-snmpd.sh started (by its recorded PID).
. "$(dirname "$0")/../lib.sh"
stop_pid "$PEERS_STATE/snmpd/snmpd.pid"
