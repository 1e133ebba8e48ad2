#!/usr/bin/env bash
# Stops the snmpsim started by start.sh (by its recorded PID).
. "$(dirname "$0")/../lib.sh"
stop_pid "$PEERS_STATE/snmpsim/snmpsim.pid"
