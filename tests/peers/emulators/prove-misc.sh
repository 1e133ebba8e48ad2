#!/usr/bin/env bash
# Proof that alom.py, brocade.py, vbox.py, ldom.py, sanbox2.py and hds_cb.py behave as Debian's
# fence_alom, fence_brocade, fence_vbox, fence_ldom, fence_sanbox2 and fence_hds_cb (fence-agents
# 4.12.1) need. Each emulator is served on loopback and driven by the real agent with its options
# on stdin, over the agent's default transport and, where the agent offers it, the other one:
#   telnet  telnet-accept.py runs the emulator per connection (EMU_LOGIN=1: the device's own login)
#   ssh     the shared sshd recipe: one account per emulator, ForceCommand = a wrapper
#   alom    ALOM's SSH server (alom.py --ssh-serve, paramiko in a venv): no SSH authentication,
#           the device's login prompt afterwards (what fence_alom's "telnet_over_ssh" expects)
#
# Usage: prove-misc.sh            (root: the sshd recipe makes system accounts fbm*)
# Env:   PEERS_STATE   state folder (default /tmp/peers-misc); MISC_BASE_PORT (default 17500: uses
#        BASE+1..BASE+6 and BASE+22); SSH_RECIPE (folder of the shared start-sshd.sh);
#        MISC_OBSERVED (where to write what the agents printed, default $PEERS_STATE/misc/observed.txt;
#        misc.observed.txt next to this script is a copy of one passing run)
# Prints a PASS/FAIL table; exits non-zero on any failure. Everything started here is stopped by PID.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ACCEPT="$HERE/../ssh/telnet-accept.py"
export PEERS_STATE="${PEERS_STATE:-/tmp/peers-misc}"
export PYTHONWARNINGS="ignore::DeprecationWarning"      # fence-agents: "pipes is deprecated"
BASE="${MISC_BASE_PORT:-17500}"
ST="$PEERS_STATE/misc"
OBS="${MISC_OBSERVED:-$ST/observed.txt}"
PW="${SSH_TEST_PASSWORD:-fbtest-pass}"
for d in "${SSH_RECIPE:-}" "$HERE/../../../../shared/peers/ssh" "$HERE/../../../../../shared/peers/ssh" /work/shared/peers/ssh; do
  [ -n "$d" ] && [ -x "$d/start-sshd.sh" ] && { SSH_RECIPE="$d"; break; }
done
[ -n "${SSH_RECIPE:-}" ] || { echo "shared sshd recipe not found (set SSH_RECIPE)" >&2; exit 1; }
for a in alom brocade vbox ldom sanbox2 hds_cb; do
  command -v "fence_$a" >/dev/null || { echo "fence_$a (Debian's fence-agents) is not installed" >&2; exit 1; }
done
command -v telnet >/dev/null || { echo "the telnet client is not installed (apt-get install telnet)" >&2; exit 1; }

mkdir -p "$ST/state" "$ST/logs" "$ST/bin"
chmod 755 "$PEERS_STATE" "$ST" "$ST/bin"
chmod 777 "$ST/state"        # telnet sessions run as root, SSH sessions as the emulator accounts
rm -f "$ST"/state/* "$ST"/logs/*
: > "$OBS"

# wrapper NAME EMULATOR LOGIN SETTINGS... : a script that sets the emulator's environment and execs it
# (/bin/login and sshd clear the environment); LOGIN is telnet (the device's own login) or ssh
wrapper() {
  local name=$1 emu=$2 login=$3 f="$ST/wrap-$1-$3.sh" kv; shift 3
  {
    echo "#!/bin/sh"
    echo "umask 000"
    for kv in "$@"; do echo "export $kv"; done
    echo "export EMU_STATE=$ST/state/$name.json"
    [ "$login" = telnet ] && echo "export EMU_LOGIN=1"
    echo "exec /usr/bin/python3 $HERE/$emu"
  } > "$f"
  chmod 755 "$f"; printf '%s\n' "$f"
}

# VirtualBox host: a real bash; VBoxManage (vbox.py) first on PATH; the client's command run as sshd would
VBOXBIN="$ST/bin/vbox"; mkdir -p "$VBOXBIN"; chmod 755 "$VBOXBIN"
printf '#!/bin/sh\nexec /usr/bin/python3 %s "$@"\n' "$HERE/vbox.py" > "$VBOXBIN/VBoxManage"
chmod 755 "$VBOXBIN/VBoxManage"
cat > "$ST/wrap-vbox-ssh.sh" <<EOF
#!/bin/sh
umask 000
export EMU_STATE=$ST/state/vbox.json PATH=$VBOXBIN:/usr/local/bin:/usr/bin:/bin
if [ -n "\${SSH_ORIGINAL_COMMAND:-}" ]; then exec /bin/bash -c "\$SSH_ORIGINAL_COMMAND"; fi
exec /bin/bash -l
EOF
chmod 755 "$ST/wrap-vbox-ssh.sh"

PIDS=(); SSH_STARTED=0
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  [ "$SSH_STARTED" = 1 ] && "$SSH_RECIPE/stop-sshd.sh" miscmain >/dev/null 2>&1
}
trap cleanup EXIT

# --- servers --------------------------------------------------------------------------------------
P_ALOM=$((BASE + 1)) P_BRO=$((BASE + 2)) P_BROVF=$((BASE + 3)) P_SB=$((BASE + 4)) P_SBBUSY=$((BASE + 5))
P_HDS=$((BASE + 6)) P_SSH=$((BASE + 22))
start_telnet() {   # PORT WRAPPER
  python3 "$ACCEPT" "$1" "$2" >"$ST/logs/accept-$1.log" 2>&1 &
  PIDS+=($!)
}
start_telnet "$P_BRO"    "$(wrapper brocade brocade.py telnet EMU_USER=admin EMU_PASSWORD=brocade-pw)"
start_telnet "$P_BROVF"  "$(wrapper brocade-vf brocade.py telnet EMU_FLAVOUR=vf EMU_USER=admin EMU_PASSWORD=brocade-pw)"
start_telnet "$P_SB"     "$(wrapper sanbox2 sanbox2.py telnet EMU_USER=admin EMU_PASSWORD=sanbox-pw)"
start_telnet "$P_SBBUSY" "$(wrapper sanbox2-busy sanbox2.py telnet EMU_FLAVOUR=busy EMU_USER=admin EMU_PASSWORD=sanbox-pw)"
start_telnet "$P_HDS"    "$(wrapper hds_cb hds_cb.py telnet EMU_USER=admin EMU_PASSWORD=hds-pw)"

emus="fbmalom=$(wrapper alom alom.py ssh) fbmbrocade=$(wrapper brocade brocade.py ssh EMU_PROMPT_USER=admin)"
emus="$emus fbmvbox=$ST/wrap-vbox-ssh.sh fbmldom=$(wrapper ldom ldom.py ssh)"
emus="$emus fbmldomcsh=$(wrapper ldom-csh ldom.py ssh EMU_SHELL=csh EMU_FLAVOUR=ovm3) fbmhds=$(wrapper hds_cb hds_cb.py ssh)"
SSH_STARTED=1
SSH_PORT=$P_SSH SSH_EMULATORS="$emus" "$SSH_RECIPE/start-sshd.sh" miscmain >"$ST/logs/sshd.log" 2>&1 \
  || { cat "$ST/logs/sshd.log" >&2; exit 1; }
SSH_OPTS="-o UserKnownHostsFile=$PEERS_STATE/ssh/known_hosts -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null"
KEY="$PEERS_STATE/ssh/keys/id_ed25519"

# ALOM's own SSH server (paramiko; the same venv recipe as the shared fakenos peer)
VENV="$PEERS_STATE/venv-paramiko"
if ! "$VENV/bin/python" -c 'import paramiko' 2>/dev/null; then
  echo "creating $VENV (pip install paramiko==4.0.0)" >&2
  rm -rf "$VENV"
  { /usr/bin/python3 -m venv "$VENV" && "$VENV/bin/pip" install -q --disable-pip-version-check paramiko==4.0.0; } \
    >"$VENV.pip.log" 2>&1 || { tail -20 "$VENV.pip.log" >&2; exit 1; }
fi
( umask 000; EMU_STATE="$ST/state/alom.json" EMU_USER=admin EMU_PASSWORD=alom-pw \
  exec "$VENV/bin/python" "$HERE/alom.py" --ssh-serve "$P_ALOM" \
    "$PEERS_STATE/ssh/hostkeys/ssh_host_rsa_key" ) >"$ST/logs/alom-ssh.log" 2>&1 &
PIDS+=($!)

for p in "$P_BRO" "$P_BROVF" "$P_SB" "$P_SBBUSY" "$P_HDS" "$P_ALOM"; do   # wait until each listens
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.1; done
done

# --- cases -----------------------------------------------------------------------------------------
RESULTS=(); FAILS=0; N=0
# check AGENT TRANSPORT WANT_RC WANT_STDOUT [--err REGEX] OPTION... : run fence_AGENT with the
# transport's options and OPTION... on stdin. WANT_STDOUT is the exact stdout (lines joined by |,
# "" = nothing); --err REGEX must match a line of its stderr.
check() {
  local agent=$1 transport=$2 want_rc=$3 want_out=$4; shift 4
  local want_err=""
  if [ "${1:-}" = --err ]; then want_err=$2; shift 2; fi
  local label="$agent/$transport $*" opts out rc t0 t1 verdict=PASS got
  N=$((N + 1))
  opts="$(transport_options "$agent" "$transport"; printf '%s\n' "$@")"
  t0=$(date +%s.%N)
  out="$(printf '%s\n' "$opts" | timeout 120 "fence_$agent" 2>"$ST/logs/case-$N.err")"; rc=$?
  t1=$(date +%s.%N)
  got="$(printf '%s' "$out" | paste -sd'|' -)"
  if [ "$rc" != "$want_rc" ] || [ "$got" != "$want_out" ]; then verdict=FAIL; fi
  if [ -n "$want_err" ] && ! grep -Eq -- "$want_err" "$ST/logs/case-$N.err"; then verdict=FAIL; fi
  [ $verdict = PASS ] || FAILS=$((FAILS + 1))
  RESULTS+=("$(printf '%-4s %-50s rc=%-3s %5.1fs  %s' "$verdict" "${label:0:50}" "$rc" "$(echo "$t1 - $t0" | bc)" "${got:0:58}")")
  {
    echo "## case $N: fence_$agent over $transport: $*"
    echo "rc=$rc ($(printf '%.1f' "$(echo "$t1 - $t0" | bc)") s), want rc=$want_rc${want_err:+, stderr ~$want_err}: $verdict"
    if [ -n "$out" ]; then echo "stdout:"; printf '%s\n' "$out" | sed 's/^/  | /'; else echo "stdout: (empty)"; fi
    if grep -q '^Traceback' "$ST/logs/case-$N.err"; then
      echo "stderr: a Python traceback ending in:"
      sed -e '/^\s*$/d' "$ST/logs/case-$N.err" | tail -1 | sed 's/^/  ! /'
    elif [ -s "$ST/logs/case-$N.err" ]; then
      echo "stderr (time stamps and blank lines left out, first 3 lines):"
      sed -e 's/^[0-9-]* [0-9:,]* //' -e '/^\s*$/d' "$ST/logs/case-$N.err" | head -3 | sed 's/^/  ! /'
    fi
    echo
  } >> "$OBS"
}

# transport_options AGENT TRANSPORT : the connection options (one per line)
transport_options() {
  case "$1/$2" in
    alom/ssh)        printf '%s\n' ip=127.0.0.1 "ipport=$P_ALOM" username=admin password=alom-pw "ssh_options=$SSH_OPTS" ;;
    alom/ssh6)       printf '%s\n' ip=::1 "ipport=$P_ALOM" username=admin password=alom-pw "ssh_options=$SSH_OPTS" ;;
    alom/sshkey)     printf '%s\n' ip=127.0.0.1 "ipport=$P_SSH" username=fbmalom "identity_file=$KEY" "ssh_options=$SSH_OPTS" ;;
    brocade/telnet)  printf '%s\n' ip=127.0.0.1 "ipport=$P_BRO" username=admin password=brocade-pw ;;
    brocade/telnet6) printf '%s\n' ip=::1 "ipport=$P_BRO" username=admin password=brocade-pw ;;
    brocade/vf)      printf '%s\n' ip=127.0.0.1 "ipport=$P_BROVF" username=admin password=brocade-pw ;;
    brocade/ssh)     printf '%s\n' ip=127.0.0.1 ssh=1 "ipport=$P_SSH" username=fbmbrocade "password=$PW" "ssh_options=$SSH_OPTS" ;;
    vbox/ssh)        printf '%s\n' ip=127.0.0.1 "ipport=$P_SSH" username=fbmvbox "password=$PW" \
                       "ssh_options=$SSH_OPTS -t '/bin/bash -c \"PS1=\\\\[EXPECT\\\\]# HISTFILE=/dev/null /bin/bash --noprofile --norc\"'" ;;
    vbox/sshkey)     printf '%s\n' ip=127.0.0.1 "ipport=$P_SSH" username=fbmvbox "identity_file=$KEY" \
                       "ssh_options=$SSH_OPTS -t '/bin/bash -c \"PS1=\\\\[EXPECT\\\\]# HISTFILE=/dev/null /bin/bash --noprofile --norc\"'" ;;
    ldom/ssh)        printf '%s\n' ip=127.0.0.1 "ipport=$P_SSH" username=fbmldom "password=$PW" "ssh_options=$SSH_OPTS" ;;
    ldom/csh)        printf '%s\n' ip=127.0.0.1 "ipport=$P_SSH" username=fbmldomcsh "password=$PW" "ssh_options=$SSH_OPTS" ;;
    sanbox2/telnet)  printf '%s\n' ip=127.0.0.1 "ipport=$P_SB" username=admin password=sanbox-pw ;;
    sanbox2/busy)    printf '%s\n' ip=127.0.0.1 "ipport=$P_SBBUSY" username=admin password=sanbox-pw ;;
    hds_cb/telnet)   printf '%s\n' ip=127.0.0.1 "ipport=$P_HDS" username=admin password=hds-pw ;;
    hds_cb/ssh)      printf '%s\n' ip=127.0.0.1 ssh=1 "ipport=$P_SSH" username=fbmhds "password=$PW" "ssh_options=$SSH_OPTS" ;;
  esac
}

NOLOGIN="ERROR: Unable to connect/login to fencing device"
NOPLUG="ERROR: Failed: Unable to obtain correct plug status or plug is not available"
TRACE="^KeyError: '99'|^AttributeError: 'NoneType' object has no attribute 'group'"

# fence_alom: one host, no plug; power_timeout is also its sleep after poweron/poweroff
for t in ssh sshkey; do
  check alom $t 0 "Status: ON" action=status
  check alom $t 0 "Success: Powered OFF" action=off power_timeout=1
  check alom $t 2 "Status: OFF" action=status
  check alom $t 0 "Success: Already OFF" action=off power_timeout=1
  check alom $t 0 "Success: Powered ON" action=on power_timeout=1
  check alom $t 0 "Success: Rebooted" action=reboot power_timeout=1
  check alom $t 0 "" action=monitor
  check alom $t 0 "NOTICE: List option is not working on this device yet" action=list
done
check alom ssh6 0 "Status: ON" action=status
check alom ssh 0 "Status: ON" action=status ssh=0     # ssh=0 still sets --ssh: still ssh
check alom ssh 1 "" --err "$NOLOGIN" action=status password=wrong

# fence_brocade: ports; off = persistently disabled; no reboot (fabric fencing)
B_LIST="0,|1,|2,|3,|4,|5,|6,|7,"
for t in telnet ssh; do
  check brocade $t 0 "Status: ON" action=status plug=1
  check brocade $t 2 "Status: OFF" action=status plug=2
  check brocade $t 0 "Success: Powered OFF" action=off plug=1
  check brocade $t 2 "Status: OFF" action=status plug=1
  check brocade $t 0 "Success: Already OFF" action=off plug=1
  check brocade $t 0 "Success: Powered ON" action=on plug=1
  check brocade $t 0 "Status: ON" action=status plug=1
  check brocade $t 0 "Status: ON" action=status plug=4
  check brocade $t 0 "$B_LIST" action=list
  check brocade $t 0 "0,,on|1,,on|2,,off|3,,on|4,,on|5,,off|6,,on|7,,on" action=list-status
  check brocade $t 0 "" action=monitor
  check brocade $t 1 "" --err "$TRACE" action=status plug=99
  check brocade $t 1 "" --err "Failed: Unrecognised action 'reboot'" action=reboot plug=1
done
check brocade telnet6 0 "Status: ON" action=status plug=0
check brocade vf 2 "Status: OFF" action=status plug=9
check brocade vf 0 "Success: Powered ON" action=on plug=9
check brocade vf 0 "Success: Powered OFF" action=off plug=9
check brocade vf 0 "0,,on|1,,on|2,,on|3,,off|4,,on|5,,on|6,,on|7,,on|8,,on|9,,off|10,,on|11,,on" action=list-status
check brocade telnet 1 "" --err "$NOLOGIN" action=status plug=1 password=wrong
check brocade ssh 1 "" --err "$NOLOGIN" action=status plug=1 password=wrong

# fence_vbox: VMs by name or UUID
V_LIST="node1,0b5f6a0e-3d8c-4a8e-9b7e-2f7c1d9a0001|node2,0b5f6a0e-3d8c-4a8e-9b7e-2f7c1d9a0002|node3,0b5f6a0e-3d8c-4a8e-9b7e-2f7c1d9a0003|win 10,0b5f6a0e-3d8c-4a8e-9b7e-2f7c1d9a0004|build-agent,0b5f6a0e-3d8c-4a8e-9b7e-2f7c1d9a0005"
check vbox ssh 0 "Status: ON" action=status plug=node1
check vbox ssh 2 "Status: OFF" action=status plug=node3
check vbox ssh 0 "Success: Powered OFF" action=off plug=node1 power_wait=1
check vbox ssh 2 "Status: OFF" action=status plug=node1
check vbox ssh 0 "Success: Already OFF" action=off plug=node1
check vbox ssh 0 "Success: Powered ON" action=on plug=node1
check vbox ssh 0 "Status: ON" action=status plug=0b5f6a0e-3d8c-4a8e-9b7e-2f7c1d9a0002
check vbox ssh 0 "Success: Rebooted" action=reboot plug=node2
check vbox ssh 0 "Success: Powered ON" action=on "plug=win 10"
check vbox ssh 0 "Success: Powered OFF" action=off "plug=win 10"
check vbox ssh 0 "$V_LIST" action=list
check vbox ssh 0 "$(sed -e 's/1|/1,on|/; s/2|/2,on|/; s/3|/3,off|/; s/4|/4,off|/; s/5$/5,off/' <<<"$V_LIST")" action=list-status
check vbox ssh 0 "" action=monitor
check vbox sshkey 0 "Status: ON" action=status plug=node1
check vbox ssh 1 "" --err "Failed: You have to enter existing name/UUID of virtual machine!" action=status plug=nosuchvm
check vbox ssh 2 "Status: OFF" action=status plug=nosuchvm missing_as_off=1
check vbox ssh 1 "" --err "$NOLOGIN" action=status plug=node1 password=wrong

# fence_ldom: domains; "bound" is off, anything else (even inactive) on
for t in ssh csh; do
  check ldom $t 0 "Status: ON" action=status plug=ldg1
  check ldom $t 2 "Status: OFF" action=status plug=ldg2
  check ldom $t 0 "Success: Powered OFF" action=off plug=ldg1
  check ldom $t 2 "Status: OFF" action=status plug=ldg1
  check ldom $t 0 "Success: Powered ON" action=on plug=ldg1
  check ldom $t 0 "Success: Rebooted" action=reboot plug=ldg1
  check ldom $t 0 "Status: ON" action=status plug=ldg3
  check ldom $t 0 "primary,|ldg1,|ldg2,|ldg3," action=list
  check ldom $t 0 "primary,,on|ldg1,,on|ldg2,,off|ldg3,,on" action=list-status
  check ldom $t 0 "" action=monitor
  check ldom $t 1 "" --err "Failed: You have to enter existing logical domain!" action=status plug=nosuchdom
done
# a wrong password is not seen as such: the login regex "\ $" already matched the space after
# "password:", so the agent goes on to PS1=... and set prompt=... and times out on each
check ldom ssh 1 "" --err "ERROR: Connection timed out" action=status plug=ldg1 password=wrong

# fence_sanbox2: ports; off = AdminState Offline; no reboot (fabric fencing); telnet only
check sanbox2 telnet 0 "Status: ON" action=status plug=1
check sanbox2 telnet 2 "Status: OFF" action=status plug=3
check sanbox2 telnet 0 "Success: Powered OFF" action=off plug=1
check sanbox2 telnet 2 "Status: OFF" action=status plug=1
check sanbox2 telnet 0 "Success: Already OFF" action=off plug=1
check sanbox2 telnet 0 "Success: Powered ON" action=on plug=1
check sanbox2 telnet 0 "Status: ON" action=status plug=1
check sanbox2 telnet 0 "$(for n in $(seq 0 15); do printf '%s,|' "$n"; done | sed 's/|$//')" action=list
check sanbox2 telnet 0 "$(for n in $(seq 0 15); do s=ON; [ "$n" = 3 ] || [ "$n" = 6 ] && s=OFF; printf '%s,,%s|' "$n" "$s"; done | sed 's/|$//')" action=list-status
check sanbox2 telnet 0 "" action=monitor
check sanbox2 telnet 1 "" --err "$TRACE" action=status plug=99
check sanbox2 telnet 1 "" --err "Failed: Unrecognised action 'reboot'" action=reboot plug=1
check sanbox2 busy 1 "" --err "Failed: Unable to switch to admin section" action=status plug=1
check sanbox2 telnet 1 "" --err "$NOLOGIN" action=status plug=1 password=wrong

# fence_hds_cb: partitions (blades); power_wait 5 by default, 1 here
for t in telnet ssh; do
  check hds_cb $t 0 "Status: ON" action=status plug=0
  check hds_cb $t 2 "Status: OFF" action=status plug=2
  check hds_cb $t 0 "Success: Powered OFF" action=off plug=1 power_wait=1
  check hds_cb $t 2 "Status: OFF" action=status plug=1
  check hds_cb $t 0 "Success: Powered ON" action=on plug=1 power_wait=1
  check hds_cb $t 0 "Success: Rebooted" action=reboot plug=3 power_wait=1
  check hds_cb $t 0 "0,On|1,On|2,Off|3,On|4,Off|5,On" action=list
  check hds_cb $t 0 "0,On,UNKNOWN|1,On,UNKNOWN|2,Off,UNKNOWN|3,On,UNKNOWN|4,Off,UNKNOWN|5,On,UNKNOWN" action=list-status
  check hds_cb $t 0 "" action=monitor
  check hds_cb $t 1 "" --err "$NOPLUG" action=status plug=8
done
check hds_cb telnet 1 "" --err "$NOPLUG" action=status plug=8 missing_as_off=1   # accepted, not used
check hds_cb telnet 1 "" --err "$NOLOGIN" action=status plug=0 password=wrong

# --- report ----------------------------------------------------------------------------------------
printf '%s\n' "${RESULTS[@]}"
echo "$((N - FAILS))/$N passed; observed outputs in $OBS"
[ "$FAILS" = 0 ]
