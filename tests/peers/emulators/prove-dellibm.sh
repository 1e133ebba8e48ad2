#!/usr/bin/env bash
# Prove the Dell and IBM device emulators faithful: run Debian's own Python fence agents
# (fence-agents 4.12.1) against them, over each agent's default transport and the other one
# where the agent offers both, and compare exit codes and stdout with what is recorded below
# and in dellibm.observed.txt.
#
#   emulator         agent              transports here
#   drac.py drac5    fence_drac5        telnet (the agent's default, port 23), ssh
#   drac.py idrac    fence_drac5        ssh (SM-CLP, command_prompt=/admin1->)
#   drac.py cmc      fence_drac5        telnet, ssh
#   drac.py dracmc   fence_drac5        telnet (DRAC/MC, prompt DRAC/MC:)
#   drac.py drac4    fence_drac         telnet (its only transport)
#   bladecenter.py   fence_bladecenter  telnet (default), ssh
#   rsa.py           fence_rsa          telnet (default), ssh
#   rsb.py           fence_rsb          telnet (default, port 3172), ssh
#   lpar.py hmc4/3   fence_lpar         ssh (its only transport)
#
# Telnet: each device is its own emulator behind tests/peers/ssh/telnet-accept.py on a
# loopback port, doing the device's own login (EMU_LOGIN=1). SSH: one private sshd from the
# shared recipe (start-sshd.sh, $SHARED_PEERS/ssh), one account per device whose ForceCommand
# is the emulator; the telnet and ssh faces of one device share its state file.
#
# Usage: prove-dellibm.sh [FAMILY...]    FAMILY: drac bladecenter rsa rsb lpar (default: all)
# Env:   PEERS_STATE (default /tmp/peers-dellibm)   state, wrappers, logs, the agents' copy
#        SHARED_PEERS (default /work/shared/peers)  where ssh/start-sshd.sh lives
#        PROVE_PORT_BASE (default 17400)            ports BASE+1.. (telnet), BASE+22 (sshd)
#        RECORD=1                                   write the observed outputs to dellibm.observed.txt
# Needs root (the sshd accounts), openssh-server, telnet (the client the agents drive).
# Stops everything it started by PID (telnet acceptors, the sshd) on exit.
#
# The agents are run from a private copy of Debian's fence-agents package unpacked under
# $PEERS_STATE (same bytes as /usr/sbin/fence_*), with /usr/bin/python3, so that a CI job that
# swaps the installed package in and out cannot pull them away mid-run.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
PEERS_STATE="${PEERS_STATE:-/tmp/peers-dellibm}"
SHARED_PEERS="${SHARED_PEERS:-/work/shared/peers}"
BASE="${PROVE_PORT_BASE:-17400}"
ST="$PEERS_STATE/dellibm"
PY=/usr/bin/python3
SSH_PORT=$((BASE + 22))
SSH_NAME=dellibm
export SSH_TEST_USER=fbdltest          # the shared recipe's bash account; ours, so no other run moves its home
SSH_PASSWORD=fbtest-pass              # what the shared recipe gives every account it makes
umask 022

die() { echo "prove-dellibm: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (the sshd accounts)"
command -v telnet >/dev/null || die "the telnet client is missing (apt-get install telnet)"
mkdir -p "$ST/w" "$ST/log"
mkdir -p -m 0777 "$ST/emu"; chmod 0777 "$ST/emu"     # state files, written by root (telnet) and the accounts (ssh)
chmod 755 "$PEERS_STATE" "$ST"

# --- Debian's agents, unpacked -------------------------------------------------------------
AG="$ST/fence-agents"
if [ ! -f "$AG/usr/share/fence/fencing.py" ]; then
  deb="$(ls /var/cache/apt/archives/fence-agents_4.12.1-1_*.deb 2>/dev/null | head -1)"
  if [ -z "$deb" ]; then
    (cd "$ST" && apt-get download fence-agents=4.12.1-1 >/dev/null 2>&1) || die "apt-get download fence-agents failed"
    deb="$(ls "$ST"/fence-agents_4.12.1-1_*.deb | head -1)"
  fi
  dpkg -x "$deb" "$AG" || die "cannot unpack $deb"
fi
for i in $(seq 1 60); do "$PY" -c 'import pexpect, pycurl' 2>/dev/null && break; sleep 1; done
"$PY" -c 'import pexpect, pycurl' 2>/dev/null || die "python3-pexpect / python3-pycurl missing"

# --- starting and stopping -----------------------------------------------------------------
PIDS=()
SSHD_STARTED=0
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  if [ "$SSHD_STARTED" = 1 ]; then
    PEERS_STATE="$PEERS_STATE" "$SHARED_PEERS/ssh/stop-sshd.sh" "$SSH_NAME" >/dev/null 2>&1
  fi
}
trap cleanup EXIT

# wrapper NAME EMULATOR FLAVOUR [telnet USER PASSWORD] : a script exporting the EMU_* settings
wrapper() {
  local name=$1 emu=$2 flavour=$3 mode=${4:-ssh} f="$ST/w/$1-${4:-ssh}.sh"
  {
    echo "#!/bin/sh"
    echo "umask 0"
    echo "export EMU_FLAVOUR='$flavour' EMU_STATE='$ST/emu/$name.json'"
    [ "$mode" = telnet ] && echo "export EMU_LOGIN=1 EMU_USER='$5' EMU_PASSWORD='$6'"
    echo "exec $PY '$HERE/$emu'"
  } > "$f"
  chmod 755 "$f"
  printf '%s\n' "$f"
}

# telnet_device NAME EMULATOR FLAVOUR PORT USER PASSWORD
telnet_device() {
  local w; w="$(wrapper "$1" "$2" "$3" telnet "$5" "$6")"
  setsid "$PY" "$REPO/tests/peers/ssh/telnet-accept.py" "$4" "$w" >"$ST/log/telnet-$1.log" 2>&1 </dev/null &
  PIDS+=($!)
  local i; for i in $(seq 1 50); do grep -q accepting "$ST/log/telnet-$1.log" 2>/dev/null && return 0; sleep 0.1; done
  die "telnet acceptor for $1 on port $4 did not start (see $ST/log/telnet-$1.log)"
}

# ssh_devices "account=NAME:EMULATOR:FLAVOUR ..." : one sshd, an account per device
ssh_devices() {
  local spec emus="" acct rest name emu flavour w
  for spec in $1; do
    acct=${spec%%=*}; rest=${spec#*=}
    IFS=: read -r name emu flavour <<<"$rest"
    w="$(wrapper "$name" "$emu" "$flavour")"
    emus="$emus $acct=$w"
  done
  PEERS_STATE="$PEERS_STATE" SSH_PORT=$SSH_PORT SSH_EMULATORS="$emus" \
    "$SHARED_PEERS/ssh/start-sshd.sh" "$SSH_NAME" >"$ST/log/sshd-start.log" 2>&1 \
    || { cat "$ST/log/sshd-start.log" >&2; die "sshd did not start"; }
  SSHD_STARTED=1
}
SSH_OPTS="-o UserKnownHostsFile=$PEERS_STATE/ssh/known_hosts -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null"

# --- running the agents --------------------------------------------------------------------
RESULTS=()
FAILS=0
OBS="$ST/observed.txt"
: > "$OBS"

# case LABEL AGENT WANT_RC WANT_STDOUT key=value... : stdin options; stdout compared exactly
case_() {
  local label=$1 agent=$2 want_rc=$3 want_out=$4; shift 4
  # The case lines are written once for both transports: a telnet case drops ssh_options.
  if [ "$agent" != fence_lpar ] && ! printf '%s\n' "$@" | grep -qx 'ssh=1'; then
    local a kept=()
    for a in "$@"; do [[ "$a" == ssh_options=* ]] || kept+=("$a"); done
    set -- "${kept[@]}"
  fi
  local out rc t0 t1 secs verdict
  t0=$(date +%s.%N)
  out="$(printf '%s\n' "$@" | PYTHONPATH="$AG/usr/share/fence" timeout 90 "$PY" "$AG/usr/sbin/$agent" 2>"$ST/log/last-stderr")"
  rc=$?
  t1=$(date +%s.%N)
  secs=$(printf '%.1f' "$(echo "$t1 - $t0" | bc)")
  if [ "$rc" = "$want_rc" ] && [ "$out" = "$want_out" ]; then verdict=PASS; else verdict=FAIL; FAILS=$((FAILS + 1)); fi
  RESULTS+=("$(printf '%-4s  %-44s rc %-3s %5ss  %s' "$verdict" "$label" "$rc" "$secs" "$(printf '%s' "$out" | tr '\n' '|' | cut -c1-60)")")
  {
    echo "## $label"
    echo "agent: $agent; rc: $rc"
    printf 'stdin:'; printf ' %s' "$@" | sed "s#$PEERS_STATE#\$PEERS_STATE#g"; echo
    echo "stdout:"; printf '%s\n' "$out" | sed 's/^/  | /'
    # stderr without time stamps, blank lines and traceback frames (its last line stays)
    echo "stderr:"; sed -E -e '/^  /d' -e 's/^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:,]+ //' -e '/^[[:space:]]*$/d' -e '/^Traceback/d' "$ST/log/last-stderr" | sed 's/^/  ! /'
    echo
  } >> "$OBS"
  if [ "$verdict" = FAIL ]; then
    { echo "FAIL $label: rc $rc (want $want_rc)"; echo "  stdout: $(printf '%q' "$out")"; echo "  want:   $(printf '%q' "$want_out")";
      sed 's/^/  stderr: /' "$ST/log/last-stderr" | tail -5; } >&2
  fi
}

reset_state() { local n; for n in "$@"; do rm -f "$ST/emu/$n.json"; done; }

# --- Dell: fence_drac5 (DRAC 5, iDRAC, CMC) and fence_drac (DRAC 4) ------------------------
prove_drac() {
  local T5="ip=127.0.0.1 ipport=$((BASE + 1)) username=root password=calvin"
  local TC="ip=127.0.0.1 ipport=$((BASE + 2)) username=root password=calvin"
  local T4="ip=127.0.0.1 ipport=$((BASE + 3)) username=root password=calvin"
  local S="ip=127.0.0.1 ipport=$SSH_PORT ssh=1 password=$SSH_PASSWORD"
  local label t opts
  reset_state drac5 cmc idrac drac4 dracmc
  for t in telnet ssh; do
    if [ $t = telnet ]; then opts="$T5"; else opts="$S username=fbdrac5"; fi
    # shellcheck disable=SC2086
    {
    case_ "drac5 $t status"            fence_drac5 0 "Status: ON"            $opts action=status "ssh_options=$SSH_OPTS"
    case_ "drac5 $t off"               fence_drac5 0 "Success: Powered OFF"  $opts action=off power_wait=1 "ssh_options=$SSH_OPTS"
    case_ "drac5 $t status (off)"      fence_drac5 2 "Status: OFF"           $opts action=status "ssh_options=$SSH_OPTS"
    case_ "drac5 $t on"                fence_drac5 0 "Success: Powered ON"   $opts action=on power_wait=1 "ssh_options=$SSH_OPTS"
    case_ "drac5 $t on (already)"      fence_drac5 0 "Success: Already ON"   $opts action=on "ssh_options=$SSH_OPTS"
    case_ "drac5 $t reboot"            fence_drac5 0 "Success: Rebooted"     $opts action=reboot power_wait=1 "ssh_options=$SSH_OPTS"
    case_ "drac5 $t list"              fence_drac5 0 "N/A"                   $opts action=list "ssh_options=$SSH_OPTS"
    case_ "drac5 $t list-status"       fence_drac5 0 "N/A"                   $opts action=list-status "ssh_options=$SSH_OPTS"
    case_ "drac5 $t monitor"           fence_drac5 0 "N/A"                   $opts action=monitor "ssh_options=$SSH_OPTS"
    case_ "drac5 $t wrong password"    fence_drac5 1 ""                      $opts action=status password=wrong "ssh_options=$SSH_OPTS"
    }
  done
  # transport variants: IPv6 loopback, public-key login (with and without a passphrase)
  local K="$PEERS_STATE/ssh/keys"
  # shellcheck disable=SC2086
  {
  case_ "drac5 telnet ip=::1"          fence_drac5 0 "Status: ON"            ip=::1 ipport=$((BASE + 1)) username=root password=calvin action=status
  case_ "drac5 ssh ip=::1 inet6_only"  fence_drac5 0 "Status: ON"            ip=::1 inet6_only=1 ipport=$SSH_PORT ssh=1 username=fbdrac5 password=$SSH_PASSWORD action=status "ssh_options=$SSH_OPTS"
  case_ "drac5 ssh identity_file"      fence_drac5 0 "Status: ON"            ip=127.0.0.1 ipport=$SSH_PORT ssh=1 username=fbdrac5 identity_file=$K/id_ed25519 action=status "ssh_options=$SSH_OPTS"
  case_ "drac5 ssh identity_file+phrase" fence_drac5 0 "Status: ON"          ip=127.0.0.1 ipport=$SSH_PORT ssh=1 username=fbdrac5 identity_file=$K/id_ed25519_enc password=fbtest-phrase action=status "ssh_options=$SSH_OPTS"
  }
  opts="$S username=fbidrac command_prompt=/admin1->"
  # shellcheck disable=SC2086
  {
  case_ "idrac ssh status"             fence_drac5 0 "Status: ON"            $opts action=status "ssh_options=$SSH_OPTS"
  case_ "idrac ssh off"                fence_drac5 0 "Success: Powered OFF"  $opts action=off power_wait=1 "ssh_options=$SSH_OPTS"
  case_ "idrac ssh status (off)"       fence_drac5 2 "Status: OFF"           $opts action=status "ssh_options=$SSH_OPTS"
  case_ "idrac ssh reboot (from off)"  fence_drac5 0 "Success: Rebooted"     $opts action=reboot power_wait=1 "ssh_options=$SSH_OPTS"
  case_ "idrac ssh monitor"            fence_drac5 0 "N/A"                   $opts action=monitor "ssh_options=$SSH_OPTS"
  case_ "idrac ssh default prompt"     fence_drac5 1 ""                      $S username=fbidrac action=status login_timeout=2 "ssh_options=$SSH_OPTS"
  }
  local CMC_LIST="Chassis,
Fan-1,
Fan-2,
Fan-3,
Fan-4,
Fan-5,
Fan-6,
Fan-7,
Fan-8,
Fan-9,
Switch-1,
Switch-2,
Server-1,
Server-2,
Server-3,
Server-4,
Server-5,"
  for t in telnet ssh; do
    reset_state cmc
    if [ $t = telnet ]; then opts="$TC"; else opts="$S username=fbcmc"; fi
    # shellcheck disable=SC2086
    {
    case_ "cmc $t status server-1"     fence_drac5 0 "Status: ON"            $opts plug=server-1 action=status "ssh_options=$SSH_OPTS"
    case_ "cmc $t status server-2"     fence_drac5 2 "Status: OFF"           $opts plug=server-2 action=status "ssh_options=$SSH_OPTS"
    case_ "cmc $t on server-2"         fence_drac5 0 "Success: Powered ON"   $opts plug=server-2 action=on power_wait=1 "ssh_options=$SSH_OPTS"
    case_ "cmc $t off server-1"        fence_drac5 0 "Success: Powered OFF"  $opts plug=server-1 action=off power_wait=1 "ssh_options=$SSH_OPTS"
    case_ "cmc $t reboot server-3"     fence_drac5 0 "Success: Rebooted"     $opts plug=server-3 action=reboot power_wait=1 "ssh_options=$SSH_OPTS"
    case_ "cmc $t status Server-1"     fence_drac5 2 "Status: OFF"           $opts plug=Server-1 action=status "ssh_options=$SSH_OPTS"
    case_ "cmc $t list"                fence_drac5 0 "$CMC_LIST"             $opts action=list "ssh_options=$SSH_OPTS"
    # upstream: list-status (unlike list and monitor) wants a plug on CMC, and monitor prints nothing
    case_ "cmc $t list-status no plug" fence_drac5 1 ""                      $opts action=list-status "ssh_options=$SSH_OPTS"
    case_ "cmc $t list-status"         fence_drac5 0 "$(sed -e 's/,$/,,ON/' -e '/^Server-1,/s/ON$/OFF/' -e '/^Server-4,/s/ON$/OFF/' <<<"$CMC_LIST")" \
                                                                             $opts plug=server-1 action=list-status "ssh_options=$SSH_OPTS"
    case_ "cmc $t monitor"             fence_drac5 0 ""             $opts action=monitor "ssh_options=$SSH_OPTS"
    case_ "cmc $t status empty slot"   fence_drac5 1 ""                      $opts plug=server-9 action=status "ssh_options=$SSH_OPTS"
    case_ "cmc $t no plug"             fence_drac5 1 ""                      $opts action=status "ssh_options=$SSH_OPTS"
    case_ "cmc $t wrong password"      fence_drac5 1 ""                      $opts plug=server-1 action=status password=wrong "ssh_options=$SSH_OPTS"
    }
  done
  local TM="ip=127.0.0.1 ipport=$((BASE + 7)) username=root password=calvin"
  local MC_LIST="chassis,
switch-1,
server-1,
server-2,
server-3,
server-4,"
  # shellcheck disable=SC2086
  {
  case_ "dracmc telnet status server-1"     fence_drac5 0 "Status: ON"           $TM plug=server-1 action=status
  case_ "dracmc telnet status server-2"     fence_drac5 2 "Status: OFF"          $TM plug=server-2 action=status
  case_ "dracmc telnet on server-2"         fence_drac5 0 "Success: Powered ON"  $TM plug=server-2 action=on power_wait=1
  case_ "dracmc telnet off server-1"        fence_drac5 0 "Success: Powered OFF" $TM plug=server-1 action=off power_wait=1
  case_ "dracmc telnet reboot server-3"     fence_drac5 0 "Success: Rebooted"    $TM plug=server-3 action=reboot power_wait=1
  case_ "dracmc telnet list"                fence_drac5 0 "$MC_LIST"             $TM action=list
  case_ "dracmc telnet list-status"         fence_drac5 0 "$(sed -e 's/,$/,,ON/' -e '/^server-1,/s/ON$/OFF/' -e '/^server-4,/s/ON$/OFF/' <<<"$MC_LIST")" \
                                                                                 $TM plug=server-1 action=list-status
  case_ "dracmc telnet monitor"             fence_drac5 0 ""                     $TM action=monitor
  case_ "dracmc telnet status empty slot"   fence_drac5 1 ""                     $TM plug=server-7 action=status
  case_ "dracmc telnet wrong password"      fence_drac5 1 ""                     $TM plug=server-1 action=status password=wrong
  }
  # shellcheck disable=SC2086
  {
  case_ "drac4 telnet status"          fence_drac 0 "Status: ON"             $T4 action=status
  case_ "drac4 telnet off"             fence_drac 0 "Success: Powered OFF"   $T4 action=off power_wait=1
  case_ "drac4 telnet status (off)"    fence_drac 2 "Status: OFF"            $T4 action=status
  case_ "drac4 telnet on"              fence_drac 0 "Success: Powered ON"    $T4 action=on power_wait=1
  case_ "drac4 telnet reboot"          fence_drac 0 "Success: Rebooted"      $T4 action=reboot power_wait=1
  case_ "drac4 telnet list"            fence_drac 0 "NOTICE: List option is not working on this device yet"                    $T4 action=list
  case_ "drac4 telnet monitor"         fence_drac 0 ""                       $T4 action=monitor
  case_ "drac4 telnet wrong password"  fence_drac 1 ""                       $T4 action=status password=wrong
  }
}

start_drac() {
  telnet_device drac5 drac.py drac5 $((BASE + 1)) root calvin
  telnet_device cmc   drac.py cmc   $((BASE + 2)) root calvin
  telnet_device drac4 drac.py drac4 $((BASE + 3)) root calvin
  telnet_device dracmc drac.py dracmc $((BASE + 7)) root calvin
  SSH_SPECS="$SSH_SPECS fbdrac5=drac5:drac.py:drac5 fbidrac=idrac:drac.py:idrac fbcmc=cmc:drac.py:cmc"
}

# --- IBM: fence_bladecenter (AMM) ---------------------------------------------------------
prove_bladecenter() {
  local T="ip=127.0.0.1 ipport=$((BASE + 4)) username=USERID password=PASSW0RD"
  local S="ip=127.0.0.1 ipport=$SSH_PORT ssh=1 username=fbamm password=$SSH_PASSWORD"
  local t opts
  local LIST="1,web01
2,db01
3,app03
5,test05
7,ci07"
  for t in telnet ssh; do
    reset_state amm
    if [ $t = telnet ]; then opts="$T"; else opts="$S"; fi
    # shellcheck disable=SC2086
    {
    case_ "amm $t status 1"            fence_bladecenter 0 "Status: ON"           $opts plug=1 action=status "ssh_options=$SSH_OPTS"
    case_ "amm $t status 3"            fence_bladecenter 2 "Status: OFF"          $opts plug=3 action=status "ssh_options=$SSH_OPTS"
    case_ "amm $t on 3"                fence_bladecenter 0 "Success: Powered ON"  $opts plug=3 action=on power_wait=1 "ssh_options=$SSH_OPTS"
    case_ "amm $t off 1"               fence_bladecenter 0 "Success: Powered OFF" $opts plug=1 action=off power_wait=1 "ssh_options=$SSH_OPTS"
    case_ "amm $t status 1 (off)"      fence_bladecenter 2 "Status: OFF"          $opts plug=1 action=status "ssh_options=$SSH_OPTS"
    case_ "amm $t reboot 2"            fence_bladecenter 0 "Success: Rebooted"    $opts plug=2 action=reboot power_wait=1 "ssh_options=$SSH_OPTS"
    case_ "amm $t off 5 (already)"     fence_bladecenter 0 "Success: Already OFF" $opts plug=5 action=off "ssh_options=$SSH_OPTS"
    case_ "amm $t list"                fence_bladecenter 0 "$LIST"                $opts action=list "ssh_options=$SSH_OPTS"
    case_ "amm $t list-status"         fence_bladecenter 0 "$(sed 's/$/,UNKNOWN/' <<<"$LIST")" $opts action=list-status "ssh_options=$SSH_OPTS"
    case_ "amm $t monitor"             fence_bladecenter 0 ""                     $opts action=monitor "ssh_options=$SSH_OPTS"
    case_ "amm $t status empty bay 4"  fence_bladecenter 1 ""                     $opts plug=4 action=status "ssh_options=$SSH_OPTS"
    case_ "amm $t status bay 20"       fence_bladecenter 1 ""                     $opts plug=20 action=status "ssh_options=$SSH_OPTS"
    case_ "amm $t status 4 missing_as_off" fence_bladecenter 2 "Status: OFF"      $opts plug=4 action=status missing_as_off=1 "ssh_options=$SSH_OPTS"
    case_ "amm $t wrong password"      fence_bladecenter 1 ""                     $opts plug=1 action=status password=wrong "ssh_options=$SSH_OPTS"
    }
  done
}

start_bladecenter() {
  telnet_device amm bladecenter.py amm $((BASE + 4)) USERID PASSW0RD
  SSH_SPECS="$SSH_SPECS fbamm=amm:bladecenter.py:amm"
}

# --- IBM: fence_lpar (HMC, IVM) -------------------------------------------------------------
prove_lpar() {
  local S="ip=127.0.0.1 ipport=$SSH_PORT password=$SSH_PASSWORD"
  local MS=Server-8286-42A-SN2178A4V
  local o
  reset_state hmc4 hmc9 hmc3 ivm
  o="$S username=fbhmc4 managed=$MS"
  # shellcheck disable=SC2086
  {
  case_ "hmc4 ssh status aix-prod"      fence_lpar 0 "Status: ON"            $o plug=aix-prod action=status "ssh_options=$SSH_OPTS"
  case_ "hmc4 ssh status rhel-db"       fence_lpar 2 "Status: OFF"           $o plug=rhel-db action=status "ssh_options=$SSH_OPTS"
  case_ "hmc4 ssh status sles-test (Open Firmware)" fence_lpar 0 "Status: ON" $o plug=sles-test action=status "ssh_options=$SSH_OPTS"
  case_ "hmc4 ssh on rhel-db"           fence_lpar 0 "Success: Powered ON"   $o plug=rhel-db action=on power_wait=1 "ssh_options=$SSH_OPTS"
  case_ "hmc4 ssh off aix-prod"         fence_lpar 0 "Success: Powered OFF"  $o plug=aix-prod action=off power_wait=1 "ssh_options=$SSH_OPTS"
  case_ "hmc4 ssh status aix-prod (off)" fence_lpar 2 "Status: OFF"          $o plug=aix-prod action=status "ssh_options=$SSH_OPTS"
  case_ "hmc4 ssh reboot vios1"         fence_lpar 0 "Success: Rebooted"     $o plug=vios1 action=reboot power_wait=1 "ssh_options=$SSH_OPTS"
  case_ "hmc4 ssh on aix-dev (profile)" fence_lpar 0 "Success: Powered ON"   $o plug=aix-dev action=on power_wait=1 "ssh_options=$SSH_OPTS"
  case_ "hmc4 ssh list"                 fence_lpar 0 "vios1,
aix-prod,
rhel-db,
sles-test,
aix-dev,"                                                                    $o action=list "ssh_options=$SSH_OPTS"
  case_ "hmc4 ssh list-status"          fence_lpar 0 "vios1,,on
aix-prod,,off
rhel-db,,on
sles-test,,on
aix-dev,,on"                                                                 $o action=list-status "ssh_options=$SSH_OPTS"
  case_ "hmc4 ssh monitor"              fence_lpar 0 ""                      $o action=monitor "ssh_options=$SSH_OPTS"
  case_ "hmc4 ssh status unknown lpar"  fence_lpar 1 ""                      $o plug=nosuch action=status "ssh_options=$SSH_OPTS"
  case_ "hmc4 ssh list unknown managed" fence_lpar 1 ""                      $S username=fbhmc4 managed=nosuch action=list "ssh_options=$SSH_OPTS"
  case_ "hmc4 ssh wrong password"       fence_lpar 1 ""                      $o plug=aix-prod action=status password=wrong "ssh_options=$SSH_OPTS"
  case_ "hmc4 ssh=0 (still ssh)"        fence_lpar 0 "Status: ON"            $o plug=sles-test action=status ssh=0 "ssh_options=$SSH_OPTS"
  }
  o="$S username=fbhmc9 managed=$MS"
  # shellcheck disable=SC2086
  {
  case_ "hmc9 ssh on rhel-db (co-managed)" fence_lpar 0 "Success: Powered ON" $o plug=rhel-db action=on power_wait=1 "ssh_options=$SSH_OPTS"
  case_ "hmc9 ssh off rhel-db"          fence_lpar 0 "Success: Powered OFF"  $o plug=rhel-db action=off power_wait=1 "ssh_options=$SSH_OPTS"
  case_ "hmc9 ssh on aix-dev (no profile)" fence_lpar 1 ""                   $o plug=aix-dev action=on power_wait=1 power_timeout=3 "ssh_options=$SSH_OPTS"
  }
  o="$S username=fbhmc3 managed=$MS hmc_version=3"
  # shellcheck disable=SC2086
  {
  case_ "hmc3 ssh status aix-prod"      fence_lpar 0 "Status: ON"            $o plug=aix-prod action=status "ssh_options=$SSH_OPTS"
  case_ "hmc3 ssh status rhel-db"       fence_lpar 2 "Status: OFF"           $o plug=rhel-db action=status "ssh_options=$SSH_OPTS"
  case_ "hmc3 ssh on rhel-db"           fence_lpar 0 "Success: Powered ON"   $o plug=rhel-db action=on power_wait=1 "ssh_options=$SSH_OPTS"
  case_ "hmc3 ssh off aix-prod"         fence_lpar 0 "Success: Powered OFF"  $o plug=aix-prod action=off power_wait=1 "ssh_options=$SSH_OPTS"
  case_ "hmc3 ssh reboot vios1"         fence_lpar 0 "Success: Rebooted"     $o plug=vios1 action=reboot power_wait=1 "ssh_options=$SSH_OPTS"
  case_ "hmc3 ssh list"                 fence_lpar 0 "vios1,
aix-prod,
rhel-db,
sles-test,
aix-dev,"                                                                    $o action=list "ssh_options=$SSH_OPTS"
  case_ "hmc3 ssh list-status"          fence_lpar 0 "vios1,,UNKNOWN
aix-prod,,UNKNOWN
rhel-db,,UNKNOWN
sles-test,,UNKNOWN
aix-dev,,UNKNOWN"                                                            $o action=list-status "ssh_options=$SSH_OPTS"
  case_ "hmc3 ssh status unknown lpar"  fence_lpar 1 ""                      $o plug=nosuch action=status "ssh_options=$SSH_OPTS"
  }
  o="$S username=fbivm managed=$MS hmc_version=ivm"
  # shellcheck disable=SC2086
  {
  case_ "ivm ssh status aix-prod"       fence_lpar 0 "Status: ON"            $o plug=aix-prod action=status "ssh_options=$SSH_OPTS"
  case_ "ivm ssh off aix-prod"          fence_lpar 0 "Success: Powered OFF"  $o plug=aix-prod action=off power_wait=1 "ssh_options=$SSH_OPTS"
  case_ "ivm ssh on aix-prod"           fence_lpar 0 "Success: Powered ON"   $o plug=aix-prod action=on power_wait=1 "ssh_options=$SSH_OPTS"
  case_ "ivm ssh list-status"           fence_lpar 0 "vios1,,on
aix-prod,,on
rhel-db,,off
sles-test,,on
aix-dev,,off"                                                                $o action=list-status "ssh_options=$SSH_OPTS"
  case_ "ivm ssh list (hmc_version 4)"  fence_lpar 0 "vios1,
aix-prod,
rhel-db,
sles-test,
aix-dev,"                                                                    $S username=fbivm managed=$MS action=list "ssh_options=$SSH_OPTS"
  }
}

start_lpar() {
  SSH_SPECS="$SSH_SPECS fbhmc4=hmc4:lpar.py:hmc4 fbhmc9=hmc9:lpar.py:hmc9 fbhmc3=hmc3:lpar.py:hmc3 fbivm=ivm:lpar.py:ivm"
}

# --- IBM: fence_rsa (RSA II) ----------------------------------------------------------------
prove_rsa() {
  local T="ip=127.0.0.1 ipport=$((BASE + 5)) username=USERID password=PASSW0RD"
  local S="ip=127.0.0.1 ipport=$SSH_PORT ssh=1 username=fbrsa2 password=$SSH_PASSWORD"
  local t opts
  for t in telnet ssh; do
    reset_state rsa2
    if [ $t = telnet ]; then opts="$T"; else opts="$S"; fi
    # shellcheck disable=SC2086
    {
    case_ "rsa $t status"              fence_rsa 0 "Status: ON"           $opts action=status "ssh_options=$SSH_OPTS"
    case_ "rsa $t off"                 fence_rsa 0 "Success: Powered OFF" $opts action=off power_wait=1 "ssh_options=$SSH_OPTS"
    case_ "rsa $t status (off)"        fence_rsa 2 "Status: OFF"          $opts action=status "ssh_options=$SSH_OPTS"
    case_ "rsa $t on"                  fence_rsa 0 "Success: Powered ON"  $opts action=on power_wait=1 "ssh_options=$SSH_OPTS"
    case_ "rsa $t reboot"              fence_rsa 0 "Success: Rebooted"    $opts action=reboot power_wait=1 "ssh_options=$SSH_OPTS"
    case_ "rsa $t list"                fence_rsa 0 "NOTICE: List option is not working on this device yet" $opts action=list "ssh_options=$SSH_OPTS"
    case_ "rsa $t monitor"             fence_rsa 0 ""                     $opts action=monitor "ssh_options=$SSH_OPTS"
    case_ "rsa $t plug ignored"        fence_rsa 0 "Status: ON"           $opts plug=7 action=status "ssh_options=$SSH_OPTS"
    case_ "rsa $t wrong password"      fence_rsa 1 ""                     $opts action=status password=wrong "ssh_options=$SSH_OPTS"
    }
  done
}

start_rsa() {
  telnet_device rsa2 rsa.py rsa2 $((BASE + 5)) USERID PASSW0RD
  SSH_SPECS="$SSH_SPECS fbrsa2=rsa2:rsa.py:rsa2"
}

# --- Fujitsu-Siemens: fence_rsb (RSB Remote Manager) -----------------------------------------
prove_rsb() {
  local T="ip=127.0.0.1 ipport=$((BASE + 6)) username=admin password=admin"
  local S="ip=127.0.0.1 ipport=$SSH_PORT ssh=1 username=fbrsb password=$SSH_PASSWORD"
  local t opts
  for t in telnet ssh; do
    reset_state rsb
    if [ $t = telnet ]; then opts="$T"; else opts="$S"; fi
    # shellcheck disable=SC2086
    {
    case_ "rsb $t status"              fence_rsb 0 "Status: ON"           $opts action=status "ssh_options=$SSH_OPTS"
    case_ "rsb $t off"                 fence_rsb 0 "Success: Powered OFF" $opts action=off power_wait=1 "ssh_options=$SSH_OPTS"
    case_ "rsb $t status (off)"        fence_rsb 2 "Status: OFF"          $opts action=status "ssh_options=$SSH_OPTS"
    case_ "rsb $t on"                  fence_rsb 0 "Success: Powered ON"  $opts action=on power_wait=1 "ssh_options=$SSH_OPTS"
    case_ "rsb $t reboot"              fence_rsb 0 "Success: Rebooted"    $opts action=reboot power_wait=1 "ssh_options=$SSH_OPTS"
    case_ "rsb $t list"                fence_rsb 0 "NOTICE: List option is not working on this device yet" $opts action=list "ssh_options=$SSH_OPTS"
    case_ "rsb $t monitor"             fence_rsb 0 ""                     $opts action=monitor "ssh_options=$SSH_OPTS"
    case_ "rsb $t wrong password"      fence_rsb 1 ""                     $opts action=status password=wrong "ssh_options=$SSH_OPTS"
    }
  done
}

start_rsb() {
  telnet_device rsb rsb.py rsb $((BASE + 6)) admin admin
  SSH_SPECS="$SSH_SPECS fbrsb=rsb:rsb.py:rsb"
}

# --- main ----------------------------------------------------------------------------------
FAMILIES=("$@")
[ ${#FAMILIES[@]} -gt 0 ] || FAMILIES=(drac)
SSH_SPECS=""
for f in "${FAMILIES[@]}"; do
  declare -F "start_$f" >/dev/null || die "unknown family '$f'"
  "start_$f"
done
[ -n "$SSH_SPECS" ] && ssh_devices "$SSH_SPECS"
for f in "${FAMILIES[@]}"; do "prove_$f"; done

echo
printf '%s\n' "${RESULTS[@]}"
echo
echo "$(( ${#RESULTS[@]} - FAILS )) passed, $FAILS failed (observed outputs: $OBS)"
if [ "${RECORD:-0}" = 1 ]; then
  {
    echo "# Observed with Debian's fence-agents 4.12.1-1 against the emulators of this folder"
    echo "# (tests/peers/emulators/prove-dellibm.sh, RECORD=1; $(date -u +%Y-%m-%d)). Each case: the agent,"
    echo "# its exit code, the options it read on stdin, its stdout (\"  | \" lines, exact), and its stderr"
    echo "# without time stamps, blank lines and traceback frames (\"  ! \" lines). \$PEERS_STATE is where the"
    echo "# script keeps its state; ports: telnet 17401-17407, sshd 17422. Summary (verdict, case, exit code,"
    echo "# wall time, stdout with | for line ends):"
    echo "#"
    printf '#   %s\n' "${RESULTS[@]}"
    echo
    cat "$OBS"
  } > "$HERE/dellibm.observed.txt"
fi
[ "$FAILS" = 0 ]
