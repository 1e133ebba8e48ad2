#!/usr/bin/env bash
# A single-node Corosync 3 + Pacemaker 2.1 cluster (Debian 12 packages) on 127.0.0.1,
# started by hand without systemd, for the fencing tests in tests/system/. The CIB starts
# with stonith enabled, quorum ignored and no resources; tests add stonith devices with
# crmsh. Node: node1. Logs in $PEERS_STATE/pacemaker/.
# The CIB must live in /var/lib/pacemaker/cib (Pacemaker 2.1 cannot move it): what is there
# is saved and stop.sh puts it back. Refuses to run beside a cluster it did not start.
. "$(dirname "$0")/../lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
ST="$(peer_state pacemaker)"
CIBDIR=/var/lib/pacemaker/cib
[ "$(id -u)" = 0 ] || die "the cluster must run as root"
for d in corosync pacemakerd; do
  pid_alive "$ST/$d.pid" && die "$d already runs (pid $(cat "$ST/$d.pid")); stop it with $HERE/stop.sh"
done
need_pkgs pacemaker pacemaker-cli-utils corosync crmsh procps
others="$(pgrep -x corosync; pgrep -x pacemakerd)" || true
[ -z "$others" ] || die "a corosync/pacemakerd this script did not start runs (pid $(echo $others)); not touching it"
export PCMK_logfile="$ST/pacemaker.log" PCMK_debug=no

cat >"$ST/corosync.conf" <<CONF
totem {
    version: 2
    cluster_name: fencebox-test
    transport: knet
    crypto_cipher: none
    crypto_hash: none
}
logging {
    to_stderr: no
    to_logfile: yes
    logfile: $ST/corosync.log
    to_syslog: no
    timestamp: hires
}
quorum {
    provider: corosync_votequorum
}
nodelist {
    node {
        name: node1
        nodeid: 1
        ring0_addr: 127.0.0.1
    }
}
CONF
corosync -t -c "$ST/corosync.conf" >/dev/null || die "corosync rejects $ST/corosync.conf"

# A fresh CIB, made offline, installed where pacemaker-based reads it.
cibadmin --empty >"$ST/cib-seed.xml"
(
  export CIB_file="$ST/cib-seed.xml"
  crm_attribute --type crm_config --name stonith-enabled --update true
  crm_attribute --type crm_config --name no-quorum-policy --update ignore
  # The default 20 s would hold the first DC election that long.
  crm_attribute --type crm_config --name dc-deadtime --update 2s
) >/dev/null || die "could not build the CIB"
if [ ! -e "$ST/cib-backup" ]; then
  mkdir -p "$ST/cib-backup"
  if compgen -G "$CIBDIR/cib*" >/dev/null; then cp -a "$CIBDIR"/cib* "$ST/cib-backup/"; else touch "$ST/cib-backup/.none"; fi
fi
mkdir -p "$CIBDIR"; rm -f "$CIBDIR"/cib*
install -o hacluster -g haclient -m 0600 "$ST/cib-seed.xml" "$CIBDIR/cib.xml"

: >"$PCMK_logfile"; chown hacluster:haclient "$PCMK_logfile"; chmod 0660 "$PCMK_logfile"
start_bg "$ST/corosync.pid" "$ST/corosync.out" corosync -f -c "$ST/corosync.conf"
wait_for 15 corosync-quorumtool -s || { cat "$ST/corosync.out" >&2; "$HERE/stop.sh"; die "corosync is not quorate"; }
start_bg "$ST/pacemakerd.pid" "$ST/pacemakerd.out" pacemakerd
if ! wait_for 90 sh -c "crm_mon -1 2>/dev/null | grep -q 'Online: \[ node1 \]'"; then
  crm_mon -1 >&2 || true; "$HERE/stop.sh"; die "node1 did not come online"
fi
# pacemakerd's children, to kill any that outlive it at stop.
ps -o pid= --ppid "$(cat "$ST/pacemakerd.pid")" | while read -r p; do echo "$p $(start_time "$p")"; done >"$ST/pacemakerd-children"
echo "cluster running (corosync pid $(cat "$ST/corosync.pid"), pacemakerd pid $(cat "$ST/pacemakerd.pid")); logs in $ST"
