#!/usr/bin/env python3
"""WTI switched PDU emulator (Western Telematic NPS / IPS / VMR families).

Device
  WTI's network power switches share one text interface: slash commands typed at a
  "<MODEL>> " prompt (NPS>, IPS>, VMR>, ...), plugs addressed by number (or name),
  a plug status screen with `|`-separated columns, and a "Sure? (Y/N)" confirmation that a
  ",Y" after the plug list suppresses.

Flavours (EMU_FLAVOUR)
  nps   (default) NPS-8 class, firmware 1.4x: a System Password only (no user name),
        prompt "NPS> ", 8 plugs, no plug groups (/SG is an invalid command).
  ips   IPS-800 class with no System Password defined: the unit shows no password prompt
        at all and starts in System Mode at "IPS> " (what fence_wti's no_login/no_password
        options are for).
  vmr   VMR / newer NPS firmware: user name and password ("Enter Username: " then
        "Enter Password: "), prompt "VMR> ", 8 plugs and two plug groups shown by /SG.
  rpc   an RPC-class unit whose prompt is "RPC> ": not among fence_wti's default prompts,
        so the agent needs command_prompt=RPC> (otherwise its login times out).

Login
  telnet (EMU_LOGIN=1): telnet negotiation (WILL ECHO, WILL SGA), then the flavour's
  prompt(s). A wrong password prints "Invalid password" and asks again; the third failure
  disconnects. Over ssh sshd has logged the user in and the session starts at the banner.

Screens and commands (commands are case-insensitive; plugs by number, name or "*")
  banner + short help, then the prompt.
  /S            plug status screen:
                  Plug | Name             | Password ... | Status | Boot Delay | Default |
                  -----+------------------+--- ... -----+--------+------------+---------+
                   1   | web1             | ...          |   ON   |   5 Secs   |   ON    |
  /SG           (vmr) plug group status:
                   GROUP NAME       | PLUG | STATUS |
                  ------------------+------+--------+
                   webservers       |  1   |   ON   |
                                    |  2   |   ON   |
  /ON p[,Y]  /OFF p[,Y]  /BOOT p[,Y]
                switch plugs; without ",Y" the unit asks "Sure? (Y/N): " first. Then
                "Processing - please wait ..." and the prompt. A boot holds the plug off for
                its boot delay (5 s here) before switching it back on.
  /H            help.   /X  log out ("Disconnected").
  An unknown plug: "Invalid Plug" ; an unknown command: "Invalid Command".

Sources
  WTI NPS-115/NPS-230 User's Guide (part 12927, rev C: System/User mode, password prompt,
  /ON /OFF /BOOT /S /X, "Sure?" confirmation, plug names); WTI NPS-2HD User's Guide
  (automated mode, confirmation); WTI VMR/NPS User's Guide section 9.2 (text interface,
  plug groups, command confirmation); and the behaviour Debian's fence_wti (fence-agents
  4.12.1) expects: the "Password: " / "(login: )|(Login Name:  )|(username: )|(User Name :)"
  login prompts, the MODEL> prompts, the /S and /SG table layout it parses, "/on N,y",
  "/off N,y", "/X". The error texts are ours (the guides do not print them).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emulib  # noqa: E402

FLAVOURS = {
    "nps": {"prompt": "NPS> ", "title": "Network Power Switch v1.43", "user": False,
            "password": True, "groups": False, "pwcol": True},
    "ips": {"prompt": "IPS> ", "title": "Internet Power Switch v1.40h", "user": False,
            "password": False, "groups": False, "pwcol": True},
    "vmr": {"prompt": "VMR> ", "title": "Virtual Machine Reboot Switch v2.04", "user": True,
            "password": True, "groups": True, "pwcol": False},
    "rpc": {"prompt": "RPC> ", "title": "Remote Power Control v6.07", "user": True,
            "password": True, "groups": False, "pwcol": False},
}

PLUGS = [  # number, name, initially on
    ("1", "web1", True), ("2", "web2", True), ("3", "db1", False), ("4", "db2", True),
    ("5", "nas1", False), ("6", "nas2", False), ("7", "spare7", True), ("8", "(undefined)", False),
]
GROUPS = [("webservers", ["1", "2"]), ("storage", ["5", "6"])]
BOOT_DELAY = 5



STATE = emulib.State({"plugs": {n: {"on": on, "until": 0} for n, _, on in PLUGS}})


def plug_on(p):
    """A plug in a boot cycle is off until its boot delay has passed."""
    return p["on"] and time.time() >= p.get("until", 0)


def status_screen(fl):
    data = STATE.read()["plugs"]
    out = ["", "                      %s" % fl["title"],
           "                      Site ID: (undefined)", ""]
    if fl["pwcol"]:
        out.append("Plug | Name             | Password         | Status | Boot Delay | Default |")
        out.append("-----+------------------+------------------+--------+------------+---------+")
    else:
        out.append("Plug | Name             | Status | Boot Delay | Default |")
        out.append("-----+------------------+--------+------------+---------+")
    for n, name, default in PLUGS:
        st = "ON" if plug_on(data[n]) else "OFF"
        row = " %-3s | %-16s |" % (n, name)
        if fl["pwcol"]:
            row += " %-16s |" % "(undefined)"
        row += "  %-4s  |   %d Secs   |   %-3s   |" % (st, BOOT_DELAY, "ON" if default else "OFF")
        out.append(row)
    return "\n".join(out) + "\n"


def group_screen():
    data = STATE.read()["plugs"]
    out = ["", " GROUP NAME       | PLUG | STATUS |", "------------------+------+--------+"]
    for gname, members in GROUPS:
        for i, n in enumerate(members):
            st = "ON" if plug_on(data[n]) else "OFF"
            out.append(" %-16s |  %-3s |  %-4s  |" % (gname if i == 0 else "", n, st))
    return "\n".join(out) + "\n"


def help_screen(fl):
    return ("\n  %s\n\n"
            "  /S          Display Plug Status       /ON <n> [,Y]   Turn On Plug\n"
            "  /SG         Display Group Status      /OFF <n> [,Y]  Turn Off Plug\n"
            "  /H          Display Help Screen       /BOOT <n> [,Y] Boot Plug\n"
            "  /X          Exit / Disconnect\n\n"
            "  n = plug number, plug name, group name or * (all plugs)\n\n") % fl["title"]


def resolve(fl, spec):
    """Plug numbers for a plug list such as "3", "web1", "1+2", "*" or a group name."""
    result = []
    for part in spec.replace("+", " ").split():
        low = part.lower()
        if low in ("*", "all"):
            return [n for n, _, _ in PLUGS]
        found = [n for n, name, _ in PLUGS if low in (n, name.lower())]
        if not found and fl["groups"]:
            found = [m for g, members in GROUPS if g == low for m in members]
        if not found:
            return None
        result += found
    return result or None


def switch(term, fl, verb, rest):
    confirm = True
    if "," in rest:
        rest, flag = rest.rsplit(",", 1)
        if flag.strip().upper() == "Y":
            confirm = False
    plugs = resolve(fl, rest.strip())
    if plugs is None:
        term.write("\nInvalid Plug\n\n")
        return
    if confirm:
        answer = term.ask("\n  %s Plug(s) %s\n  Sure? (Y/N): " % (
            {"ON": "Turn On", "OFF": "Turn Off", "BOOT": "Boot"}[verb], ", ".join(plugs))).strip()
        if answer.upper() != "Y":
            term.write("\n  Command Aborted\n\n")
            return
    term.write("\n  Processing - please wait ...\n\n")
    with STATE.locked() as data:
        for n in plugs:
            p = data["plugs"][n]
            if verb == "ON":
                p["on"], p["until"] = True, 0
            elif verb == "OFF":
                p["on"], p["until"] = False, 0
            else:
                p["on"], p["until"] = True, time.time() + BOOT_DELAY


def do_login(term, fl):
    if not term.telnet or not fl["password"]:
        return
    want_user = os.environ.get("EMU_USER", "")
    want_password = os.environ.get("EMU_PASSWORD", "")
    term.write("\n%s\n\n" % fl["title"])
    for _ in range(3):
        user = term.ask("Enter Username: ").strip() if fl["user"] else want_user
        password = term.ask("Enter Password: ", echo=False)
        term.write("\n")
        if user == want_user and password == want_password:
            return
        term.write("\nInvalid password\n\n")
    term.write("Disconnected\n")
    raise emulib.Hangup()


def main(term):
    fl = FLAVOURS[os.environ.get("EMU_FLAVOUR", "nps")]
    do_login(term, fl)
    term.write(help_screen(fl))
    while True:
        line = term.ask(fl["prompt"]).strip()
        if not line:
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "/S":
            term.write(status_screen(fl))
        elif word == "/SG" and fl["groups"]:
            term.write(group_screen())
        elif word in ("/ON", "/OFF", "/BOOT"):
            switch(term, fl, word[1:], rest)
        elif word == "/H":
            term.write(help_screen(fl))
        elif word == "/X":
            term.write("\nDisconnected\n")
            return
        else:
            term.write("\nInvalid Command\n\n")


if __name__ == "__main__":
    emulib.run(main)
