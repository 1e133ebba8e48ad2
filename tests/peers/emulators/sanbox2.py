#!/usr/bin/env python3
"""QLogic SANbox2 Fibre Channel switch (SANbox2-8/-16/-64 firmware CLI), as fence_sanbox2 drives
it: a port is fenced by setting it offline and unfenced by setting it online, from admin mode.

Flavours (EMU_FLAVOUR):
  sb2-16  (default) SANbox2-16, firmware V2.0.0.10, 16 ports (0-15), prompt "SANbox2 #> "
  sb2-8   SANbox2-8, 8 ports (0-7)
  busy    like sb2-16, but another session holds admin mode: "admin start" is refused (the agent
          then gives up with "Failed: Unable to switch to admin section")

Login (telnet only; fence_sanbox2 has no ssh): telnet options, then "Login: " and "Password: "
(not echoed). A wrong pair prints "Login incorrect!" and asks again; 3 failures close the
connection. After the login a welcome banner and the prompt "SANbox2 #> "; in admin mode the
prompt is "SANbox2 (admin) #> ". Lines end in CR LF; the switch echoes. Commands and keywords are
case-insensitive.

Commands:
  admin start           enters admin mode (prompt gains "(admin)"); refused in "busy" with
                        "Error: Admin mode is held by another session"
  admin end             leaves admin mode
  show port             one summary line per port:
      Port  Admin     Operational  Login     Config  Running  Link    Link
      Num   State     State        Status    Type    Type     State   Speed
      ----  --------  -----------  --------  ------  -------  ------  -----
       0    Online    Online       LoggedIn  GL      F        Active  2Gb/s
       3    Offline   Offline      NotLoggedIn GL    Unknown  Inactive Auto
  show port N           the port's detail block; its "AdminState" line reads
      "  AdminState       Online              PerfTuningMode     Normal"
  set port N state online|offline|diagnostics|down
                        changes the admin state (admin mode only, else "Error: Admin mode
                        required"); no output on success
  a bad port number     "Error: Invalid port number - N"
  a bad keyword         "Error: Invalid command or keyword - X"
  exit, quit, logout    end the session (admin mode is released)
  anything else         "Error: Invalid command or keyword - X"

State (EMU_STATE): {"ports": {"N": "Online"|"Offline"|...}}; ports 3 and 6 start Offline,
the others Online.

Sources: QLogic "SANbox2-8/16 Fibre Channel Switch Command Line Interface Guide" and "SANbox
5000 Series CLI Guide" (admin start/end, set port ... state, show port [N]); behaviour Debian's
fence_sanbox2 (fence-agents 4.12.1) expects: telnet, the prompt regex " #> ", "(admin)" in the
output of admin start, the AdminState regex of show port N and a summary line "^\\s+N\\s+(Online|
Offline)\\s+" per port for list. The error texts and the summary layout are our reading of the
guides, shaped by what the agent parses; not captured from a switch.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emulib import State, Hangup, login  # noqa: E402
import emulib  # noqa: E402



STATES = {"online": "Online", "offline": "Offline", "diagnostics": "Diagnostics", "down": "Down"}


def summary(term, ports, n_ports):
    rows = ["",
            " Port  Admin     Operational  Login        Config  Running  Link      Link",
            " Num   State     State        Status       Type    Type     State     Speed",
            " ----  --------  -----------  -----------  ------  -------  --------  -----"]
    for n in range(n_ports):
        admin = ports.get(str(n), "Online")
        up = admin == "Online" and n % 4 != 2
        rows.append(f"  {n:<4} {admin:<9} {'Online' if up else 'Offline':<12} "
                    f"{'LoggedIn' if up else 'NotLoggedIn':<12} GL      "
                    f"{'F' if up else 'Unknown':<8} {'Active' if up else 'Inactive':<9} "
                    f"{'2Gb/s' if up else 'Auto'}")
    term.write("\n".join(rows) + "\n\n")


def detail(term, n, admin):
    up = admin == "Online" and n % 4 != 2
    op = "Online" if up else "Offline"
    term.write(
        f"\n  Port Number: {n}\n  ------------\n"
        f"  AdminState       {admin:<19} PerfTuningMode     Normal\n"
        f"  AsicNumber       0                   PortID             6a{n:02x}00\n"
        f"  AsicPort         {n:<19} PortWWN            20:{n:02x}:00:c0:dd:00:8c:16\n"
        f"  ConfigType       GL                  RunningType        {'F' if up else 'Unknown'}\n"
        f"  LinkSpeed        {'2Gb/s' if up else 'Auto':<19} LinkState          {'Active' if up else 'Inactive'}\n"
        f"  LoginStatus      {'LoggedIn' if up else 'NotLoggedIn':<19} MaxCredit          16\n"
        f"  OperationalState {op:<19} SymbolicName       Port{n}\n\n")


def main(term):
    flavour = os.environ.get("EMU_FLAVOUR", "sb2-16")
    n_ports = 8 if flavour == "sb2-8" else 16
    state = State({"ports": {"3": "Offline", "6": "Offline"}})
    login(term, "Login: ", "Password: ", "Login incorrect!\n\n")
    term.write("\n                 Welcome to SANbox2 (TM) Switch\n"
               "                     Command Line Interface\n"
               "          Copyright (c) 2002-2004 QLogic Corporation\n\n")
    admin = False
    while True:
        line = term.ask("SANbox2 (admin) #> " if admin else "SANbox2 #> ")
        words = line.lower().split()
        if not words:
            continue
        if words[0] in ("exit", "quit", "logout"):
            return
        if words[0] == "admin" and len(words) == 2 and words[1] in ("start", "end", "cancel"):
            if words[1] == "start":
                if flavour == "busy":
                    term.write("Error: Admin mode is held by another session\n")
                else:
                    admin = True
            else:
                admin = False
            continue
        if words[0] == "show" and len(words) >= 2 and words[1] == "port":
            ports = state.read()["ports"]
            if len(words) == 2:
                summary(term, ports, n_ports)
                continue
            if not words[2].isdigit() or int(words[2]) >= n_ports:
                term.write(f"Error: Invalid port number - {words[2]}\n")
                continue
            n = int(words[2])
            detail(term, n, ports.get(str(n), "Online"))
            continue
        if words[0] == "set" and len(words) >= 2 and words[1] == "port":
            if len(words) != 5 or words[3] != "state":
                term.write("Error: Invalid command or keyword - "
                           f"{line.split()[3] if len(words) > 3 else 'port'}\n")
                continue
            if not words[2].isdigit() or int(words[2]) >= n_ports:
                term.write(f"Error: Invalid port number - {words[2]}\n")
                continue
            if words[4] not in STATES:
                term.write(f"Error: Invalid command or keyword - {line.split()[4]}\n")
                continue
            if not admin:
                term.write("Error: Admin mode required\n")
                continue
            with state.locked() as st:
                st["ports"][words[2]] = STATES[words[4]]
            continue
        term.write(f"Error: Invalid command or keyword - {line.split()[0]}\n")


if __name__ == "__main__":
    emulib.run(main)
