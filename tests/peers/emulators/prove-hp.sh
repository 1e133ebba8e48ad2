#!/usr/bin/env bash
# Prove the HP emulators (ilo.py, hpblade.py) faithful enough for Debian's Python agents:
# fence_ilo_ssh (+ fence_ilo3_ssh, fence_ilo4_ssh, fence_ilo5_ssh), fence_ilo_mp,
# fence_ilo_moonshot and fence_hpblade run against them over telnet (each emulator doing
# the device's own login, accepted by tests/peers/ssh/telnet-accept.py) and over ssh (a
# private sshd from the shared peer scripts whose accounts' ForceCommand is the emulator).
# Every case feeds options on stdin, checks exit code and stdout, and is written to
# hp.observed.txt (or $OBSERVED). Prints a PASS/FAIL table; exits 1 on any failure.
# Needs root (sshd, system accounts). Loopback only, ports 17300-17399. Everything started
# here is stopped by PID at the end.
# Env: PEERS_STATE (default /tmp/peers-hp), SHARED_SSH (default /work/shared/peers/ssh),
#      OBSERVED (default: hp.observed.txt next to this script), ONLY (regex on case names).
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
export PEERS_STATE="${PEERS_STATE:-/tmp/peers-hp}"
SHARED_SSH="${SHARED_SSH:-/work/shared/peers/ssh}"
OBSERVED="${OBSERVED:-$HERE/hp.observed.txt}"
ONLY="${ONLY:-}"
ACCEPT="$REPO/tests/peers/ssh/telnet-accept.py"
EMU="$PEERS_STATE/emu"          # wrappers, state files, logs
SSH_PORT=17322
SSH_INSTANCE=hp
PASSWORD=fbtest-pass            # the shared scripts' account password (SSH_TEST_PASSWORD)
TUSER=Administrator             # the devices' own telnet login

[ "$(id -u)" = 0 ] || { echo "prove-hp.sh needs root (sshd, test accounts)" >&2; exit 1; }
for a in fence_ilo_ssh fence_ilo3_ssh fence_ilo4_ssh fence_ilo5_ssh fence_ilo_mp fence_ilo_moonshot fence_hpblade; do
  [ -x "/usr/sbin/$a" ] || { echo "missing /usr/sbin/$a (Debian fence-agents)" >&2; exit 1; }
done
[ -x /usr/bin/telnet ] || { echo "missing /usr/bin/telnet" >&2; exit 1; }

# name  emulator   flavour    telnet-port  ssh-account (- = none)
DEVICES="
ilo3      ilo.py     ilo3       17331  -
ilo4      ilo.py     ilo4       17332  fbhpilo
ilo5      ilo.py     ilo5       17333  fbhpilo5
mp        ilo.py     mp         17334  fbhpmp
moonshot  ilo.py     moonshot   -      fbhpms
c7000     hpblade.py c7000      17341  fbhpoa
c3000     hpblade.py c3000      17342  -
superdome hpblade.py superdome  17343  -
"

TELNET_PIDS=()
cleanup() {
  local p
  for p in "${TELNET_PIDS[@]}"; do
    # the acceptor and its open sessions (its direct children)
    pkill -TERM -P "$p" 2>/dev/null
    kill "$p" 2>/dev/null
  done
  PEERS_STATE="$PEERS_STATE" "$SHARED_SSH/stop-sshd.sh" "$SSH_INSTANCE" >/dev/null 2>&1
}
trap cleanup EXIT

# ---------------------------------------------------------------- start
rm -rf "$EMU"; mkdir -p "$EMU/state"
chmod 755 "$PEERS_STATE" "$EMU"; chmod 777 "$EMU/state"   # sessions of sshd accounts and root share state
ssh_specs=""
while read -r name emu flavour tport account; do
  [ -n "$name" ] || continue
  for mode in ssh telnet; do
    w="$EMU/$name-$mode.sh"
    {
      echo "#!/bin/sh"
      echo "umask 000"
      echo "export EMU_STATE=$EMU/state/$name.json EMU_FLAVOUR=$flavour"
      [ "$mode" = telnet ] && echo "export EMU_LOGIN=1 EMU_USER=$TUSER EMU_PASSWORD=$PASSWORD"
      echo "exec /usr/bin/python3 $HERE/$emu"
    } >"$w"
    chmod 755 "$w"
  done
  [ "$account" != - ] && ssh_specs="$ssh_specs $account=$EMU/$name-ssh.sh"
  if [ "$tport" != - ]; then
    setsid /usr/bin/python3 -u "$ACCEPT" "$tport" "$EMU/$name-telnet.sh" >"$EMU/telnet-$name.log" 2>&1 &
    TELNET_PIDS+=($!)
  fi
done <<<"$DEVICES"
PEERS_STATE="$PEERS_STATE" SSH_PORT=$SSH_PORT SSH_EMULATORS="${ssh_specs# }" \
  "$SHARED_SSH/start-sshd.sh" "$SSH_INSTANCE" >"$EMU/sshd-start.log" 2>&1 \
  || { cat "$EMU/sshd-start.log" >&2; echo "sshd did not start" >&2; exit 1; }
for p in 17331 17332 17333 17334 17341 17342 17343 $SSH_PORT; do
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.1; done
done
SSH_OPTS="-o UserKnownHostsFile=$PEERS_STATE/ssh/known_hosts -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null"

# ---------------------------------------------------------------- cases
RESULTS=()
FAILS=0
: >"$OBSERVED.new"
{
  echo "# Observed outputs of Debian's fence-agents 4.12.1 Python agents against the HP emulators"
  echo "# (tests/peers/emulators/prove-hp.sh). One block per case: the options given on stdin"
  echo "# (connection options abbreviated: telnet = ip=127.0.0.1 ipport=<emulator port>"
  echo "# username=$TUSER; ssh = ssh=1 ip=127.0.0.1 ipport=$SSH_PORT username=<account> ssh_options=<pinned"
  echo "# known_hosts>; password=$PASSWORD unless shown), the exit code, the seconds taken, and stdout"
  echo "# verbatim, then stderr's ERROR lines without their time stamps. State is reset to each device's initial state at the start."
  echo
} >>"$OBSERVED.new"

# case NAME AGENT TRANSPORT DEVICE WANT_RC WANT_STDOUT [option=value ...]
#   WANT_STDOUT: a PCRE over the whole stdout (grep -Pz), or '' for no output at all
#   TRANSPORT telnet|ssh; DEVICE a name of $DEVICES (its port / account)
case_() {
  local name=$1 agent=$2 transport=$3 dev=$4 want_rc=$5 want_out=$6; shift 6
  [ -z "$ONLY" ] || [[ "$name" =~ $ONLY ]] || return 0
  local port account opts=() out rc t0 t1 secs ok=PASS
  read -r _ _ _ port account < <(awk -v d="$dev" '$1 == d' <<<"$DEVICES")
  if [ "$transport" = ssh ]; then
    opts=(ip=127.0.0.1 ipport=$SSH_PORT "username=$account" "password=$PASSWORD" ssh=1 "ssh_options=$SSH_OPTS")
  else
    opts=(ip=127.0.0.1 "ipport=$port" "username=$TUSER" "password=$PASSWORD")
  fi
  t0=$(date +%s.%N)
  out="$(printf '%s\n' "${opts[@]}" "$@" | timeout 120 "/usr/sbin/$agent" 2>"$EMU/case-$name.err")"
  rc=$?
  t1=$(date +%s.%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  if [ "$rc" != "$want_rc" ]; then
    ok=FAIL
  elif [ -z "$want_out" ]; then
    [ -z "$out" ] || ok=FAIL
  elif ! grep -Pzq -- "$want_out" <<<"$out"; then
    ok=FAIL
  fi
  if [ "$ok" = FAIL ]; then
    FAILS=$((FAILS + 1))
  fi
  RESULTS+=("$(printf '%-4s %-34s %-18s %-6s rc=%-2s %5ss  %s' "$ok" "$name" "$agent" "$transport" "$rc" "$secs" "$(head -1 <<<"$out")")")
  {
    echo "== $name"
    echo "agent: $agent  transport: $transport  device: $dev"
    echo "stdin: $* "
    echo "rc: $rc  seconds: $secs"
    echo "stdout:"
    [ -n "$out" ] && sed 's/^/  | /' <<<"$out"
    if grep -q ' ERROR: ' "$EMU/case-$name.err"; then
      echo "stderr ERROR lines (time stamps cut):"
      grep ' ERROR: ' "$EMU/case-$name.err" | sed 's/^[0-9-]* [0-9:,]* /  ! /'
    fi
    echo
  } >>"$OBSERVED.new"
  if [ "$ok" = FAIL ]; then
    echo "FAIL $name: rc $rc (want $want_rc), stdout:" >&2; sed 's/^/    /' <<<"$out" >&2
    sed 's/^/    stderr: /' "$EMU/case-$name.err" | tail -5 >&2
  fi
}

# ---- fence_ilo_ssh: telnet is its default transport (ipport 23); ssh=1 for ssh
for tr in telnet ssh; do
  case_ ilo_ssh-$tr-status        fence_ilo_ssh $tr ilo4 0 '^Status: ON\n$'        action=status
  case_ ilo_ssh-$tr-off           fence_ilo_ssh $tr ilo4 0 '^Success: Powered OFF\n$' action=off power_wait=1
  case_ ilo_ssh-$tr-status-off    fence_ilo_ssh $tr ilo4 2 '^Status: OFF\n$'       action=status
  case_ ilo_ssh-$tr-off-again     fence_ilo_ssh $tr ilo4 0 '^Success: Already OFF\n$' action=off
  case_ ilo_ssh-$tr-on            fence_ilo_ssh $tr ilo4 0 '^Success: Powered ON\n$' action=on power_wait=1
  case_ ilo_ssh-$tr-reboot        fence_ilo_ssh $tr ilo4 0 '^Success: Rebooted\n$'   action=reboot power_wait=1
  case_ ilo_ssh-$tr-reboot-cycle  fence_ilo_ssh $tr ilo4 0 '^Success: Rebooted\n$'   action=reboot method=cycle power_wait=1
  case_ ilo_ssh-$tr-monitor       fence_ilo_ssh $tr ilo4 0 ''                     action=monitor
  case_ ilo_ssh-$tr-list          fence_ilo_ssh $tr ilo4 0 '^NOTICE: List option is not working on this device yet\n$' action=list
  case_ ilo_ssh-$tr-plug-ignored  fence_ilo_ssh $tr ilo4 0 '^Status: ON\n$'        action=status plug=7
  case_ ilo_ssh-$tr-bad-password  fence_ilo_ssh $tr ilo4 1 ''                     action=status password=wrong-pass
done
# fencing.py quirk: a boolean on stdin is "set" whatever its value, so ssh=0 still means ssh
case_ ilo_ssh-ssh0-means-ssh       fence_ilo_ssh ssh ilo4 0 '^Status: ON\n$'              action=status ssh=0
# ssh with a key (identity_file): no password prompt, the agent waits for the command prompt
case_ ilo_ssh-ssh-identity-file    fence_ilo_ssh ssh ilo4 0 '^Status: ON\n$'              action=status "identity_file=$PEERS_STATE/ssh/keys/id_ed25519"
# the aliases, and the other firmware generations
case_ ilo3_ssh-telnet-status      fence_ilo3_ssh telnet ilo3 0 '^Status: ON\n$'          action=status
case_ ilo3_ssh-telnet-off         fence_ilo3_ssh telnet ilo3 0 '^Success: Powered OFF\n$' action=off power_wait=1
case_ ilo3_ssh-telnet-reboot      fence_ilo3_ssh telnet ilo3 0 '^Success: Rebooted\n$'    action=reboot power_wait=1
case_ ilo4_ssh-ssh-status         fence_ilo4_ssh ssh ilo4 0 '^Status: ON\n$'             action=status
case_ ilo5_ssh-ssh-status         fence_ilo5_ssh ssh ilo5 0 '^Status: ON\n$'             action=status
case_ ilo5_ssh-ssh-off            fence_ilo5_ssh ssh ilo5 0 '^Success: Powered OFF\n$'    action=off power_wait=1
case_ ilo5_ssh-telnet-status-off  fence_ilo5_ssh telnet ilo5 2 '^Status: OFF\n$'         action=status
case_ ilo5_ssh-ssh-on             fence_ilo5_ssh ssh ilo5 0 '^Success: Powered ON\n$'     action=on power_wait=1
case_ ilo5_ssh-ssh-bad-password   fence_ilo5_ssh ssh ilo5 1 ''                          action=status password=wrong-pass

# ---- fence_hpblade: telnet default (ipport 23), ssh=1; plugs are bay numbers
for tr in telnet ssh; do
  case_ hpblade-$tr-status        fence_hpblade $tr c7000 0 '^Status: ON\n$'           action=status plug=1
  case_ hpblade-$tr-status-off    fence_hpblade $tr c7000 2 '^Status: OFF\n$'          action=status plug=2
  case_ hpblade-$tr-off           fence_hpblade $tr c7000 0 '^Success: Powered OFF\n$' action=off plug=1
  case_ hpblade-$tr-on            fence_hpblade $tr c7000 0 '^Success: Powered ON\n$'  action=on plug=1
  case_ hpblade-$tr-on-again      fence_hpblade $tr c7000 0 '^Success: Already ON\n$'  action=on plug=1
  case_ hpblade-$tr-reboot        fence_hpblade $tr c7000 0 '^Success: Rebooted\n$'    action=reboot plug=3
  case_ hpblade-$tr-list          fence_hpblade $tr c7000 0 '^1,node1.example.net\n2,node2.example.net\n3,node3.example.net\n5,ProLiant\n7,node7.example.net\n$' action=list
  case_ hpblade-$tr-list-status   fence_hpblade $tr c7000 0 '^1,node1.example.net,on\n2,node2.example.net,off\n3,node3.example.net,on\n5,ProLiant,off\n7,node7.example.net,off\n$' action=list-status
  case_ hpblade-$tr-monitor       fence_hpblade $tr c7000 0 ''                       action=monitor
  case_ hpblade-$tr-degraded      fence_hpblade $tr c7000 0 '^Status: ON\n$'           action=status plug=6
  case_ hpblade-$tr-empty-bay     fence_hpblade $tr c7000 1 ''                       action=status plug=4
  case_ hpblade-$tr-unknown-plug  fence_hpblade $tr c7000 1 ''                       action=off plug=17
  case_ hpblade-$tr-missing-as-off fence_hpblade $tr c7000 2 '^Status: OFF\n$'         action=status plug=4 missing_as_off=1
  case_ hpblade-$tr-bad-password  fence_hpblade $tr c7000 1 ''                       action=status plug=1 password=wrong-pass
done
case_ hpblade-ssh-identity-file    fence_hpblade ssh c7000 0 '^Status: ON\n$'             action=status plug=1 "identity_file=$PEERS_STATE/ssh/keys/id_ed25519"
# the same quirk: missing_as_off=0 switches missing_as_off on
case_ hpblade-telnet-missing-as-off-0 fence_hpblade telnet c7000 2 '^Status: OFF\n$'     action=status plug=4 missing_as_off=0
case_ hpblade-c3000-telnet-list   fence_hpblade telnet c3000 0 '^1,node1.example.net\n2,node2.example.net\n3,node3.example.net\n$' action=list
case_ hpblade-c3000-telnet-off    fence_hpblade telnet c3000 0 '^Success: Powered OFF\n$' action=off plug=3
case_ hpblade-sdx-telnet-status   fence_hpblade telnet superdome 0 '^Status: ON\n$'       action=status plug=1
case_ hpblade-sdx-telnet-status-off fence_hpblade telnet superdome 2 '^Status: OFF\n$'    action=status plug=2
case_ hpblade-sdx-telnet-off      fence_hpblade telnet superdome 0 '^Success: Powered OFF\n$' action=off plug=3
case_ hpblade-sdx-telnet-on       fence_hpblade telnet superdome 0 '^Success: Powered ON\n$' action=on plug=3
case_ hpblade-sdx-telnet-list-status fence_hpblade telnet superdome 0 '^1,sdxpar1,UNKNOWN\n2,sdxpar2,UNKNOWN\n3,sdxpar3,UNKNOWN\n$' action=list-status
case_ hpblade-sdx-telnet-unknown  fence_hpblade telnet superdome 1 ''                   action=status plug=9

# ---- fence_ilo_mp: telnet default (ipport 23), ssh=1; no plugs
for tr in telnet ssh; do
  case_ ilo_mp-$tr-status         fence_ilo_mp $tr mp 0 '^Status: ON\n$'             action=status
  case_ ilo_mp-$tr-off            fence_ilo_mp $tr mp 0 '^Success: Powered OFF\n$'   action=off power_wait=1
  case_ ilo_mp-$tr-status-off     fence_ilo_mp $tr mp 2 '^Status: OFF\n$'            action=status
  case_ ilo_mp-$tr-on             fence_ilo_mp $tr mp 0 '^Success: Powered ON\n$'    action=on power_wait=1
  case_ ilo_mp-$tr-reboot         fence_ilo_mp $tr mp 0 '^Success: Rebooted\n$'      action=reboot power_wait=1
  case_ ilo_mp-$tr-monitor        fence_ilo_mp $tr mp 0 ''                         action=monitor
  case_ ilo_mp-$tr-bad-password   fence_ilo_mp $tr mp 1 ''                         action=status password=wrong-pass
done

# ---- fence_ilo_moonshot: ssh only (ssh defaults to 1, ipport 22); plugs are nodes cXnY
tr=ssh
case_ ilo_moonshot-status         fence_ilo_moonshot $tr moonshot 0 '^Status: ON\n$'            action=status plug=c1n1
case_ ilo_moonshot-status-off     fence_ilo_moonshot $tr moonshot 2 '^Status: OFF\n$'           action=status plug=c2n1
case_ ilo_moonshot-off            fence_ilo_moonshot $tr moonshot 0 '^Success: Powered OFF\n$'  action=off plug=c1n1
case_ ilo_moonshot-on             fence_ilo_moonshot $tr moonshot 0 '^Success: Powered ON\n$'   action=on plug=c1n1
case_ ilo_moonshot-reboot         fence_ilo_moonshot $tr moonshot 0 '^Success: Rebooted\n$'     action=reboot plug=c3n1
case_ ilo_moonshot-list           fence_ilo_moonshot $tr moonshot 0 '^c1n1,\nc2n1,\nc3n1,\nc4n1,\nc5n1,\n$' action=list
case_ ilo_moonshot-list-status    fence_ilo_moonshot $tr moonshot 0 '^c1n1,,on\nc2n1,,off\nc3n1,,on\nc4n1,,off\nc5n1,,on\n$' action=list-status
case_ ilo_moonshot-monitor        fence_ilo_moonshot $tr moonshot 0 ''                        action=monitor
case_ ilo_moonshot-unknown-plug   fence_ilo_moonshot $tr moonshot 1 ''                        action=status plug=c9n1
case_ ilo_moonshot-bad-password   fence_ilo_moonshot $tr moonshot 1 ''                        action=status plug=c1n1 password=wrong-pass

# ---------------------------------------------------------------- report
printf '%s\n' "${RESULTS[@]}"
total=${#RESULTS[@]}
echo "prove-hp: $((total - FAILS)) of $total passed, $FAILS failed"
if [ -z "$ONLY" ]; then mv "$OBSERVED.new" "$OBSERVED"; else rm -f "$OBSERVED.new"; fi
[ "$FAILS" = 0 ]
