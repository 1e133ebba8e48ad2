#!/usr/bin/env bash
# Every outlet and every chassis of the running fleet back on, without a restart, so tests
# can run command after command from the same start. The reset itself is not logged.
#   reset.sh [--clear-logs]   also empty the outlet change log and every chassis.log
. "$(dirname "$0")/../lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
ENVF="$PEERS_STATE/fleet/fleet.env"
case "${1:-}" in "") clear=0 opt=() ;; --clear-logs) clear=1 opt=(--clear-log) ;; *) die "usage: $0 [--clear-logs]" ;; esac
[ -f "$ENVF" ] || die "no fleet under $PEERS_STATE/fleet (start.sh first)"
. "$ENVF"
if [ -n "$FLEET_SETLOG_DB" ]; then
  # as nobody, snmpsim's user, so that no file of the database's directory becomes root's
  runuser -u nobody -- /usr/bin/python3 "$HERE/make-data.py" --reset "$FLEET_SETLOG_DB" "${opt[@]}"
fi
while read -r _ _ power log; do
  echo 1 >"$power"; echo 1 >"$(dirname "$power")/m82/power"
  [ "$clear" = 1 ] && : >"$log"
done <"$FLEET_BMC_LIST"
exit 0
