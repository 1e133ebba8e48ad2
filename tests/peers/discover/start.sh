#!/usr/bin/env bash
# Simulated devices planted on loopback addresses for `fencebox discover` to find:
#   * 27 SNMP PDUs of 11 families on 127.0.7.10-39 (15, 24 and 31 left empty, and the rest
#     of 127.0.7.0/24), all served by ONE snmpsim on one UDP port (make-data.py,
#     snmpsim-endpoints.py); 127.0.7.16 and .33 answer community secret42 only, the others
#     public only;
#   * 8 OpenIPMI ipmi_sim BMCs on 127.0.8.10-17, one UDP port for all, set up like
#     ../ipmi's (user admin/password, IPMI 1.5 and RMCP+ cipher suites 0-3).
# Env: DISCOVER_SNMP_PORT  udp port of every PDU (default: a free one, 1024 or above; one
#                          below 1024, e.g. 161, works too: snmpsim then runs as nobody
#                          with CAP_NET_BIND_SERVICE)
#      DISCOVER_IPMI_PORT  udp port of every BMC (default: a free one; 623 works)
#      DISCOVER_SNMP_LOG_LEVEL=error (info: snmpsim.log gets every request)
#      PEERS_STATE         state goes to $PEERS_STATE/discover
# Writes $PEERS_STATE/discover/manifest.tsv (one line per planted device:
# ADDRESS<TAB>snmp|ipmi<TAB>FAMILY|bmc<TAB>OUTLETS|-<TAB>COMMUNITY|-) and
# $PEERS_STATE/discover.env, and prints the env once every device answers as planted and
# nothing answers where nothing is planted. Every start begins from scratch.
. "$(dirname "$0")/../lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
PEERS="$(dirname "$HERE")"
ST="$(peer_state discover)"
RUN="$ST/snmpsim"; SPIDF="$ST/snmpsim.pid"; BMCS="$ST/bmcs"
ENVF="$PEERS_STATE/discover.env"; MAN="$ST/manifest.tsv"
BMC_OCTETS=$(seq 10 17)
IPMI_USER=admin IPMI_PASS=password
for v in DISCOVER_SNMP_PORT DISCOVER_IPMI_PORT; do
  [ -z "${!v:-}" ] || [[ "${!v}" =~ ^[0-9]{1,5}$ && "${!v}" -ge 1 && "${!v}" -le 65535 ]] || die "$v must be a port, 1-65535"
done
LOG_LEVEL="${DISCOVER_SNMP_LOG_LEVEL:-error}"
[[ "$LOG_LEVEL" =~ ^(error|info|debug)$ ]] || die "DISCOVER_SNMP_LOG_LEVEL: error, info or debug"

pid_alive "$SPIDF" && die "the discover peer's snmpsim already runs; $HERE/stop.sh first"
for f in "$BMCS"/*/ipmi_sim.pid; do
  pid_alive "$f" && die "the discover peer's BMCs already run; $HERE/stop.sh first"
done
need_pkgs python3-venv snmp openipmi ipmitool iproute2   # iproute2: ss
# ../snmp's venv, from the pins in ../snmp/start.sh so the peers never rebuild it for each
# other (ensure_venv rebuilds on any other list); snmpsim-endpoints.py checks the API it needs.
PINS="$(sed -n 's/^ensure_venv "\$VENV" //p' "$PEERS/snmp/start.sh" | head -1)"
[ -n "$PINS" ] || die "no snmpsim pins found in $PEERS/snmp/start.sh"
VENV="$(peer_state snmpsim-venv)/venv"
# shellcheck disable=SC2086
ensure_venv "$VENV" $PINS

T0=$(date +%s%N)   # packages and a first venv build are not start-up time
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
rm -f "$ENVF"
rm -rf "$ST"; ST="$(peer_state discover)"
cleanup() { "$HERE/stop.sh" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# free_port FIXED AVOID ADDR... : FIXED if given and free on every ADDR (else fail), or a
# random port below the kernel's ephemeral range (where clients' source ports come from),
# not AVOID, free on every ADDR. A plain bind, no SO_REUSEADDR: ipmi_sim sets it, so a
# second ipmi_sim would bind a port one already has without an error.
free_port() {
  /usr/bin/python3 - "$@" <<'PY'
import random, socket, sys
fixed, avoid, addrs = sys.argv[1], int(sys.argv[2] or 0), sys.argv[3:]
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])

def free(port):
    held = []
    try:
        for a in addrs:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); held.append(s); s.bind((a, port))
        return True
    except OSError:
        return False
    finally:
        for s in held:
            s.close()

if fixed:
    if free(int(fixed)):
        print(fixed); sys.exit(0)
    sys.exit("udp port %s is in use on one of %s .. %s" % (fixed, addrs[0], addrs[-1]))
for _ in range(200):
    p = random.randrange(10000, lo) if lo > 10100 else random.randrange(1024, 65536)
    if p != avoid and free(p):
        print(p); sys.exit(0)
sys.exit("no free udp port on %s .. %s" % (addrs[0], addrs[-1]))
PY
}
# bound_by PORT PID ADDR... : each ADDR:PORT is bound by exactly one UDP socket, PID's
bound_by() {
  local port=$1 pid=$2 a n; shift 2
  local ss_out; ss_out="$(ss -Hlunp 2>/dev/null)"
  for a in "$@"; do
    n="$(awk -v l="$a:$port" '$4 == l' <<<"$ss_out")"
    [ "$(grep -c . <<<"$n")" = 1 ] && grep -q "pid=$pid," <<<"$n" || return 1
  done
}

# --- the PDUs --------------------------------------------------------------------------
mkdir -p "$RUN/cache"
/usr/bin/python3 "$HERE/make-data.py" "$RUN"
mapfile -t PDU_ADDRS < <(cut -f1 "$RUN/endpoints.tsv")
chown -R nobody:nogroup "$RUN"
# snmpsim runs as nobody, which must reach its data through every parent directory.
runuser -u nobody -- test -r "$RUN/endpoints.tsv" \
  || die "user nobody cannot reach $RUN (a parent directory is private); set PEERS_STATE under /tmp"
SNMP_PORT=""
launch_snmpsim() {
  SNMP_PORT="$(free_port "${DISCOVER_SNMP_PORT:-}" 0 "${PDU_ADDRS[@]}")" || die "no SNMP port (DISCOVER_SNMP_PORT)"
  local a args=(--cache-dir="$RUN/cache" --data-dir="$RUN/data" --log-level="$LOG_LEVEL")
  # endpoint k (transport ID 1.3.6.1.6.1.1.k) is line k+1 of endpoints.tsv
  for a in "${PDU_ADDRS[@]}"; do args+=(--agent-udpv4-endpoint="$a:$SNMP_PORT"); done
  if [ "$SNMP_PORT" -ge 1024 ]; then
    start_bg "$SPIDF" "$ST/snmpsim.log" "$VENV/bin/python" "$HERE/snmpsim-endpoints.py" \
      --process-user=nobody --process-group=nogroup "${args[@]}"
  else
    # snmpsim binds after dropping to nobody: start it as nobody, allowed to bind below 1024
    start_bg "$SPIDF" "$ST/snmpsim.log" setpriv --reuid=nobody --regid=nogroup --clear-groups \
      --inh-caps=+net_bind_service --ambient-caps=+net_bind_service -- \
      "$VENV/bin/python" "$HERE/snmpsim-endpoints.py" "${args[@]}"
  fi
}
# snmp_binds : "ours" once snmpsim alone has every PDU address:port, "taken" once another
# process has one of them (snmpsim does not notice: it serves the others), else "pending"
snmp_binds() {
  ss -Hlunp 2>/dev/null | awk -v port="$SNMP_PORT" -v pid="$(tr -dc 0-9 <"$SPIDF")" -v list="${PDU_ADDRS[*]}" '
    BEGIN { n = split(list, a, " "); for (i = 1; i <= n; i++) want[a[i] ":" port] = 1 }
    ($4 in want) { if (index($0, "pid=" pid ",")) ours[$4]++; else other++ }
    END { for (k in ours) { c++; if (ours[k] > 1) other++ }
          print other ? "taken" : (c == n ? "ours" : "pending") }'
}
# snmpsim_answers : the last PDU answers with its sysObjectID
snmpsim_answers() {
  local a c oid
  IFS=$'\t' read -r a c oid _ < <(tail -1 "$RUN/endpoints.tsv")
  [ "$(snmpget -m '' -Onqv -v2c -c "$c" -t 1 -r 0 "$a:$SNMP_PORT" .1.3.6.1.2.1.1.2.0 2>/dev/null)" = ".$oid" ]
}
launch_snmpsim   # takes about a second to answer; the BMCs start meanwhile

# --- the BMCs --------------------------------------------------------------------------
BMC_ADDRS=(); for o in $BMC_OCTETS; do BMC_ADDRS+=("127.0.8.$o"); done
IPMI_PORT=""
launch_bmcs() {
  local o d pids=() p
  IPMI_PORT="$(free_port "${DISCOVER_IPMI_PORT:-}" "$SNMP_PORT" "${BMC_ADDRS[@]}")" || die "no IPMI port (DISCOVER_IPMI_PORT)"
  rm -rf "$BMCS"
  for o in $BMC_OCTETS; do
    d="$BMCS/bmc-$o"; mkdir -p "$d/state" "$d/m82"
    # ../ipmi's configuration, with this BMC's address, name and GUID
    "$PEERS/ipmi/lan-conf.sh" "$d" "127.0.8.$o" "$IPMI_PORT" | sed \
      -e "s/^name .*/name \"discover-bmc-$o\"/" -e "s/^\( *guid \).*/\1$(printf 'd15c0e70%024x' "$o")/" >"$d/lan.conf"
    grep -q "^name \"discover-bmc-$o\"" "$d/lan.conf" && grep -q "addr 127.0.8.$o $IPMI_PORT" "$d/lan.conf" \
      && grep -q "user 2 true \"$IPMI_USER\" *\"$IPMI_PASS\" admin" "$d/lan.conf" \
      || die "unexpected output of $PEERS/ipmi/lan-conf.sh"
    echo 1 >"$d/power"; echo 1 >"$d/m82/power"; : >"$d/chassis.log"
    ( start_bg "$d/ipmi_sim.pid" "$d/ipmi_sim.log" \
        ipmi_sim -n -c "$d/lan.conf" -f "$PEERS/ipmi/bmc.emu" -s "$d/state" ) &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
}
bmcs_bound() {
  local o pid
  for o in $BMC_OCTETS; do
    read -r pid <"$BMCS/bmc-$o/ipmi_sim.pid" 2>/dev/null && bound_by "$IPMI_PORT" "$pid" "127.0.8.$o" || return 1
  done
}
stop_bmcs() {
  local f
  for f in "$BMCS"/*/ipmi_sim.pid; do [ -e "$f" ] && stop_pid "$f" 2; done
}
for attempt in 1 2 3; do
  launch_bmcs
  wait_for 10 bmcs_bound && break
  # a port taken between the check and the bind: once more elsewhere, unless it was asked for
  [ -z "${DISCOVER_IPMI_PORT:-}" ] && [ "$attempt" -lt 3 ] \
    || die "BMCs did not all bind 127.0.8.${BMC_OCTETS%%$'\n'*}-${BMC_OCTETS##*$'\n'}:$IPMI_PORT (logs: $BMCS/*/ipmi_sim.log)"
  echo "discover: BMC port $IPMI_PORT taken meanwhile, trying another" >&2
  stop_bmcs
done

# --- wait for the PDUs, then check every device ----------------------------------------
for attempt in 1 2 3; do
  # until every endpoint is bound, or one is taken, or snmpsim has gone
  wait_for 30 eval '[ "$(snmp_binds)" != pending ] || ! pid_alive "$SPIDF"' || true
  if [ "$(snmp_binds)" = ours ] && pid_alive "$SPIDF"; then
    wait_for 10 snmpsim_answers && break
    tail -20 "$ST/snmpsim.log" >&2; die "snmpsim did not answer on ${PDU_ADDRS[-1]}:$SNMP_PORT"
  fi
  # a port taken between the check and the bind: once more elsewhere, unless it was asked for
  [ -z "${DISCOVER_SNMP_PORT:-}" ] && [ "$attempt" -lt 3 ] \
    || { tail -20 "$ST/snmpsim.log" >&2; die "snmpsim did not bind every 127.0.7.x:$SNMP_PORT (snmp_binds: $(snmp_binds))"; }
  echo "discover: snmpsim could not have port $SNMP_PORT everywhere, trying another" >&2
  stop_pid "$SPIDF"; launch_snmpsim
done

# Where nothing must answer (each costs a 1 s timeout, so all at once, in the background):
# the secret PDUs with public, a public PDU with secret42, empty addresses in and beyond
# the planted range.
CHK="$ST/checks"; mkdir -p "$CHK"
JOBS=()
silent() {   # silent NAME COMMUNITY ADDRESS : no answer at all
  ( if snmpget -m '' -v2c -c "$2" -t 1 -r 0 "$3:$SNMP_PORT" .1.3.6.1.2.1.1.2.0 >"$CHK/$1" 2>&1; then
      echo "$3 answered community $2" >"$CHK/$1.fail"; fi ) &
  JOBS+=($!)
}
n=0
while IFS=$'\t' read -r a c _; do
  [ "$c" = public ] && continue
  silent "s$((n += 1))" public "$a"
done <"$RUN/endpoints.tsv"
silent p1 secret42 "${PDU_ADDRS[0]}"
silent e1 public 127.0.7.15
silent e2 public 127.0.7.200
silent e3 secret42 127.0.7.9

# every PDU: its sysObjectID and its last outlet's state
while IFS=$'\t' read -r a c oid last on; do
  got="$(snmpget -m '' -Onqv -v2c -c "$c" -t 1 -r 1 "$a:$SNMP_PORT" .1.3.6.1.2.1.1.2.0 ".$last" 2>&1 | xargs)"
  [ "$got" = ".$oid $on" ] || die "PDU $a (community $c): sysObjectID and outlet state '$got', want '.$oid $on'"
done <"$RUN/endpoints.tsv"

# every BMC: chassis on over RMCP+ with cipher suite 3, all at once
for o in $BMC_OCTETS; do
  ( IPMI_PASSWORD="$IPMI_PASS" ipmitool -I lanplus -C 3 -H "127.0.8.$o" -p "$IPMI_PORT" -U "$IPMI_USER" -E -N 1 -R 3 \
      chassis power status >"$CHK/bmc-$o" 2>&1
    grep -qx 'Chassis Power is on' "$CHK/bmc-$o" || echo "BMC 127.0.8.$o: $(xargs <"$CHK/bmc-$o")" >"$CHK/bmc-$o.fail" ) &
  JOBS+=($!)
done
for j in "${JOBS[@]}"; do wait "$j" || true; done   # (a bare wait would wait for snmpsim)
if ls "$CHK"/*.fail >/dev/null 2>&1; then cat "$CHK"/*.fail >&2; die "devices not as planted (above)"; fi

{
  cat "$RUN/manifest-snmp.tsv"
  for o in $BMC_OCTETS; do printf '127.0.8.%s\tipmi\tbmc\t-\t-\n' "$o"; done
} >"$MAN"
{
  echo "DISCOVER_SNMP_PORT=$SNMP_PORT"
  echo "DISCOVER_IPMI_PORT=$IPMI_PORT"
  echo "DISCOVER_MANIFEST=$MAN"
  echo "DISCOVER_SNMP_NET=127.0.7.0/24"
  echo "DISCOVER_IPMI_NET=127.0.8.0/24"
  echo "DISCOVER_COMMUNITY=public"
  echo "DISCOVER_SECRET_COMMUNITY=secret42"
  echo "IPMI_USER=$IPMI_USER"
  echo "IPMI_PASS=$IPMI_PASS"
} >"$ENVF.new"
mv "$ENVF.new" "$ENVF"
trap - EXIT
echo "discover: $(grep -c $'\tsnmp\t' "$MAN") PDUs and $(grep -c $'\tipmi\t' "$MAN") BMCs up and checked in $(ms "$T0") ms; manifest $MAN; stop with $HERE/stop.sh" >&2
cat "$ENVF"
