#!/usr/bin/env bash
# The whole test suite, runnable on a fresh Debian 12 machine as root: installs what the
# tests need (Debian's fence-agents as the reference implementation, strace to watch
# child processes, snmpsim in a venv from PyPI), starts the device simulators on free
# loopback ports, checks formatting and lints, runs every test, and smoke-runs the
# benchmark so that bench/ cannot rot. The simulators are stopped (by PID) on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
# Under /tmp: snmpsim runs as nobody, which cannot enter a clone under /root.
export PEERS_STATE="${PEERS_STATE:-/tmp/fencebox-test-peers}"
# need_pkgs and friends, shared with the peer scripts.
. tests/peers/lib.sh

need_pkgs fence-agents strace python3 python3-venv snmp time

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "== test peers (snmpsim on free loopback ports)"
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
