#!/usr/bin/env python3
"""IBM Remote Supervisor Adapter II (RSA II, also the RSA II SlimLine) command line, as fence_rsa
meets it: one xSeries server whose power the adapter controls.

Flavours (EMU_FLAVOUR):
  rsa2  (default) RSA II, firmware "GFEP25A" (the level fence_rsa names as tested). The server
        is on at start.

Login: over SSH, sshd has logged the user in and the adapter shows its prompt. Over telnet
(EMU_LOGIN=1) it asks "username: " and "password: " (not echoed); a wrong pair prints
"Invalid login!" and asks again, three tries, then the connection is closed.

Prompt: "> " (after each command's output, and once after login).

Commands (case-insensitive words):
  power state        two lines: "Power: On" (or Off) and "State: OS booted" (or
                     "State: System power off/State unknown")
  power on           "ok" (already on: "ok" too)
  power off [-s]     "ok"; -s shuts the operating system down first (here: the same)
  power cycle [-s]   "ok" (off, then on)
  reset [-s]         "ok" (a server that is off: "Server is powered off")
  identify [-s on|off|blink]   "ok"
  vpd fw             the firmware levels (Main application GFEP25A, Boot ROM GFBP25A)
  help, ?            the command list;  history   the commands typed in this session
  exit               ends the session
  anything else      "Command not recognized. Type 'help' to get a list of supported commands."
  "power" with another word: "Syntax error. Type 'power -h' for help."

Sources (the vendor guide is named for what it documents; its wording was not re-read for this
file, while the agent's side was checked by running it, see prove-dellibm.sh):
"Remote Supervisor Adapter II SlimLine and Remote Supervisor Adapter II User's Guide"
(IBM, the "Command-line interface" chapter: power on/off/cycle/state, reset, identify, vpd,
the telnet/SSH login); and the behaviour Debian's fence_rsa (fence-agents 4.12.1) expects:
the standard fencing.py telnet login (regex "(login\\s*: )|...|(username: )|..." and
"(password)|(pass phrase)"), the prompt regex ">", the state regex "Power: (.*)" (lower-cased and
stripped, then compared with "on"/"off").
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emulib import Hangup, State, login, run  # noqa: E402




FLAVOUR = os.environ.get("EMU_FLAVOUR", "rsa2")
if FLAVOUR != "rsa2":
    sys.exit("rsa.py: unknown EMU_FLAVOUR %r" % FLAVOUR)

state = State({"power": "on"})

HELP = """?           -- Display commands
clock       -- Display/set date and time
console     -- Exit CLI, attach to serial port
exit        -- Log off
help        -- Display command list
history     -- Display command history
identify    -- Control system locator LED
power       -- Control server power
reset       -- Reset server
vpd         -- Display VPD"""
NOT_RECOGNIZED = "Command not recognized. Type 'help' to get a list of supported commands."


def power(args):
    if args == ["state"]:
        on = state.read()["power"] == "on"
        return "Power: %s\nState: %s" % (("On", "OS booted") if on else
                                          ("Off", "System power off/State unknown"))
    if args and args[0] in ("on", "off", "cycle") and args[1:] in ([], ["-s"]):
        if args[0] == "on" and args[1:]:
            return "Syntax error. Type 'power -h' for help."
        with state.locked() as data:
            data["power"] = "off" if args[0] == "off" else "on"
        return "ok"
    return "Syntax error. Type 'power -h' for help."


def main(term):
    login(term, "username: ", "password: ", "Invalid login!\n")
    history = []
    while True:
        line = term.ask("> ")
        words = line.lower().split()
        if not words:
            continue
        history.append(line.strip())
        cmd, args = words[0], words[1:]
        if cmd == "exit":
            return
        if cmd == "power":
            out = power(args)
        elif cmd == "reset":
            out = "ok" if state.read()["power"] == "on" else "Server is powered off"
        elif cmd == "identify":
            out = "ok"
        elif cmd == "vpd" and args == ["fw"]:
            out = ("Type             Status    Build\n"
                   "----             ------    -----\n"
                   "Main application Active    GFEP25A\n"
                   "Boot ROM         Active    GFBP25A")
        elif cmd in ("help", "?"):
            out = HELP
        elif cmd == "history":
            out = "\n".join("%d %s" % (i, h) for i, h in enumerate(history))
        else:
            out = NOT_RECOGNIZED
        term.write(out + "\n")


if __name__ == "__main__":
    run(main)
