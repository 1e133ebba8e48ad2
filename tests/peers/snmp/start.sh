#!/usr/bin/env bash
# snmpsim (PyPI, a real third-party SNMP agent) serving simulated PDUs on loopback, one
# SNMP community per device; see make-data.py for the devices.
#   start.sh [DEVICE]  DEVICE (a community, default private) is what SNMPv3 reaches with
#                      the empty context; each DEVICE is a separate instance and state.
#   SNMPSIM_PORT   udp port on 127.0.0.1 and ::1 (default: a free one)
#   SNMPSIM_NAME   name of the instance's state directory (default: DEVICE)
#   PEERS_STATE    state directory (venv, data, sqlite, log, pid)
# Prints "SNMPSIM_PORT=<port>" on stdout once the agent answers. Every start resets the
# outlets (all on).
. "$(dirname "$0")/../lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
SELF="${1:-private}"
ST="$(peer_state "snmpsim-${SNMPSIM_NAME:-$SELF}")"
RUN="$ST/run"
PIDF="$ST/snmpsim.pid"
OUTLETS="${SNMPSIM_OUTLETS:-24}"

pid_alive "$PIDF" && die "snmpsim already runs (pid $(cat "$PIDF")); stop it with $HERE/stop.sh"
need_pkgs python3-venv snmp
# Debian's python3: snmpsim drops to 'nobody', which must be able to import sqlite3.
# pysmi is an undeclared dependency; cryptography is needed for v3 privacy.
VENV="$(peer_state snmpsim-venv)/venv"
ensure_venv "$VENV" snmpsim==1.2.2 pysmi==2.0.0 pysnmp==7.1.30 pyasn1==0.6.5 cryptography==50.0.2
PORT="${SNMPSIM_PORT:-$(free_udp_port)}"
[ "$PORT" -ge 1024 ] || die "snmpsim cannot serve ports below 1024"

rm -rf "$RUN"; mkdir -p "$RUN/cache"
"$VENV/bin/python" "$HERE/make-data.py" "$RUN" "$OUTLETS" "$SELF" >/dev/null
chown -R nobody:nogroup "$RUN"
# snmpsim drops to nobody, which must reach its data through every parent directory.
runuser -u nobody -- test -r "$RUN/pdu.sqlite" \
  || die "user nobody cannot reach $RUN (a parent directory is private); set PEERS_STATE under /tmp"

# v3 users: one per protocol pair the tests cover (auth key, priv key >= 8 chars).
start_bg "$PIDF" "$ST/snmpsim.log" "$VENV/bin/snmpsim-command-responder" \
  --process-user=nobody --process-group=nogroup \
  --cache-dir="$RUN/cache" \
  --variation-module-options="sql:dbtype:sqlite3,database:$RUN/pdu.sqlite" \
  --variation-module-options="writecache:file:$RUN/cache/writecache.shelve" \
  --v3-engine-id=auto --data-dir="$RUN/data" \
  --agent-udpv4-endpoint="127.0.0.1:$PORT" --agent-udpv6-endpoint="[::1]:$PORT" \
  --v3-user=fenceuser --v3-auth-key=authpass123 --v3-auth-proto=SHA --v3-priv-key=privpass123 --v3-priv-proto=AES \
  --v3-user=fencemd5 --v3-auth-key=authpass123 --v3-auth-proto=MD5 --v3-priv-key=privpass123 --v3-priv-proto=DES \
  --v3-user=fencesha224 --v3-auth-key=authpass123 --v3-auth-proto=SHA224 --v3-priv-key=privpass123 --v3-priv-proto=AES192BLMT \
  --v3-user=fencesha256 --v3-auth-key=authpass123 --v3-auth-proto=SHA256 --v3-priv-key=privpass123 --v3-priv-proto=AES256BLMT \
  --v3-user=fencesha384 --v3-auth-key=authpass123 --v3-auth-proto=SHA384 --v3-priv-key=privpass123 --v3-priv-proto=AES192 \
  --v3-user=fencesha512 --v3-auth-key=authpass123 --v3-auth-proto=SHA512 --v3-priv-key=privpass123 --v3-priv-proto=AES256 \
  --v3-user=fenceblmt --v3-auth-key=authpass123 --v3-auth-proto=SHA --v3-priv-key=privpass123 --v3-priv-proto=AES256BLMT \
  --v3-user=fencereeder --v3-auth-key=authpass123 --v3-auth-proto=SHA --v3-priv-key=privpass123 --v3-priv-proto=AES256 \
  --v3-user=fencenopriv --v3-auth-key=authpass123 --v3-auth-proto=SHA

if ! wait_for 30 snmpget -m '' -v2c -c private -t 1 -r 0 "127.0.0.1:$PORT" .1.3.6.1.2.1.1.2.0; then
  tail -20 "$ST/snmpsim.log" >&2
  stop_pid "$PIDF"
  die "snmpsim did not answer on 127.0.0.1:$PORT"
fi
echo "SNMPSIM_PORT=$PORT"
