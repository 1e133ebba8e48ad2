#!/usr/bin/python3
"""Proves the device plumbing of start.sh (devices.conf): for every device, its account
reaches the emulator through sshd main (key) and legacy (password), and its telnet port
answers on both loopback addresses; for the example devices, what one session switches
another sees (ssh and telnet share the state file), and the telnet login refuses a wrong
password at once. Reads $PEERS_STATE/ssh/peers.env; exit status = number of failures.
"""
import os
import socket
import subprocess
import sys
import time

import pexpect

state = os.environ.get("PEERS_STATE", "/tmp/fencebox-test-peers")
env = {}
with open(os.path.join(state, "ssh", "peers.env")) as f:
    for line in f:
        key, _, value = line.rstrip("\n").partition("=")
        env[key] = value

KH = ["-o", "UserKnownHostsFile=" + env["FB_SSH_KNOWN_HOSTS"], "-o", "StrictHostKeyChecking=yes",
      "-o", "GlobalKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5"]
LEGACY = ["-o", "KexAlgorithms=+diffie-hellman-group14-sha1", "-o", "HostKeyAlgorithms=+ssh-rsa",
          "-o", "Ciphers=+aes128-cbc"]
failures = 0
total = 0


def check(what, fn):
    global failures, total
    total += 1
    start = time.monotonic()
    try:
        detail = fn() or ""
        print("ok    %-62s %5.2fs %s" % (what, time.monotonic() - start, detail))
    except Exception as e:  # noqa: BLE001  (a check reports whatever went wrong)
        failures += 1
        print("FAIL  %-62s %5.2fs %s: %s" % (what, time.monotonic() - start, type(e).__name__, e))


def ssh(user, port, *extra, password=None):
    """An interactive ssh session (a pty, as the agents use) as `user`."""
    args = ["-tt", *KH, *extra, "-p", port, user + "@127.0.0.1"]
    if password is None:
        args = ["-i", env["FB_SSH_KEY"], "-o", "BatchMode=yes"] + args
    else:
        args = ["-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1"] + args
    c = pexpect.spawn("ssh", args, timeout=5)
    if password is not None:
        c.expect("assword: ")
        c.sendline(password)
    return c


def first_output(c):
    """Something the emulator wrote (its banner, menu or prompt)."""
    c.expect(r"\S")
    text = (c.before + c.after).decode("latin-1")
    try:
        c.expect(pexpect.TIMEOUT, timeout=0.3)
        text += c.before.decode("latin-1")
    except pexpect.EOF:
        text += c.before.decode("latin-1")
    c.close(force=True)
    if "Permission denied" in text or "Connection closed" in text:
        raise AssertionError(text.strip())
    return repr(text.strip()[:40])


class Telnet:
    """A raw telnet client: refuses every option the server offers, like a dumb client."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.buf = b""

    def read_until(self, marker, timeout=5):
        deadline = time.monotonic() + timeout
        while marker.encode() not in self.text_bytes():
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("closed after %r" % self.text_bytes()[-60:])
            self.buf += chunk
        text = self.text_bytes().decode("latin-1")
        self.buf = b""
        return text

    def text_bytes(self):
        out, i = bytearray(), 0
        while i < len(self.buf):
            if self.buf[i] == 255 and i + 2 < len(self.buf) and self.buf[i + 1] in (251, 252, 253, 254):
                i += 3
            else:
                out.append(self.buf[i])
                i += 1
        return bytes(out)

    def send(self, text):
        self.sock.sendall(text.encode("latin-1"))

    def close(self):
        self.sock.close()


def telnet_greets(host, port):
    def run():
        t = Telnet(host, port)
        t.sock.settimeout(5)
        data = t.sock.recv(4096)
        t.close()
        if not data:
            raise EOFError("closed at once")
        return repr(data[:24])
    return run


devices = [d for d in env.get("FB_EMU_DEVICES", "").split(",") if d]
print("== %d device(s): %s" % (len(devices), ", ".join(devices)))
for name in devices:
    key = "FB_EMU_%s" % name.upper().replace("-", "_")
    user, tport = env[key + "_USER"], env[key + "_TELNET_PORT"]
    check("%s: ssh main, key login -> emulator" % name,
          lambda: first_output(ssh(user, env["FB_SSH_PORT_MAIN"])))
    check("%s: ssh legacy, password login -> emulator" % name,
          lambda: first_output(ssh(user, env["FB_SSH_PORT_LEGACY"], *LEGACY, password=env["FB_SSH_PASSWORD"])))
    check("%s: telnet 127.0.0.1:%s answers" % (name, tport), telnet_greets("127.0.0.1", tport))
    check("%s: telnet [::1]:%s answers" % (name, tport), telnet_greets("::1", tport))

for name in [d for d in devices if d.startswith("example")]:
    key = "FB_EMU_%s" % name.upper().replace("-", "_")
    user, tport = env[key + "_USER"], env[key + "_TELNET_PORT"]

    def ssh_off():
        c = ssh(user, env["FB_SSH_PORT_MAIN"])
        c.expect("example> ")
        c.send("off 2\r\n")
        c.expect(r"Port 2: (\w+)")
        got = c.match.group(1).decode()
        c.expect("example> ")
        c.send("exit\r")
        c.expect(pexpect.EOF)
        assert got == "OFF", got

    def telnet_sees_off_and_switches_on():
        t = Telnet("127.0.0.1", tport)
        t.read_until("Username: ")
        t.send(user + "\r\n")
        t.read_until("Password: ")
        t.send(env["FB_SSH_PASSWORD"] + "\r\n")
        t.read_until("example> ")
        t.send("status 2\r\n")
        out = t.read_until("example> ")
        assert "Port 2: OFF" in out, out
        t.send("on 2\r\n")
        out = t.read_until("example> ")
        assert "Port 2: ON" in out, out
        t.send("exit\r\n")
        t.close()

    def ssh_exec_sees_on():
        out = subprocess.run(["ssh", "-i", env["FB_SSH_KEY"], "-o", "BatchMode=yes", *KH, "-p",
                              env["FB_SSH_PORT_MAIN"], user + "@127.0.0.1", "status 2"],
                             capture_output=True, timeout=10, check=True).stdout
        assert out == b"Port 2: ON\r\n", out

    def telnet_wrong_password():
        t = Telnet("::1", tport)
        t.read_until("Username: ")
        t.send(user + "\r\n")
        t.read_until("Password: ")
        start = time.monotonic()
        t.send("not-the-password\r\n")
        t.read_until("Login incorrect")
        took = time.monotonic() - start
        t.close()
        assert took < 1, "refused after %.2fs" % took

    check("%s: ssh session switches port 2 off" % name, ssh_off)
    check("%s: telnet login sees it off, switches it on" % name, telnet_sees_off_and_switches_on)
    check("%s: ssh with a command (exec) sees it on" % name, ssh_exec_sees_on)
    check("%s: telnet over ::1, a wrong password refused at once" % name, telnet_wrong_password)

print("== %d/%d passed" % (total - failures, total))
sys.exit(min(failures, 100))
