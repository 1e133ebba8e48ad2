#!/usr/bin/env bash
# Proves the libvirt peer of start.sh with Debian's own agent: /usr/sbin/fence_virsh logs in
# to the main sshd as the test account (password, key, key with passphrase), types virsh
# commands into bash, and reaches libvirtd's test driver through LIBVIRT_DEFAULT_URI.
# Options go on stdin, as pacemaker-fenced passes them. Every domain is left as start.sh
# made it. Exit status: the number of failed checks (0 = all passed).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
ST="$PEERS_STATE/ssh"
set +e   # lib.sh sets -e; a failing check must not end the script
[ -f "$ST/peers.env" ] || die "no $ST/peers.env: run start.sh first"
# shellcheck disable=SC1091
. "$ST/peers.env"
[ -x /usr/sbin/fence_virsh ] || die "Debian's fence-agents is not installed"

KH="-o UserKnownHostsFile=$FB_SSH_KNOWN_HOSTS -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null"
# fence_virsh's default ssh_options end in this bash command (a known prompt, no rc files);
# giving ssh_options replaces the default, so it is repeated here.
BASH_PART="-t '/bin/bash -c \"PS1=\\\\[EXPECT\\\\]# /bin/bash --noprofile --norc\"'"
failed=0 total=0

# check RC REGEX WHAT -- OPTION... : fence_virsh with these options must exit RC and print
# a line matching REGEX (grep -E; "^$" for no output at all).
check() {
  local want_rc=$1 re=$2 what=$3 out rc start took; shift 4
  start=$(date +%s.%N)
  out="$(printf '%s\n' ip=127.0.0.1 "ipport=$FB_SSH_PORT_MAIN" "username=$FB_SSH_USER" \
    "ssh_options=$KH $BASH_PART" "$@" | timeout 60 /usr/sbin/fence_virsh 2>&1)"
  rc=$?
  took=$(echo "$(date +%s.%N) - $start" | bc)
  total=$((total + 1))
  if [ "$rc" = "$want_rc" ] && { if [ "$re" = '^$' ]; then [ -z "$out" ]; else grep -Eq -- "$re" <<<"$out"; fi; }; then
    printf 'ok    %-55s rc %s  %5.2fs\n' "$what" "$rc" "$took"
  else
    failed=$((failed + 1))
    printf 'FAIL  %-55s rc %s (want %s, /%s/)  %5.2fs\n' "$what" "$rc" "$want_rc" "$re" "$took"
    sed 's/^/      | /' <<<"$out"
  fi
}

PW="password=$FB_SSH_PASSWORD"
V1="$FB_VIRSH_VNODE1_UUID"
echo "== fence_virsh $(dpkg-query -W -f='${Version}' fence-agents) -> sshd [127.0.0.1]:$FB_SSH_PORT_MAIN -> bash -> virsh -> libvirtd (test driver)"
check 0 '^Status: ON$'          "status vnode1 (running)"                  -- "$PW" plug=vnode1 action=status
check 2 '^Status: OFF$'         "status vnode3 (shut off): rc 2"           -- "$PW" plug=vnode3 action=status
check 0 'Success: Powered OFF'  "off vnode1"                               -- "$PW" plug=vnode1 action=off
check 2 '^Status: OFF$'         "status vnode1 after off"                  -- "$PW" plug=vnode1 action=status
check 0 'Success: Powered ON'   "on vnode1, named by its UUID"             -- "$PW" "plug=$V1" action=on
check 0 '^Status: ON$'          "status vnode1 after on"                   -- "$PW" plug=vnode1 action=status
check 0 'Success: Rebooted'     "reboot vnode2"                            -- "$PW" plug=vnode2 action=reboot
check 0 '^Status: ON$'          "status vnode2 after reboot"               -- "$PW" plug=vnode2 action=status
check 0 '^vnode1,'              "list (names)"                             -- "$PW" action=list
check 0 '^vnode3,,off$'         "list-status: vnode3 off"                  -- "$PW" action=list-status
check 0 '^vnode2,,on$'          "list-status: vnode2 on"                   -- "$PW" action=list-status
check 0 '^$'                    "monitor: rc 0, silent"                    -- "$PW" action=monitor
check 1 'existing name/UUID'    "a missing domain: rc 1"                   -- "$PW" plug=nosuchvm action=status
check 2 '^Status: OFF$'         "a missing domain with missing_as_off=1"   -- "$PW" plug=nosuchvm missing_as_off=1 action=status
check 0 '^Status: ON$'          "key login (identity_file, no passphrase)" -- "identity_file=$FB_SSH_KEY" plug=vnode1 action=status
check 0 '^Status: ON$'          "key login, passphrase given as password"  -- "identity_file=$FB_SSH_KEY_ENC" "password=$FB_SSH_KEY_PASSPHRASE" plug=vnode1 action=status
check 1 'Unable to connect/login' "a wrong password: rc 1"                 -- password=not-the-password plug=vnode1 action=status
# What the agent did is what libvirtd holds, seen by a separate client.
total=$((total + 1))
if [ "$(virsh -c "$FB_LIBVIRT_URI" domstate vnode1)" = running ] && [ "$(virsh -c "$FB_LIBVIRT_URI" domstate vnode3)" = "shut off" ]; then
  echo "ok    libvirtd keeps the state between sessions (virsh -c \$FB_LIBVIRT_URI)"
else
  failed=$((failed + 1)); echo "FAIL  libvirtd state: vnode1 $(virsh -c "$FB_LIBVIRT_URI" domstate vnode1), vnode3 $(virsh -c "$FB_LIBVIRT_URI" domstate vnode3)"
fi
echo "== $((total - failed))/$total passed"
exit "$failed"
