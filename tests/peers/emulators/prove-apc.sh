#!/usr/bin/env bash
# Proof that apc.py behaves as Debian's fence_apc (fence-agents 4.12.1) needs: every flavour is
# served on loopback and driven by the real agent, over telnet (the agent's default transport,
# the emulator doing APC's own "User Name :" / "Password  :" login) and over SSH (the shared
# sshd recipe, an account whose ForceCommand is the emulator), through a modern sshd with
# explicit ssh_options and through the legacy-algorithm sshd.
#
# Usage: prove-apc.sh            (root: the sshd recipe makes system accounts apc*)
# Env:   PEERS_STATE   state folder (default /tmp/peers-apc); APC_BASE_PORT (default 17100, uses
#        BASE+1..BASE+12 for telnet, BASE+22 and BASE+24 for sshd); SSH_RECIPE (folder of the shared
#        start-sshd.sh); APC_OBSERVED (where to write what the agent printed, default
#        $PEERS_STATE/apc/observed.txt); APC_SKIP_SSH=1 to prove telnet only.
# Prints a PASS/FAIL table; exits non-zero on any failure. Everything started here is stopped by PID.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
EMU="$HERE/apc.py"
ACCEPT="$HERE/../ssh/telnet-accept.py"
export PEERS_STATE="${PEERS_STATE:-/tmp/peers-apc}"
export PYTHONWARNINGS="ignore::DeprecationWarning"      # fence-agents: "pipes is deprecated"
BASE="${APC_BASE_PORT:-17100}"
ST="$PEERS_STATE/apc"
OBS="${APC_OBSERVED:-$ST/observed.txt}"
PASSWORD_SSH="${SSH_TEST_PASSWORD:-fbtest-pass}"
for d in "${SSH_RECIPE:-}" "$HERE/../../../../shared/peers/ssh" "$HERE/../../../../../shared/peers/ssh" /work/shared/peers/ssh; do
  [ -n "$d" ] && [ -x "$d/start-sshd.sh" ] && { SSH_RECIPE="$d"; break; }
done

command -v fence_apc >/dev/null || { echo "fence_apc (Debian's fence-agents) is not installed" >&2; exit 1; }
command -v telnet >/dev/null || { echo "the telnet client is not installed (apt-get install telnet)" >&2; exit 1; }

mkdir -p "$ST/state" "$ST/logs"
chmod 755 "$PEERS_STATE" "$ST"
chmod 777 "$ST/state"        # telnet sessions run as root, SSH sessions as the emulator accounts
rm -f "$ST"/state/* "$ST"/logs/*
{
  echo "# Observed by prove-apc.sh: Debian's fence_apc (fence-agents $(dpkg-query -W -f='${Version}' fence-agents 2>/dev/null))"
  echo "# against apc.py on loopback. Each case: device/transport, the options (besides the connection ones),"
  echo "# exit code, time, stdout, and the agent's stderr without time stamps. Passwords are never shown."
  echo
} > "$OBS"

# --- devices: name, port offset, emulator settings ---------------------------------------------
#   name       off  settings
DEVICES=(
  "aos2        1    EMU_FLAVOUR=aos2"
  "aos2-user   2    EMU_FLAVOUR=aos2 EMU_ROLE=outlet"
  "aos3        3    EMU_FLAVOUR=aos3"
  "aos3-user   4    EMU_FLAVOUR=aos3 EMU_ROLE=outlet"
  "aos3-24     5    EMU_FLAVOUR=aos3 EMU_OUTLETS=24"
  "msp         6    EMU_FLAVOUR=msp EMU_SWITCHES=2"
  "msp-1       7    EMU_FLAVOUR=msp EMU_SWITCHES=1"
  "cli         8    EMU_FLAVOUR=cli"
  "cli7        9    EMU_FLAVOUR=cli EMU_VERSION=v7.0.4"
  "cli10       10   EMU_FLAVOUR=cli10"
  "cli16       11   EMU_FLAVOUR=cli10 EMU_VERSION=v16.0.1"
  "nmc3        12   EMU_FLAVOUR=cli10 EMU_VERSION=v2.5.0.8"
)
declare -A PORT SETTINGS
for d in "${DEVICES[@]}"; do
  read -r name off settings <<<"$d"
  PORT[$name]=$((BASE + off)); SETTINGS[$name]="$settings"
done

# wrapper NAME LOGIN : a script that sets the emulator's environment and execs it (login clears it)
wrapper() {
  local name=$1 login=$2 f="$ST/wrap-$1-$2.sh" kv
  {
    echo "#!/bin/sh"
    echo "umask 000"
    for kv in ${SETTINGS[$name]}; do echo "export $kv"; done
    echo "export EMU_STATE=$ST/state/$name.json EMU_DELAY=2"
    [ "$login" = telnet ] && echo "export EMU_LOGIN=1 EMU_USER=apc EMU_PASSWORD=apc"
    echo "exec /usr/bin/python3 $EMU"
  } > "$f"
  chmod 755 "$f"; printf '%s\n' "$f"
}

PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  if [ "${SSH_STARTED:-0}" = 1 ]; then
    "$SSH_RECIPE/stop-sshd.sh" apcmain >/dev/null 2>&1
    "$SSH_RECIPE/stop-sshd.sh" apclegacy >/dev/null 2>&1
  fi
}
trap cleanup EXIT

for d in "${DEVICES[@]}"; do
  read -r name _ <<<"$d"
  /usr/bin/python3 "$ACCEPT" "${PORT[$name]}" "$(wrapper "$name" telnet)" >"$ST/logs/accept-$name.log" 2>&1 &
  PIDS+=($!)
done

# SSH accounts: one per flavour proven over ssh (an account is bound to one emulator)
SSH_DEVICES=(aos2 aos3 msp cli cli10)
SSH_MAIN_PORT=$((BASE + 22)) SSH_LEGACY_PORT=$((BASE + 24))
if [ "${APC_SKIP_SSH:-0}" != 1 ]; then
  [ -n "${SSH_RECIPE:-}" ] || { echo "shared sshd recipe not found (set SSH_RECIPE)" >&2; exit 1; }
  emus=""
  for name in "${SSH_DEVICES[@]}"; do emus="$emus apc${name}=$(wrapper "$name" ssh)"; done
  SSH_STARTED=1
  SSH_PORT=$SSH_MAIN_PORT SSH_EMULATORS="$emus" "$SSH_RECIPE/start-sshd.sh" apcmain >"$ST/logs/sshd-main.log" 2>&1 \
    || { cat "$ST/logs/sshd-main.log" >&2; exit 1; }
  SSH_PORT=$SSH_LEGACY_PORT SSH_LEGACY=1 SSH_EMULATORS="$emus" "$SSH_RECIPE/start-sshd.sh" apclegacy \
    >"$ST/logs/sshd-legacy.log" 2>&1 || { cat "$ST/logs/sshd-legacy.log" >&2; exit 1; }
  SSH_OPTS="-o UserKnownHostsFile=$PEERS_STATE/ssh/known_hosts -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null"
  LEGACY_OPTS="$SSH_OPTS -o KexAlgorithms=+diffie-hellman-group14-sha1 -o HostKeyAlgorithms=+ssh-rsa -o Ciphers=+aes128-cbc"
fi
for d in "${DEVICES[@]}"; do      # wait until every acceptor listens
  read -r name _ <<<"$d"
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/${PORT[$name]}") 2>/dev/null && break; sleep 0.1; done
done

# --- cases -----------------------------------------------------------------------------------------
RESULTS=(); FAILS=0; N=0
# agent_options DEVICE TRANSPORT : the connection options of a case (one per line)
agent_options() {
  local name=$1 transport=$2
  case "$transport" in
    telnet) printf '%s\n' ip=127.0.0.1 "ipport=${PORT[$name]}" username=apc password=apc ;;
    ssh)    printf '%s\n' ip=127.0.0.1 ssh=1 "ipport=$SSH_MAIN_PORT" "username=apc$name" "password=$PASSWORD_SSH" \
                "ssh_options=$SSH_OPTS" ;;
    legacy) printf '%s\n' ip=127.0.0.1 ssh=1 "ipport=$SSH_LEGACY_PORT" "username=apc$name" "password=$PASSWORD_SSH" \
                "ssh_options=$LEGACY_OPTS" ;;
    default-ssh) printf '%s\n' ip=127.0.0.1 ssh=1 "ipport=$SSH_MAIN_PORT" "username=apc$name" "password=$PASSWORD_SSH" ;;
  esac
}

# check DEVICE TRANSPORT WANT_RC WANT_STDOUT [--err REGEX] OPTION... : run fence_apc with the options on
# stdin. WANT_STDOUT is the exact stdout ("" = nothing; lines joined by |), or ~REGEX for a grep -E on it;
# --err REGEX must match a line of its stderr (the agent's logging).
check() {
  local name=$1 transport=$2 want_rc=$3 want_out=$4; shift 4
  local want_err=""
  if [ "${1:-}" = --err ]; then want_err=$2; shift 2; fi
  local label="$name/$transport $*" opts out rc t0 t1 verdict=PASS got
  N=$((N + 1))
  opts="$(agent_options "$name" "$transport"; printf '%s\n' "$@")"
  t0=$(date +%s.%N)
  out="$(printf '%s\n' "$opts" | timeout 120 fence_apc 2>"$ST/logs/case-$N.err")"; rc=$?
  t1=$(date +%s.%N)
  got="$(printf '%s' "$out" | paste -sd'|' -)"
  if [ "$rc" != "$want_rc" ]; then verdict=FAIL
  elif [[ "$want_out" == "~"* ]]; then grep -Eq -- "${want_out#\~}" <<<"$out" || verdict=FAIL
  elif [ "$got" != "$want_out" ]; then verdict=FAIL
  fi
  if [ -n "$want_err" ] && ! grep -Eq -- "$want_err" "$ST/logs/case-$N.err"; then verdict=FAIL; fi
  [ $verdict = PASS ] || FAILS=$((FAILS + 1))
  RESULTS+=("$(printf '%-4s %-52s rc=%-3s %5.1fs  %s' "$verdict" "$label" "$rc" "$(echo "$t1 - $t0" | bc)" "${got:0:60}")")
  {
    echo "## case $N: $name over $transport: $*"
    echo "rc=$rc ($(printf '%.1f' "$(echo "$t1 - $t0" | bc)") s), want rc=$want_rc, stdout ${want_out:-<empty>}${want_err:+, stderr ~$want_err}: $verdict"
    if [ -n "$out" ]; then echo "stdout:"; printf '%s\n' "$out" | sed 's/^/  | /'; else echo "stdout: (empty)"; fi
    echo "stderr (without time stamps and blank lines):"
    sed -e 's/^[0-9-]* [0-9:,]* //' -e '/^\s*$/d' "$ST/logs/case-$N.err" | head -4 | sed 's/^/  ! /'
    echo
  } >> "$OBS"
}

# the full set of actions for one device: plug A starts on, plug B starts off
full_set() {
  local name=$1 transport=$2 a=$3 b=$4 list=$5 liststatus=$6
  check "$name" "$transport" 0 "Status: ON"  action=status "plug=$a"
  check "$name" "$transport" 2 "Status: OFF" action=status "plug=$b"
  check "$name" "$transport" 0 "Success: Powered OFF" action=off "plug=$a"
  check "$name" "$transport" 2 "Status: OFF" action=status "plug=$a"
  check "$name" "$transport" 0 "Success: Already OFF" action=off "plug=$a"
  check "$name" "$transport" 0 "Success: Powered ON" action=on "plug=$a"
  check "$name" "$transport" 0 "Status: ON"  action=status "plug=$a"
  check "$name" "$transport" 0 "Success: Rebooted" action=reboot "plug=$a"
  check "$name" "$transport" 0 "Status: ON"  action=status "plug=$a"
  check "$name" "$transport" 0 "$list" action=list
  check "$name" "$transport" 0 "$liststatus" action=list-status
  check "$name" "$transport" 0 "" action=monitor
  check "$name" "$transport" 1 "" --err "$NOPLUG" action=status plug=42
  check "$name" "$transport" 1 "" --err "$NOPLUG" action=off plug=42
}

NOPLUG="ERROR: Failed: Unable to obtain correct plug status or plug is not available"
NOLOGIN="ERROR: Unable to connect/login to fencing device"
TIMEDOUT="ERROR: Connection timed out"
NOSWITCH="ERROR: Failed: You have to enter physical switch number"
LIST8="1,web-01|2,web-02|3,db-primary|4,db-replica|5,core switch|6,spare 6|7,nas|8,console"
LS8="1,web-01,ON|2,web-02,ON|3,db-primary,OFF|4,db-replica,ON|5,core switch,ON|6,spare 6,OFF|7,nas,ON|8,console,ON"
# fencing.py prints list-status states as the device wrote them (its upper-casing sits in a branch
# for unknown states only): the command line says On/Off
LS8CLI="$(sed -e 's/,ON/,On/g' -e 's/,OFF/,Off/g' <<<"$LS8")"

for name in aos2 aos3 cli; do
  ls="$LS8"; [ "$name" = cli ] && ls="$LS8CLI"
  full_set "$name" telnet 1 3 "$LIST8" "$ls"
  check "$name" telnet 1 "" --err "$NOLOGIN" action=status plug=1 password=wrong
done
for name in aos2-user aos3-user; do
  check "$name" telnet 2 "Status: OFF" action=status plug=6
  check "$name" telnet 0 "Success: Powered ON" action=on plug=6
  check "$name" telnet 0 "Success: Powered OFF" action=off plug=6
  check "$name" telnet 0 "Success: Rebooted" action=reboot plug=5
  check "$name" telnet 0 "$LS8" action=list-status
done
# 24 outlets: the list pauses at "Press <ENTER> to continue..."
LIST24="$LIST8$(for n in $(seq 9 24); do printf '|%s,Outlet %s' "$n" "$n"; done)"
check aos3-24 telnet 0 "$LIST24" action=list
check aos3-24 telnet 0 "Success: Powered OFF" action=off plug=20
check aos3-24 telnet 2 "Status: OFF" action=status plug=20
check aos3-24 telnet 0 "Success: Powered ON" action=on plug=20
# MasterSwitch plus chain of two: the switch is required, as switch=N or plug=S:N
check msp telnet 2 "Status: OFF" action=status plug=2:3
check msp telnet 0 "Status: ON" action=status switch=2 plug=4
check msp telnet 0 "Success: Powered OFF" action=off plug=2:4
check msp telnet 2 "Status: OFF" action=status plug=2:4
check msp telnet 0 "Status: ON" action=status plug=1:4
check msp telnet 0 "Success: Powered ON" action=on plug=2:4
check msp telnet 0 "Success: Rebooted" action=reboot plug=1:2
check msp telnet 0 "$LIST8" action=list switch=2
check msp telnet 0 "$LS8" action=list-status switch=1
check msp telnet 0 "" action=monitor switch=1
check msp telnet 1 "" --err "$NOPLUG" action=status plug=2:42
check msp telnet 1 "" --err "$NOSWITCH" action=status plug=4
check msp telnet 1 "" --err "$NOSWITCH" action=list
check msp telnet 1 "" --err "$NOLOGIN" action=status plug=2:1 password=wrong
# a single MasterSwitch plus: the switch defaults to 1
check msp-1 telnet 0 "Status: ON" action=status plug=1
check msp-1 telnet 0 "Success: Powered OFF" action=off plug=1
check msp-1 telnet 0 "Success: Powered ON" action=on plug=1
check msp-1 telnet 0 "$LIST8" action=list
# the agent reads the major version as the LAST digit of "v<digits>." (regex \s*v(\d)*\.):
# v7 is the command line; v10, NMC3 v2.x take the menu path on a command line and fail;
# v16 happens to read as 6 and works
check cli7 telnet 0 "Status: ON" action=status plug=1
check cli7 telnet 0 "Success: Powered OFF" action=off plug=1
check cli10 telnet 1 "" --err "$TIMEDOUT" action=status plug=1
check cli10 telnet 1 "" --err "$TIMEDOUT" action=off plug=1
check cli10 telnet 1 "" --err "$TIMEDOUT" action=list
check cli10 telnet 1 "" --err "$TIMEDOUT" action=monitor
check cli16 telnet 0 "Status: ON" action=status plug=1
check cli16 telnet 0 "Success: Powered OFF" action=off plug=1
check nmc3 telnet 1 "" --err "$TIMEDOUT" action=status plug=1

# --- the device's own behaviour where the agent does not look (emulator alone, on a pty) -------------
# emu_check LABEL FLAVOUR-SETTINGS SCRIPT : SCRIPT is python driving pexpect object `c` (the emulator);
# it raises on a mismatch.
emu_check() {
  local label=$1 settings=$2 script=$3 verdict=PASS
  N=$((N + 1))
  env $settings EMU_STATE="$ST/state/emu-$N.json" EMU_DELAY=1 EMU="$EMU" SCRIPT="$script" /usr/bin/python3 - \
    >"$ST/logs/case-$N.err" 2>&1 <<'PY' || verdict=FAIL
import os, sys, time, pexpect
c = pexpect.spawn("/usr/bin/python3", [os.environ["EMU"]], encoding="latin-1", timeout=5)
def menu(): c.expect("\n> ")
def cli(): c.expect("\napc>")
exec(os.environ["SCRIPT"])
PY
  [ $verdict = PASS ] || FAILS=$((FAILS + 1))
  RESULTS+=("$(printf '%-4s %-52s' "$verdict" "emulator: $label")")
  { echo "## case $N: emulator alone: $label: $verdict"; sed 's/^/  ! /' "$ST/logs/case-$N.err" | tail -5; echo; } >> "$OBS"
}
emu_check "menu: ESC goes back one level, Ctrl-C to the top" EMU_FLAVOUR=aos3 '
menu(); c.send("1\r"); c.expect("Device Manager"); menu()
c.send("2\r"); c.expect("Outlet Management"); menu()
c.send("\x1b"); c.expect("------- Device Manager"); menu()
c.send("2\r"); menu(); c.send("1\r"); c.expect("Outlet Control/Configuration"); menu()
c.send("\x03"); c.expect("4- Logout"); menu()
c.send("4\r"); c.expect("Bye"); c.expect(pexpect.EOF)'
emu_check "menu: an unknown outlet number redraws the list" EMU_FLAVOUR=aos2 '
menu(); c.send("1\r"); menu(); c.send("3\r"); c.expect("Outlet Control/Configuration"); menu()
c.send("42\r"); c.expect("------- Outlet Control/Configuration"); menu()'
emu_check "menu: Immediate Reboot is off, then on after the delay" "EMU_FLAVOUR=aos2 EMU_ROLE=outlet" '
menu(); c.send("1\r"); menu(); c.send("2\r"); menu(); c.send("2\r"); c.expect("3- Immediate Reboot"); menu()
c.send("3\r"); c.expect("cancel : "); c.send("YES\r"); c.expect("Press <ENTER> to continue...")
c.send("\r"); c.expect("State        : OFF"); menu(); time.sleep(1.3)
c.send("\r"); c.expect("State        : ON"); menu()'
emu_check "menu: an empty answer cancels the confirmation" EMU_FLAVOUR=msp '
menu(); c.send("1\r"); c.expect("2- MasterSwitch plus 2"); menu(); c.send("2\r"); menu()
c.send("1\r"); menu(); c.send("1\r"); c.expect("3- Immediate Off"); menu()
c.send("3\r"); c.expect("cancel : "); c.send("\r"); c.expect("Command cancelled"); c.expect("continue...")
c.send("\r"); c.expect("State        : ON"); menu()'
emu_check "cli: E101 for an unknown command, E102 for a bad outlet" EMU_FLAVOUR=cli '
cli(); c.send("frobnicate\r"); c.expect("E101: Command Not Found"); cli()
c.send("olOn 42\r"); c.expect("E102: Parameter Error"); cli()
c.send("olStatus\r"); c.expect("E102: Parameter Error"); cli()
c.send("olstatus 2-3\r"); c.expect("E000: Success\r\n 2: web-02: On\r\n 3: db-primary: Off\r\n"); cli()
c.send("exit\r"); c.expect("Bye."); c.expect(pexpect.EOF)'
emu_check "cli: olReboot is Off, then On after the delay" EMU_FLAVOUR=cli '
cli(); c.send("olReboot 1\r"); c.expect("E000: Success"); cli()
c.send("olStatus 1\r"); c.expect(" 1: web-01: Off"); cli(); time.sleep(1.3)
c.send("olStatus 1\r"); c.expect(" 1: web-01: On"); cli()'

if [ "${APC_SKIP_SSH:-0}" != 1 ]; then
  # over ssh the same devices (same state files as their telnet instances)
  full_set aos3 ssh 1 3 "$LIST8" "$LS8"
  full_set cli ssh 1 3 "$LIST8" "$LS8CLI"
  check aos2 ssh 0 "Status: ON" action=status plug=1
  check aos2 ssh 0 "Success: Rebooted" action=reboot plug=2
  check msp ssh 0 "Success: Rebooted" action=reboot plug=2:2
  check msp ssh 0 "$LS8" action=list-status switch=2
  check cli10 ssh 1 "" --err "$TIMEDOUT" action=status plug=1
  check aos3 ssh 1 "" --err "$NOLOGIN" action=status plug=1 "password=wrong"
  check cli ssh 1 "" --err "$NOLOGIN" action=status plug=1 "password=wrong"
  # fence_apc's default ssh_options "-1 -c blowfish": modern OpenSSH refuses protocol 1 at once
  check cli default-ssh 1 "" --err "$NOLOGIN" action=status plug=1
  # the legacy-algorithm sshd (kex group14/group1-sha1, ssh-rsa/ssh-dss, aes128-cbc/3des-cbc)
  for name in aos2 aos3 msp cli; do
    plug=1; [ "$name" = msp ] && plug=2:1
    check "$name" legacy 0 "Status: ON" action=status "plug=$plug"
    check "$name" legacy 0 "Success: Rebooted" action=reboot "plug=$plug"
  done
  check cli legacy 0 "$LS8CLI" action=list-status
fi

echo
printf '%s\n' "${RESULTS[@]}"
echo
echo "$((N - FAILS)) passed, $FAILS failed"
echo "observed outputs: $OBS"
[ "$FAILS" = 0 ]
