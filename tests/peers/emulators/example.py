#!/usr/bin/env python3
"""The smallest device emulator: a switch with a few ports behind an `example> ` prompt.

It shows how an emulator plugs into the harness (devices.conf, start.sh) and is what
the harness's own checks drive; it imitates no real product. Commands:
  status N   prints "Port N: ON" or "Port N: OFF"
  on N, off N  switch port N, then print its status
  list       one "Port N: ON|OFF" line per port
  exit, quit   end the session
Anything else prints "Unknown command"; a port that does not exist prints
"Invalid port N". EMU_FLAVOUR: "small" (4 ports, the default) or "large" (8).
Over telnet (EMU_LOGIN=1) it asks "Username: " and "Password: " first and says
"Login incorrect" to wrong credentials. Run by sshd with SSH_ORIGINAL_COMMAND set (a
command given to ssh), it runs that one command and exits.
"""
import os

import emulib

PORTS = {"small": 4, "large": 8}


def main(term):
    flavour = os.environ.get("EMU_FLAVOUR") or "small"
    ports = PORTS.get(flavour, 4)
    state = emulib.State({"ports": {str(n): "on" for n in range(1, ports + 1)}})

    def status(n):
        return "Port %s: %s\n" % (n, state.read()["ports"][n].upper())

    def run(line):
        """One command; False to end the session."""
        words = line.split()
        if not words:
            return True
        cmd, args = words[0].lower(), words[1:]
        if cmd in ("exit", "quit"):
            return False
        if cmd == "list" and not args:
            for n in sorted(state.read()["ports"], key=int):
                term.write(status(n))
        elif cmd in ("status", "on", "off") and len(args) == 1:
            n = args[0]
            if n not in state.read()["ports"]:
                term.write("Invalid port %s\n" % n)
            else:
                if cmd != "status":
                    with state.locked() as data:
                        data["ports"][n] = cmd
                term.write(status(n))
        else:
            term.write("Unknown command\n")
        return True

    emulib.login(term, "Username: ", "Password: ", "Login incorrect\n")
    command = os.environ.get("SSH_ORIGINAL_COMMAND")
    if command and not term.telnet:
        run(command)
        return
    term.write("Example switch (%s, %d ports)\n" % (flavour, ports))
    while run(term.ask("example> ")):
        pass


if __name__ == "__main__":
    emulib.run(main)
