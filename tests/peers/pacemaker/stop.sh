#!/usr/bin/env bash
# Stop the cluster start.sh started, by recorded PIDs: pacemakerd (which stops its
# children; any that outlive it are killed by their recorded PID), then corosync; then put
# back the CIB that was in /var/lib/pacemaker/cib before.
. "$(dirname "$0")/../lib.sh"
ST="$PEERS_STATE/pacemaker"; CIBDIR=/var/lib/pacemaker/cib
stop_pid "$ST/pacemakerd.pid" 120
if [ -f "$ST/pacemakerd-children" ]; then
  while read -r pid start; do
    if [ -n "$pid" ] && [ "$(start_time "$pid")" = "$start" ]; then kill -9 "$pid" 2>/dev/null || true; fi
  done <"$ST/pacemakerd-children"
  rm -f "$ST/pacemakerd-children"
fi
stop_pid "$ST/corosync.pid" 60
if [ -d "$ST/cib-backup" ]; then
  rm -f "$CIBDIR"/cib*
  [ -e "$ST/cib-backup/.none" ] || cp -a "$ST/cib-backup"/cib* "$CIBDIR/"
  rm -rf "$ST/cib-backup"
fi
exit 0
