#!/usr/bin/env bash
# Stops the snmpsim instance started by start.sh [DEVICE] (by its recorded PID).
. "$(dirname "$0")/../lib.sh"
stop_pid "$PEERS_STATE/snmpsim-${1:-private}/snmpsim.pid"
