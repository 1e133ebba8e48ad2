#!/usr/bin/env bash
# The whole test suite, runnable on a fresh Debian 12 machine as root: installs what the
# tests need (Debian's fence-agents as the reference implementation, strace to watch
# child processes, snmpsim and pyghmi in venvs from PyPI, OpenIPMI's ipmi_sim, NUT's upsd
# and drivers, cargo-fuzz from crates.io, Pacemaker, Corosync, crmsh, lintian), starts the
# SNMP simulators, the NUT stack and the SSH/telnet servers (three private OpenSSH sshd,
# inetutils telnetd, libvirtd with the test driver) on free loopback ports (IPMI tests start a BMC each),
# checks formatting and lints, runs every test, smoke-runs the IPMI packet fuzzer and the
# benchmark (so that bench/ cannot rot), and last runs the system tests, which build and
# install the Debian package, run a Pacemaker cluster, and purge the package again. The
# simulators are stopped (by PID) on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
# Under /tmp: snmpsim runs as nobody, which cannot enter a clone under /root.
export PEERS_STATE="${PEERS_STATE:-/tmp/fencebox-test-peers}"
# need_pkgs and friends, shared with the peer scripts.
. tests/peers/lib.sh

need_pkgs fence-agents strace python3 python3-venv snmp time openipmi ipmitool openssl \
  nut-server nut-client nut-snmp libnss3-tools \
  libssl-dev pkg-config openssh-server openssh-client inetutils-telnetd \
  libvirt-daemon libvirt-clients telnet pdudaemon-client python3-requests curl \
  etcd-server etcd-client
# telnet: Debian's agents (the differential tests' reference) run the telnet client, which
# their package does not depend on. pdudaemon-client: LAVA's pduclient, a real client of
# fencebox serve (its -H mode needs python3-requests, which the package does not declare).
# etcd-server, etcd-client: tests/etcd_locks.rs starts a private 3-member cluster per test
# (tests/peers/etcd) for the device locks across hosts.
# pyghmi's IPMI server: the second, independent BMC implementation (tests/common/bmc.rs).
ensure_venv "$(peer_state pyghmi-venv)/venv" pyghmi==1.6.19
export FENCEBOX_PYGHMI_PYTHON="$PEERS_STATE/pyghmi-venv/venv/bin/python"
# prometheus_client's parser reads `fencebox stats --prometheus` (tests/stats.rs).
ensure_venv "$(peer_state prometheus-venv)/venv" prometheus-client==0.21.1
export FENCEBOX_PROMETHEUS_PYTHON="$PEERS_STATE/prometheus-venv/venv/bin/python"
# labgrid's PDUDaemonDriver: a second real client of fencebox serve (tests/serve_peers.rs).
FENCEBOX_LABGRID_PYTHON="$(tests/peers/pdudaemon/labgrid-venv.sh)"; export FENCEBOX_LABGRID_PYTHON

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --all-features --quiet -- -D warnings
echo "== test peers (snmpsim on free loopback ports)"
mkdir -p "$PEERS_STATE"
trap 'tests/peers/browser/stop.sh; tests/peers/discover/stop.sh; tests/peers/fleet/stop.sh; tests/peers/ssh/stop.sh; tests/peers/nut/stop.sh; tests/peers/snmp/stop-all.sh' EXIT
tests/peers/snmp/start-all.sh >/dev/null
echo "== NUT peer (upsd with snmp-ups on its own snmpsim PDU, dummy-ups; STARTTLS)"
tests/peers/nut/start.sh >/dev/null
echo "== SSH and telnet peers (OpenSSH sshd: modern, keyboard-interactive only, legacy; telnetd)"
tests/peers/ssh/start.sh >/dev/null
echo "== fleet peer (42 PDUs of 24 outlets in one snmpsim, 64 ipmi_sim BMCs)"
tests/peers/fleet/start.sh >/dev/null
echo "== discovery peer (27 PDUs of 11 families on 127.0.7.x, 8 ipmi_sim BMCs on 127.0.8.x)"
tests/peers/discover/start.sh >/dev/null
echo "== browser peer (Debian's chromium and chromedriver, headless, for the web console's test)"
tests/peers/browser/start.sh >/dev/null
echo "== cargo test, both tiers (hermetic, and interop: the peers started above)"
cargo test --all-targets --features interop
echo "== fuzz smoke run (fuzz/: the RMCP/RMCP+ packet parser, 1M inputs)"
command -v cargo-fuzz >/dev/null || cargo install --quiet --locked cargo-fuzz --version 0.13.2
# cargo fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the one stable toolchain take them.
# New inputs go to a scratch corpus; the committed seeds (fuzz/corpus/rmcp) are only read.
FUZZ_SCRATCH="$(mktemp -d)"
(cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -O rmcp "$FUZZ_SCRATCH" corpus/rmcp -- -runs=1000000 -max_len=512 2>&1 | tail -n 3)
rm -rf "$FUZZ_SCRATCH"
echo "== fuzz smoke run (fuzz/: SNMP answers, OID arcs, site row patterns, 1M inputs)"
FUZZ_SCRATCH="$(mktemp -d)"
(cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -O snmp "$FUZZ_SCRATCH" corpus/snmp -- -runs=1000000 -max_len=512 2>&1 | tail -n 3)
rm -rf "$FUZZ_SCRATCH"
echo "== fuzz smoke run (fuzz/: the argv and stdin option readers, 150k inputs; ~2 k/s)"
FUZZ_SCRATCH="$(mktemp -d)"
(cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -O input "$FUZZ_SCRATCH" corpus/input -- -runs=150000 2>&1 | tail -n 3)
rm -rf "$FUZZ_SCRATCH"
echo "== fuzz smoke run (fuzz/: device shell output through the expect engine and every built-in dialogue, 100k inputs)"
FUZZ_SCRATCH="$(mktemp -d)"
(cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -O shell "$FUZZ_SCRATCH" corpus/shell -- -runs=100000 -max_len=4096 2>&1 | tail -n 3)
rm -rf "$FUZZ_SCRATCH"
echo "== bench smoke run (numbers not checked; bench/run.py writes docs/benchmarks.md)"
cargo build --release --quiet
python3 bench/run.py --runs 3 --out target/bench-smoke.md >/dev/null
grep -q "fence_dummy" target/bench-smoke.md
echo "== system tests (Debian package, Pacemaker cluster; tests/system/run.sh)"
tests/system/run.sh
echo "all tests passed"
