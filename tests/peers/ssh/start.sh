#!/usr/bin/env bash
# SSH and telnet peers for the transport tests (tests/ssh_interop.rs), all on loopback
# (127.0.0.1 and ::1), each on a free port:
#   sshd main    Debian's OpenSSH with its own config: password and public-key login
#   sshd kbdint  keyboard-interactive (and public-key) only, as many BMCs and PDUs offer
#   sshd legacy  restricted to what old devices speak: diffie-hellman-group14/group1-sha1,
#                ssh-rsa (SHA-1 signatures) and ssh-dss host keys, aes128-cbc, 3des-cbc,
#                hmac-sha1(-96), hmac-md5
#   telnetd      inetutils telnetd -> /bin/login (PAM) -> bash, one per connection,
#                accepted by telnet-accept.py (telnetd expects inetd's socket on fd 0-2)
# Login: a system account (PAM needs one) named $FB_SSH_USER, marked by its GECOS field so
# that an account not made here is never changed, with a fixed test password and two
# client keys (one with a passphrase). Everything is written to $PEERS_STATE/ssh; the
# tests read peers.env there. Stop with stop.sh (by PID).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/../lib.sh"
ST="$(peer_state ssh)"
USER_NAME="${FB_SSH_USER:-fbpeer}"
PASSWORD="fbpeer-pass-$(id -u)"
PASSPHRASE="fbpeer-phrase"
MARK="fencebox test peer account"

need_pkgs openssh-server openssh-client inetutils-telnetd python3
[ "$(id -u)" = 0 ] || die "the ssh peers need root (a system account, PAM login)"

make_keys() {
  local hk="$ST/hostkeys" ck="$ST/keys" t
  mkdir -p -m 700 "$hk" "$ck"
  for t in ed25519 ecdsa rsa dsa; do
    # PEM for rsa: old servers' key format, and the one every libssh2 reads.
    [ -f "$hk/host_$t" ] || ssh-keygen -q -t "$t" -m PEM -N '' -C fbpeer-host -f "$hk/host_$t"
  done
  [ -f "$ck/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C fbpeer -f "$ck/id_ed25519"
  [ -f "$ck/id_ed25519_enc" ] || ssh-keygen -q -t ed25519 -N "$PASSPHRASE" -C fbpeer-enc -f "$ck/id_ed25519_enc"
}

make_account() {
  local home="$ST/home/$USER_NAME" ent
  if ent="$(getent passwd "$USER_NAME")"; then
    [ "$(cut -d: -f5 <<<"$ent")" = "$MARK" ] || die "account $USER_NAME exists and was not made by the test peers"
    [ "$(cut -d: -f6 <<<"$ent")" = "$home" ] || usermod -d "$home" "$USER_NAME" \
      || die "account $USER_NAME is busy elsewhere (processes running); stop its other peers first"
  else
    useradd -M -d "$home" -s /bin/bash -c "$MARK" -U "$USER_NAME"
  fi
  echo "$USER_NAME:$PASSWORD" | chpasswd
  mkdir -p "$home/.ssh"
  touch "$home/.hushlogin"            # no "Last login:" line before the prompt
  cat "$ST/keys/id_ed25519.pub" "$ST/keys/id_ed25519_enc.pub" >"$home/.ssh/authorized_keys"
  chown -R "$USER_NAME:" "$home"; chmod 755 "$home"; chmod 700 "$home/.ssh"
}

# sshd_config NAME PORT : the common part and the instance's algorithms and login methods
sshd_config() {
  local name=$1 port=$2 hk="$ST/hostkeys"
  echo "Port $port"
  echo "ListenAddress 127.0.0.1"
  echo "ListenAddress ::1"
  echo "PidFile none"
  case "$name" in
    # The first of each list is what a client preferring modern algorithms ends up with;
    # the others are there to be asked for one by one (tests/ssh_interop.rs).
    legacy) printf '%s\n' "HostKey $hk/host_rsa" "HostKey $hk/host_dsa" \
              "KexAlgorithms diffie-hellman-group14-sha1,diffie-hellman-group1-sha1" \
              "HostKeyAlgorithms ssh-rsa,ssh-dss" "Ciphers aes128-cbc,3des-cbc" \
              "MACs hmac-sha1,hmac-sha1-96,hmac-md5" \
              "PasswordAuthentication yes" "KbdInteractiveAuthentication no" ;;
    kbdint) printf '%s\n' "HostKey $hk/host_ed25519" "HostKey $hk/host_rsa" \
              "PasswordAuthentication no" "KbdInteractiveAuthentication yes" ;;
    *)      printf '%s\n' "HostKey $hk/host_ed25519" "HostKey $hk/host_ecdsa" "HostKey $hk/host_rsa" \
              "PasswordAuthentication yes" "KbdInteractiveAuthentication no" ;;
  esac
  cat <<CONF
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
UsePAM yes
AllowUsers $USER_NAME
PermitRootLogin no
PrintMotd no
PrintLastLog no
UseDNS no
LoginGraceTime 20
MaxStartups 50:30:100
X11Forwarding no
AllowTcpForwarding no
LogLevel VERBOSE
CONF
}

start_sshd() {
  local name=$1 port d="$ST/sshd-$1"
  port="$(free_tcp_port)"
  mkdir -p "$d" /run/sshd; chmod 755 /run/sshd   # sshd's privilege separation directory
  sshd_config "$name" "$port" >"$d/sshd_config"
  /usr/sbin/sshd -t -f "$d/sshd_config" || die "sshd rejects $d/sshd_config"
  start_bg "$d/pid" "$d/out.log" /usr/sbin/sshd -D -f "$d/sshd_config" -E "$d/sshd.log"
  wait_for 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || die "sshd $name did not listen on $port"
  echo "FB_SSH_PORT_${name^^}=$port" >>"$ST/peers.env.new"
}

start_telnetd() {
  local port d="$ST/telnetd"
  port="$(free_tcp_port)"
  mkdir -p "$d"
  start_bg "$d/pid" "$d/accept.log" /usr/bin/python3 -u "$HERE/telnet-accept.py" "$port" /usr/sbin/telnetd -h
  wait_for 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || die "telnetd acceptor did not listen on $port"
  echo "FB_TELNET_PORT=$port" >>"$ST/peers.env.new"
}

"$HERE/stop.sh" >/dev/null 2>&1 || true
make_keys
make_account
: >"$ST/peers.env.new"
for name in main kbdint legacy; do start_sshd "$name"; done
start_telnetd
{
  echo "FB_SSH_USER=$USER_NAME"
  echo "FB_SSH_PASSWORD=$PASSWORD"
  echo "FB_SSH_KEY=$ST/keys/id_ed25519"
  echo "FB_SSH_KEY_ENC=$ST/keys/id_ed25519_enc"
  echo "FB_SSH_KEY_PASSPHRASE=$PASSPHRASE"
} >>"$ST/peers.env.new"
chmod 600 "$ST/peers.env.new"; mv "$ST/peers.env.new" "$ST/peers.env"
echo "ssh peers running; settings in $ST/peers.env"
