#!/usr/bin/env bash
# A second SNMP responder for benchmarks: Debian's net-snmp snmpd (C) serving an APC Rack
# PDU's outlet tables (24 outlets: names, states, commands) from static `override` lines,
# v1/v2c, community private. It answers in microseconds where snmpsim (Python) takes
# milliseconds, so the client's own cost shows. States do not follow commands: for status
# and list, not for switching.
#   SNMPD_PORT  udp port on 127.0.0.1 (default: a free one)        PEERS_STATE
# Prints "SNMPD_PORT=<port>" once snmpd answers.
. "$(dirname "$0")/../lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
ST="$(peer_state snmpd)"
PIDF="$ST/snmpd.pid"
pid_alive "$PIDF" && die "snmpd already runs (pid $(cat "$PIDF")); stop it with $HERE/stop-snmpd.sh"
need_pkgs snmpd snmp
PORT="${SNMPD_PORT:-$(free_udp_port)}"
APC=.1.3.6.1.4.1.318
{
  echo "agentaddress udp:127.0.0.1:$PORT"
  echo "rwcommunity private 127.0.0.1"
  echo "sysObjectID $APC.1.3.4.5"
  echo "sysDescr APC Rack PDU (net-snmp snmpd, static)"
  for i in $(seq 1 24); do
    echo "override -rw $APC.1.1.12.3.3.1.1.4.$i integer 1"     # rPDUOutletControlOutletCommand
    echo "override $APC.1.1.12.3.5.1.1.2.$i octet_str \"Outlet $i\""  # rPDUOutletStatusOutletName
    echo "override $APC.1.1.12.3.5.1.1.4.$i integer 1"         # rPDUOutletStatusOutletState: on
  done
} >"$ST/snmpd.conf"
# -C: no other configuration file; -Ln: no log; MIBS=: no MIB loading (Debian ships few).
start_bg "$PIDF" "$ST/snmpd.out" env MIBS= SNMP_PERSISTENT_DIR="$ST" /usr/sbin/snmpd -f -Ln -C -c "$ST/snmpd.conf"
if ! wait_for 10 snmpget -m '' -v2c -c private -t 1 -r 0 "127.0.0.1:$PORT" .1.3.6.1.2.1.1.2.0; then
  stop_pid "$PIDF"; cat "$ST/snmpd.out" >&2; die "snmpd did not answer on 127.0.0.1:$PORT"
fi
echo "SNMPD_PORT=$PORT"
