#!/usr/bin/env bash
# Network UPS Tools (Debian nut-server 2.8.0) on loopback for fence_nut's tests:
#   baytech  NUT's snmp-ups driver (mibs=baytech, SNMPv1) on a snmpsim Baytech PDU of its own
#            (tests/peers/snmp, instance "nut"): INSTCMD outlet.N.load.on|off really switch the
#            simulated outlet; outlet.N.status follows at the driver's next poll (~1-2 s). No load.cycle.
#   dummy    dummy-ups ePDU, 4 outlets: no instant commands at all (CMD-NOT-SUPPORTED); outlet 4 is
#            marked not switchable.
# upsd offers STARTTLS with a server certificate (CN and SAN localhost, 127.0.0.1, ::1) signed by a
# test CA made here; a second, unrelated CA is made for "does not verify" tests.
# Users: admin/adminpass (instcmds ALL), outlet1only/o1pass (outlet.1.load.on|off), monuser/monpass (upsmon).
# Env:  NUT_PORT (default: a free TCP port), PEERS_STATE.
# Writes $PEERS_STATE/nut.env: FENCEBOX_NUT_PORT, FENCEBOX_NUT_CA, FENCEBOX_NUT_OTHER_CA,
# FENCEBOX_NUT_FINGERPRINT (SHA-256 of the server certificate), FENCEBOX_NUT_STATE.
. "$(dirname "$0")/../lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
ST="$(peer_state nut)"
for f in upsd snmp-ups dummy-ups; do
  pid_alive "$ST/$f.pid" && die "$f already runs (pid $(cat "$ST/$f.pid")); stop it with $HERE/stop.sh"
done
need_pkgs nut-server nut-client nut-snmp snmp libnss3-tools openssl

SNMPSIM_PORT="$(SNMPSIM_NAME=nut "$HERE/../snmp/start.sh" baytech | sed -n 's/^SNMPSIM_PORT=//p')"
[ -n "$SNMPSIM_PORT" ] || die "the snmpsim Baytech PDU for NUT did not start"
PORT="${NUT_PORT:-$(free_tcp_port)}"
export NUT_CONFPATH="$ST/etc" NUT_STATEPATH="$ST/state" NUT_ALTPIDPATH="$ST/state"
rm -rf "$ST/etc" "$ST/state" "$ST/tls"; mkdir -p "$ST/etc" "$ST/state" "$ST/tls/certdb"

# --- TLS: a test CA, the server certificate it signs, and an unrelated CA.
T="$ST/tls"
ossl() { openssl "$@" >>"$T/openssl.log" 2>&1 || die "openssl $1 failed (see $T/openssl.log)"; }
for ca in ca other-ca; do
  ossl req -x509 -newkey rsa:2048 -nodes -keyout "$T/$ca.key" -out "$T/$ca.pem" -days 30 \
    -subj "/CN=fencebox test $ca" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
done
ossl req -newkey rsa:2048 -nodes -keyout "$T/server.key" -out "$T/server.csr" -subj "/CN=localhost"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n' >"$T/server.ext"
ossl x509 -req -in "$T/server.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
  -out "$T/server.pem" -days 30 -extfile "$T/server.ext"
ossl pkcs12 -export -in "$T/server.pem" -inkey "$T/server.key" -name upsd -out "$T/server.p12" -passout pass:p12pass
echo dbpass >"$T/db.pw"
certutil -N -d "sql:$T/certdb" -f "$T/db.pw" >>"$T/openssl.log" 2>&1 || die "certutil -N failed"
certutil -A -d "sql:$T/certdb" -n fencebox-ca -t "CT,," -i "$T/ca.pem" -f "$T/db.pw" >>"$T/openssl.log" 2>&1 \
  || die "certutil -A failed"
pk12util -i "$T/server.p12" -d "sql:$T/certdb" -W p12pass -k "$T/db.pw" >>"$T/openssl.log" 2>&1 || die "pk12util failed"
FINGERPRINT="$(openssl x509 -in "$T/server.pem" -noout -fingerprint -sha256 | sed 's/^.*=//')"
chown -R nut:nut "$T/certdb"; chmod 750 "$T/certdb"

# --- NUT configuration (NUT_CONFPATH; /etc/nut is not used).
echo "MODE=standalone" >"$ST/etc/nut.conf"
cat >"$ST/etc/ups.conf" <<CONF
maxretry = 3

[dummy]
	driver = dummy-ups
	port = $ST/etc/dummy-pdu.dev
	mode = dummy-once
	desc = "dummy-ups ePDU without instant commands"

[baytech]
	driver = snmp-ups
	port = 127.0.0.1:$SNMPSIM_PORT
	mibs = baytech
	community = baytech
	snmp_version = v1
	pollfreq = 1
	pollinterval = 1
	desc = "Baytech RPC on snmpsim through NUT snmp-ups"
CONF
cat >"$ST/etc/upsd.conf" <<CONF
LISTEN 127.0.0.1 $PORT
LISTEN ::1 $PORT
MAXAGE 15
CERTPATH $T/certdb
CERTIDENT "upsd" "dbpass"
CONF
cat >"$ST/etc/upsd.users" <<'CONF'
[admin]
	password = adminpass
	actions = SET
	instcmds = ALL

[outlet1only]
	password = o1pass
	instcmds = outlet.1.load.off
	instcmds = outlet.1.load.on

[monuser]
	password = monpass
	upsmon primary
CONF
cat >"$ST/etc/dummy-pdu.dev" <<'CONF'
device.mfr: fencebox-test
device.model: Dummy ePDU
device.type: pdu
ups.status: OL
ups.load: 23
ups.realpower: 180
battery.charge: 97
input.current: 3.9
input.realpower: 845
outlet.count: 4
outlet.1.id: 1
outlet.1.desc: web1 psu
outlet.1.status: on
outlet.1.switchable: yes
outlet.1.current: 0.42
outlet.1.realpower: 96
outlet.2.id: 2
outlet.2.desc: Outlet 2
outlet.2.status: off
outlet.2.switchable: yes
outlet.3.id: 3
outlet.3.desc: Outlet 3
outlet.3.status: on
outlet.3.switchable: yes
outlet.4.id: 4
outlet.4.desc: Outlet 4
outlet.4.status: on
outlet.4.switchable: no
CONF
chown -R root:nut "$ST/etc"; chmod 750 "$ST/etc"; chmod 640 "$ST/etc"/*
chown nut:nut "$ST/state"; chmod 770 "$ST/state"

# --- daemons in the foreground (-F), so their PIDs are the ones recorded.
start_bg "$ST/dummy-ups.pid" "$ST/dummy-ups.log" /lib/nut/dummy-ups -F -a dummy -u nut
start_bg "$ST/snmp-ups.pid" "$ST/snmp-ups.log" /lib/nut/snmp-ups -F -a baytech -u nut
wait_for 10 test -S "$ST/state/snmp-ups-baytech" || { tail "$ST/snmp-ups.log" >&2; die "snmp-ups did not start"; }
start_bg "$ST/upsd.pid" "$ST/upsd.log" /lib/nut/upsd -F -u nut
if ! wait_for 15 sh -c "upsc 'baytech@127.0.0.1:$PORT' outlet.8.status 2>/dev/null | grep -q ." ; then
  tail "$ST/upsd.log" "$ST/snmp-ups.log" >&2; die "upsd has no data for baytech"
fi
wait_for 10 sh -c "upsc 'dummy@127.0.0.1:$PORT' outlet.1.status 2>/dev/null | grep -q ." || die "upsd has no data for dummy"
cat >"$PEERS_STATE/nut.env" <<ENV
FENCEBOX_NUT_PORT=$PORT
FENCEBOX_NUT_CA=$T/ca.pem
FENCEBOX_NUT_OTHER_CA=$T/other-ca.pem
FENCEBOX_NUT_FINGERPRINT=$FINGERPRINT
FENCEBOX_NUT_STATE=$ST
ENV
echo "NUT_PORT=$PORT"
