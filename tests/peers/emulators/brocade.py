#!/usr/bin/env python3
"""Brocade Fibre Channel switch running Fabric OS (FOS), as fence_brocade drives it: a port is
"fenced" by disabling it persistently, "unfenced" by enabling it again.

Flavours (EMU_FLAVOUR):
  fos7  (default) FOS v7.4.2, a Brocade 300 (switchType 71.2), 8 ports, prompt "sw0:admin> "
  vf    FOS v8.2.1 with Virtual Fabrics on, a Brocade 6505 (switchType 118.1), 12 ports,
        prompt "sw0:FID128:admin> "
  Both print switchshow's port table in the FOS 6.x-and-later layout ("Index Port Address Media
  Speed State Proto"), the one fence_brocade's parser needs (FOS 5.x's "Area Port Media Speed State"
  table has no Address column and fence_brocade would miss its "Disabled").

Login:
  * telnet (EMU_LOGIN=1): telnet options, then "Fabric OS (sw0)", an empty line and "sw0 login: ",
    then "Password: " (not echoed). A wrong pair prints "Login incorrect" and asks again; after 3
    failures the connection is closed.
  * ssh: OpenSSH (the shared sshd recipe) does the login; the session starts at the prompt.

Prompt: "<switchname>:<user>> " (the user from the login, or $USER under sshd; EMU_PROMPT_USER
overrides). Lines end in CR LF; the device echoes. Commands are case-insensitive, as in FOS
(fence_brocade sends the mixed-case portCfgPersistentDisable).

Commands:
  switchshow                        switch summary, then the port table:
      Index Port Address Media Speed State       Proto
      ==================================================
        0   0   010000   id    N8   Online      FC  F-Port  10:00:00:00:c9:6b:21:01
        2   2   010200   id    N8   No_Light    FC  Disabled (Persistent)
        5   5   010500   id    N8   No_Light    FC  Disabled
    A disabled port has no light and its comment starts with "Disabled" ("(Persistent)" when
    disabled by portcfgpersistentdisable); an enabled port with a device attached is Online, one
    without a cable is No_Light, one without an SFP is No_Module ("--" media). No blank line
    follows the table (fence_brocade would crash on one).
  portcfgpersistentdisable N        disables port N, persistently; no output
  portcfgpersistentenable N         enables port N (and clears the persistent disable); no output
  portdisable N / portenable N      the same, not persistent
  portshow N                        portName, portHealth, portState (Online / No_Light), portFlags
                                    (with "DISABLED" or "PERSISTENT_DISABLE")
  a port number out of range        "<command>: invalid port number <N>" (nothing changes)
  a missing port argument           "Usage: <command> [slot/]port"
  exit, logout                      end the session
  anything else                     "rbash: <word>: command not found" (FOS's restricted shell)

State (EMU_STATE): {"ports": {"N": "enabled"|"disabled"|"persistent"}}. fos7 starts with port 2
persistently disabled, port 5 disabled, the others enabled; vf with ports 3 and 9 persistently
disabled.

Sources: Brocade "Fabric OS Command Reference" (53-1003108, v7.4.x: switchShow, portCfgPersistentDisable,
portCfgPersistentEnable, portDisable, portEnable, portShow) and "Fabric OS Administrator's Guide"
(v7.1/v8.2: login, Virtual Fabrics prompt); behaviour Debian's fence_brocade (fence-agents 4.12.1)
expects: telnet by default, EOL "\\n", the prompt regex "> ", a port is off when the 8th token of its
switchshow line is "Disabled". The error texts for a bad port are our reading of the guides, not
captured from a switch.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emulib import Hangup, State  # noqa: E402
import emulib  # noqa: E402



# port -> (media, attached WWN or None (no cable) or "" (no SFP), port type)
FLAVOURS = {
    "fos7": {
        "name": "sw0", "type": "71.2", "wwn": "10:00:00:05:1e:4f:2a:00", "domain": 1,
        "fid": None, "speed": "N8",
        "ports": 8,
        "attached": {0: "10:00:00:00:c9:6b:21:01", 1: "10:00:00:00:c9:6b:21:02",
                     2: "10:00:00:00:c9:6b:21:03", 3: "21:00:00:24:ff:3c:8e:14",
                     5: "21:00:00:24:ff:3c:8e:15", 6: "10:00:00:05:1e:77:10:00"},
        "eport": {6},
        "nosfp": {4, 7},
        "initial": {"2": "persistent", "5": "disabled"},
    },
    "vf": {
        "name": "sw0", "type": "118.1", "wwn": "10:00:50:eb:1a:0c:44:00", "domain": 3,
        "fid": 128, "speed": "N16",
        "ports": 12,
        "attached": {0: "10:00:00:10:9b:1d:5e:01", 1: "10:00:00:10:9b:1d:5e:02",
                     3: "10:00:00:10:9b:1d:5e:04", 4: "21:00:00:0e:1e:c2:7a:30",
                     9: "21:00:00:0e:1e:c2:7a:31"},
        "eport": set(),
        "nosfp": {10, 11},
        "initial": {"3": "persistent", "9": "persistent"},
    },
}


def own_login(term, name):
    want_user = os.environ.get("EMU_USER", "admin")
    want_password = os.environ.get("EMU_PASSWORD", "password")
    term.write(f"Fabric OS ({name})\n\n")
    for _ in range(3):
        user = term.ask(f"{name} login: ").strip()
        password = term.ask("Password: ", echo=False)
        term.write("\n")
        if user == want_user and password == want_password:
            return user
        term.write("Login incorrect\n")
    raise Hangup()


def port_line(f, n, mode):
    area = f"{f['domain']:02x}{n:02x}00"
    if n in f["nosfp"]:
        media, state, comment = "--", "No_Module", ""
    elif mode != "enabled":
        media, state = "id", "No_Light"
        comment = "Disabled (Persistent)" if mode == "persistent" else "Disabled"
    elif n in f["attached"]:
        media, state = "id", "Online"
        kind = "E-Port" if n in f["eport"] else "F-Port"
        comment = f"{kind}  {f['attached'][n]}"
        if kind == "E-Port":
            comment += ' "sw1" (upstream)'
    else:
        media, state, comment = "id", "No_Light", ""
    if n in f["nosfp"] and mode != "enabled":
        comment = "Disabled (Persistent)" if mode == "persistent" else "Disabled"
    return f"{n:3d}  {n:3d}   {area}   {media:<4}  {f['speed']}   {state:<11} FC  {comment}".rstrip()


def switchshow(term, f, ports):
    lines = [
        f"switchName:\t{f['name']}",
        f"switchType:\t{f['type']}",
        "switchState:\tOnline",
        "switchMode:\tNative",
        "switchRole:\tPrincipal",
        f"switchDomain:\t{f['domain']}",
        f"switchId:\tfffc{f['domain']:02x}",
        f"switchWwn:\t{f['wwn']}",
        "zoning:\t\tON (cfg_fence)",
        "switchBeacon:\tOFF",
    ]
    if f["fid"] is not None:
        lines.append(f"FC Router:\tOFF\nFabric Name:\tfab{f['fid']}\nAllow XISL Use:\tOFF\n"
                     f"LS Attributes:\t[FID: {f['fid']}, Base Switch: No, Default Switch: Yes, "
                     "Ficon Switch: No, Address Mode 0]")
    else:
        lines.append("FC Router:\tOFF\nAllow XISL Use:\tOFF\n"
                     "LS Attributes:\t[FID: 128, Base Switch: No, Default Switch: Yes, Address Mode 0]")
    lines += ["", "Index Port Address  Media Speed State       Proto",
              "=================================================="]
    for n in range(f["ports"]):
        lines.append(port_line(f, n, ports.get(str(n), "enabled")))
    term.write("\n".join(lines) + "\n")


def portshow(term, f, n, mode):
    if mode == "enabled":
        state = "Online" if n in f["attached"] and n not in f["nosfp"] else "No_Light"
        flags = "0x1  PRESENT ACTIVE F_PORT G_PORT U_PORT LOGICAL_ONLINE LOGIN NOELP ACCEPT" \
            if state == "Online" else "0x20041  PRESENT U_PORT LED"
    else:
        state = "No_Light"
        flags = "0x4003  PRESENT DISABLED U_PORT LED"
        if mode == "persistent":
            flags = "0x4003  PRESENT DISABLED U_PORT PERSISTENT_DISABLE LED"
    term.write(f"portIndex:   {n}\nportName: port{n}\nportHealth: HEALTHY\n\n"
               f"Authentication: None\nportDisableReason: {'None' if mode == 'enabled' else 'Disabled by user'}\n"
               f"portId:    {f['domain']:02x}{n:02x}00\nportIfId:    4302000{n % 10:x}\n"
               f"portWwn:   20:{n:02x}:00:05:1e:4f:2a:00\n"
               f"portFlags: {flags}\n"
               f"portState: {1 if state == 'Online' else 2}\t{state}\n")


def main(term):
    fname = os.environ.get("EMU_FLAVOUR", "fos7")
    f = FLAVOURS.get(fname, FLAVOURS["fos7"])
    state = State({"ports": dict(f["initial"])})
    if term.telnet:
        user = own_login(term, f["name"])
    else:
        user = os.environ.get("USER", "admin")
    user = os.environ.get("EMU_PROMPT_USER", user)
    prompt = f"{f['name']}:FID{f['fid']}:{user}> " if f["fid"] else f"{f['name']}:{user}> "
    while True:
        words = term.ask(prompt).split()
        if not words:
            continue
        cmd = words[0].lower()
        if cmd in ("exit", "logout"):
            return
        if cmd == "switchshow":
            switchshow(term, f, state.read()["ports"])
            continue
        actions = {"portcfgpersistentdisable": "persistent", "portcfgpersistentenable": "enabled",
                   "portdisable": "disabled", "portenable": "enabled", "portshow": None}
        if cmd not in actions:
            term.write(f"rbash: {words[0]}: command not found\n")
            continue
        if len(words) < 2:
            term.write(f"Usage: {words[0]} [slot/]port\n")
            continue
        arg = words[1].split("/")[-1]
        if not arg.isdigit() or int(arg) >= f["ports"]:
            term.write(f"{words[0]}: invalid port number {words[1]}\n")
            continue
        n = int(arg)
        if cmd == "portshow":
            portshow(term, f, n, state.read()["ports"].get(str(n), "enabled"))
            continue
        with state.locked() as st:
            cur = st["ports"].get(str(n), "enabled")
            new = actions[cmd]
            if cmd == "portdisable" and cur == "persistent":
                new = "persistent"
            st["ports"][str(n)] = new


if __name__ == "__main__":
    emulib.run(main)
