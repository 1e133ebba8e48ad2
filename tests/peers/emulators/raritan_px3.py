#!/usr/bin/env python3
"""Raritan PX2 / PX3 intelligent PDU emulator (the PX2/PX3 command line interface).

Device
  Raritan's PX2 and PX3 rack PDUs share one CLI (reachable over telnet, ssh and serial).
  It is a line-oriented shell whose prompt carries the PDU's name, "[<name>] # " for an
  administrator ("> " for a user without configuration rights, not emulated). The factory
  name is "My PDU", which is why fence_raritan_px3's default prompt is ".*\\[My PDU\\] #".

Flavours (EMU_FLAVOUR)
  px3   (default) PX3 with 8 outlets, some named, and one outlet group.
  (EMU_PDU_NAME changes the PDU name shown in the prompt, default "My PDU".)

Login
  telnet (EMU_LOGIN=1): telnet negotiation, "Username: ", "Password: " (not echoed). A wrong
  pair prints "Authentication failed." and asks again; the third failure disconnects. Over
  ssh sshd has done the login. Then:
      Welcome to PX3 CLI!
      Last login: <date>
      <blank line>
      [My PDU] #<space>

Commands (keywords case-insensitive)
  show outlets [N]        for each outlet, a block
                              Outlet 1 - web1:          (or "Outlet 2:" when it has no name)
                              Power state: On           (On / Off)
                              <blank line>
  show outletgroups       for each group
                              Outlet Group 1 - webservers:
                              Member outlets: 1-2
                              State:          2 on      ("2 on", "2 off", or "1 on, 1 off")
  power outlets N on|off|cycle [/y]
                          N: an outlet number, a list "1,3" or a range "1-2". Without /y the
                          CLI asks "Do you wish to turn outlet 5 off? [y/n] " (on: "... turn
                          outlet 5 on? ..."; cycle: "Do you wish to power cycle outlet 5?
                          [y/n] "); "y" switches, anything else cancels. A cycle switches off
                          and back on after the cycle delay (2 s here).
  power outletgroup G on|off|cycle [/y]
                          the same for group number G: "Do you wish to turn on all 2 outlets
                          in group 1? [y/n] ".
  help, exit (also EXIT, as the agent sends), quit.
  An outlet number out of range: "Invalid outlet number: 9"; an unknown command: "Invalid
  command. Type 'help' for a list of commands." (both texts are ours.)

Sources
  Raritan PX3 User Guide (Xerus firmware 3.x), chapter "Using the Command Line Interface":
  prompt with the device name, "show outlets", "show outletgroups", "power outlets <n>
  on|off|cycle" with its confirmation and the "/y" option, "power outletgroup"; and the
  behaviour Debian's fence_raritan_px3 (fence-agents 4.12.1) expects: login regex
  "Username.*", the split-by-single-space parsing of "Outlet N[ - name]:" / "Power state: X",
  "Outlet Group N - name:" / "State: ... on", the "Do you wish to turn.*" confirmation and "y".
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emulib  # noqa: E402




OUTLETS = [  # number, name ("" = none), initially on
    ("1", "web1", True), ("2", "web2", True), ("3", "db1", False), ("4", "", True),
    ("5", "nas1", False), ("6", "", False), ("7", "spare", True), ("8", "", False),
]
GROUPS = [("1", "webservers", ["1", "2"])]
CYCLE_DELAY = 2
STATE = emulib.State({"outlets": {n: {"on": on, "until": 0} for n, _, on in OUTLETS}})


def is_on(o):
    return o["on"] and time.time() >= o.get("until", 0)


def show_outlets(which):
    data = STATE.read()["outlets"]
    out = [""]
    for n, name, _ in OUTLETS:
        if which and n not in which:
            continue
        out.append("Outlet %s%s:" % (n, " - " + name if name else ""))
        out.append("Power state: %s" % ("On" if is_on(data[n]) else "Off"))
        out.append("")
    return "\n".join(out) + "\n"


def show_groups():
    data = STATE.read()["outlets"]
    out = [""]
    for g, name, members in GROUPS:
        on = sum(1 for m in members if is_on(data[m]))
        off = len(members) - on
        state = "%d on" % on if not off else "%d off" % off if not on else "%d on, %d off" % (on, off)
        out.append("Outlet Group %s - %s:" % (g, name))
        out.append("Member outlets: %s-%s" % (members[0], members[-1]))
        out.append("State:          %s" % state)
        out.append("")
    return "\n".join(out) + "\n"


def parse_outlets(spec):
    """Outlet numbers of "5", "1,3" or "1-2"; None when one is out of range (with it)."""
    result = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        try:
            nums = range(int(lo), int(hi or lo) + 1)
        except ValueError:
            return None, part
        for i in nums:
            if str(i) not in [n for n, _, _ in OUTLETS]:
                return None, str(i)
            result.append(str(i))
    return result, None


def switch(outlets, verb):
    with STATE.locked() as data:
        for n in outlets:
            o = data["outlets"][n]
            o["on"] = verb != "off"
            o["until"] = time.time() + CYCLE_DELAY if verb == "cycle" else 0


def power(term, args):
    confirm = "/y" not in [a.lower() for a in args]
    args = [a for a in args if a.lower() != "/y"]
    if len(args) != 3 or args[0].lower() not in ("outlets", "outletgroup") \
            or args[2].lower() not in ("on", "off", "cycle"):
        term.write("Invalid command. Type 'help' for a list of commands.\n")
        return
    kind, spec, verb = args[0].lower(), args[1], args[2].lower()
    if kind == "outlets":
        outlets, bad = parse_outlets(spec)
        if outlets is None:
            term.write("Invalid outlet number: %s\n" % bad)
            return
        what = "outlet %s" % spec if len(outlets) == 1 else "outlets %s" % spec
        question = ("Do you wish to power cycle %s? [y/n] " % what if verb == "cycle"
                    else "Do you wish to turn %s %s? [y/n] " % (what, verb))
    else:
        group = [g for g in GROUPS if g[0] == spec]
        if not group:
            term.write("Invalid outlet group: %s\n" % spec)
            return
        outlets = group[0][2]
        question = ("Do you wish to power cycle all %d outlets in group %s? [y/n] " % (len(outlets), spec)
                    if verb == "cycle" else
                    "Do you wish to turn %s all %d outlets in group %s? [y/n] " % (verb, len(outlets), spec))
    if confirm and term.ask(question).strip().lower() != "y":
        return
    switch(outlets, verb)


def do_login(term):
    if not term.telnet:
        return
    want = (os.environ.get("EMU_USER", ""), os.environ.get("EMU_PASSWORD", ""))
    term.write("\nLogin for PX3 CLI\n")
    for _ in range(3):
        user = term.ask("Username: ").strip()
        password = term.ask("Password: ", echo=False)
        term.write("\n")
        if (user, password) == want:
            return
        term.write("Authentication failed.\n\n")
    raise emulib.Hangup()


def main(term):
    do_login(term)
    prompt = "[%s] # " % os.environ.get("EMU_PDU_NAME", "My PDU")
    term.write("\nWelcome to PX3 CLI!\nLast login: 2026-12-01 08:15:02 EST [CLI (Telnet) from 192.0.2.10]\n\n")
    while True:
        words = term.ask(prompt).split()
        if not words:
            continue
        cmd = words[0].lower()
        if cmd == "show" and len(words) >= 2 and words[1].lower() == "outlets":
            which = None
            if len(words) > 2:
                which, bad = parse_outlets(words[2])
                if which is None:
                    term.write("Invalid outlet number: %s\n" % bad)
                    continue
            term.write(show_outlets(which))
        elif cmd == "show" and len(words) == 2 and words[1].lower() == "outletgroups":
            term.write(show_groups())
        elif cmd == "power":
            power(term, words[1:])
        elif cmd == "help":
            term.write("Available commands: show, power, help, exit\n")
        elif cmd in ("exit", "quit"):
            return
        else:
            term.write("Invalid command. Type 'help' for a list of commands.\n")


if __name__ == "__main__":
    emulib.run(main)
