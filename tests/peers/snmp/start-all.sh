#!/usr/bin/env bash
# Every snmpsim instance the tests use, started in parallel: the main one (every device by
# community, v1/v2c; v3 reaches the APC Rack PDU) and one per other device for v3.
# Writes "$PEERS_STATE/snmp.env": FENCEBOX_SNMPSIM_PORT and FENCEBOX_SNMPSIM_V3_<DEVICE>.
. "$(dirname "$0")/../lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
DEVICES="private apc-ms apc-rpdu2 apc-msp tripplite eaton-ma eaton-sw ibmblade ipdu emerson intelmodular ifmib cyberpower baytech raritan sentry3 sentry4 eaton-g3 lindy cisco-mds geist"
# Build the shared venv once before the parallel starts.
need_pkgs python3-venv snmp
VENV="$(peer_state snmpsim-venv)/venv"
ensure_venv "$VENV" snmpsim==1.2.2 pysmi==2.0.0 pysnmp==7.1.30 pyasn1==0.6.5 cryptography==50.0.2
ENVF="$PEERS_STATE/snmp.env"; : >"$ENVF"
pids=()
for d in $DEVICES; do
  ( port=""
    # A free port can be taken between the check and snmpsim's bind: try again.
    for attempt in 1 2 3; do
      port="$("$HERE/start.sh" "$d" | sed -n 's/^SNMPSIM_PORT=//p')" && [ -n "$port" ] && break
      port=""
    done
    [ -n "$port" ] || exit 1
    var="FENCEBOX_SNMPSIM_V3_$(echo "$d" | tr 'a-z-' 'A-Z_')"
    echo "$var=$port" >>"$ENVF"
    [ "$d" = private ] && echo "FENCEBOX_SNMPSIM_PORT=$port" >>"$ENVF"
    true ) &
  pids+=($!)
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
[ "$fail" = 0 ] || die "some snmpsim instances did not start (logs in $PEERS_STATE/snmpsim-*/snmpsim.log)"
# net-snmp's snmpd, a second, C responder with the APC rPDU tables.
port="$("$HERE/start-snmpd.sh" | sed -n 's/^SNMPD_PORT=//p')"
[ -n "$port" ] || die "snmpd did not start"
echo "FENCEBOX_SNMPD_PORT=$port" >>"$ENVF"
sort -o "$ENVF" "$ENVF"
cat "$ENVF"
