#!/usr/bin/env bash
# labgrid from PyPI in a venv of its own, for tests/serve_peers.rs: its PDUDaemonDriver is
# a second real client of fencebox serve's PDUDaemon HTTP protocol (labgrid-pdu.py drives
# it). Made once (a fresh install takes about 10 s), kept while the pin is unchanged.
# Prints the venv's python; tests take it from FENCEBOX_LABGRID_PYTHON.
# Env: PEERS_STATE (the venv goes to $PEERS_STATE/labgrid-venv/venv)
. "$(dirname "$0")/../lib.sh"
VENV="$(peer_state labgrid-venv)/venv"
ensure_venv "$VENV" labgrid==26.0.1
printf '%s\n' "$VENV/bin/python"
