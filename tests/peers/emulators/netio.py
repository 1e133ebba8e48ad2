#!/usr/bin/env python3
"""Koukaam NETIO-230A/B emulator: its KSHELL text protocol on TCP port 1234.

Device
  The NETIO-230A/B is a 4-output power socket strip with a small line protocol, KSHELL,
  on TCP port 1234 (no telnet option negotiation, no echo: a client's terminal echoes
  locally). Every reply is one line: a three-digit code, a space and a text or a value,
  ending in CR LF.

Flavours (EMU_FLAVOUR)
  230b  (default) NETIO-230B, 4 outputs, "KSHELL V1.2".

Session (run behind telnet-accept.py with EMU_LOGIN=1; the login is KSHELL's own)
  on connect:   100 HELLO 3F2A91C4 - KSHELL V1.2       (the hex word is a per-session salt
                                                        for the md5 login variant)
  login USER PASSWORD   250 OK | 503 INVALID LOGIN | 504 ALREADY LOGGED IN
  clogin USER MD5HEX    md5 login (md5 of "USER" + PASSWORD + salt, hex): same replies
  port N                250 1 | 250 0                   (output N on / off)
  port N 1|0|i|m|u      250 OK                          (on, off, interrupt = off for the
                                                         output's interrupt delay (2 s)
                                                         then on, manual mode, ...)
  port list             250 1010                        (all outputs, one digit each)
  port setup N          250 "web1" manual 2 1           (name, mode, interrupt delay in s,
                                                         power-on state)
  version               250 2.33
  quit                  110 BYE, then the connection is closed
  Before login every command but login/clogin/quit: 505 FORBIDDEN. An unknown command:
  502 UNKNOWN COMMAND; a bad output number or argument: 501 INVALID PARAMETR (the
  protocol's own spelling). Telnet option bytes a telnet client sends are ignored.

Sources
  Koukaam "NETIO-230A/B KSHELL protocol" description (manual appendix and the vendor's
  protocol notes: 100 HELLO, login/clogin, port, port list, port setup, quit, the 1xx/2xx/5xx
  reply codes); and the behaviour Debian's fence_netio (fence-agents 4.12.1) expects:
  "100 HELLO .*", "login USER PASSWORD" -> "250 OK", "port N" -> "250 [01imt]",
  "port N 1|0" -> "250 OK", "port setup N" -> the quoted name as the second word, "quit".
"""
import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emulib  # noqa: E402


class Terminal(emulib.Terminal):
    """A raw TCP line device: no option negotiation of its own (telnet=False), but the telnet
    option commands a telnet client sends unasked (for "set binary") are skipped silently,
    and NUL bytes (a telnet client's CR NUL) are dropped."""

    def __init__(self):
        super().__init__(telnet=False)

    def _data_byte(self):
        while True:
            b = self._byte()
            if b == emulib.IAC:
                cmd = self._byte()
                if cmd == emulib.IAC:
                    return b
                if cmd in (emulib.DO, emulib.DONT, emulib.WILL, emulib.WONT):
                    self._byte()
                elif cmd == emulib.SB:
                    while not (self._byte() == emulib.IAC and self._byte() == emulib.SE):
                        pass
                continue
            if b != 0:
                return b




OUTPUTS = [("1", "web1", True), ("2", "db1", False), ("3", "nas1", True), ("4", "spare", False)]
INTERRUPT_DELAY = 2
STATE = emulib.State({"outputs": {n: {"on": on, "until": 0} for n, _, on in OUTPUTS}})
SALT = "3F2A91C4"


def is_on(o):
    return o["on"] and time.time() >= o.get("until", 0)


def main(term):
    want_user = os.environ.get("EMU_USER", "")
    want_password = os.environ.get("EMU_PASSWORD", "")
    logged_in = False
    term.write("100 HELLO %s - KSHELL V1.2\n" % SALT)
    while True:
        words = term.readline(echo=False).split()
        if not words:
            continue
        cmd = words[0].lower()
        args = words[1:]
        if cmd == "quit":
            term.write("110 BYE\n")
            return
        if cmd in ("login", "clogin"):
            if logged_in:
                term.write("504 ALREADY LOGGED IN\n")
            elif len(args) != 2:
                term.write("501 INVALID PARAMETR\n")
            else:
                ok = args[0] == want_user and (
                    args[1] == want_password if cmd == "login" else
                    args[1].lower() == hashlib.md5(
                        (want_user + want_password + SALT).encode()).hexdigest())
                if ok:
                    logged_in = True
                    term.write("250 OK\n")
                else:
                    term.write("503 INVALID LOGIN\n")
            continue
        if cmd not in ("port", "version"):
            term.write("502 UNKNOWN COMMAND\n")
            continue
        if not logged_in:
            term.write("505 FORBIDDEN\n")
            continue
        if cmd == "version":
            term.write("250 2.33\n")
            continue
        data = STATE.read()["outputs"]
        names = [n for n, _, _ in OUTPUTS]
        if args == ["list"]:
            term.write("250 %s\n" % "".join("1" if is_on(data[n]) else "0" for n in names))
        elif len(args) == 2 and args[0].lower() == "setup" and args[1] in names:
            n = args[1]
            name = OUTPUTS[names.index(n)][1]
            term.write('250 "%s" manual %d 1\n' % (name, INTERRUPT_DELAY))
        elif len(args) == 1 and args[0] in names:
            term.write("250 %s\n" % ("1" if is_on(data[args[0]]) else "0"))
        elif len(args) == 2 and args[0] in names and args[1].lower() in ("0", "1", "i", "m", "u"):
            with STATE.locked() as d:
                o = d["outputs"][args[0]]
                v = args[1].lower()
                if v in ("0", "1"):
                    o["on"], o["until"] = v == "1", 0
                elif v == "i":
                    o["on"], o["until"] = True, time.time() + INTERRUPT_DELAY
            term.write("250 OK\n")
        else:
            term.write("501 INVALID PARAMETR\n")


if __name__ == "__main__":
    emulib.run(main, Terminal)
