#!/usr/bin/env python3
"""Server Technology Sentry Switched CDU / PDU emulator (the Sentry command line).

Device
  Sentry Switched CDUs (and the later Switched PDUs, firmware 8) have a line-oriented CLI
  over telnet, ssh and serial, prompt "Switched CDU: " ("Switched PDU: " on firmware 8).
  Outlets have an absolute ID (tower letter + outlet number: ".A1" on firmware 6/7, "AA1" on
  firmware 8, the first letter being the enclosure) and a name; commands take either
  ("on .A3", "off web1", "reboot all"). Keywords are case-insensitive.

Flavours (EMU_FLAVOUR)
  v7  (default) "Sentry Switched CDU Version 7.1c", IDs .A1-.A8, prompt "Switched CDU: ",
      output paging that "set option more disabled" turns off (accepted, nothing paged here).
  v6  "Sentry Switched CDU Version 6a", same screens, no "set option" command.
  v8  "Sentry Switched PDU Version 8.0i", IDs AA1-AA8, prompt "Switched PDU: ", the status
      table is "STATUS ALL" with the control state before the outlet status.

Login
  telnet (EMU_LOGIN=1): telnet negotiation, a banner with the version line, "Username: ",
  "Password: " (not echoed). A wrong pair prints "Access denied" and asks again; the third
  failure disconnects. Then "Location: Rack 12" and the prompt.

Commands and outputs
  VERSION                 "Sentry Switched CDU Version 7.1c" (the agent reads the version from it)
  STATUS [ALL|id|name]    v6/v7 table:   Outlet   Outlet                    Outlet    Control
                                         ID       Name                      Status    State
                                         .A1      web1                      On        On
                          (Control State is "On", "Off", "Idle On" or "Wake On")
                          v8 table ("STATUS ALL"): ID, Name, Control State, Status, Note:
                                         AA1      web1        On          On        Normal
  LIST OUTLETS            ID and name of every outlet
  ON|OFF|REBOOT id|name|ALL   "Command successful"; a reboot keeps the outlet off for 2 s.
  SET OPTION MORE ENABLED|DISABLED  (v7, v8) "Command successful"
  LOGOUT | EXIT | QUIT    ends the session
  Unknown outlet: "Outlet not found" ; unknown command: "Invalid command" (texts ours).

Sources
  Server Technology "Sentry Switched CDU Installation and Operations Manual" (CW-/CX- models,
  firmware 6.x/7.x: Username/Password login, "Switched CDU:" prompt, STATUS, LIST OUTLETS,
  ON/OFF/REBOOT with absolute IDs or names, "Command successful", VERSION, SET OPTION MORE);
  Server Technology "Switched PDU" CLI guide (firmware 8.0); and the behaviour Debian's
  fence_cdu (fence-agents 4.12.1) expects: its regexes for VERSION, STATUS/STATUS ALL and
  LIST OUTLETS, "on <id>" / "off <id>", "set option more disabled" on version 7, LOGOUT.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emulib  # noqa: E402




FLAVOURS = {
    "v6": {"version": "Sentry Switched CDU Version 6a", "prompt": "Switched CDU: ", "idp": ".A",
           "more": False, "v8": False},
    "v7": {"version": "Sentry Switched CDU Version 7.1c", "prompt": "Switched CDU: ", "idp": ".A",
           "more": True, "v8": False},
    "v8": {"version": "Sentry Switched PDU Version 8.0i", "prompt": "Switched PDU: ", "idp": "AA",
           "more": True, "v8": True},
}
OUTLETS = [  # number, name, initially on
    (1, "web1", True), (2, "web2", True), (3, "db-1", False), (4, "db-2", True),
    (5, "nas1", False), (6, "nas2", False), (7, "spare", True), (8, "TowerA_Outlet8", False),
]
REBOOT_DELAY = 2
STATE = emulib.State({"outlets": {str(n): {"on": on, "until": 0} for n, _, on in OUTLETS}})


def is_on(o):
    return o["on"] and time.time() >= o.get("until", 0)


def find(fl, spec):
    """Outlet numbers for an ID (".A3", "A3", "AA3"), a name, or ALL; None if unknown."""
    low = spec.lower()
    if low == "all":
        return [n for n, _, _ in OUTLETS]
    for n, name, _ in OUTLETS:
        ids = {(fl["idp"] + str(n)).lower(), "a%d" % n}
        if low in ids or low == name.lower():
            return [n]
    return None


def status_table(fl, which):
    data = STATE.read()["outlets"]
    if fl["v8"]:
        out = ["", "Outlet   Outlet                           Control     Outlet   Outlet",
               "ID       Name                             State       Status   Note", ""]
    else:
        out = ["", "    Outlet   Outlet                    Outlet     Control",
               "    ID       Name                      Status     State", ""]
    for n, name, _ in OUTLETS:
        if n not in which:
            continue
        o = data[str(n)]
        status = "On" if is_on(o) else "Off"
        control = ("Idle On" if name == "spare" else "On") if o["on"] else "Off"
        if fl["v8"]:
            out.append("%-8s %-32s %-11s %-8s Normal" % (fl["idp"] + str(n), name, control, status))
        else:
            out.append("    %-8s %-25s %-10s %s" % (fl["idp"] + str(n), name, status, control))
    out.append("")
    return "\n".join(out) + "\n"


def list_outlets(fl):
    out = ["", "    Outlet   Outlet", "    ID       Name", ""]
    for n, name, _ in OUTLETS:
        out.append("    %-8s %s" % (fl["idp"] + str(n), name))
    out.append("")
    return "\n".join(out) + "\n"


def do_login(term, fl):
    if not term.telnet:
        return
    want = (os.environ.get("EMU_USER", ""), os.environ.get("EMU_PASSWORD", ""))
    term.write("\n\n%s\n\n" % fl["version"])
    for _ in range(3):
        user = term.ask("Username: ").strip()
        password = term.ask("Password: ", echo=False)
        term.write("\n")
        if (user, password) == want:
            return
        term.write("\nAccess denied\n\n")
    raise emulib.Hangup()


def main(term):
    fl = FLAVOURS[os.environ.get("EMU_FLAVOUR", "v7")]
    do_login(term, fl)
    term.write("\nLocation: Rack 12\n")
    while True:
        words = term.ask("\n" + fl["prompt"]).split()
        if not words:
            continue
        cmd = words[0].lower()
        args = [w.lower() for w in words[1:]]
        if cmd == "version" and not args:
            term.write("\n%s\n" % fl["version"])
        elif cmd == "status":
            if not args or args == ["all"]:
                which = [n for n, _, _ in OUTLETS]
            else:
                which = find(fl, words[1])
                if which is None:
                    term.write("\nOutlet not found\n")
                    continue
            term.write(status_table(fl, which))
        elif cmd == "list" and args == ["outlets"]:
            term.write(list_outlets(fl))
        elif cmd in ("on", "off", "reboot") and len(args) == 1:
            which = find(fl, words[1])
            if which is None:
                term.write("\nOutlet not found\n")
                continue
            with STATE.locked() as data:
                for n in which:
                    o = data["outlets"][str(n)]
                    o["on"] = cmd != "off"
                    o["until"] = time.time() + REBOOT_DELAY if cmd == "reboot" else 0
            term.write("\nCommand successful\n")
        elif cmd == "set" and fl["more"] and len(args) == 3 and args[:2] == ["option", "more"] \
                and args[2] in ("enabled", "disabled"):
            term.write("\nCommand successful\n")
        elif cmd in ("logout", "logoff", "exit", "quit"):
            return
        else:
            term.write("\nInvalid command\n")


if __name__ == "__main__":
    emulib.run(main)
