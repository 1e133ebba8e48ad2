# shellcheck shell=bash
# Shared shell functions of fencebox's test peers (sourced). Peers run on loopback only,
# each detached with its PID in a pid file plus the kernel start time of that PID, so
# stopping signals exactly the process that was started, never anything found by name.
set -euo pipefail
umask 022
PEERS_STATE="${PEERS_STATE:-/tmp/fencebox-test-peers}"

die() { echo "error: $*" >&2; exit 1; }

peer_state() { mkdir -p -m 0755 "$PEERS_STATE/$1"; printf '%s\n' "$PEERS_STATE/$1"; }

# need_pkgs PKG... : apt-get install what is missing (services are not started by it).
need_pkgs() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q ' installed$' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "packages missing (${missing[*]}); run as root or install them"
  local log; log="$(peer_state apt)/apt.log"
  echo "installing Debian packages: ${missing[*]}" >&2
  (
    policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; policy=1
    fi
    trap '[ "$policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}" >>"$log" 2>&1 || {
      apt-get update >>"$log" 2>&1
      apt-get install -y --no-install-recommends "${missing[@]}" >>"$log" 2>&1
    }
  ) || die "apt-get install ${missing[*]} failed, see $log"
}

# ensure_venv DIR PIP_SPEC... : a venv on Debian's python3 with exactly these packages.
ensure_venv() {
  local venv=$1; shift
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.specs" 2>/dev/null)" = "$*" ]; then return 0; fi
  need_pkgs python3-venv
  echo "creating venv $venv: $*" >&2
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "$@" >"$venv.pip.log" 2>&1 \
    || { tail -20 "$venv.pip.log" >&2; rm -rf "$venv"; die "pip install failed, see $venv.pip.log"; }
  printf '%s\n' "$*" >"$venv/.specs"
}

start_time() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $20}'; }

pid_alive() {
  local f=$1 pid
  [ -f "$f" ] || return 1
  pid="$(tr -dc 0-9 <"$f")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  [ "$(start_time "$pid")" = "$(cat "$f.start" 2>/dev/null)" ]
}

# start_bg PIDFILE LOG CMD... : run CMD detached; PIDFILE gets CMD's own PID.
start_bg() {
  local pidf=$1 log=$2; shift 2
  rm -f "$pidf" "$pidf.start"
  setsid bash -c 'echo $$ > "$0"; exec "$@"' "$pidf" "$@" >"$log" 2>&1 </dev/null &
  local i
  for i in $(seq 1 100); do [ -s "$pidf" ] && break; sleep 0.05; done
  [ -s "$pidf" ] || die "could not start $3"
  start_time "$(tr -dc 0-9 <"$pidf")" >"$pidf.start"
}

# running PID : the process exists and has not exited (an exited one whose parent, often
# PID 1, has not reaped it yet is a zombie, which kill -0 still finds).
running() { kill -0 "$1" 2>/dev/null && [ "$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" != Z ]; }

# stop_pid PIDFILE [SECONDS] : SIGTERM the recorded process if it is still ours, wait up
# to SECONDS (default 5) for it to exit, then SIGKILL.
stop_pid() {
  local f=$1 wait=${2:-5} pid i
  [ -f "$f" ] || return 0
  pid="$(tr -dc 0-9 <"$f")"
  if pid_alive "$f"; then
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 $((wait * 10))); do running "$pid" || break; sleep 0.1; done
    running "$pid" && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f" "$f.start"
}

# free_port udp|tcp [COUNT] : COUNT (default 1) different ports nothing listens on
# (loopback, both families), one a line.
free_port() {
  /usr/bin/python3 - "$1" "${2:-1}" <<'PY'
import socket, sys
kind = socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM
held = []  # bound until all are found, so no port is handed out twice
for _ in range(50 * int(sys.argv[2])):
    if len(held) == int(sys.argv[2]):
        break
    s4 = socket.socket(socket.AF_INET, kind); s4.bind(("127.0.0.1", 0)); port = s4.getsockname()[1]
    try:
        s6 = socket.socket(socket.AF_INET6, kind); s6.bind(("::1", port)); s6.close()
    except OSError:
        s4.close(); continue
    if port >= 1024:
        held.append(s4)
        print(port)
    else:
        s4.close()
PY
}
free_udp_port() { free_port udp; }
free_tcp_port() { free_port tcp; }
free_tcp_ports() { free_port tcp "$1"; }

wait_for() {
  local t=$1 i; shift
  for i in $(seq 1 $((t * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  "$@" >/dev/null 2>&1
}
