#!/usr/bin/env bash
# A fleet of simulated power devices on loopback, for tests and benchmarks that drive many
# devices at once:
#   * one snmpsim (the venv and pins of ../snmp) serving FLEET_PDUS APC Rack PDUs of
#     FLEET_OUTLETS outlets each; the community (v1/v2c) or v3 context picks the PDU,
#     pdu01 .. pduNN; outlet state follows the commands, and every accepted outlet command
#     is logged with its time in the sqlite table setlog (make-data.py, changes.py);
#   * FLEET_BMCS OpenIPMI ipmi_sim BMCs bmc01 .. bmcNN on consecutive UDP ports, each set
#     up like ../ipmi's (its lan-conf.sh, bmc.emu and power-hook.sh): state and log in
#     bmcs/bmcNN/{power,chassis.log}.
# Env: FLEET_PDUS=42 FLEET_OUTLETS=24 FLEET_BMCS=64 (0 PDUs or 0 BMCs: that part is left out)
#      FLEET_SNMP_PORT, FLEET_BMC_BASE  udp ports on 127.0.0.1 (default: free ones; snmpsim
#      also listens on [::1]); IPMI_USER=admin IPMI_PASS=password (BMC user 2, administrator)
#      FLEET_SNMP_LOG_LEVEL=error (info: snmpsim.log gets every request)
#      PEERS_STATE (state goes to $PEERS_STATE/fleet)
# Writes $PEERS_STATE/fleet/fleet.env (shell-sourceable) and prints it once every device
# answers; every start has all outlets and chassis on (reset.sh does that without restarting).
. "$(dirname "$0")/../lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
PEERS="$(dirname "$HERE")"
NPDU="${FLEET_PDUS:-42}" NOUT="${FLEET_OUTLETS:-24}" NBMC="${FLEET_BMCS:-64}"
IPMI_USER="${IPMI_USER:-admin}" IPMI_PASS="${IPMI_PASS:-password}"
for v in NPDU NOUT NBMC; do [[ "${!v}" =~ ^[0-9]{1,3}$ ]] || die "$v must be a number below 1000"; done
[ "$NOUT" -ge 1 ] || die "FLEET_OUTLETS must be at least 1"
[[ "$IPMI_USER" =~ ^[A-Za-z0-9._-]{1,16}$ ]] || die "IPMI_USER: 1-16 of A-Za-z0-9._-"
[[ "$IPMI_PASS" =~ ^[A-Za-z0-9._-]{1,20}$ ]] || die "IPMI_PASS: 1-20 of A-Za-z0-9._-"
for v in FLEET_SNMP_PORT FLEET_BMC_BASE; do
  [ -z "${!v:-}" ] || [[ "${!v}" =~ ^[0-9]+$ && "${!v}" -ge 1024 && "${!v}" -le 65535 ]] || die "$v must be a port, 1024-65535"
done
ST="$(peer_state fleet)"
RUN="$ST/snmpsim"; SPIDF="$ST/snmpsim.pid"; BMCS="$ST/bmcs"; ENVF="$ST/fleet.env"
# names are pdu01.., bmc01..: two digits, more for 100 or more devices
name_width() { if [ ${#1} -lt 2 ]; then echo 2; else echo ${#1}; fi; }
PW="$(name_width "$NPDU")" BW="$(name_width "$NBMC")"

pid_alive "$SPIDF" && die "the fleet's snmpsim already runs; $HERE/stop.sh first (or $HERE/reset.sh)"
for f in "$BMCS"/*/ipmi_sim.pid; do
  pid_alive "$f" && die "fleet BMCs already run; $HERE/stop.sh first (or $HERE/reset.sh)"
done
need_pkgs python3-venv snmp openipmi ipmitool freeipmi-tools
rm -f "$ENVF"
T0=$(date +%s%N)
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# Stop whatever this run started if it fails half-way.
cleanup() { "$HERE/stop.sh" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# udp_owners : "PORT PID" for every UDP socket bound on 127.0.0.1.
udp_owners() {
  ss -Hlunp 2>/dev/null | awk '{ n = split($4, a, ":"); if (a[1] == "127.0.0.1" && match($0, /pid=[0-9]+/))
                                   print a[n], substr($0, RSTART + 4, RLENGTH - 4) }'
}
# free_udp_run COUNT [BASE] : the first of COUNT consecutive UDP ports free on 127.0.0.1 and
# ::1: BASE if given (else it fails), or one below the kernel's ephemeral range (where
# clients' source ports come from) that is neither in use nor SNMP_PORT. A plain bind test:
# two ipmi_sim can bind the same port (address reuse), so a second one would not fail.
free_udp_run() {
  /usr/bin/python3 - "$1" "${2:-}" "${SNMP_PORT:-0}" <<'PY'
import random, socket, sys
n, fixed, snmp = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
top = lo - n if lo - n > 10000 else 65536 - n
for _ in range(1 if fixed else 200):
    base = int(fixed) if fixed else random.randrange(10000 if top > 10000 else 1024, top)
    if base + n > 65536 or base <= snmp < base + n:
        continue
    held = []
    try:
        for p in range(base, base + n):
            for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
                s = socket.socket(fam, socket.SOCK_DGRAM); held.append(s); s.bind((addr, p))
    except OSError:
        continue
    finally:
        for s in held:
            s.close()
    print(base)
    sys.exit(0)
sys.exit("udp ports %s-%d are not all free" % (fixed, int(fixed) + n - 1) if fixed else "no run of %d free udp ports" % n)
PY
}

# --- the PDUs --------------------------------------------------------------------------
SNMP_PORT=""
# snmpsim logs two lines per request at info level, which costs it time under load
SNMP_LOG_LEVEL="${FLEET_SNMP_LOG_LEVEL:-error}"
launch_snmpsim() {
  if [ -n "${FLEET_SNMP_PORT:-}" ]; then
    SNMP_PORT="$(SNMP_PORT=0 free_udp_run 1 "$FLEET_SNMP_PORT")" || die "FLEET_SNMP_PORT $FLEET_SNMP_PORT is in use"
  else
    SNMP_PORT="$(free_udp_port)"
  fi
  start_bg "$SPIDF" "$ST/snmpsim.log" "$VENV/bin/snmpsim-command-responder" \
    --process-user=nobody --process-group=nogroup --cache-dir="$RUN/cache" --log-level="$SNMP_LOG_LEVEL" \
    --variation-module-options="sql:dbtype:sqlite3,database:$RUN/pdu.sqlite" \
    --v3-engine-id=auto --data-dir="$RUN/data" \
    --agent-udpv4-endpoint="127.0.0.1:$SNMP_PORT" --agent-udpv6-endpoint="[::1]:$SNMP_PORT" \
    --v3-user=fenceuser --v3-auth-key=authpass123 --v3-auth-proto=SHA --v3-priv-key=privpass123 --v3-priv-proto=AES
}
# snmpsim_ready : the last PDU's last outlet answers, from our snmpsim (not a stranger on the port)
snmpsim_ready() {
  snmpget -m '' -Oqv -v2c -c "$(printf 'pdu%0*d' "$PW" "$NPDU")" -t 1 -r 0 "127.0.0.1:$SNMP_PORT" \
    ".1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.$NOUT" | grep -qx 1 \
    && [ "$(udp_owners | awk -v p="$SNMP_PORT" '$1 == p {print $2}')" = "$(tr -dc 0-9 <"$SPIDF")" ]
}
if [ "$NPDU" -gt 0 ]; then
  # ../snmp's venv, built from the pins in ../snmp/start.sh so the two never rebuild it
  # for each other (ensure_venv rebuilds on any other list).
  PINS="$(sed -n 's/^ensure_venv "\$VENV" //p' "$PEERS/snmp/start.sh" | head -1)"
  [ -n "$PINS" ] || die "no snmpsim pins found in $PEERS/snmp/start.sh"
  VENV="$(peer_state snmpsim-venv)/venv"
  # shellcheck disable=SC2086
  ensure_venv "$VENV" $PINS
  T0=$(date +%s%N)   # a first venv build is not start-up time
  rm -rf "$RUN"; mkdir -p "$RUN/cache"
  /usr/bin/python3 "$HERE/make-data.py" "$RUN" "$NPDU" "$NOUT" >/dev/null
  chown -R nobody:nogroup "$RUN"
  # snmpsim drops to nobody, who must reach the data and write the sqlite file (and its journal).
  runuser -u nobody -- test -w "$RUN/pdu.sqlite" \
    || die "user nobody cannot reach $RUN (a parent directory is private); set PEERS_STATE under /tmp"
  launch_snmpsim   # answers about a second later; the BMCs start meanwhile
fi

# --- the BMCs --------------------------------------------------------------------------
BMC_BASE=""
# ../ipmi's lan.conf with placeholders, and this fleet's name, GUID and user 2 in it; each
# BMC's is this with its own values (no process per BMC, which keeps the start quick).
bmc_template() {
  local t
  t="$("$PEERS/ipmi/lan-conf.sh" @DIR@ 127.0.0.1 @PORT@ | sed \
        -e 's/^name .*/name "fleet-@NAME@"/' -e 's/^\( *guid \).*/\1@GUID@/' \
        -e "s/^\( *user 2 true *\)\"[^\"]*\" *\"[^\"]*\"/\1\"$IPMI_USER\" \"$IPMI_PASS\"/")"
  for want in @DIR@ @PORT@ @NAME@ @GUID@ "user 2 true \"$IPMI_USER\" \"$IPMI_PASS\" admin"; do
    [[ "$t" == *"$want"* ]] || die "unexpected output of $PEERS/ipmi/lan-conf.sh (no $want)"
  done
  printf '%s\n' "$t"
}
launch_bmcs() {
  local i name d c guid tmpl pids=() dirs=() list=""
  BMC_BASE="$(free_udp_run "$NBMC" "${FLEET_BMC_BASE:-}")" || die "no BMC ports (FLEET_BMC_BASE)"
  tmpl="$(bmc_template)"
  rm -rf "$BMCS"
  for i in $(seq 1 "$NBMC"); do printf -v name 'bmc%0*d' "$BW" "$i"; dirs+=("$BMCS/$name/state" "$BMCS/$name/m82"); done
  mkdir -p "${dirs[@]}"
  for i in $(seq 1 "$NBMC"); do
    printf -v name 'bmc%0*d' "$BW" "$i"; d="$BMCS/$name"; printf -v guid 'f1ee7000%024x' "$i"
    c="${tmpl//@DIR@/$d}"; c="${c//@PORT@/$((BMC_BASE + i - 1))}"; c="${c//@NAME@/$name}"
    printf '%s\n' "${c//@GUID@/$guid}" >"$d/lan.conf"
    echo 1 >"$d/power"; echo 1 >"$d/m82/power"; : >"$d/chassis.log"
    list+="$name $((BMC_BASE + i - 1)) $d/power $d/chassis.log"$'\n'
    # each start_bg in a subshell, so the BMCs start side by side
    ( start_bg "$d/ipmi_sim.pid" "$d/ipmi_sim.log" \
        ipmi_sim -n -c "$d/lan.conf" -f "$PEERS/ipmi/bmc.emu" -s "$d/state" ) &
    pids+=($!)
  done
  printf '%s' "$list" >"$ST/bmcs.txt"
  for i in "${pids[@]}"; do wait "$i" || true; done
}
# bmcs_bound : every BMC's port is bound by its own ipmi_sim (one ss for all)
bmcs_bound() {
  local i pid name want=""
  for i in $(seq 1 "$NBMC"); do
    printf -v name 'bmc%0*d' "$BW" "$i"
    read -r pid <"$BMCS/$name/ipmi_sim.pid" 2>/dev/null || return 1
    want+="$((BMC_BASE + i - 1)) $pid"$'\n'
  done
  local owners; owners="$(udp_owners)"
  # each port bound once, by the BMC meant for it
  [ "$(grep -cFx -f <(printf '%s' "$want") <<<"$owners")" = "$NBMC" ] &&
    [ -z "$(awk -v lo="$BMC_BASE" -v hi=$((BMC_BASE + NBMC - 1)) '$1 >= lo && $1 <= hi {print $1}' <<<"$owners" | sort | uniq -d)" ]
}
# bmcs_on : one ipmipower over all BMCs sees every chassis on
bmcs_on() {
  [ "$(ipmipower -h "127.0.0.1:[$BMC_BASE-$((BMC_BASE + NBMC - 1))]" -u "$IPMI_USER" -p "$IPMI_PASS" \
        -D LAN_2_0 -W opensesspriv --session-timeout=3000 --stat 2>&1 | grep -c ': on$')" = "$NBMC" ]
}
stop_bmcs() {
  local f p ps=()
  for f in "$BMCS"/*/ipmi_sim.pid; do [ -e "$f" ] && { stop_pid "$f" 2 & ps+=($!); }; done
  for p in "${ps[@]}"; do wait "$p" || true; done
}
: >"$ST/bmcs.txt"; [ "$NBMC" -gt 0 ] || rm -rf "$BMCS"
if [ "$NBMC" -gt 0 ]; then
  for attempt in 1 2 3; do
    t=$(date +%s%N); launch_bmcs
    wait_for 10 bmcs_bound && break
    # a port taken between the check and the bind: once more elsewhere, unless it was asked for
    [ -z "${FLEET_BMC_BASE:-}" ] && [ "$attempt" -lt 3 ] || die "BMCs did not all bind 127.0.0.1:$BMC_BASE-$((BMC_BASE + NBMC - 1)) (logs: $BMCS/*/ipmi_sim.log)"
    echo "fleet: BMC ports taken meanwhile, trying other ports" >&2
    stop_bmcs
  done
  BMC_BOUND_MS=$(ms "$t")
  wait_for 10 bmcs_on || die "not every BMC reports power on to ipmipower (logs: $BMCS/*/ipmi_sim.log)"
  echo "fleet: $NBMC BMCs bound after $BMC_BOUND_MS ms, all answering ipmipower after $(ms "$t") ms" >&2
fi

# --- wait for the PDUs -----------------------------------------------------------------
if [ "$NPDU" -gt 0 ]; then
  for attempt in 1 2 3; do
    # until it answers, or its process has gone (its port was taken before it could bind)
    wait_for 30 eval 'snmpsim_ready || ! pid_alive "$SPIDF"' || true
    snmpsim_ready && break
    [ -z "${FLEET_SNMP_PORT:-}" ] && [ "$attempt" -lt 3 ] && ! pid_alive "$SPIDF" \
      || { tail -20 "$ST/snmpsim.log" >&2; die "snmpsim did not answer on 127.0.0.1:$SNMP_PORT"; }
    echo "fleet: snmpsim could not use port $SNMP_PORT, trying another" >&2
    stop_pid "$SPIDF"; launch_snmpsim
  done
  echo "fleet: $NPDU PDUs x $NOUT outlets answering after $(ms "$T0") ms" >&2
fi

{
  echo "# the fleet of tests/peers/fleet/start.sh ($(date -u +%FT%TZ)); on 127.0.0.1"
  printf 'FLEET_PDUS=%d\nFLEET_OUTLETS=%d\nFLEET_BMCS=%d\n' "$NPDU" "$NOUT" "$NBMC"
  echo "FLEET_SNMP_PORT=$SNMP_PORT"
  echo "FLEET_BMC_BASE=$BMC_BASE"
  printf 'IPMI_USER=%q\nIPMI_PASS=%q\n' "$IPMI_USER" "$IPMI_PASS"
  echo "# outlet change log: sqlite table setlog (tbl=pduNN, oid, value, at, outlet); read with"
  echo "# tests/peers/fleet/changes.py or tests/system/setlog.py"
  if [ "$NPDU" -gt 0 ]; then printf 'FLEET_SETLOG_DB=%q\n' "$RUN/pdu.sqlite"; else echo "FLEET_SETLOG_DB="; fi
  echo "# BMC NN (port FLEET_BMC_BASE+NN-1): \$FLEET_BMC_DIR/bmcNN/power (1 on, 0 off) and chassis.log;"
  echo "# FLEET_BMC_LIST has one \"NAME PORT POWER-FILE CHASSIS-LOG\" line per BMC"
  printf 'FLEET_BMC_DIR=%q\nFLEET_BMC_LIST=%q\n' "$BMCS" "$ST/bmcs.txt"
} >"$ENVF.new"
mv "$ENVF.new" "$ENVF"
trap - EXIT
echo "fleet: up in $(ms "$T0") ms; env in $ENVF; stop with $HERE/stop.sh" >&2
cat "$ENVF"
