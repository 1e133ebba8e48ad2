#!/usr/bin/env python3
"""CyberPower switched/monitored ePDU emulator (the ePDU command line interface).

Device
  CyberPower's switched PDUs (PDU41001, PDU81001, ... with the "ePDU" network card firmware
  1.x) offer a command line over ssh and telnet: a banner, then the prompt
  "CyberPower > ". Outlets are numbered from 1 and have names.

Flavours (EMU_FLAVOUR)
  pdu41001  (default) 8 outlets, firmware "1.2.0".

Login
  ssh: sshd has logged the user in; the session starts at the banner. telnet (EMU_LOGIN=1):
  telnet negotiation, "Login Name: ", "Login Password: " (not echoed); a wrong pair prints
  "Login failed." and asks again; the third failure disconnects.

Screens and commands (keywords case-insensitive)
  banner:   "      Cyber Power System Inc., Command Line Interface, Version 1.2.0"
  oltsta show           outlet table:
                            Index   Name                   Status
                            1       web1                   On
                            ...
  oltctrl index N act ACTION
                        ACTION: on, off, reboot (at once) or delayon, delayoff, delayreboot
                        (after the outlet's own on/off delay, 1 s here), cancel. Answers
                        "Outlet N: command accepted." (our text). N may be a list "1,3".
  help, exit (also quit, logout).
  A bad outlet index: "Invalid outlet index." ; a bad command: "Unknown command." (ours).

Sources
  CyberPower "Switched ePDU / Monitored ePDU User's Manual" (network management card,
  command line interface: `oltsta show`, `oltctrl index <n> act <action>` with the delayed
  variants, "CyberPower >" prompt); and the behaviour Debian's fence_cyberpower_ssh
  (fence-agents 4.12.1) expects: prompts "\\n>" / "\\nCyberPower >", "oltsta show" parsed with
  r'(\\s*)(\\d)\\s*(.*)\\s*(On|Off)\\s*', "oltctrl index N act delayon|delayoff", "exit".
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emulib  # noqa: E402




OUTLETS = [  # number, name, initially on
    ("1", "web1", True), ("2", "web2", True), ("3", "db1", False), ("4", "db2", True),
    ("5", "nas1", False), ("6", "nas2", False), ("7", "spare", True), ("8", "Outlet8", False),
]
DELAY = 1  # every outlet's on delay and off delay, seconds
STATE = emulib.State({"outlets": {n: {"on": on, "events": []} for n, _, on in OUTLETS}})


def current(o):
    """State now: the outlet's scheduled switchings ([time, on]) whose time has come apply."""
    on = o["on"]
    for at, then in o["events"]:
        if time.time() >= at:
            on = then
    return on


def table():
    data = STATE.read()["outlets"]
    out = ["", "Index   Name                   Status"]
    for n, name, _ in OUTLETS:
        out.append("%-7s %-22s %s" % (n, name, "On" if current(data[n]) else "Off"))
    out.append("")
    return "\n".join(out) + "\n"


# action -> switchings as (delay in units of DELAY, on)
ACTIONS = {
    "on": [(0, True)], "off": [(0, False)], "reboot": [(0, False), (1, True)],
    "delayon": [(1, True)], "delayoff": [(1, False)], "delayreboot": [(1, False), (2, True)],
    "cancel": [],
}


def control(term, args):
    if len(args) != 4 or args[0] != "index" or args[2] != "act" or args[3] not in ACTIONS:
        term.write("Unknown command.\n")
        return
    nums = args[1].split(",")
    if not all(n in [o for o, _, _ in OUTLETS] for n in nums):
        term.write("Invalid outlet index.\n")
        return
    now = time.time()
    with STATE.locked() as data:
        for n in nums:
            o = data["outlets"][n]
            # settle what has already happened; a new command replaces pending ones
            o["on"] = current(o)
            o["events"] = []
            for k, on in ACTIONS[args[3]]:
                if k == 0:
                    o["on"] = on
                else:
                    o["events"].append([now + k * DELAY, on])
    for n in nums:
        term.write("Outlet %s: command accepted.\n" % n)


def do_login(term):
    if not term.telnet:
        return
    want = (os.environ.get("EMU_USER", ""), os.environ.get("EMU_PASSWORD", ""))
    for _ in range(3):
        user = term.ask("\nLogin Name: ").strip()
        password = term.ask("Login Password: ", echo=False)
        term.write("\n")
        if (user, password) == want:
            return
        term.write("Login failed.\n")
    raise emulib.Hangup()


def main(term):
    do_login(term)
    term.write("\n      Cyber Power System Inc., Command Line Interface, Version 1.2.0\n"
               "      (c) Copyright 2010 Cyber Power System, Inc. All Rights Reserved.\n\n")
    while True:
        words = term.ask("\nCyberPower > ").lower().split()
        if not words:
            continue
        if words == ["oltsta", "show"]:
            term.write(table())
        elif words[0] == "oltctrl":
            control(term, words[1:])
        elif words[0] == "help":
            term.write("oltsta show | oltctrl index <n> act <action> | exit\n")
        elif words[0] in ("exit", "quit", "logout"):
            return
        else:
            term.write("Unknown command.\n")


if __name__ == "__main__":
    emulib.run(main)
