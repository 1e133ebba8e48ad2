# shellcheck shell=bash
# Helpers of the etcd peer (sourced by start.sh, stop.sh and member.sh after ../lib.sh).
# start.sh records the cluster (member names, ports, raft timing, TLS on or off) in
# $ETCD_DIR/cluster.conf; stop.sh and member.sh read it from there, so they act on the cluster of
# this PEERS_STATE even when the caller's environment holds an older etcd.env (or ETCD_TLS).
ETCD_DIR="$PEERS_STATE/etcd"          # m1/ m2/ m3/ (data dirs), mN.pid, mN.log, cluster.conf, tls/
ETCD_CONF="$ETCD_DIR/cluster.conf"
ETCD_ENV_FILE="$PEERS_STATE/etcd.env"
MEMBERS=(m1 m2 m3)
declare -A CPORT=() PPORT=()
HB_MS=50 EL_MS=500
TLS=0                                 # 1: https client URLs, client certificates required
TLS_DIR="$ETCD_DIR/tls"               # written by start.sh (make_tls) in TLS mode
CLEAN_PATH=/usr/sbin:/usr/bin:/sbin:/bin

# load_conf : MEMBERS, CPORT, PPORT, HB_MS, EL_MS, TLS from cluster.conf (no tls line: 0)
load_conf() {
  [ -f "$ETCD_CONF" ] || die "no etcd cluster recorded under $ETCD_DIR; run $(dirname "$0")/start.sh first"
  local what a b c
  MEMBERS=(); TLS=0
  while read -r what a b c; do
    case "$what" in
      member) MEMBERS+=("$a"); CPORT[$a]=$b; PPORT[$a]=$c ;;
      timing) HB_MS=$a; EL_MS=$b ;;
      tls)    if [ "$a" = 1 ]; then TLS=1; fi ;;
    esac
  done <"$ETCD_CONF"
  [ ${#MEMBERS[@]} -gt 0 ] || die "$ETCD_CONF lists no member"
}

is_member() { local m; for m in "${MEMBERS[@]}"; do [ "$m" = "$1" ] && return 0; done; return 1; }
client_url() { if [ "$TLS" = 1 ]; then echo "https://127.0.0.1:${CPORT[$1]}"; else echo "http://127.0.0.1:${CPORT[$1]}"; fi; }
peer_url()   { echo "http://127.0.0.1:${PPORT[$1]}"; }
pid_file()   { echo "$ETCD_DIR/$1.pid"; }
log_file()   { echo "$ETCD_DIR/$1.log"; }
data_dir()   { echo "$ETCD_DIR/$1"; }
all_clients() { local m out=""; for m in "${MEMBERS[@]}"; do out+="${out:+,}$(client_url "$m")"; done; echo "$out"; }
# member_pid NAME -> the recorded PID if that process is still ours and running (not a zombie)
member_pid() {
  local f; f="$(pid_file "$1")"
  pid_alive "$f" || return 1
  local p; p="$(tr -dc 0-9 <"$f")"
  running "$p" || return 1
  echo "$p"
}
tcp_listened() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# ectl ARGS... : etcdctl, API v3, without the caller's environment: an exported ETCDCTL_ENDPOINTS
# (or other ETCDCTL_*) would clash with the flags given here. In TLS mode with the test CA and
# the client certificate.
ectl() {
  local -a tls=()
  if [ "$TLS" = 1 ]; then
    tls=(--cacert="$TLS_DIR/ca.pem" --cert="$TLS_DIR/client.pem" --key="$TLS_DIR/client-key.pem")
  fi
  env -i PATH="$CLEAN_PATH" ETCDCTL_API=3 etcdctl --dial-timeout=1s --command-timeout=2s "${tls[@]}" "$@"
}
# healthy NAME... : every named member answers "endpoint health" (a quorum read) in time
healthy() {
  local m eps=""
  for m in "$@"; do eps+="${eps:+,}$(client_url "$m")"; done
  ectl --endpoints="$eps" endpoint health >/dev/null 2>&1
}

# come_up SECONDS NAME... : wait until all named members are healthy; fail at once if one of them
# is no longer running (it exited: a bad flag, a port taken, a data dir it refuses)
come_up() {
  local t=$1 i m; shift
  for i in $(seq 1 $((t * 10))); do
    healthy "$@" && return 0
    for m in "$@"; do member_pid "$m" >/dev/null || { echo "etcd $m exited" >&2; return 1; }; done
    sleep 0.1
  done
  healthy "$@"
}

# start_member NAME new|existing : run one etcd detached (start_bg), rc 1 if it exited at once;
# log to mN.log (the previous run's log is kept as mN.log.1). etcd takes every ETCD_* environment
# variable as a flag, and a test that sourced etcd.env with `set -a` has several (ETCD_TLS,
# ETCD_CA, ...), so etcd starts with an emptied environment. In TLS mode the client URLs are https
# and every client must show a certificate of the test CA; the peer URLs stay plain http.
start_member() {
  local n=$1 state=$2 m cluster="" log
  for m in "${MEMBERS[@]}"; do cluster+="${cluster:+,}$m=$(peer_url "$m")"; done
  log="$(log_file "$n")"
  [ -f "$log" ] && mv -f "$log" "$log.1"
  local -a arch=()
  case "$(uname -m)" in x86_64|aarch64|ppc64le) ;; *) arch=(ETCD_UNSUPPORTED_ARCH="$(dpkg --print-architecture)") ;; esac
  local -a tls=()
  if [ "$TLS" = 1 ]; then
    tls=(--cert-file "$TLS_DIR/server.pem" --key-file "$TLS_DIR/server-key.pem"
         --trusted-ca-file "$TLS_DIR/ca.pem" --client-cert-auth)
  fi
  # (start_bg fails, outside `set -e` here, when etcd exits before its start time is read)
  start_bg "$(pid_file "$n")" "$log" env -i PATH="$CLEAN_PATH" "${arch[@]}" \
    etcd --name "$n" --data-dir "$(data_dir "$n")" \
    --listen-client-urls "$(client_url "$n")" --advertise-client-urls "$(client_url "$n")" \
    --listen-peer-urls "$(peer_url "$n")" --initial-advertise-peer-urls "$(peer_url "$n")" \
    --initial-cluster "$cluster" --initial-cluster-state "$state" \
    --initial-cluster-token "fencebox-test-etcd" \
    --heartbeat-interval "$HB_MS" --election-timeout "$EL_MS" \
    --logger zap --log-outputs stderr "${tls[@]}" \
    || { echo "etcd $n exited at once (log $log)" >&2; return 1; }
}

# leader_name -> from `etcdctl endpoint status -w json` on every member that runs, the name of
# the member that reports itself leader (its leader ID equals its own member ID); with two such
# claims (an old leader cut off), the one with the higher raft term. IDs are uint64, more than a
# double holds, so they are compared in Python, not in jq.
leader_name() {
  local m eps=""
  for m in "${MEMBERS[@]}"; do member_pid "$m" >/dev/null && eps+="${eps:+,}$(client_url "$m")"; done
  [ -n "$eps" ] || return 1
  local json names=""
  for m in "${MEMBERS[@]}"; do names+="$(client_url "$m")=$m "; done
  json="$(ectl --endpoints="$eps" endpoint status -w json 2>/dev/null)" || true
  [ -n "$json" ] || return 1
  /usr/bin/python3 -c '
import json, sys
names = dict(x.split("=", 1) for x in sys.argv[1].split())
best = None
for e in json.loads(sys.stdin.read()):
    s = e.get("Status", {})
    me = s.get("header", {}).get("member_id")
    if me and s.get("leader") == me:
        term = s.get("raftTerm", 0)
        if best is None or term > best[0]:
            best = (term, names.get(e["Endpoint"], e["Endpoint"]))
if best is None:
    sys.exit(1)
print(best[1])
' "$names" <<<"$json"
}
