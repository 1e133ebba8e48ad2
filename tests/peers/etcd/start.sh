#!/usr/bin/env bash
# A new 3-member etcd cluster (Debian 12 etcd-server 3.4) on 127.0.0.1 for the tests of the
# cross-host device locks (issue 17): members m1, m2, m3, each with a free client port and a free
# peer port chosen now, data dirs $PEERS_STATE/etcd/mN wiped first (a new cluster every time).
# Returns once `etcdctl endpoint health` passes on all three.
# Env:  ETCD_HEARTBEAT_MS=50 ETCD_ELECTION_MS=500   raft timing (etcd's defaults are 100/1000)
#       ETCD_TLS=1                                   https client URLs, client certificates
#                                                    required; a new test CA etc. in etcd/tls/
#       PEERS_STATE                                  state in $PEERS_STATE/etcd
# Writes $PEERS_STATE/etcd.env (ETCD_ENDPOINTS, ETCD_Mn_CLIENT, ETCD_Mn_PEER, ETCD_Mn_PID_FILE,
# ETCD_Mn_DATA_DIR, ETCD_Mn_LOG, ETCD_STATE; with ETCD_TLS=1 also ETCD_TLS, ETCD_CA,
# ETCD_CLIENT_CERT, ETCD_CLIENT_KEY, ETCD_OTHER_CA, ETCD_OTHER_CLIENT_CERT, ETCD_OTHER_CLIENT_KEY)
# and prints it. Then: member.sh, stop.sh.
. "$(dirname "$0")/../lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/common.sh"
HB_MS="${ETCD_HEARTBEAT_MS:-50}"; EL_MS="${ETCD_ELECTION_MS:-500}"
[[ "$HB_MS" =~ ^[1-9][0-9]*$ && "$EL_MS" =~ ^[1-9][0-9]*$ ]] || die "ETCD_HEARTBEAT_MS / ETCD_ELECTION_MS: whole milliseconds"
[ "$EL_MS" -ge $((5 * HB_MS)) ] || die "etcd wants the election timeout at least 5 x the heartbeat"
case "${ETCD_TLS:-0}" in
  0) TLS=0 ;;
  1) TLS=1 ;;
  *) die "ETCD_TLS: 1 (https, client certificates) or 0/unset (plain http)" ;;
esac

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

# make_tls : a new test PKI in $TLS_DIR, EC P-256, 30 days, PEM, private keys PKCS#8 (BEGIN PRIVATE
# KEY), mode 0600 (etcd runs as this user): ca.pem ca-key.pem; server.pem server-key.pem (signed
# by ca; SAN IP:127.0.0.1 DNS:localhost; EKU serverAuth and clientAuth: etcd 3.4's own JSON
# gateway dials the gRPC server with this certificate as its client certificate); client.pem
# client-key.pem (signed by ca, CN fencebox-client, EKU clientAuth); other-ca.pem other-ca-key.pem
# (an unrelated CA) and other-client.pem other-client-key.pem (signed by it, the same CN).
make_tls() {
  local d=$TLS_DIR log="$TLS_DIR/openssl.log"
  mkdir -m 0755 "$d"
  cat >"$d/openssl.cnf" <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
  tls_key() { (umask 077; openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/$1") >>"$log" 2>&1; }
  tls_ca() {  # tls_ca NAME CN
    tls_key "$1-key.pem" && openssl req -config "$d/openssl.cnf" -x509 -new -key "$d/$1-key.pem" \
      -subj "/CN=$2" -sha256 -days 30 -extensions ca_ext -out "$d/$1.pem" >>"$log" 2>&1
  }
  tls_leaf() {  # tls_leaf NAME CA server|client CN
    tls_key "$1-key.pem" && openssl req -config "$d/openssl.cnf" -new -key "$d/$1-key.pem" \
      -subj "/CN=$4" -out "$d/$1.csr" >>"$log" 2>&1 \
      && openssl x509 -req -in "$d/$1.csr" -CA "$d/$2.pem" -CAkey "$d/$2-key.pem" \
        -set_serial "0x$(openssl rand -hex 16)" -sha256 -days 30 \
        -extfile "$d/openssl.cnf" -extensions "$3_ext" -out "$d/$1.pem" >>"$log" 2>&1 \
      && rm -f "$d/$1.csr"
  }
  { tls_ca ca "fencebox test CA" && tls_leaf server ca server "fencebox etcd test member" \
      && tls_leaf client ca client fencebox-client \
      && tls_ca other-ca "fencebox other test CA" && tls_leaf other-client other-ca client fencebox-client \
      && openssl verify -CAfile "$d/ca.pem" "$d/server.pem" "$d/client.pem" >>"$log" 2>&1; } \
    || { tail -n 20 "$log" >&2; die "could not make the test certificates (see $log)"; }
}

stop_all() { local f; for f in "$ETCD_DIR"/m*.pid; do [ -e "$f" ] && stop_pid "$f" 2; done; return 0; }
t0=$(date +%s.%N)
for attempt in 1 2 3; do
  rm -rf "${ETCD_DIR:?}"; mkdir -p -m 0755 "$ETCD_DIR"
  if [ "$TLS" = 1 ]; then make_tls; fi
  mapfile -t ports < <(free_tcp_ports 6)
  [ ${#ports[@]} -eq 6 ] || die "could not find 6 free tcp ports on loopback"
  {
    echo "# written by start.sh: member NAME CLIENT_PORT PEER_PORT; timing HEARTBEAT_MS ELECTION_MS; tls 0|1"
    echo "member m1 ${ports[0]} ${ports[1]}"
    echo "member m2 ${ports[2]} ${ports[3]}"
    echo "member m3 ${ports[4]} ${ports[5]}"
    echo "timing $HB_MS $EL_MS"
    echo "tls $TLS"
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
  if [ "$TLS" = 1 ]; then
    echo "ETCD_TLS=1"
    echo "ETCD_CA=$TLS_DIR/ca.pem"
    echo "ETCD_CLIENT_CERT=$TLS_DIR/client.pem"
    echo "ETCD_CLIENT_KEY=$TLS_DIR/client-key.pem"
    echo "ETCD_OTHER_CA=$TLS_DIR/other-ca.pem"
    echo "ETCD_OTHER_CLIENT_CERT=$TLS_DIR/other-client.pem"
    echo "ETCD_OTHER_CLIENT_KEY=$TLS_DIR/other-client-key.pem"
  fi
} >"$ETCD_ENV_FILE"
mode=""; if [ "$TLS" = 1 ]; then mode=" (TLS, client certificates required)"; fi
echo "etcd $(etcd --version | sed -n 's/^etcd Version: //p')$mode: m1 m2 m3 healthy $(awk -v a="$t1" -v b="$t0" 'BEGIN{printf "%.2f", a - b}') s after the start; leader $(leader_name || echo '(none yet)'); env in $ETCD_ENV_FILE" >&2
cat "$ETCD_ENV_FILE"
