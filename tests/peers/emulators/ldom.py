#!/usr/bin/env python3
"""The control domain of a SPARC server with Logical Domains (LDoms, later "Oracle VM Server for
SPARC"), as fence_ldom drives it: an SSH login to a Solaris shell where the `ldm` command manages
the guest domains.

The emulated part is a small Solaris login shell with `ldm` built in (the shell matters: fence_ldom
first sets the prompt with `PS1=...` and, when that gives no prompt, with csh's `set prompt=...`).

Flavours:
  EMU_FLAVOUR  ldm1 (default) LDoms Manager 1.0.3 (the version fence_ldom names as tested): `ldm ls`
               columns NAME STATE FLAGS CONS VCPU MEMORY UTIL UPTIME; start/stop print a line.
               ovm3: Oracle VM Server for SPARC 3.6: an extra NORM column; start/stop are silent.
  EMU_SHELL    sh (default): Solaris /sbin/sh as root, prompt "# "; `PS1='x'` sets the prompt.
               csh: csh as root, prompt "<host># "; `PS1=...` is "Command not found."; `set
               prompt='x'` sets the prompt.

Login: OpenSSH (the shared sshd recipe, ForceCommand) does it; the shell starts with the motd line
"Oracle Corporation      SunOS 5.10      Generic Patch   January 2005" and its prompt. (No telnet:
fence_ldom has none.) The device echoes what is typed: each chunk received is echoed in one write,
as a tty does (see below).

Commands:
  ldm ls | ldm list | ldm list-domain [DOM...]   the domain table:
      NAME             STATE      FLAGS   CONS    VCPU  MEMORY   UTIL  UPTIME
      primary          active     -n-cv-  UART    8     8G       0.6%  41d 2h 9m
      ldg1             active     -n----  5000    8     4G       0.2%  2d 1h 5m
      ldg2             bound      ------  5001    4     4G
      ldg3             inactive   ------          4     2G
  ldm start[-domain] DOM     bound -> active ("LDom DOM started" in ldm1)
  ldm stop[-domain] [-f] DOM active -> bound ("LDom DOM stopped" in ldm1)
  errors (exit status 1): "LDom DOM not found"; "LDom DOM is already active" (start);
      "LDom DOM is not active" (stop); "LDom DOM must be bound before it can be started" (an
      inactive one); "The control domain cannot be stopped with ldm stop-domain"; unknown subcommand:
      "Invalid command: X" plus the usage line.
  PS1=..., set prompt=..., echo, hostname, uname, true, logout, exit; anything else is
      "sh: X: not found" (sh) or "X: Command not found." (csh).

State (EMU_STATE): {"domains": {name: state}}; primary and ldg1 active, ldg2 bound, ldg3
inactive. Note fence_ldom reads only "bound" as off: an inactive domain is reported ON.

Sources: Sun "Logical Domains (LDoms) 1.0.3 Administration Guide" and "ldm(1M)" man page (list,
start-domain, stop-domain -f and the ls/start/stop aliases, the list columns); Oracle "Oracle VM
Server for SPARC 3.6 Reference Manual" for the ovm3 columns; behaviour Debian's fence_ldom
(fence-agents 4.12.1) expects: ssh by default, the prompt regex "\\ $" after login, then
"[PEXPECT]" as the prompt. Error texts are our reading of the guides, not captured from a host.
"""
import os
import select
import shlex
import sys
import termios
import tty

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emulib import Hangup, State, Terminal  # noqa: E402

HOST = "t5240-cd"
MOTD = "Oracle Corporation      SunOS 5.10      Generic Patch   January 2005\n"
DOMAINS = {  # name: (flags-when-active, cons, vcpu, memory, util, uptime)
    "primary": ("-n-cv-", "UART", 8, "8G", "0.6%", "41d 2h 9m"),
    "ldg1": ("-n----", "5000", 8, "4G", "0.2%", "2d 1h 5m"),
    "ldg2": ("-n----", "5001", 4, "4G", "1.3%", "7h 12m"),
    "ldg3": ("-n----", "5002", 4, "2G", "0.1%", "3m"),
}
INITIAL = {"domains": {"primary": "active", "ldg1": "active", "ldg2": "bound", "ldg3": "inactive"}}


class ChunkEchoTerminal(Terminal):
    """Two workarounds for emulib's Terminal, both about fence_ldom typing ahead.
    * fence_ldom's login prompt regex "\\ $" matches the space after ssh's "password:", so it
      sends PS1='[PEXPECT]' before the shell has started. emulib switches the pty to raw mode with
      tty.setraw's default TCSAFLUSH, which discards that type-ahead (a shell would read it); here
      the switch is TCSANOW. The pty was still cooked when the line arrived, so ICRNL made its
      CR LF into LF LF; that pair is read back as one line end, as it was typed.
    * emulib echoes byte by byte, one write per byte; a tty echoes what arrived in one go.
      fence_ldom types its own prompt text, so an echo split after "]" would let it match its
      own echo; each received chunk is echoed in one write instead (and the type-ahead, which
      the kernel echoed while the pty was cooked, is not echoed again)."""

    def __init__(self):
        self.fd_in = sys.stdin.fileno()
        self.fd_out = sys.stdout.fileno()
        self.telnet = False
        self.pending = b""
        self.last_was_cr = False
        self.saved = None
        if os.isatty(self.fd_in):
            self.saved = termios.tcgetattr(self.fd_in)
            tty.setraw(self.fd_in, termios.TCSANOW)
            if select.select([self.fd_in], [], [], 0)[0]:
                ahead = os.read(self.fd_in, 4096)
                self.pending = ahead.replace(b"\n\n", b"\r\n")
        self.unechoed = len(self.pending)   # the kernel echoed the type-ahead already

    def _byte(self):
        self.from_ahead = self.unechoed > 0
        if self.from_ahead:
            self.unechoed -= 1
        return super()._byte()

    def readline(self, echo=True):
        line = bytearray()
        out = bytearray()
        while True:
            if not self.pending and out:
                self.raw(bytes(out))
                out.clear()
            b = self._data_byte()
            if b == 0 or (b == 10 and self.last_was_cr):
                self.last_was_cr = False
                continue
            self.last_was_cr = b == 13
            if b in (13, 10):
                if echo and not self.from_ahead:
                    out += b"\r\n"
                    self.raw(bytes(out))
                return line.decode("latin-1")
            if b in (8, 127):
                if line:
                    line.pop()
                    out += b"\b \b"
                continue
            if b == 3:
                raise Hangup()
            line.append(b)
            if echo and not self.from_ahead:
                out.append(b)


def ldm_list(term, flavour, domains, names):
    ovm = flavour == "ovm3"
    head = "NAME             STATE      FLAGS   CONS    VCPU  MEMORY   UTIL  "
    head += "NORM  UPTIME" if ovm else "UPTIME"
    rows = [head]
    order = [d for d in DOMAINS if d in domains] + sorted(d for d in domains if d not in DOMAINS)
    for name in order:
        st = domains[name]
        if names and name not in names:
            continue
        flags, cons, vcpu, mem, util, up = DOMAINS.get(name, ("-n----", "5009", 1, "1G", "0.0%", "1m"))
        if st == "active":
            row = f"{name:<16} {st:<10} {flags:<7} {cons:<7} {vcpu:<5} {mem:<8} {util:<5} "
            row += f"{util:<5} {up}" if ovm else up
        elif st == "bound":
            row = f"{name:<16} {st:<10} {'------':<7} {cons:<7} {vcpu:<5} {mem}"
        else:
            row = f"{name:<16} {st:<10} {'------':<7} {'':<7} {vcpu:<5} {mem}"
        rows.append(row.rstrip())
    term.write("\n".join(rows) + "\n")


def ldm(term, flavour, state, args):
    usage = "Usage: ldm list-domain | start-domain <ldom> | stop-domain [-f] <ldom> ...\n"
    if not args:
        term.write(usage)
        return
    sub, rest = args[0], args[1:]
    if sub in ("ls", "list", "list-domain"):
        names = [a for a in rest if not a.startswith("-")]
        domains = state.read()["domains"]
        for n in names:
            if n not in domains:
                term.write(f"LDom {n} not found\n")
                return
        ldm_list(term, flavour, domains, names)
        return
    if sub in ("start", "start-domain", "stop", "stop-domain"):
        starting = sub.startswith("start")
        names = [a for a in rest if not a.startswith("-")]
        if not names:
            term.write(usage)
            return
        with state.locked() as st:
            for n in names:
                cur = st["domains"].get(n)
                if cur is None:
                    term.write(f"LDom {n} not found\n")
                elif starting and cur == "active":
                    term.write(f"LDom {n} is already active\n")
                elif starting and cur == "inactive":
                    term.write(f"LDom {n} must be bound before it can be started\n")
                elif not starting and cur != "active":
                    term.write(f"LDom {n} is not active\n")
                elif not starting and n == "primary":
                    term.write("The control domain cannot be stopped with ldm stop-domain\n")
                else:
                    st["domains"][n] = "active" if starting else "bound"
                    if flavour == "ldm1":
                        term.write(f"LDom {n} {'started' if starting else 'stopped'}\n")
        return
    term.write(f"Invalid command: {sub}\n" + usage)


def main(term):
    flavour = os.environ.get("EMU_FLAVOUR", "ldm1")
    csh = os.environ.get("EMU_SHELL", "sh") == "csh"
    state = State(INITIAL)
    prompt = f"{HOST}# " if csh else "# "
    term.write(MOTD)
    while True:
        line = term.ask(prompt)
        stripped = line.strip()
        if not stripped:
            continue
        if not csh and stripped.startswith("PS1="):
            try:
                prompt = "".join(shlex.split(stripped[4:])) if stripped[4:] else ""
            except ValueError:
                prompt = stripped[4:]
            continue
        try:
            words = shlex.split(stripped)
        except ValueError:
            term.write("sh: syntax error: unexpected end of file\n" if not csh else "Unmatched '.\n")
            continue
        if not words:
            continue
        cmd = words[0]
        if csh and cmd == "set" and len(words) >= 2 and words[1].startswith("prompt="):
            prompt = " ".join(words[1:])[len("prompt="):]
            continue
        if cmd in ("logout", "exit"):
            return
        if cmd == "ldm":
            ldm(term, flavour, state, words[1:])
        elif cmd == "echo":
            term.write(" ".join(words[1:]) + "\n")
        elif cmd == "hostname":
            term.write(HOST + "\n")
        elif cmd == "uname":
            term.write("SunOS\n" if len(words) == 1 else f"SunOS {HOST} 5.10 Generic_147440-01 sun4v sparc SUNW,T5240\n")
        elif cmd == "true" or (not csh and cmd == "set"):
            pass
        elif csh:
            term.write(f"{cmd}: Command not found.\n")
        else:
            term.write(f"sh: {cmd}: not found\n")


if __name__ == "__main__":
    t = ChunkEchoTerminal()
    try:
        main(t)
    except Hangup:
        pass
    finally:
        t.restore()
