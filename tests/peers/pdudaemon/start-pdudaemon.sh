#!/usr/bin/env bash
# PDUDaemon 1.1.1 (PyPI), the reference PDU broker, with its HTTP listener on loopback,
# driving SNMP PDUs (APC rPDU outlet command table; e.g. the fleet peer's snmpsim, where
# the community picks the PDU) through its own `snmpv1` driver.
#
# usage: start-pdudaemon.sh SNMP_PORT HOST=COMMUNITY [HOST=COMMUNITY ...]
#   SNMP_PORT      udp port on 127.0.0.1 of the SNMP agent (snmpsim)
#   HOST           a PDU as PDUDaemon knows it: a loopback address 127.x.y.z, one per PDU
#   COMMUNITY      the v2c community that reaches that PDU (fleet peer: pdu01 .. pdu42)
#
# The snmpv1 driver always sends to udp port 161 of the PDU's host name, so each HOST gets
# a socat relay udp HOST:161 -> 127.0.0.1:SNMP_PORT (root: port 161 is privileged). Linux
# routes all of 127.0.0.0/8 to lo, so no address has to be added.
#
# Env: PDUD_PORT      tcp port of the HTTP listener (default: a free one)
#      PDUD_RETRIES=1 PDUD_RETRYDELAY=1   the driver's retries and the pause between them
#      PDUD_LOG_LEVEL=INFO
#      PDUD_OID=.1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.*   outlet command (`*`: the port); 1 on, 2 off
#      PDUD_VENV      the venv (default $PEERS_STATE/pdudaemon-venv/venv; built once, kept
#                     while its pins are unchanged)
#      PEERS_STATE    state (config, pid files, logs) goes to $PEERS_STATE/pdudaemon
# Prints (and writes to $PEERS_STATE/pdudaemon/pdudaemon.env) PDUDAEMON_PORT=, PDUDAEMON_PID=,
# PDUDAEMON_CONF=, PDUDAEMON_LOG= once the listener accepts connections and every PDU
# answers through its relay. Stop with stop-pdudaemon.sh (same PEERS_STATE).
. "$(dirname "$0")/../lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"

[ $# -ge 2 ] || die "usage: $0 SNMP_PORT HOST=COMMUNITY [HOST=COMMUNITY ...]"
SNMP_PORT=$1; shift
[[ "$SNMP_PORT" =~ ^[0-9]+$ && "$SNMP_PORT" -ge 1 && "$SNMP_PORT" -le 65535 ]] || die "SNMP_PORT: not a port: $SNMP_PORT"
HOSTS=() COMMS=()
for a in "$@"; do
  h="${a%%=*}" c="${a#*=}"
  [[ "$a" == *=* && "$h" =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "not HOST=COMMUNITY with a 127.x.y.z host: $a"
  [[ "$c" =~ ^[A-Za-z0-9._-]{1,32}$ ]] || die "community: 1-32 of A-Za-z0-9._- ($a)"
  for seen in "${HOSTS[@]}"; do [ "$seen" != "$h" ] || die "host $h given twice"; done
  HOSTS+=("$h") COMMS+=("$c")
done
RETRIES="${PDUD_RETRIES:-1}" RETRYDELAY="${PDUD_RETRYDELAY:-1}" LOGLEVEL="${PDUD_LOG_LEVEL:-INFO}"
OID="${PDUD_OID:-.1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.*}"
for v in RETRIES RETRYDELAY; do [[ "${!v}" =~ ^[0-9]+$ ]] || die "PDUD_$v must be a number"; done
[[ "$LOGLEVEL" =~ ^(DEBUG|INFO|WARNING|ERROR)$ ]] || die "PDUD_LOG_LEVEL: DEBUG, INFO, WARNING or ERROR"
[[ "$OID" =~ ^[.0-9]+\*$ ]] || die "PDUD_OID: a numeric OID ending in *"
[ "$(id -u)" = 0 ] || die "needs root: the relays bind udp port 161"

ST="$(peer_state pdudaemon)"
VENV="${PDUD_VENV:-$(peer_state pdudaemon-venv)/venv}"
pid_alive "$ST/pdudaemon.pid" && die "pdudaemon already runs (pid file $ST/pdudaemon.pid); $HERE/stop-pdudaemon.sh first"
for f in "$ST"/relay-*.pid; do
  [ -e "$f" ] && pid_alive "$f" && die "a relay already runs ($f); $HERE/stop-pdudaemon.sh first"
done
rm -f "$ST"/relay-*.pid "$ST"/relay-*.pid.start "$ST/pdudaemon.env"

# systemd-python, a hard dependency of pdudaemon, is built from source
need_pkgs python3-venv python3-dev libsystemd-dev pkg-config gcc socat snmp
ensure_venv "$VENV" pdudaemon==1.1.1 pysnmp==7.1.30 aiohttp==3.14.5 systemd-python==235

PORT="${PDUD_PORT:-$(free_tcp_port)}"
[[ "$PORT" =~ ^[0-9]+$ ]] || die "PDUD_PORT: not a port: $PORT"

# Anything already on udp HOST:161 (or the wildcard) would get the driver's packets instead.
bound=$(ss -Hlun 2>/dev/null | awk '{print $4}')
for h in "${HOSTS[@]}"; do
  grep -qxE "($h|0\.0\.0\.0|\*|\[::\]):161" <<<"$bound" && die "udp $h:161 is in use (an snmpd?): no relay possible"
done

cleanup() { "$HERE/stop-pdudaemon.sh" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# --- relays, each checked: the PDU's first outlet state answers through it ---------------
for i in "${!HOSTS[@]}"; do
  h="${HOSTS[$i]}"
  # one forked child per datagram, sending to the agent and carrying its answer back; the
  # child ends after 2 s without traffic
  start_bg "$ST/relay-$h.pid" "$ST/relay-$h.log" \
    socat -T 2 "UDP4-RECVFROM:161,bind=$h,fork" "UDP4-SENDTO:127.0.0.1:$SNMP_PORT"
done
state_oid="${OID%\*}"; state_oid="${state_oid/.3.3.1.1.4./.3.5.1.1.4.}1"
for i in "${!HOSTS[@]}"; do
  h="${HOSTS[$i]}" c="${COMMS[$i]}"
  wait_for 10 snmpget -m '' -Oqv -v2c -t 1 -r 0 -c "$c" "$h:161" "$state_oid" \
    || die "no SNMP answer through the relay $h:161 -> 127.0.0.1:$SNMP_PORT (community $c; logs $ST/relay-$h.log)"
done

# --- the configuration -----------------------------------------------------------------
CONF="$ST/pdudaemon.conf"
/usr/bin/python3 - "$CONF" "$PORT" "$LOGLEVEL" "$OID" "$RETRIES" "$RETRYDELAY" "$@" <<'PY'
import json, sys
conf, port, level, oid, retries, delay, *pdus = sys.argv[1:]
cfg = {"daemon": {"hostname": "127.0.0.1", "port": int(port), "listener": "http",
                  "logging_level": level},
       "pdus": {}}
for p in pdus:
    host, community = p.split("=", 1)
    cfg["pdus"][host] = {"driver": "snmpv1", "community": community, "oid": oid,
                         "onsetting": 1, "offsetting": 2,
                         "retries": int(retries), "retrydelay": int(delay)}
with open(conf, "w") as f:
    json.dump(cfg, f, indent=2)
    f.write("\n")
PY

# --- pdudaemon -------------------------------------------------------------------------
start_bg "$ST/pdudaemon.pid" "$ST/pdudaemon.log" "$VENV/bin/pdudaemon" --conf "$CONF"
listening() { pid_alive "$ST/pdudaemon.pid" && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }
wait_for 30 eval 'listening || ! pid_alive "$ST/pdudaemon.pid"' || true
listening || { tail -20 "$ST/pdudaemon.log" >&2; die "pdudaemon did not listen on 127.0.0.1:$PORT"; }
PID="$(tr -dc 0-9 <"$ST/pdudaemon.pid")"
{
  echo "PDUDAEMON_PORT=$PORT"
  echo "PDUDAEMON_PID=$PID"
  echo "PDUDAEMON_CONF=$CONF"
  echo "PDUDAEMON_LOG=$ST/pdudaemon.log"
} >"$ST/pdudaemon.env"
trap - EXIT
echo "pdudaemon: http://127.0.0.1:$PORT, ${#HOSTS[@]} PDU(s) through relays to udp 127.0.0.1:$SNMP_PORT; stop with $HERE/stop-pdudaemon.sh" >&2
cat "$ST/pdudaemon.env"
