#!/usr/bin/env python3
"""Raritan Dominion PX (first generation) emulator: its SM-CLP command line over telnet.

Device
  The first Dominion PX rack PDUs (DPXS12-20 and kin, firmware 1.x) offer a DMTF SM-CLP
  (SMASH) command line: a tree of targets (/system1, /system1/outlet1 ...), verbs show and
  set, and the prompt "clp:/-> " (the current target between ':' and '->').

Flavours (EMU_FLAVOUR)
  px  (default) 8 outlets, outlet1 ... outlet8, with names.

Login (telnet, EMU_LOGIN=1)
  telnet negotiation, then
      Login for Dominion PX CLI
      Username: <user>
      Password: <not echoed>
  then "Welcome to Dominion PX CLI!" and the prompt. A wrong pair prints "Authentication
  failed." and asks again; the third failure disconnects. (Over ssh sshd logs the user in.)

Commands (verbs case-insensitive; targets absolute or relative to the current one)
  show [-d properties=NAME[,NAME]] [TARGET]
      /system1/outlet3
        Properties:
          name is db1
          powerState is 2 (Off)          (1 = On, 2 = Off)
      "show /system1" lists its targets (outlet1 ... outlet8).
  set TARGET powerState=on|off|1|2       switches; answers "COMMAND COMPLETED"
  cd TARGET                              changes the current target (the prompt follows)
  exit                                   ends the session
  An unknown target: "COMMAND PROCESSING FAILED: invalid target <t>"; an unknown verb or
  property: "COMMAND PROCESSING FAILED: invalid command" (texts ours, in the SM-CLP style).

Sources
  Raritan "Dominion PX User Guide" release 1.x, appendix on the command line interface
  (SM-CLP targets /system1/outletN, "show", "set ... powerState", the clp:/-> prompt); DMTF
  DSP0214 SM CLP specification (verbs, -d/-display option, target addressing); and the
  behaviour Debian's fence_raritan (fence-agents 4.12.1) expects: "Login.*", "Password.*",
  "clp.*", "show -d properties=powerState /system1/outletN" read with ".*powerState is [12].*",
  "set /system1/outletN powerState=on|off", "exit".
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emulib  # noqa: E402




OUTLETS = [  # number, name, initially on
    (1, "web1", True), (2, "web2", True), (3, "db1", False), (4, "db2", True),
    (5, "nas1", False), (6, "nas2", False), (7, "spare", True), (8, "outlet8", False),
]
STATE = emulib.State({"outlets": {str(n): on for n, _, on in OUTLETS}})


def resolve(cwd, target):
    """Absolute path of a target, or None when it does not exist."""
    path = target if target.startswith("/") else cwd.rstrip("/") + "/" + target
    parts = []
    for p in path.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            parts = parts[:-1]
        else:
            parts.append(p.lower())
    path = "/" + "/".join(parts)
    valid = ["/", "/system1"] + ["/system1/outlet%d" % n for n, _, _ in OUTLETS]
    return path if path in valid else None


def show(term, cwd, args):
    props = None
    target = cwd
    i = 0
    while i < len(args):
        if args[i] in ("-d", "-display") and i + 1 < len(args):
            opt = args[i + 1]
            if not opt.lower().startswith("properties="):
                term.write("COMMAND PROCESSING FAILED: invalid command\n")
                return
            props = [p.lower() for p in opt.split("=", 1)[1].strip("()").split(",")]
            i += 2
        else:
            target = args[i]
            i += 1
    path = resolve(cwd, target)
    if path is None:
        term.write("COMMAND PROCESSING FAILED: invalid target %s\n" % target)
        return
    out = [path]
    if path.startswith("/system1/outlet"):
        n = int(path[len("/system1/outlet"):])
        on = STATE.read()["outlets"][str(n)]
        values = {"name": OUTLETS[n - 1][1],
                  "powerstate": "%d (%s)" % ((1, "On") if on else (2, "Off"))}
        shown = {"name": "name", "powerstate": "powerState"}
        keys = props if props else ["name", "powerstate"]
        if any(k not in values for k in keys):
            term.write("COMMAND PROCESSING FAILED: invalid command\n")
            return
        out.append("  Properties:")
        out += ["    %s is %s" % (shown[k], values[k]) for k in keys]
    else:
        out.append("  Targets:")
        out += ["    " + t for t in (["system1"] if path == "/" else
                                     ["outlet%d" % n for n, _, _ in OUTLETS])]
    term.write("\n".join(out) + "\n")


def set_(term, cwd, args):
    target, assigns = (cwd, args) if args and "=" in args[0] else (args[0] if args else cwd, args[1:])
    path = resolve(cwd, target)
    if path is None or not path.startswith("/system1/outlet"):
        term.write("COMMAND PROCESSING FAILED: invalid target %s\n" % target)
        return
    value = None
    for a in assigns:
        k, _, v = a.partition("=")
        if k.lower() == "powerstate" and v.lower() in ("on", "1", "off", "2"):
            value = v.lower() in ("on", "1")
    if value is None:
        term.write("COMMAND PROCESSING FAILED: invalid command\n")
        return
    with STATE.locked() as data:
        data["outlets"][path[len("/system1/outlet"):]] = value
    term.write("COMMAND COMPLETED\n")


def do_login(term):
    if not term.telnet:
        return
    want = (os.environ.get("EMU_USER", ""), os.environ.get("EMU_PASSWORD", ""))
    term.write("\nLogin for Dominion PX CLI\n")
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
    term.write("\nWelcome to Dominion PX CLI!\n\n")
    cwd = "/"
    while True:
        words = term.ask("clp:%s-> " % cwd).split()
        if not words:
            continue
        verb = words[0].lower()
        if verb == "show":
            show(term, cwd, words[1:])
        elif verb == "set":
            set_(term, cwd, words[1:])
        elif verb == "cd" and len(words) == 2:
            path = resolve(cwd, words[1])
            if path is None:
                term.write("COMMAND PROCESSING FAILED: invalid target %s\n" % words[1])
            else:
                cwd = path
        elif verb == "exit":
            return
        else:
            term.write("COMMAND PROCESSING FAILED: invalid command\n")


if __name__ == "__main__":
    emulib.run(main)
