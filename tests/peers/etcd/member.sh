#!/usr/bin/env bash
# One member of the cluster start.sh made, by name (m1, m2, m3):
#   member.sh kill NAME    SIGKILL by pid file (a crash: no leadership hand-over; the others elect
#                          a new leader after the election timeout); returns once it is dead
#   member.sh stop NAME    SIGTERM by pid file and wait for the exit (SIGKILL after 10 s); a leader
#                          hands its leadership over first
#   member.sh start NAME   start a stopped or killed member again on its data dir (it rejoins and
#                          catches up; initial-cluster-state existing); returns once it is healthy,
#                          which needs a quorum (fails, leaving it running, if it stays alone)
#   member.sh leader       print the leader's name (from `etcdctl endpoint status -w json` on the
#                          members that run); exit 1 if none reports a leader
. "$(dirname "$0")/../lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/common.sh"
usage() { die "usage: member.sh kill|stop|start NAME | member.sh leader"; }
action=${1:-}; name=${2:-}
load_conf
case "$action" in
  kill|stop|start) [ -n "$name" ] || usage
                   is_member "$name" || die "no member '$name' (members: ${MEMBERS[*]})" ;;
  leader) ;;
  *) usage ;;
esac

case "$action" in
  kill)
    pid="$(member_pid "$name")" || die "etcd $name does not run"
    kill -KILL "$pid"
    for _ in $(seq 1 100); do running "$pid" || break; sleep 0.02; done
    running "$pid" && die "etcd $name (pid $pid) still runs after SIGKILL"
    rm -f "$(pid_file "$name")" "$(pid_file "$name").start"
    echo "killed etcd $name (pid $pid)" ;;
  stop)
    pid="$(member_pid "$name")" || die "etcd $name does not run"
    stop_pid "$(pid_file "$name")" 10
    running "$pid" && die "etcd $name (pid $pid) did not exit"
    echo "stopped etcd $name (pid $pid)" ;;
  start)
    pid="$(member_pid "$name")" && die "etcd $name already runs (pid $pid)"
    [ -d "$(data_dir "$name")/member" ] || die "etcd $name has no data in $(data_dir "$name"); start the cluster with $HERE/start.sh"
    for p in "${CPORT[$name]}" "${PPORT[$name]}"; do
      tcp_listened "$p" && die "tcp port $p of etcd $name is taken by another process now"
    done
    start_member "$name" existing || { tail -n 5 "$(log_file "$name")" >&2; die "etcd $name did not start"; }
    if ! come_up 20 "$name"; then
      tail -n 5 "$(log_file "$name")" >&2
      if pid="$(member_pid "$name")"; then
        die "etcd $name runs (pid $pid) but is not healthy (no quorum?); log $(log_file "$name")"
      fi
      die "etcd $name did not start; log $(log_file "$name")"
    fi
    echo "started etcd $name (pid $(member_pid "$name")), $(client_url "$name")" ;;
  leader)
    leader_name || die "no member reports a leader" ;;
esac
