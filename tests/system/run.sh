#!/usr/bin/env bash
# System tests: the Debian package (build, lintian, install with apt beside fence-agents,
# an upgrade that drops a name, diversions, purge) and fencebox agents under a real single-node Pacemaker cluster
# (stonith_admin reboot/fence/unfence through every backend, a two-PDU topology level,
# two devices on one PDU at once, a failing monitor). Run by tests/run-all.sh after cargo
# test: installing the package puts fencebox under fence-agents' names in /usr/sbin, which
# the differential tests must not see. Everything is undone on exit, also on failure.
# Needs the SNMP simulators and the NUT stack of run-all.sh ($PEERS_STATE/{snmp,nut}.env).
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO="$PWD"
export PEERS_STATE="${PEERS_STATE:-/tmp/fencebox-test-peers}"
. tests/peers/lib.sh
set +e   # every check reports; the summary decides
need_pkgs dpkg-dev lintian pacemaker pacemaker-cli-utils corosync crmsh fence-agents pcs
ST="$(peer_state system)"
FAILS=0
ok() { echo "ok    $*"; }
bad() { echo "FAIL  $*"; FAILS=$((FAILS + 1)); }
# expect WHAT CMD...: the command must succeed.
expect() { local what=$1; shift; if "$@" >"$ST/last.out" 2>&1; then ok "$what"; else bad "$what"; sed 's/^/      /' "$ST/last.out" | tail -n 15; fi; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q ' installed$'; }

cleanup() {
  tests/peers/pacemaker/stop.sh >/dev/null 2>&1
  tests/peers/ipmi/stop.sh cluster >/dev/null 2>&1
  installed fencebox && apt-get purge -y fencebox >/dev/null 2>&1
  installed fence-agents || need_pkgs fence-agents
}
trap cleanup EXIT

# ---------------------------------------------------------------- the package
echo "== package"
DEB="$(packaging/build-deb.sh)" || { echo "FAIL  packaging/build-deb.sh"; exit 1; }
ok "built $(basename "$DEB")"
lintian --fail-on error "$DEB" >"$ST/lintian.out" 2>&1
if [ $? -eq 0 ]; then ok "lintian: no errors ($(grep -c '^W:' "$ST/lintian.out") warnings)"; else bad "lintian reports errors"; cat "$ST/lintian.out"; fi
NAMES="$(FENCEBOX_AGENTS_DIR=/nonexistent target/release/fencebox agents | awk '{print $1}')"

# An agent fence-agents ships and fencebox does not, to show it keeps working.
OTHER=fence_aws
expect "fence-agents' $OTHER runs before" /usr/sbin/$OTHER -o metadata
# First an older package that had one name more (a fence-agents program fencebox does not
# ship): upgrading from it must give that name back to fence-agents.
DROPPED=fence_docker
OLD_DEB="$(FENCEBOX_DEB_VERSION=0~old FENCEBOX_DEB_EXTRA_NAMES=$DROPPED packaging/build-deb.sh "$ST/old-deb")" ||
  { echo "FAIL  packaging/build-deb.sh (the older package)"; exit 1; }
expect "apt installs an older package with one name more ($DROPPED)" env DEBIAN_FRONTEND=noninteractive apt-get install -y "$OLD_DEB"
expect "  $DROPPED is the older package's, fence-agents' program diverted" sh -c \
  "[ \"\$(readlink -f /usr/sbin/$DROPPED)\" = /usr/sbin/fencebox ] && head -n 1 /usr/sbin/$DROPPED.fence-agents | grep -q python"
expect "apt upgrades it to the package" env DEBIAN_FRONTEND=noninteractive apt-get install -y "$DEB"
expect "  the dropped name's diversions are gone" sh -c "! dpkg-divert --list | grep '/$DROPPED[. ]' | grep -q 'by fencebox\$'"
expect "  $DROPPED is fence-agents' again and runs" sh -c \
  "[ ! -L /usr/sbin/$DROPPED ] && [ ! -e /usr/sbin/$DROPPED.fence-agents ] && PYTHONWARNINGS=ignore /usr/sbin/$DROPPED -o metadata | grep -q 'resource-agent name=\"$DROPPED\"'"
expect "  man $DROPPED is fence-agents' again" sh -c \
  "[ ! -e /usr/share/man/man8/$DROPPED.8.gz.fence-agents ] && zcat /usr/share/man/man8/$DROPPED.8.gz | grep -q 'Fence Agent'"
meta_ok=0; meta_bad=""
for n in $NAMES; do
  case "$(readlink -f "/usr/sbin/$n")" in /usr/sbin/fencebox | /usr/sbin/fencebox-agent | /usr/sbin/fencebox-shell) ours=1 ;; *) ours=0 ;; esac
  if [ $ours = 1 ] && "/usr/sbin/$n" -o metadata | cmp -s - "metadata/$n.xml"; then
    meta_ok=$((meta_ok + 1))
  else
    meta_bad="$meta_bad $n"
  fi
done
[ -z "$meta_bad" ] && ok "all $meta_ok shipped names are fencebox's (metadata equal to metadata/)" || bad "not fencebox's:$meta_bad"
expect "fence_apc_snmp's fence-agents original is diverted, not lost" sh -c 'head -n 1 /usr/sbin/fence_apc_snmp.fence-agents | grep -q python'
expect "man fence_apc_snmp is fencebox's" sh -c 'zcat /usr/share/man/man8/fence_apc_snmp.8.gz | grep -q fencebox'
expect "$OTHER (not shipped) is still fence-agents' and runs" sh -c \
  "[ ! -L /usr/sbin/$OTHER ] && PYTHONWARNINGS=ignore /usr/sbin/$OTHER -o metadata | grep -q 'resource-agent name=\"$OTHER\"'"
expect "every diversion belongs to fencebox ($(echo $NAMES | wc -w) names, programs and man pages)" sh -c \
  "[ \$(dpkg-divert --list | grep -c 'by fencebox\$') -eq $(( $(echo $NAMES | wc -w) * 2 )) ]"

# stonith_admin sees every agent, reads its metadata and validates it.
echo "== stonith_admin"
stonith_admin -I >"$ST/agents.txt" 2>&1
missing=""; for n in $NAMES; do grep -qx "[[:space:]]*$n" "$ST/agents.txt" || missing="$missing $n"; done
[ -z "$missing" ] && ok "stonith_admin -I lists all fencebox agents" || bad "stonith_admin -I misses:$missing"
params() { grep -o 'parameter name="[^"]*"' | sort; }
mbad=""; vbad=""
for n in $NAMES; do
  stonith_admin --metadata --agent "$n" 2>/dev/null | params >"$ST/m1"; params <"metadata/$n.xml" >"$ST/m2"
  [ -s "$ST/m1" ] && cmp -s "$ST/m1" "$ST/m2" || mbad="$mbad $n"
  # The options a valid call needs, read from the agent's own metadata: an address,
  # a login where it takes one, a community where it speaks SNMP.
  has() { grep -q "parameter name=\"$1\"" "metadata/$n.xml"; }
  case $n in
    fence_dummy) opts=(-o "status_file=$ST/validate.status") ;;
    fence_nut) opts=(-o ip=127.0.0.1 -o ups_name=ups1 -o username=fence -o password=secret) ;;
    fence_chain) opts=(-o "inventory=$REPO/examples/inventory.toml") ;;
    *) opts=(-o ip=127.0.0.1)
       has username && opts+=(-o username=admin -o password=secret)
       has community && opts+=(-o community=private -o snmp_version=2c)
       has lanplus && opts+=(-o lanplus=1)
       has managed && opts+=(-o managed=frame1) ;;
  esac
  stonith_admin --validate --agent "$n" "${opts[@]}" >"$ST/v.out" 2>&1 || { vbad="$vbad $n"; grep -m2 -i error "$ST/v.out" | sed "s/^/      $n: /"; }
done
[ -z "$mbad" ] && ok "stonith_admin --metadata: every agent's parameters as fencebox describes them" || bad "stonith_admin --metadata differs:$mbad"
[ -z "$vbad" ] && ok "stonith_admin --validate passes for every agent" || bad "stonith_admin --validate fails:$vbad"
expect "stonith_admin --validate reports a bad value" sh -c \
  "! stonith_admin --validate --agent fence_apc_snmp -o ip=127.0.0.1 -o community=x -o snmp_version=7"

# ------------------------------------------------- discovery's pcs lines, offline
# `fencebox discover --pcs` on the planted set of run-all.sh (tests/peers/discover): pcs
# checks each line against the installed agent's own metadata (fence_pdu, fence_ipmilan
# of this package) and writes it into an empty CIB file.
echo "== discover --pcs"
. "$PEERS_STATE/discover.env"
cibadmin --empty >"$ST/pcs-cib.xml"
/usr/sbin/fencebox discover 127.0.7.0/24 127.0.8.10-17 --protocols snmp,ipmi -c public \
  --snmp-port "$DISCOVER_SNMP_PORT" --ipmi-port "$DISCOVER_IPMI_PORT" --timeout 1 --pcs >"$ST/pcs.lines" 2>"$ST/pcs.err"
lines=$(grep -c '^pcs stonith create ' "$ST/pcs.lines")
[ "$lines" -ge 30 ] && ok "discover --pcs: $lines lines" || { bad "discover --pcs gave $lines lines"; cat "$ST/pcs.err"; }
pbad=0
while IFS= read -r line; do
  eval "set -- ${line#pcs }"
  pcs -f "$ST/pcs-cib.xml" "$@" >"$ST/pcs.out" 2>&1 || { pbad=$((pbad + 1)); sed 's/^/      /' "$ST/pcs.out" | head -3; }
done <"$ST/pcs.lines"
made=$(pcs -f "$ST/pcs-cib.xml" stonith config 2>/dev/null | grep -c '(class=stonith ')
[ "$pbad" = 0 ] && [ "$made" = "$lines" ] && ok "pcs -f CIB stonith create accepts every line ($made devices)" \
  || bad "pcs refused $pbad of $lines lines ($made devices made)"

# ---------------------------------------------------------------- the cluster
echo "== cluster"
. "$PEERS_STATE/snmp.env"; . "$PEERS_STATE/nut.env"
PDU_A="$FENCEBOX_SNMPSIM_PORT"; PDU_B="$FENCEBOX_SNMPSIM_V3_APC_RPDU2"
DB_A="$PEERS_STATE/snmpsim-private/run/pdu.sqlite"; DB_B="$PEERS_STATE/snmpsim-apc-rpdu2/run/pdu.sqlite"
DB_NUT="$PEERS_STATE/snmpsim-nut/run/pdu.sqlite"
APC_CTL=.1.3.6.1.4.1.318.1.1.12.3.3.1.1.4   # rPDUOutletControlOutletCommand: 1 on, 2 off
BAYTECH_CTL=.1.3.6.1.4.1.4779.1.3.5.3.1.3.1  # outlet state/control: 1 on, 0 off
BMC_PORT="$(tests/peers/ipmi/start.sh cluster | sed -n 's/^IPMI_PORT=//p')"
[ -n "$BMC_PORT" ] || { bad "ipmi_sim for the cluster did not start"; exit 1; }
BMC_DIR="$PEERS_STATE/ipmi-cluster"
tests/peers/pacemaker/start.sh >"$ST/cluster.out" 2>&1 || { bad "cluster start"; cat "$ST/cluster.out"; exit 1; }
ok "single-node cluster running"
echo on >"$ST/dummy.status"
pdu() { # pdu ID PORT OUTLET-MAP [extra params]
  echo "primitive $1 stonith:fence_apc_snmp params ip=127.0.0.1 ipport=$2 community=private snmp_version=2c power_wait=0 pcmk_host_map=\"$3\" ${4:-} op monitor interval=60s"
}
cat >"$ST/stonith.crm" <<CRM
primitive fence-dummy stonith:fence_dummy params status_file=$ST/dummy.status verbose=1 debug_file=$ST/dummy.log pcmk_host_list=fakenode0 op monitor interval=60s
primitive fence-bmc stonith:fence_ipmilan params ip=127.0.0.1 ipport=$BMC_PORT username=admin password=password lanplus=1 cipher=3 ipmitool_timeout=1 power_wait=0 pcmk_host_list=fakenode1 op monitor interval=5s
$(pdu fence-pdu "$PDU_A" fakenode3:3)
primitive fence-ups stonith:fence_nut params ip=127.0.0.1 ipport=$FENCEBOX_NUT_PORT username=admin password=adminpass ups_name=baytech ssl=1 ssl_ca_file=$FENCEBOX_NUT_CA pcmk_host_map="fakenode4:6" op monitor interval=60s
$(pdu fence-psu1 "$PDU_A" fakenode5:7)
$(pdu fence-psu2 "$PDU_B" fakenode5:7)
$(pdu fence-pdu-a "$PDU_A" fakenode6:9 "verbose=1 debug_file=$ST/pdu-a.log")
$(pdu fence-pdu-b "$PDU_A" fakenode7:10 "verbose=1 debug_file=$ST/pdu-b.log")
primitive fence-chain stonith:fence_chain params inventory=$ST/inventory.toml pcmk_host_list=fakenode8 op monitor interval=60s
fencing_topology fakenode5: fence-psu1,fence-psu2
CRM
# fence_chain: one device, a dual-PSU node on both PDUs (outlet 11), by the inventory.
cat >"$ST/inventory.toml" <<INV
[devices.pdua]
agent = "fence_apc_snmp"
ip = "127.0.0.1"
ipport = $PDU_A
community = "private"
power_wait = 0

[devices.pdub]
agent = "fence_apc_snmp"
ip = "127.0.0.1"
ipport = $PDU_B
community = "private"
power_wait = 0

[nodes.fakenode8]
feeds = ["pdua:11", "pdub:11"]
INV
chmod 600 "$ST/inventory.toml"
expect "crm configure loads the stonith devices and the topology" crm configure load update "$ST/stonith.crm"
started() { [ "$(crm_mon -1 2>/dev/null | grep -c 'stonith:.*Started')" -ge 9 ]; }
if wait_for 60 started; then ok "all 9 stonith devices started"; else bad "stonith devices did not start"; crm_mon -1; fi

now() { date +%s.%N; }
values() { tests/system/setlog.py "$1" "$2" "$3" "$4" | awk '{print $2}' | tr '\n' ' ' | sed 's/ $//'; }

echo "-- the inventory import reads the running cluster's CIB (cibadmin --query)"
expect "fencebox inventory import cib --output" /usr/sbin/fencebox inventory import cib --output "$ST/imported.toml"
expect "  the imported inventory checks" /usr/sbin/fencebox inventory check --inventory "$ST/imported.toml"
/usr/sbin/fencebox power list fakenode5,fakenode3,fakenode1 --json --inventory "$ST/imported.toml" >"$ST/imported.json" 2>&1
expect "  the topology's dual-PSU node has both PDU outlets as feeds" \
  python3 -c "import json,sys; n={x['node']: x for x in json.load(open(sys.argv[1]))}; assert n['fakenode5']['feeds'] == ['fence-psu1:7', 'fence-psu2:7'], n; assert n['fakenode3']['feeds'] == ['fence-pdu:3'], n; assert n['fakenode1']['bmc'] == 'fence-bmc', n" "$ST/imported.json"

echo "-- fence_dummy (fakenode0)"
expect "stonith_admin --reboot fakenode0" stonith_admin --reboot fakenode0
expect "  the dummy went off, then on" sh -c "grep -o 'switching o[nf]*' '$ST/dummy.log' | tr '\n' ' ' | grep -q 'switching off switching on'"
expect "stonith_admin --fence fakenode0" stonith_admin --fence fakenode0
expect "  status file says off" grep -qx off "$ST/dummy.status"
expect "stonith_admin --unfence fakenode0" stonith_admin --unfence fakenode0
expect "  status file says on" grep -qx on "$ST/dummy.status"

echo "-- fence_ipmilan on ipmi_sim (fakenode1)"
: >"$BMC_DIR/chassis.log"
expect "stonith_admin --reboot fakenode1" stonith_admin --reboot fakenode1
expect "  the BMC powered off, then on" sh -c "grep -o 'set power [01]' '$BMC_DIR/chassis.log' | tr '\n' ' ' | grep -qx 'set power 0 set power 1 '"
expect "stonith_admin --fence fakenode1" stonith_admin --fence fakenode1
expect "  the chassis is off" grep -qx 0 "$BMC_DIR/power"
expect "stonith_admin --unfence fakenode1" stonith_admin --unfence fakenode1
expect "  the chassis is on" grep -qx 1 "$BMC_DIR/power"

# switched NODE DB TABLE OID OFF ON: reboot, fence and unfence NODE, and read from the
# simulator's own record that the outlet's control OID got OFF then ON, OFF, ON.
switched() {
  local node=$1 db=$2 table=$3 oid=$4 off=$5 on=$6 t
  t=$(now); expect "stonith_admin --reboot $node" stonith_admin --reboot "$node"
  expect "  the outlet was switched off, then on" test "$(values "$db" "$table" "$oid" "$t")" = "$off $on"
  t=$(now); expect "stonith_admin --fence $node" stonith_admin --fence "$node"
  expect "  the outlet was switched off" test "$(values "$db" "$table" "$oid" "$t")" = "$off"
  t=$(now); expect "stonith_admin --unfence $node" stonith_admin --unfence "$node"
  expect "  the outlet was switched on" test "$(values "$db" "$table" "$oid" "$t")" = "$on"
}
echo "-- fence_apc_snmp on snmpsim (fakenode3, outlet 3)"
switched fakenode3 "$DB_A" private "$APC_CTL.3" 2 1
echo "-- fence_nut on upsd over STARTTLS (fakenode4, outlet 6 of the PDU behind upsd)"
switched fakenode4 "$DB_NUT" baytech "$BAYTECH_CTL.6" 0 1

echo "-- topology: a dual-PSU node on two PDUs (fakenode5)"
t=$(now); expect "stonith_admin --reboot fakenode5" stonith_admin --reboot fakenode5
tests/system/setlog.py "$DB_A" private "$APC_CTL.7" "$t" | sed 's/$/ A/' >"$ST/topo"
tests/system/setlog.py "$DB_B" private "$APC_CTL.7" "$t" | sed 's/$/ B/' >>"$ST/topo"
sort -n "$ST/topo" -o "$ST/topo"
# Both offs (2) must come before either on (1), in the simulators' own clocks.
expect "  both outlets off before either on: $(awk '{printf "%s=%s ", $3, $2}' "$ST/topo")" \
  test "$(awk '{print $2}' "$ST/topo" | tr '\n' ' ')" = "2 2 1 1 "

echo "-- fence_chain: a dual-PSU node by the inventory, one stonith device (fakenode8)"
t=$(now); expect "stonith_admin --reboot fakenode8" stonith_admin --reboot fakenode8
tests/system/setlog.py "$DB_A" private "$APC_CTL.11" "$t" | sed 's/$/ A/' >"$ST/chain"
tests/system/setlog.py "$DB_B" private "$APC_CTL.11" "$t" | sed 's/$/ B/' >>"$ST/chain"
sort -n "$ST/chain" -o "$ST/chain"
expect "  both outlets off before either on: $(awk '{printf "%s=%s ", $3, $2}' "$ST/chain")" \
  test "$(awk '{print $2}' "$ST/chain" | tr '\n' ' ')" = "2 2 1 1 "
t=$(now); expect "stonith_admin --fence fakenode8" stonith_admin --fence fakenode8
expect "  both outlets were switched off" test "$(values "$DB_A" private "$APC_CTL.11" "$t") $(values "$DB_B" private "$APC_CTL.11" "$t")" = "2 2"
expect "stonith_admin --unfence fakenode8" stonith_admin --unfence fakenode8

echo "-- two devices on one PDU fenced at once (fakenode6, fakenode7)"
: >"$ST/pdu-a.log"; : >"$ST/pdu-b.log"
stonith_admin --reboot fakenode6 >"$ST/r6.out" 2>&1 & p6=$!
stonith_admin --reboot fakenode7 >"$ST/r7.out" 2>&1 & p7=$!
wait $p6; r6=$?; wait $p7; r7=$?
[ $r6 = 0 ] && [ $r7 = 0 ] && ok "both reboots succeeded" || bad "reboots: fakenode6 rc $r6, fakenode7 rc $r7"
# The lock-held phase of each call: "device session start" .. "device session end".
sessions() { for f in "$ST/pdu-a.log" "$ST/pdu-b.log"; do
  awk '/action=reboot/ {r=1} r && /device session start/ {s=$1" "$2} r && /device session end/ {print s"|"$1" "$2; r=0}' "$f"; done | sort; }
sessions >"$ST/spans"
if [ "$(wc -l <"$ST/spans")" -eq 2 ] && [ "$(sed -n 1p "$ST/spans" | cut -d'|' -f2)" \< "$(sed -n 2p "$ST/spans" | cut -d'|' -f1)" ]; then
  ok "  their device phases did not overlap: $(tr '\n' ' ' <"$ST/spans")"
else
  bad "  device phases overlap or are missing: $(tr '\n' ' ' <"$ST/spans")"
fi

echo "-- a monitor failure when the device goes away"
tests/peers/ipmi/stop.sh cluster
failed() { crm_mon -1 2>/dev/null | sed -n '/Failed Resource Actions/,$p' | grep -q 'fence-bmc.*monitor'; }
if wait_for 60 failed; then ok "the cluster reports fence-bmc's monitor failure"; else bad "no monitor failure reported"; crm_mon -1; fi

echo "== purge"
expect "apt purges the package" env DEBIAN_FRONTEND=noninteractive apt-get purge -y fencebox
expect "fence_apc_snmp is fence-agents' again" sh -c 'head -n 1 /usr/sbin/fence_apc_snmp | grep -q python && [ ! -e /usr/sbin/fence_apc_snmp.fence-agents ]'
expect "fence_ipmilan man page is fence-agents' again" sh -c '! zcat /usr/share/man/man8/fence_ipmilan.8.gz | grep -q fencebox'
expect "no diversion left" sh -c '! dpkg-divert --list | grep -q "by fencebox"'
expect "fencebox-only names are gone" sh -c '[ ! -e /usr/sbin/fence_pdu ] && [ ! -e /usr/sbin/fencebox ] && [ ! -e /usr/sbin/fencebox-agent ] && [ ! -e /usr/sbin/fencebox-shell ]'

echo "== without fence-agents"
tests/peers/pacemaker/stop.sh >/dev/null 2>&1
expect "fence-agents removed for this check" env DEBIAN_FRONTEND=noninteractive apt-get remove -y fence-agents
expect "apt installs fencebox alone" env DEBIAN_FRONTEND=noninteractive apt-get install -y "$DEB"
expect "fence_ipmilan is fencebox's" sh -c '[ "$(readlink -f /usr/sbin/fence_ipmilan)" = /usr/sbin/fencebox-agent ] && /usr/sbin/fence_ipmilan -o metadata | grep -q lanplus'
expect "fence_virsh runs in fencebox-shell" sh -c '[ "$(readlink -f /usr/sbin/fence_virsh)" = /usr/sbin/fencebox-shell ] && /usr/sbin/fence_virsh -o metadata | grep -q "resource-agent name=\"fence_virsh\""'
expect "apt purges it" env DEBIAN_FRONTEND=noninteractive apt-get purge -y fencebox
expect "nothing is left under the agent names" sh -c '[ ! -e /usr/sbin/fence_ipmilan ] && [ ! -e /usr/sbin/fence_ipmilan.fence-agents ]'
expect "fence-agents comes back" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fence-agents

echo
if [ "$FAILS" -eq 0 ]; then echo "system tests: all passed"; else echo "system tests: $FAILS FAILED"; exit 1; fi
