#!/usr/bin/env bash
# SSH and telnet peers for the transport tests (tests/ssh_interop.rs) and the agents that
# log in to a device shell, all on loopback, each on a free port (127.0.0.1 and ::1
# unless said otherwise):
#   sshd main    Debian's OpenSSH with its own config: password and public-key login
#   sshd kbdint  keyboard-interactive (and public-key) only, as many BMCs and PDUs offer
#   sshd legacy  restricted to what old devices speak: diffie-hellman-group14/group1-sha1,
#                ssh-rsa (SHA-1 signatures) and ssh-dss host keys, aes128-cbc, 3des-cbc,
#                hmac-sha1(-96), hmac-md5
#   telnetd      inetutils telnetd -> /bin/login (PAM) -> bash, one per connection,
#                accepted by telnet-accept.py (telnetd expects inetd's socket on fd 0-2)
#   libvirtd     Debian's libvirtd with only libvirt's built-in "test" hypervisor, for
#                fence_virsh: private config and unix socket in $PEERS_STATE/ssh/libvirt, no
#                TCP. The test driver keeps the shared host test:///default only while a
#                client is connected, so a holder client (virsh event --loop, whose output
#                is the domain event log) stays connected. Every start defines vnode1 and
#                vnode2 (running) and vnode3 (shut off) with fixed UUIDs (FB_VIRSH_* in
#                peers.env; the driver's own domain "test" runs too). Every sshd session gets
#                LIBVIRT_DEFAULT_URI (sshd SetEnv), so a plain `virsh domstate vnode1` typed
#                into the account's bash, as fence_virsh does, reaches this daemon.
#   devices      one per line of ../emulators/devices.conf (see its header): an account
#                fbemu-NAME whose sessions on every sshd run the device's emulator, and a
#                telnet port per device (all served by one telnet-accept.py) where the
#                emulator, as that account, does the device's own login; one state file
#                per device, shared by its ssh and telnet sessions
#   fakenos      an SSH server that is not OpenSSH (PyPI fakenos: paramiko and a Python
#                cmd shell) with an iLO-like "</>hpiLO-> " shell (fakenos-ilo.py);
#                127.0.0.1 only, password login only; venv in $PEERS_STATE/fakenos-venv
# Login: system accounts (PAM needs them) marked by their GECOS field, so that an account
# not made here is never changed: $FB_SSH_USER (default fbpeer, bash) and fbemu-NAME per
# device, all with one test password and the same two client keys (one with a
# passphrase); the device's telnet login takes the same name and password. Homes are in
# $PEERS_STATE/ssh/home; the accounts stay after stop.sh. Two state directories cannot
# use one account at once (its home moves to the last start): give one FB_SSH_USER=other.
# A wrong password is refused at once: the sshd instances use a PAM service of their own
# (/etc/pam.d/fencebox-peer-sshd, see install_pam_service); the device emulators log in
# by themselves. Only /bin/login (telnetd -> bash) keeps its 3 s delay.
# Every start restarts everything (stop.sh first) with fresh state; about 2 s once the
# venv exists. Everything is written to $PEERS_STATE/ssh; tests read peers.env there:
#   FB_SSH_PORT_MAIN, _KBDINT, _LEGACY   sshd ports        FB_TELNET_PORT   telnetd
#   FB_SSH_USER, FB_SSH_PASSWORD         the login          FB_FAKENOS_PORT  fakenos
#   FB_SSH_KEY, FB_SSH_KEY_ENC, FB_SSH_KEY_PASSPHRASE       client keys
#   FB_SSH_KNOWN_HOSTS   every host key for every SSH port (sshd and fakenos), both addresses
#   FB_LIBVIRT_URI       the URI of the libvirtd (the one the sessions get)
#   FB_VIRSH_RUNNING=vnode1,vnode2  FB_VIRSH_SHUT_OFF=vnode3  FB_VIRSH_VNODE<N>_UUID
#   FB_EMU_DEVICES       the device names, comma-separated; per device (NAME upper case,
#                        "-" as "_"): FB_EMU_<NAME>_USER, _TELNET_PORT, _STATE (its file)
# Checks with Debian's agents and OpenSSH: check-virsh.sh, check-emulators.py,
# check-fakenos.sh. Stop with stop.sh (by PID).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/../lib.sh"
ST="$(peer_state ssh)"
USER_NAME="${FB_SSH_USER:-fbpeer}"
PASSWORD="fbpeer-pass-$(id -u)"
PASSPHRASE="fbpeer-phrase"
MARK="fencebox test peer account"
LIBVIRT_DIR="$ST/libvirt"
LIBVIRT_URI="test+unix:///default?socket=$LIBVIRT_DIR/run/libvirt-sock"
VIRSH_UUID_PREFIX="5f0d9c1e-7a3b-4e2f-9c6d-1a2b3c4d5e0"   # vnodeN has ...5e0N

need_pkgs openssh-server openssh-client inetutils-telnetd python3 libvirt-daemon libvirt-clients
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

# make_account NAME SHELL : the account (made if missing, home under $ST/home), the test
# keys authorised; its password is set later, for all accounts in one chpasswd.
make_account() {
  local user=$1 shell=$2 home="$ST/home/$1" ent
  if ent="$(getent passwd "$user")"; then
    [ "$(cut -d: -f5 <<<"$ent")" = "$MARK" ] || die "account $user exists and was not made by the test peers"
    [ "$(cut -d: -f6 <<<"$ent")" = "$home" ] || usermod -d "$home" "$user" \
      || die "account $user is busy elsewhere (processes running); stop its other peers first"
    [ "$(cut -d: -f7 <<<"$ent")" = "$shell" ] || usermod -s "$shell" "$user"
  else
    useradd -M -d "$home" -s "$shell" -c "$MARK" -U "$user"
  fi
  PASSWORD_LINES+="$user:$PASSWORD"$'\n'
  mkdir -p "$home/.ssh"
  touch "$home/.hushlogin"            # no "Last login:" line before the prompt
  cat "$ST/keys/id_ed25519.pub" "$ST/keys/id_ed25519_enc.pub" >"$home/.ssh/authorized_keys"
  chown -R "$user:" "$home"; chmod 755 "$home"; chmod 700 "$home/.ssh"
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
AllowUsers $USER_NAME ${EMU_USERS[*]}
PermitRootLogin no
PrintMotd no
PrintLastLog no
UseDNS no
LoginGraceTime 20
MaxStartups 50:30:100
X11Forwarding no
AllowTcpForwarding no
LogLevel VERBOSE
SetEnv LIBVIRT_DEFAULT_URI=$LIBVIRT_URI
CONF
  printf '%s' "$EMU_MATCH"            # Match blocks last: they run to the end of the file
}

# A wrong password must be refused at once (fencebox reports it in well under a second).
# OpenSSH itself only pads a failed attempt to a few milliseconds; the delay is PAM's:
# pam_unix asks libpam for a ~2 s (randomised) failure delay unless given "nodelay", and
# Debian's /etc/pam.d/sshd includes common-auth, whose pam_unix has no "nodelay". sshd
# has no option for its PAM service name: it is the name the binary was run under
# (OpenSSH's default SSHD_PAM_SERVICE is __progname, which Debian keeps). So our sshd
# instances run as a symlink named $PAM_SERVICE, and /etc/pam.d/$PAM_SERVICE, a file of
# their own, is sshd's stack with a pam_unix that does not delay. No other service's PAM
# file is touched; the file stays after stop.sh (every instance writes the same text).
PAM_SERVICE=fencebox-peer-sshd
install_pam_service() {
  local f="/etc/pam.d/$PAM_SERVICE" text
  text="# Written by fencebox's test peers (tests/peers/ssh/start.sh) for their private sshd
# instances, which run as $PAM_SERVICE: Debian's sshd stack, except that pam_unix
# refuses a wrong password without the failure delay (nodelay). Safe to delete.
auth     [success=1 default=ignore]  pam_unix.so nodelay
auth     requisite                   pam_deny.so
auth     required                    pam_permit.so
account  required                    pam_nologin.so
@include common-account
session  required                    pam_limits.so
@include common-session
@include common-password"
  [ "$(cat "$f" 2>/dev/null)" = "$text" ] && return 0
  printf '%s\n' "$text" >"$f.fbpeers-new" && mv "$f.fbpeers-new" "$f"
}

start_sshd() {
  local name=$1 port d="$ST/sshd-$1" sshd="$ST/bin/$PAM_SERVICE"
  port="$(free_tcp_port)"
  mkdir -p "$d" "$ST/bin" /run/sshd; chmod 755 /run/sshd   # sshd's privilege separation directory
  ln -sfn /usr/sbin/sshd "$sshd"
  sshd_config "$name" "$port" >"$d/sshd_config"
  "$sshd" -t -f "$d/sshd_config" || die "sshd rejects $d/sshd_config"
  start_bg "$d/pid" "$d/out.log" "$sshd" -D -f "$d/sshd_config" -E "$d/sshd.log"
  wait_for 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || die "sshd $name did not listen on $port"
  echo "FB_SSH_PORT_${name^^}=$port" >>"$ST/peers.env.new"
  SSH_PORTS+=("$port")
}

# known_hosts naming every host key for every SSH port of ours (each on both addresses),
# for clients that check strictly (OpenSSH: -o UserKnownHostsFile=... -o
# StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null).
write_known_hosts() {
  local port pub
  for port in "${SSH_PORTS[@]}"; do
    for pub in "$ST"/hostkeys/host_*.pub; do
      printf '[127.0.0.1]:%s,[::1]:%s %s\n' "$port" "$port" "$(cut -d' ' -f1,2 "$pub")"
    done
  done >"$ST/known_hosts.new"
  mv "$ST/known_hosts.new" "$ST/known_hosts"
  echo "FB_SSH_KNOWN_HOSTS=$ST/known_hosts" >>"$ST/peers.env.new"
}

start_telnetd() {
  local port d="$ST/telnetd"
  port="$(free_tcp_port)"
  mkdir -p "$d"
  start_bg "$d/pid" "$d/accept.log" /usr/bin/python3 -u "$HERE/telnet-accept.py" "$port" /usr/sbin/telnetd -h
  wait_for 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || die "telnetd acceptor did not listen on $port"
  echo "FB_TELNET_PORT=$port" >>"$ST/peers.env.new"
}

# libvirtd with the test driver only: an empty LIBVIRT_DRIVER_DIR keeps the QEMU & co.
# modules out (they abort the start without libvirt-daemon-system's users and folders).
# The socket is world-writable without authentication, so the test account can use it.
start_libvirtd() {
  local d="$LIBVIRT_DIR"
  rm -rf "$d"; mkdir -p "$d/run" "$d/drivers"
  cat >"$d/libvirtd.conf" <<CONF
unix_sock_dir = "$d/run"
unix_sock_group = "root"
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0777"
unix_sock_admin_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:$d/libvirtd.log"
CONF
  start_bg "$d/libvirtd.pid" "$d/libvirtd.out" env LIBVIRT_DRIVER_DIR="$d/drivers" \
    /usr/sbin/libvirtd -f "$d/libvirtd.conf" -p "$d/libvirtd.own.pid"
}

# After start_libvirtd: the holder connection, which defines and starts the domains in
# its own session and then stays connected, logging domain events (no window in which
# no client is connected and the test host would be forgotten).
setup_libvirt() {
  local d="$LIBVIRT_DIR" n
  wait_for 10 virsh -c "$LIBVIRT_URI" -q uri && pid_alive "$d/libvirtd.pid" \
    || { cat "$d/libvirtd.out" "$d/libvirtd.log" >&2 2>/dev/null; die "libvirtd did not start"; }
  for n in 1 2 3; do
    cat >"$d/vnode$n.xml" <<XML
<domain type='test'>
  <name>vnode$n</name>
  <uuid>$VIRSH_UUID_PREFIX$n</uuid>
  <memory unit='MiB'>64</memory>
  <os><type>hvm</type></os>
</domain>
XML
  done
  {
    for n in 1 2 3; do echo "define $d/vnode$n.xml"; done
    echo "start vnode1"; echo "start vnode2"
    echo "event --all --loop --timestamp"
  } >"$d/holder.commands"
  start_bg "$d/holder.pid" "$d/events.log" \
    bash -c 'exec virsh -c "$0" <"$1"' "$LIBVIRT_URI" "$d/holder.commands"
  wait_for 10 bash -c '[ "$(virsh -c "$0" domstate vnode2 2>/dev/null)" = running ]' "$LIBVIRT_URI" \
    || { cat "$d/events.log" >&2; die "defining the test domains failed"; }
  pid_alive "$d/holder.pid" || { cat "$d/events.log" >&2; die "the libvirt holder connection died"; }
  [ "$(virsh -c "$LIBVIRT_URI" domstate vnode1)" = running ] && [ "$(virsh -c "$LIBVIRT_URI" domstate vnode3)" = "shut off" ] \
    || die "the test domains are not as defined (see $d/events.log)"
  {
    echo "FB_LIBVIRT_URI=$LIBVIRT_URI"
    echo "FB_VIRSH_RUNNING=vnode1,vnode2"
    echo "FB_VIRSH_SHUT_OFF=vnode3"
    for n in 1 2 3; do echo "FB_VIRSH_VNODE${n}_UUID=$VIRSH_UUID_PREFIX$n"; done
  } >>"$ST/peers.env.new"
}

# Device emulators (../emulators/devices.conf): per device an account fbemu-NAME whose
# sshd sessions run the emulator (Match User + ForceCommand, in every sshd instance), a
# telnet port where the emulator, run as that account, does the device's own login, and
# one state file for both. sshd and login hand a session a cleared environment, so the
# device's settings live in a wrapper script ($ST/emu/NAME/run.sh) that both paths run.
EMU_DIR="$(cd "$HERE/../emulators" && pwd)"
DEVICES_CONF="${FB_EMU_DEVICES_CONF:-$EMU_DIR/devices.conf}"
EMU_PREFIX="fbemu-"
sq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }   # one shell word, single-quoted

setup_emulators() {
  local name file flavour initial user dir env_name n=0 ports=() names=() states=() i extra kv
  EMU_USERS=(); EMU_MATCH=""
  rm -rf "$ST/emu"; mkdir -p "$ST/emu"; chmod 755 "$ST/emu"
  while read -r name file flavour initial; do
    case "$name" in ''|'#'*) continue ;; esac
    [[ "$name" =~ ^[a-z0-9][a-z0-9-]{0,24}$ ]] || die "devices.conf: bad device name '$name'"
    [ -f "$EMU_DIR/$file" ] || die "devices.conf: $name: no emulator $EMU_DIR/$file"
    [ ! -e "$ST/emu/$name" ] || die "devices.conf: device $name twice"
    user="$EMU_PREFIX$name"; dir="$ST/emu/$name"
    make_account "$user" /bin/sh
    # the scripts in a folder of root's (telnet.sh runs as root), the state in the account's
    mkdir -p "$dir/state"
    [ -z "$initial" ] || printf '%s\n' "$initial" >"$dir/state/state.json"
    {
      echo "#!/bin/sh"
      echo "# device $name of devices.conf, written by tests/peers/ssh/start.sh"
      echo "EMU_STATE=$(sq "$dir/state/state.json"); export EMU_STATE"
      # FLAVOUR[,KEY=VALUE...]: the flavour, then more settings of the emulator
      IFS=, read -r -a extra <<<"$flavour"
      [ "${extra[0]}" = - ] || echo "EMU_FLAVOUR=$(sq "${extra[0]}"); export EMU_FLAVOUR"
      for kv in "${extra[@]:1}"; do
        [[ "$kv" =~ ^([A-Z][A-Z0-9_]*)=(.*)$ ]] || die "devices.conf: $name: '$kv' is not KEY=VALUE"
        echo "${BASH_REMATCH[1]}=$(sq "${BASH_REMATCH[2]}"); export ${BASH_REMATCH[1]}"
      done
      echo "exec /usr/bin/python3 -B $(sq "$EMU_DIR/$file") \"\$@\""
    } >"$dir/run.sh"
    # telnet: the acceptor (root) gives the connection to this, which drops to the account
    {
      echo "#!/bin/sh"
      echo "exec /usr/bin/env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME=$(sq "$ST/home/$user") \\"
      echo "  USER=$(sq "$user") LOGNAME=$(sq "$user") EMU_LOGIN=1 EMU_USER=$(sq "$user") EMU_PASSWORD=$(sq "$PASSWORD") \\"
      echo "  /usr/bin/setpriv --reuid=$(sq "$user") --regid=$(sq "$user") --init-groups $(sq "$dir/run.sh")"
    } >"$dir/telnet.sh"
    chown -R "$user:" "$dir/state"; chmod 755 "$dir" "$dir/state" "$dir/run.sh"; chmod 700 "$dir/telnet.sh"
    EMU_USERS+=("$user")
    EMU_MATCH+="Match User $user"$'\n'"    ForceCommand $dir/run.sh"$'\n'
    names+=("$name"); [ -z "$initial" ] || states+=("$dir/state/state.json")
    n=$((n + 1))
  done <"$DEVICES_CONF"
  [ ${#states[@]} = 0 ] || /usr/bin/python3 -c 'import json, sys
for p in sys.argv[1:]:
    try:
        json.load(open(p))
    except ValueError as e:
        sys.exit("devices.conf: the initial state of %s is not JSON: %s" % (p.split("/")[-3], e))' "${states[@]}" || exit 1
  echo "FB_EMU_DEVICES=$(IFS=,; echo "${names[*]}")" >>"$ST/peers.env.new"
  [ "$n" -gt 0 ] || return 0
  mapfile -t ports < <(free_tcp_ports "$n")
  [ ${#ports[@]} = "$n" ] || die "no $n free tcp ports"
  for i in "${!names[@]}"; do
    name=${names[$i]}; env_name="FB_EMU_$(tr a-z- A-Z_ <<<"$name")"
    printf '%s %s\n' "${ports[$i]}" "$(sq "$ST/emu/$name/telnet.sh")" >>"$ST/emu/telnet.table"
    {
      echo "${env_name}_USER=$EMU_PREFIX$name"
      echo "${env_name}_TELNET_PORT=${ports[$i]}"
      echo "${env_name}_STATE=$ST/emu/$name/state/state.json"
    } >>"$ST/peers.env.new"
  done
  start_bg "$ST/emu/telnet-accept.pid" "$ST/emu/telnet-accept.log" \
    /usr/bin/python3 -u "$HERE/telnet-accept.py" --table "$ST/emu/telnet.table"
}

# After setup_emulators: every telnet port bound.
wait_emulators() {
  [ -f "$ST/emu/telnet-accept.pid" ] || return 0
  wait_for 5 grep -qx ready "$ST/emu/telnet-accept.log" && pid_alive "$ST/emu/telnet-accept.pid" \
    || { cat "$ST/emu/telnet-accept.log" >&2; die "the emulators' telnet acceptor did not start"; }
}

# fakenos (PyPI; a paramiko SSH server with a Python cmd shell) as an SSH server that is not
# OpenSSH, serving the iLO-like shell of fakenos-ilo.py on 127.0.0.1 only (fakenos binds
# IPv4). It presents our RSA host key and knows only the test account and password.
# fakenos sets SO_REUSEPORT, so a busy port would not make it fail: the port comes from
# free_tcp_port and is checked to be served by our process afterwards (ready line).
FAKENOS_VENV="$(peer_state fakenos-venv)/venv"
start_fakenos() {
  local d="$ST/fakenos"
  ensure_venv "$FAKENOS_VENV" fakenos==1.2.1 paramiko==4.0.0
  mkdir -p -m 700 "$d"
  printf '%s\n' "$PASSWORD" >"$d/password"
  FAKENOS_PORT="$(free_tcp_port)"
  start_bg "$d/pid" "$d/fakenos.log" "$FAKENOS_VENV/bin/python" -B -u "$HERE/fakenos-serve.py" \
    --port "$FAKENOS_PORT" --user "$USER_NAME" --password-file "$d/password" \
    --host-key "$ST/hostkeys/host_rsa" --platform "$HERE/fakenos-ilo.py"
}
wait_fakenos() {
  local d="$ST/fakenos"
  wait_for 20 grep -q '^ready' "$d/fakenos.log" && pid_alive "$d/pid" \
    && wait_for 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$FAKENOS_PORT" \
    || { cat "$d/fakenos.log" >&2; die "fakenos did not start"; }
  SSH_PORTS+=("$FAKENOS_PORT")
  echo "FB_FAKENOS_PORT=$FAKENOS_PORT" >>"$ST/peers.env.new"
}

"$HERE/stop.sh" >/dev/null 2>&1 || true
trap 'rc=$?; [ $rc = 0 ] || { echo "ssh/start.sh failed; stopping what it started" >&2; "$HERE/stop.sh" >/dev/null 2>&1; }; exit $rc' EXIT
: >"$ST/peers.env.new"
SSH_PORTS=()
start_libvirtd
install_pam_service
make_keys
start_fakenos
PASSWORD_LINES=""
make_account "$USER_NAME" /bin/bash
setup_emulators
printf '%s' "$PASSWORD_LINES" | chpasswd
setup_libvirt
for name in main kbdint legacy; do start_sshd "$name"; done
start_telnetd
wait_emulators
wait_fakenos
write_known_hosts
{
  echo "FB_SSH_USER=$USER_NAME"
  echo "FB_SSH_PASSWORD=$PASSWORD"
  echo "FB_SSH_KEY=$ST/keys/id_ed25519"
  echo "FB_SSH_KEY_ENC=$ST/keys/id_ed25519_enc"
  echo "FB_SSH_KEY_PASSPHRASE=$PASSPHRASE"
} >>"$ST/peers.env.new"
chmod 600 "$ST/peers.env.new"; mv "$ST/peers.env.new" "$ST/peers.env"
echo "ssh peers running; settings in $ST/peers.env"
