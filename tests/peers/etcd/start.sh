#!/usr/bin/env bash
# A new 3-member etcd cluster (Debian 12 etcd-server 3.4) on 127.0.0.1 for the tests of the
# cross-host device locks (issue 17): members m1, m2, m3, each with a free client port and a free
# peer port chosen now, data dirs $PEERS_STATE/etcd/mN wiped first (a new cluster every time).
# Returns once `etcdctl endpoint health` passes on all three.
# Env:  ETCD_HEARTBEAT_MS=50 ETCD_ELECTION_MS=500   raft timing (etcd's defaults are 100/1000)
#       PEERS_STATE                                  state in $PEERS_STATE/etcd
# Writes $PEERS_STATE/etcd.env (ETCD_ENDPOINTS, ETCD_Mn_CLIENT, ETCD_Mn_PEER, ETCD_Mn_PID_FILE,
# ETCD_Mn_DATA_DIR, ETCD_Mn_LOG, ETCD_STATE) and prints it. Then: member.sh, stop.sh.
. "$(dirname "$0")/../lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/common.sh"
HB_MS="${ETCD_HEARTBEAT_MS:-50}"; EL_MS="${ETCD_ELECTION_MS:-500}"
[[ "$HB_MS" =~ ^[1-9][0-9]*$ && "$EL_MS" =~ ^[1-9][0-9]*$ ]] || die "ETCD_HEARTBEAT_MS / ETCD_ELECTION_MS: whole milliseconds"
[ "$EL_MS" -ge $((5 * HB_MS)) ] || die "etcd wants the election timeout at least 5 x the heartbeat"

for f in "$ETCD_DIR"/m*.pid; do
  [ -e "$f" ] || continue
  pid_alive "$f" && die "etcd $(basename "$f" .pid) already runs (pid $(cat "$f")); stop it with $HERE/stop.sh"
done
need_pkgs etcd-server etcd-client

# Debian's etcd.service (installed with etcd-server, left unstarted by need_pkgs) listens on
# 2379/2380. It is not ours to stop; our members never use those ports.
if command -v systemctl >/dev/null && systemctl is-active --quiet etcd 2>/dev/null; then
  echo "note: Debian's etcd.service is active (2379/2380); left alone, the test members use other ports" >&2
elif tcp_listened 2379 || tcp_listened 2380; then
  echo "note: something listens on 2379/2380 (a system etcd?); left alone, the test members use other ports" >&2
fi

stop_all() { local f; for f in "$ETCD_DIR"/m*.pid; do [ -e "$f" ] && stop_pid "$f" 2; done; return 0; }
t0=$(date +%s.%N)
for attempt in 1 2 3; do
  rm -rf "${ETCD_DIR:?}"; mkdir -p -m 0755 "$ETCD_DIR"
  mapfile -t ports < <(free_tcp_ports 6)
  [ ${#ports[@]} -eq 6 ] || die "could not find 6 free tcp ports on loopback"
  {
    echo "# written by start.sh: member NAME CLIENT_PORT PEER_PORT; timing HEARTBEAT_MS ELECTION_MS"
    echo "member m1 ${ports[0]} ${ports[1]}"
    echo "member m2 ${ports[2]} ${ports[3]}"
    echo "member m3 ${ports[4]} ${ports[5]}"
    echo "timing $HB_MS $EL_MS"
  } >"$ETCD_CONF"
  load_conf
  trap stop_all EXIT                # no member stays behind when this script fails
  ok=1
  for m in "${MEMBERS[@]}"; do
    mkdir -m 0700 "$(data_dir "$m")"; start_member "$m" new || { ok=0; break; }
  done
  [ "$ok" = 1 ] && come_up 30 "${MEMBERS[@]}" && { trap - EXIT; break; }
  # A port taken between the choice and the bind (an outgoing connection's source port, say)
  # is a reason to try again on other ports; anything else is a failure.
  retry=0
  for m in "${MEMBERS[@]}"; do
    [ -f "$(log_file "$m")" ] || continue
    grep -q 'address already in use' "$(log_file "$m")" && retry=1
    echo "--- $(log_file "$m") (last lines)" >&2; tail -n 5 "$(log_file "$m")" >&2
  done
  stop_all; trap - EXIT
  [ "$retry" = 1 ] && [ "$attempt" -lt 3 ] || die "the etcd cluster did not become healthy (logs in $ETCD_DIR)"
  echo "a port was taken before etcd bound it; trying again on other ports" >&2
done
t1=$(date +%s.%N)

{
  echo "ETCD_ENDPOINTS=$(all_clients)"
  for m in "${MEMBERS[@]}"; do
    M="${m^^}"
    echo "ETCD_${M}_CLIENT=$(client_url "$m")"
    echo "ETCD_${M}_PEER=$(peer_url "$m")"
    echo "ETCD_${M}_PID_FILE=$(pid_file "$m")"
    echo "ETCD_${M}_DATA_DIR=$(data_dir "$m")"
    echo "ETCD_${M}_LOG=$(log_file "$m")"
  done
  echo "ETCD_STATE=$ETCD_DIR"
} >"$ETCD_ENV_FILE"
echo "etcd $(etcd --version | sed -n 's/^etcd Version: //p'): m1 m2 m3 healthy $(awk -v a="$t1" -v b="$t0" 'BEGIN{printf "%.2f", a - b}') s after the start; leader $(leader_name || echo '(none yet)'); env in $ETCD_ENV_FILE" >&2
cat "$ETCD_ENV_FILE"
