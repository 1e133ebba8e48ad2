#!/usr/bin/env bash
# The whole test suite, runnable on a fresh Debian 12 machine as root: installs what the
# tests need (Debian's fence-agents as the reference implementation, strace to watch
# child processes, snmpsim in a venv from PyPI), starts the device simulators on free
# loopback ports, checks formatting and lints, runs every test, and smoke-runs the
# benchmark so that bench/ cannot rot. The simulators are stopped (by PID) on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q ' installed$' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "error: packages missing (${missing[*]}); run as root or install them first" >&2
    exit 1
  fi
  echo "installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  }
}

need_pkgs fence-agents strace python3 python3-venv snmp time

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "== test peers (snmpsim on free loopback ports)"
# Under /tmp: snmpsim runs as nobody, which cannot enter a clone under /root.
export PEERS_STATE="${PEERS_STATE:-/tmp/fencebox-test-peers}"
mkdir -p "$PEERS_STATE"
trap 'tests/peers/snmp/stop-all.sh' EXIT
tests/peers/snmp/start-all.sh >/dev/null
echo "== cargo test"
cargo test --all-targets
echo "== bench smoke run (numbers not checked; bench/run.py writes docs/benchmarks.md)"
cargo build --release --quiet
python3 bench/run.py --runs 3 --out target/bench-smoke.md >/dev/null
grep -q "fence_dummy" target/bench-smoke.md
echo "all tests passed"
