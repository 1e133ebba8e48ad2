#!/usr/bin/env bash
# Proves the fakenos peer of start.sh (a paramiko SSH server, not OpenSSH, with the iLO-like
# shell of fakenos-ilo.py) with Debian's fence_ilo_ssh, host key checked strictly against
# FB_SSH_KNOWN_HOSTS. Leaves the power on. Exit status: the number of failed checks.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
set +e   # lib.sh sets -e; a failing check must not end the script
ST="$PEERS_STATE/ssh"
[ -f "$ST/peers.env" ] || die "no $ST/peers.env: run start.sh first"
# shellcheck disable=SC1091
. "$ST/peers.env"
KH="-o UserKnownHostsFile=$FB_SSH_KNOWN_HOSTS -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null"
failed=0 total=0

# check RC REGEX WHAT -- OPTION... : fence_ilo_ssh must exit RC and print a line matching REGEX
check() {
  local want_rc=$1 re=$2 what=$3 out rc start took; shift 4
  start=$(date +%s.%N)
  out="$(printf '%s\n' ssh=1 ip=127.0.0.1 "ipport=$FB_FAKENOS_PORT" "username=$FB_SSH_USER" \
    "ssh_options=$KH" power_wait=0 "$@" | timeout 60 /usr/sbin/fence_ilo_ssh 2>&1)"
  rc=$?
  took=$(echo "$(date +%s.%N) - $start" | bc)
  total=$((total + 1))
  if [ "$rc" = "$want_rc" ] && { if [ "$re" = '^$' ]; then [ -z "$out" ]; else grep -Eq -- "$re" <<<"$out"; fi; }; then
    printf 'ok    %-45s rc %s  %5.2fs\n' "$what" "$rc" "$took"
  else
    failed=$((failed + 1))
    printf 'FAIL  %-45s rc %s (want %s, /%s/)  %5.2fs\n' "$what" "$rc" "$want_rc" "$re" "$took"
    sed 's/^/      | /' <<<"$out"
  fi
}

PW="password=$FB_SSH_PASSWORD"
echo "== fence_ilo_ssh -> fakenos 127.0.0.1:$FB_FAKENOS_PORT (paramiko)"
check 0 '^Status: ON$'          "status"                    -- "$PW" action=status
check 0 'Success: Powered OFF'  "off"                       -- "$PW" action=off
check 2 '^Status: OFF$'         "status after off: rc 2"    -- "$PW" action=status
check 0 'Success: Powered ON'   "on"                        -- "$PW" action=on
check 0 'Success: Rebooted'     "reboot"                    -- "$PW" action=reboot
check 0 '^Status: ON$'          "status after reboot"       -- "$PW" action=status
check 0 '^$'                    "monitor: rc 0, silent"     -- "$PW" action=monitor
check 1 'Unable to connect/login' "a wrong password: rc 1"  -- password=not-the-password action=status
echo "== $((total - failed))/$total passed"
exit "$failed"
