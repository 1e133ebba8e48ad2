#!/usr/bin/env bash
# Stops the chromedriver that start.sh started, by its pid file (SIGTERM, SIGKILL after 5 s),
# then any Chromium it left behind: start_bg runs chromedriver as the leader of a new session
# (setsid), the browsers it launches stay in that session, so what is left is found by that
# session id (the recorded PID) and by having started no earlier than chromedriver; never by
# name. Removes browser.env and Chromium's temporary profiles; logs stay.
. "$(dirname "$0")/../lib.sh"
ST="$PEERS_STATE/browser"
f="$ST/chromedriver.pid"
if [ -f "$f" ]; then
  sid="$(tr -dc 0-9 <"$f")"; since="$(cat "$f.start" 2>/dev/null || echo 0)"
  stop_pid "$f" 5
  # Left-overs of that session: a browser whose session was never quit, if chromedriver died hard.
  left=()
  if [ -n "$sid" ]; then
    for p in $(ps -e -o pid=,sid= | awk -v s="$sid" '$2 == s {print $1}'); do
      st="$(start_time "$p" || true)"  # "" if it is gone since ps listed it (pipefail: sed fails)
      [ -n "$st" ] && [ "$st" -ge "$since" ] && running "$p" && left+=("$p")
    done
  fi
  # A browser whose session was just quit is still exiting (~10-20 ms after DELETE returns):
  # up to 1 s for those to go on their own.
  still() { local p r=(); for p in "${left[@]}"; do running "$p" && r+=("$p"); done; left=("${r[@]}"); }
  for _ in $(seq 1 10); do still; [ ${#left[@]} -gt 0 ] || break; sleep 0.1; done
  if [ ${#left[@]} -gt 0 ]; then
    kill "${left[@]}" 2>/dev/null || true
    for _ in $(seq 1 30); do
      alive=0; for p in "${left[@]}"; do running "$p" && alive=1; done
      [ "$alive" = 0 ] && break; sleep 0.1
    done
    for p in "${left[@]}"; do running "$p" && kill -9 "$p" 2>/dev/null || true; done
    echo "stopped ${#left[@]} process(es) chromedriver left behind: ${left[*]}" >&2
  fi
fi
# Chromium's temporary profiles (a session's own, when its browser was killed, not quit).
rm -rf "$ST/tmp"
rm -f "$PEERS_STATE/browser.env"
