#!/usr/bin/env bash
# A headless Chromium for browser tests (the web console of `fencebox serve`): Debian 12's
# `chromium` and `chromium-driver` (installed if missing, with fonts-liberation so that
# screenshots show real glyphs), and one `chromedriver` on a free loopback port. Tests drive it
# over W3C WebDriver with tests/peers/browser/webdriver.py; every session starts its own
# Chromium (headless, temporary profile), which chromedriver ends with the session.
# chromedriver is started WITHOUT --allowed-ips: then it listens on 127.0.0.1 and ::1 only and
# takes local connections only. (--allowed-ips=127.0.0.1 would make it listen on *:PORT.)
# Returns once GET /status says "ready": true.
# Env:  BROWSER_PORT (default: a free TCP port), PEERS_STATE (state in $PEERS_STATE/browser).
# Writes $PEERS_STATE/browser.env (BROWSER_WEBDRIVER, BROWSER_CHROMIUM, BROWSER_CHROMEDRIVER_PID_FILE,
# BROWSER_CHROMEDRIVER_LOG, BROWSER_STATE) and prints it. Then: smoke.py, stop.sh.
. "$(dirname "$0")/../lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
ST="$(peer_state browser)"
ENV_FILE="$PEERS_STATE/browser.env"
CHROMIUM=/usr/bin/chromium
pid_alive "$ST/chromedriver.pid" \
  && die "chromedriver already runs (pid $(cat "$ST/chromedriver.pid")); stop it with $HERE/stop.sh"

t0=$(date +%s.%N)
need_pkgs chromium chromium-driver fonts-liberation curl
t1=$(date +%s.%N)
[ -x "$CHROMIUM" ] || die "$CHROMIUM missing after installing chromium"
command -v chromedriver >/dev/null || die "chromedriver missing after installing chromium-driver"

# Chromium's temporary profiles (chromedriver makes one a session, in $TMPDIR) go to our state
# dir, so a browser killed without a clean quit leaves nothing in /tmp itself.
# HOME too: Chromium's crash handler keeps its database in $HOME/.config/chromium.
rm -rf "$ST/tmp"; mkdir -m 0700 "$ST/tmp"; [ -d "$ST/home" ] || mkdir -m 0700 "$ST/home"
ready() { [[ "$(curl -sf --max-time 2 "http://127.0.0.1:$1/status")" == *'"ready":true'* ]]; }
for attempt in 1 2 3; do
  PORT="${BROWSER_PORT:-$(free_tcp_port)}"
  [ -n "$PORT" ] || die "no free TCP port on loopback"
  # `|| true`: start_bg fails (pipefail, no message) when chromedriver has already exited before
  # its start time is read, e.g. on a taken port; the loop below then reports that properly.
  start_bg "$ST/chromedriver.pid" "$ST/chromedriver.out" \
    env TMPDIR="$ST/tmp" HOME="$ST/home" chromedriver --port="$PORT" --log-path="$ST/chromedriver.log" \
    --readable-timestamp || true
  up=0  # ready within 15 s, or given up at once when chromedriver exits (a port taken, say)
  for _ in $(seq 1 150); do
    ready "$PORT" && { up=1; break; }
    running "$(tr -dc 0-9 <"$ST/chromedriver.pid")" || break
    sleep 0.1
  done
  [ "$up" = 1 ] && break
  tail -n 5 "$ST/chromedriver.out" "$ST/chromedriver.log" >&2 2>/dev/null || true
  stop_pid "$ST/chromedriver.pid" 2
  # A port taken between the choice and the bind is a reason to try another; nothing else is.
  if [ -z "${BROWSER_PORT:-}" ] && [ "$attempt" -lt 3 ] \
    && grep -qi 'port not available\|address already in use' "$ST/chromedriver.out" "$ST/chromedriver.log" 2>/dev/null; then
    echo "port $PORT was taken before chromedriver bound it; trying another" >&2; continue
  fi
  die "chromedriver did not become ready on 127.0.0.1:$PORT (see $ST/chromedriver.out, $ST/chromedriver.log)"
done
t2=$(date +%s.%N)

{
  echo "BROWSER_WEBDRIVER=http://127.0.0.1:$PORT"
  echo "BROWSER_CHROMIUM=$CHROMIUM"
  echo "BROWSER_CHROMEDRIVER_PID_FILE=$ST/chromedriver.pid"
  echo "BROWSER_CHROMEDRIVER_LOG=$ST/chromedriver.log"
  echo "BROWSER_STATE=$ST"
} >"$ENV_FILE"
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b - a}'; }
echo "$(chromedriver --version | cut -d' ' -f1-2), $("$CHROMIUM" --version 2>/dev/null | cut -d' ' -f1-2):" \
  "packages $(secs "$t0" "$t1") s, chromedriver ready $(secs "$t1" "$t2") s after its start; env in $ENV_FILE" >&2
cat "$ENV_FILE"
