#!/usr/bin/env bash
# Stops every etcd member that start.sh / member.sh started, by its pid file (SIGTERM, SIGKILL
# after 10 s), and removes etcd.env. Data dirs and logs stay (start.sh wipes them).
# Followers go first, together, then the leader: a leader given SIGTERM hands its leadership to a
# follower it still reaches, and when those followers are leaving too the hand-over only gives
# up after about 6 s (measured with all three stopped at once); with no follower left it skips it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
leader=""
[ -f "$ETCD_CONF" ] && { load_conf; leader="$(leader_name 2>/dev/null || true)"; }
pids=()
for f in "$ETCD_DIR"/m*.pid; do
  [ -e "$f" ] || continue
  [ "$(basename "$f" .pid)" = "$leader" ] && continue
  stop_pid "$f" 10 &
  pids+=("$!")
done
for p in "${pids[@]}"; do wait "$p"; done
[ -z "$leader" ] || stop_pid "$(pid_file "$leader")" 10
rm -f "$ETCD_ENV_FILE"
