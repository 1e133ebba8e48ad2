#!/usr/bin/env bash
# A simulated BMC: OpenIPMI's ipmi_sim (Debian package openipmi) on loopback, IPMI 1.5 and
# 2.0 (RMCP+ cipher suites 0-3). Power state and a log of every chassis call in
# $PEERS_STATE/ipmi-NAME/{power,chassis.log}; every start powers the chassis on.
#   start.sh [NAME]     NAME defaults to bmc
#   IPMI_PORT   udp port (default: a free one)      IPMI_ADDR  127.0.0.1 (or ::1)
# Prints "IPMI_PORT=<port>" once the BMC answers.
. "$(dirname "$0")/../lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
NAME="${1:-bmc}"
[[ "$NAME" =~ ^[A-Za-z0-9_-]+$ ]] || die "bad BMC name '$NAME'"
ST="$(peer_state "ipmi-$NAME")"
PIDF="$ST/ipmi_sim.pid"
ADDR="${IPMI_ADDR:-127.0.0.1}"
pid_alive "$PIDF" && die "ipmi_sim $NAME already runs (pid $(cat "$PIDF")); stop it with $HERE/stop.sh $NAME"
need_pkgs openipmi ipmitool
PORT="${IPMI_PORT:-$(free_udp_port)}"
rm -rf "$ST/state"; mkdir -p "$ST/state"
mkdir -p "$ST/m82"; echo 1 >"$ST/power"; echo 1 >"$ST/m82/power"; : >"$ST/chassis.log"
"$HERE/lan-conf.sh" "$ST" "$ADDR" "$PORT" >"$ST/lan.conf"
start_bg "$PIDF" "$ST/ipmi_sim.log" ipmi_sim -n -c "$ST/lan.conf" -f "$HERE/bmc.emu" -s "$ST/state"
if ! IPMI_PASSWORD=password wait_for 10 ipmitool -I lanplus -C 3 -H "$ADDR" -p "$PORT" -U admin -E -N 1 -R 1 chassis power status; then
  tail -20 "$ST/ipmi_sim.log" >&2
  stop_pid "$PIDF"
  die "ipmi_sim $NAME did not answer on [$ADDR]:$PORT"
fi
echo "IPMI_PORT=$PORT"
