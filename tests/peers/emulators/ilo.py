#!/usr/bin/env python3
"""HP Integrated Lights-Out command shells, as the fence agents that log in to them see them.

Device and flavours (EMU_FLAVOUR):
  ilo3, ilo4 (default), ilo5
      ProLiant iLO 3 / iLO 4 / iLO 5 management processor, its SMASH CLP shell (the one
      `ssh user@ilo` gives). Agents: fence_ilo_ssh and its aliases fence_ilo3_ssh,
      fence_ilo4_ssh, fence_ilo5_ssh.
  mp
      Integrity iLO 2 MP (rx2660, rx3600, BL860c ...): the MP text menus (MP Main Menu,
      Command Menu) with the SMASH CLP one command away (`SMCLP`). Agent: fence_ilo_mp.
  moonshot
      Moonshot 1500 iLO Chassis Manager CLI (one chassis, cartridges of server nodes
      cXnY). Agent: fence_ilo_moonshot.

Login.
  Over SSH, sshd has checked the password (ForceCommand); the shell starts with its
  banner. Over telnet (EMU_LOGIN=1, credentials EMU_USER / EMU_PASSWORD) the device asks
  itself, three tries, then hangs up:
    ilo*      `Login: ` / `Password: `, failure `Invalid login.`. Only the iLO 2 generation
              offered telnet to the CLP; iLO 3, 4 and 5 have no telnet service at all, so
              this path stands for "the same CLP over telnet" and its words are ours.
    mp        `MP login: ` / `MP password: ` (the Integrity MP's own prompts), failure
              `Invalid Login`.
    moonshot  has no telnet here (fence_ilo_moonshot only speaks ssh).
  Passwords are not echoed; everything else is echoed by the device (emulib.Terminal).
  CR, LF, CR LF, CR NUL and CR NUL LF each end one line (fence_ilo_ssh ends its lines with a
  bare CR; a telnet client turns an agent's CR LF into CR NUL LF).
  Pacing: the line holding the power state (`enabledstate=`) is sent after a pause of
  EMU_PACE seconds (default 0.05), see paced_write().

Prompts and screens.
  ilo*      banner `User:<user> logged-in to <host>(<ip> / <ipv6>)`, the firmware line
            (`iLO 4 Standard 2.55 at  Aug 21 2017`), `Server Name:`, `Server Power: On|Off`,
            then the prompt `</>hpiLO-> ` (the CLP shows the current target between < >).
  mp        banner, the `MP MAIN MENU:` list, prompt `MP> `; `CM` enters the Command Menu,
            prompt `MP:CM> `, `MA` goes back; `SMCLP` enters the CLP, prompt `hpiLO-> `,
            whose `exit` goes back to the main menu. `X` (main menu) ends the session.
  moonshot  banner `HP Moonshot iLO Chassis Manager`, prompt `hpiLO-> `.

Commands (case-insensitive verbs; one space or several between words).
  CLP (ilo*, and mp after SMCLP). Each answer starts with `status=<n>`,
  `status_tag=<text>`, a time stamp line and a blank line, as the iLO CLP prints it:
    show /system1          the system target: Targets, Properties (`enabledstate=enabled`
                           or `enabledstate=disabled`, lower case on iLO 3/4/5;
                           `EnabledState=Enabled|Disabled` on the Integrity MP), Verbs
    show                   the current target `/`
    start /system1         power on (`Server powering on .......`)
    stop /system1          graceful power off (momentary press; the OS is assumed to
                           shut down at once), `stop -f /system1` hard power off
    reset /system1 [hard|soft], reset hard /system1: reset (`Server resetting .......`);
                           a server that is off stays off (`Server power is off`)
    power                  `power: server power is currently: On|Off`
    power on | off | off hard | reset | warm   the iLO `power` shortcut verbs
    exit                   `CLI session stopped` and the session ends (mp: back to MP>)
    anything else          status=2, `COMMAND NOT RECOGNIZED`, `Invalid command.`
    (iLO 3/4/5: `SMCLP` is not a CLP verb: fence_ilo_ssh sends it after login and gets
    the error, which it ignores.)
  Integrity MP menus:
    MP>     CO, VFP, CL, SL (not emulated: `Command not available in this emulation`),
            CM, SMCLP, HE (lists the menu again), X (ends the session)
    MP:CM>  PS (`System Power state : On|Off`), PC -on -nc, PC -off -nc, PC -cycle -nc,
            PC -reset -nc, MA (main menu), X, HE; other words: `Invalid command`
  Moonshot:
    show node list                 a table: `Slot ID    Proc Manufacturer      Architecture
                                   Memory Power Health`, a dash row, one row per node
                                   (ten words each: slot, cXnY, two-word manufacturer,
                                   two-word architecture, memory `32 GB`, On|Off, OK)
    show node power cXnY           `Cartridge #X` / `  Node #Y` / `        Power State: On|Off`
    set node power on cXnY         `cXnY: Powering on.`
    set node power off [force] cXnY  `cXnY: Powering off.`
    unknown node                   `Error: node cXnY is not present.`
    exit                           ends the session
    anything else                  `Invalid command`

Nodes (moonshot): c1n1 On, c2n1 Off, c3n1 On, c4n1 Off, c5n1 On; mp and ilo*: one
server, initially On. State: EMU_STATE (JSON), shared by every session of one device.

Sources: HP iLO 3 / iLO 4 Scripting and Command Line Guides (SMASH CLP verbs, `power`
shortcuts, status/status_tag answers, `show /system1` properties), HPE iLO 5 Scripting
and Command Line Guide, HP Integrity iLO 2 MP Operations Guide (MP login, MP Main Menu,
Command Menu PC/PS, SM CLP access via SMCLP), HP Moonshot iLO Chassis Management CLI
User Guide (`show node list`, `set node power`), and the behaviour Debian's
fence_ilo_ssh, fence_ilo_mp and fence_ilo_moonshot (fence-agents 4.12.1) expect.
Wording of banners and error texts is ours where no guide gives it.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emulib  # noqa: E402



FLAVOUR = os.environ.get("EMU_FLAVOUR", "ilo4")
HOST = os.environ.get("EMU_HOSTNAME", "ILOCZ3401ABCD.example.net")

FIRMWARE = {
    "ilo3": "iLO 3 Advanced 1.94 at  Jan 26 2018",
    "ilo4": "iLO 4 Standard 2.55 at  Aug 21 2017",
    "ilo5": "iLO 5 Advanced 2.72 at  Sep 04 2022",
}
MODEL = {"ilo3": "ProLiant DL380 G7", "ilo4": "ProLiant DL360 Gen9", "ilo5": "ProLiant DL380 Gen10"}

MOONSHOT_NODES = [
    # id, manufacturer, architecture, memory, initial power
    ("c1n1", "Intel Corporation", "x86 Architecture", "32 GB", "On"),
    ("c2n1", "Intel Corporation", "x86 Architecture", "32 GB", "Off"),
    ("c3n1", "Intel Corporation", "x86 Architecture", "64 GB", "On"),
    ("c4n1", "Intel Corporation", "x86 Architecture", "16 GB", "Off"),
    ("c5n1", "Intel Corporation", "x86 Architecture", "64 GB", "On"),
]


def initial_state():
    if FLAVOUR == "moonshot":
        return {"nodes": {n[0]: n[4] == "On" for n in MOONSHOT_NODES}}
    return {"power": True}


STATE = emulib.State(initial_state())


def words(line):
    return line.split()


# ---------------------------------------------------------------- SMASH CLP (iLO 3/4/5, MP)

def stamp():
    return time.strftime("%a %b %d %H:%M:%S %Y")


def clp_ok(body=""):
    return "status=0\nstatus_tag=COMMAND COMPLETED\n%s\n\n%s\n" % (stamp(), body)


def clp_error(tag, body):
    return "status=2\nstatus_tag=COMMAND PROCESSING FAILED\nerror_tag=%s\n%s\n\n%s\n" % (
        tag, stamp(), body)


def set_power(on):
    with STATE.locked() as s:
        was = s["power"]
        s["power"] = on
    return was


def power_is_on():
    return STATE.read()["power"]


def show_system1():
    on = power_is_on()
    if FLAVOUR == "mp":
        props = ["name=Integrity rx2660", "number=USE4711ABC",
                 "EnabledState=%s" % ("Enabled" if on else "Disabled")]
        targets = ["cpu1", "cpu2", "memory1", "oemhp_powersupply1"]
        verbs = "cd version exit show reset start stop"
    else:
        props = ["name=%s" % MODEL.get(FLAVOUR, "ProLiant"), "number=CZ3401ABCD",
                 "oemhp_server_name=node1.example.net",
                 "enabledstate=%s" % ("enabled" if on else "disabled"),
                 "processor_number=2", "oemhp_pwrmode=dynamic", "oemhp_powerreg=auto"]
        targets = ["firmware1", "bootconfig1", "log1", "led1", "network1", "oemhp_power1",
                   "cpu1", "cpu2", "memory1", "slot1", "fan1", "powersupply1", "sensor1",
                   "swid1"]
        verbs = "cd version exit show reset start stop set oemhp_rbsu"
    body = "/system1\n  Targets\n%s  Properties\n%s  Verbs\n    %s\n\n" % (
        "".join("    %s\n" % t for t in targets), "".join("    %s\n" % p for p in props), verbs)
    return clp_ok(body)


def clp_command(line):
    """One CLP command line; returns (text, end_session)."""
    w = [x.lower() for x in words(line)]
    if not w:
        return "", False
    verb, args = w[0], w[1:]
    target = [a for a in args if a.startswith("/")]
    opts = [a for a in args if not a.startswith("/")]
    system = target in (["/system1"], ["/system1/"])
    if verb == "exit":
        return clp_ok("CLI session stopped"), True
    if verb == "show" and not args:
        return clp_ok("/\n  Targets\n    system1\n    map1\n  Properties\n  Verbs\n"
                      "    cd version exit show\n\n"), False
    if verb == "show" and system and not opts:
        return show_system1(), False
    if verb == "start" and system and not opts:
        if set_power(True):
            return clp_error("COMMAND ERROR-UNSPECIFIED", "Server power already on."), False
        return clp_ok("Server powering on ......."), False
    if verb == "stop" and system and opts in ([], ["-f"], ["-force"]):
        if not set_power(False):
            return clp_error("COMMAND ERROR-UNSPECIFIED", "Server power already off."), False
        return clp_ok("Server powering off ......."), False
    if verb == "reset" and system and opts in ([], ["hard"], ["soft"], ["-f"]):
        if not power_is_on():
            return clp_error("COMMAND ERROR-UNSPECIFIED", "Server power is off."), False
        return clp_ok("Server resetting ......."), False
    if verb == "power" and not target:
        if not opts:
            return clp_ok("power: server power is currently: %s"
                          % ("On" if power_is_on() else "Off")), False
        if opts == ["on"]:
            if set_power(True):
                return clp_error("COMMAND ERROR-UNSPECIFIED", "Server power already on."), False
            return clp_ok("Server powering on ......."), False
        if opts in (["off"], ["off", "hard"]):
            if not set_power(False):
                return clp_error("COMMAND ERROR-UNSPECIFIED", "Server power already off."), False
            return clp_ok("Server powering off ......."), False
        if opts in (["reset"], ["warm"]):
            if not power_is_on():
                return clp_error("COMMAND ERROR-UNSPECIFIED", "Server power is off."), False
            return clp_ok("Server resetting ......." if opts == ["reset"]
                          else "Server warm booting ......."), False
    if verb in ("show", "start", "stop", "reset", "power", "cd", "set"):
        return clp_error("COMMAND ERROR-UNSPECIFIED", "Invalid option or target."), False
    return clp_error("COMMAND NOT RECOGNIZED", "Invalid command."), False


def paced_write(term, text, marker="enabledstate="):
    """Write an answer; the line holding the power state goes out on its own after a
    short pause. fence_ilo_ssh and fence_ilo_mp match `EnabledState=(.*)` on a stream they
    read 100 bytes at a time, so a state line cut by a read boundary would be read as a
    truncated value (`enab` -> "off"). Real iLOs print line by line; the pause makes the
    emulator's chunking deterministic so the agents' outcome does not depend on luck."""
    at = text.lower().find(marker)
    if at < 0:
        term.write(text)
        return
    start = text.rfind("\n", 0, at) + 1
    term.write(text[:start])
    time.sleep(PACE)
    term.write(text[start:])


PACE = float(os.environ.get("EMU_PACE", "0.05"))


def clp_loop(term, prompt):
    """Run the CLP until `exit`; returns True if the session ends with it."""
    while True:
        term.write(prompt)
        text, done = clp_command(term.readline())
        if text:
            paced_write(term, text)
        if done:
            return True


def ilo_main(term):
    user = emulib.login(term, "Login: ", "Password: ", "Invalid login.\n\n")
    term.write("\nUser:%s logged-in to %s(192.0.2.15 / FE80::9657:A5FF:FE12:3456)\n\n"
               % (user, HOST))
    term.write("%s\nServer Name: node1.example.net\nServer Power: %s\n\n"
               % (FIRMWARE.get(FLAVOUR, FIRMWARE["ilo4"]), "On" if power_is_on() else "Off"))
    clp_loop(term, "</>hpiLO-> ")


# ---------------------------------------------------------------- Integrity iLO 2 MP

MP_MENU = """
 MP MAIN MENU:

         CO: Console
        VFP: Virtual Front Panel
         CM: Command Menu
      SMCLP: Server Management Command Line Protocol
         CL: Console Log
         SL: Show Event Logs
         HE: Main Help Menu
          X: Exit Connection

"""


def mp_command_menu(term):
    """The MP Command Menu; returns True when the session ends (X)."""
    while True:
        term.write("\nMP:CM> ")
        w = [x.lower() for x in words(term.readline())]
        if not w:
            continue
        cmd, args = w[0], w[1:]
        if cmd == "ma":
            return False
        if cmd == "x":
            term.write("\nExiting the MP.\n")
            return True
        if cmd == "he":
            term.write("\n  PC: Remote Power Control\n  PS: Power Management Module Status\n"
                       "  MA: Return to Main Menu\n   X: Exit Connection\n")
            continue
        if cmd == "ps":
            term.write("\nPS\n\nSystem Power state : %s\n\n-> Command successful.\n"
                       % ("On" if power_is_on() else "Off"))
            continue
        if cmd == "pc":
            if "-nc" not in args:
                # The MP would ask "Confirm? (Y/[N]):"; agents always pass -nc.
                term.write("\nPC\n\n-> Confirmation required; use -nc to skip it.\n")
                continue
            op = [a for a in args if a in ("-on", "-off", "-cycle", "-reset")]
            if op == ["-on"]:
                set_power(True)
                term.write("\nPC -on -nc\n\nSystem will be powered on.\n\n-> Command successful.\n")
            elif op == ["-off"]:
                set_power(False)
                term.write("\nPC -off -nc\n\nSystem will be powered off.\n\n-> Command successful.\n")
            elif op in (["-cycle"], ["-reset"]):
                set_power(True)
                term.write("\nPC %s -nc\n\nSystem will be %s.\n\n-> Command successful.\n"
                           % (op[0], "power cycled" if op == ["-cycle"] else "reset"))
            else:
                term.write("\n-> Invalid arguments.\n")
            continue
        term.write("\nInvalid command\n")


def mp_main(term):
    emulib.login(term, "MP login: ", "MP password: ", "Invalid Login\n\n")
    term.write("\n\n    Hewlett-Packard Integrated Lights-Out 2 for Integrity\n"
               "    (C) Copyright 1999-2010 Hewlett-Packard Development Company, L.P.\n\n"
               "    MP Host Name: uxmp1\n    iLO MP Firmware Revision F.02.26\n")
    term.write(MP_MENU)
    while True:
        term.write("MP> ")
        w = [x.lower() for x in words(term.readline())]
        if not w:
            continue
        cmd = w[0]
        if cmd == "x" or cmd == "exit":
            term.write("\nExiting the MP.\n")
            return
        if cmd == "cm":
            term.write("\n\n                Enter HE to get a list of available commands\n\n"
                       "                      (Use Ctrl-B to return to MP main menu.)\n")
            if mp_command_menu(term):
                return
            term.write(MP_MENU)
            continue
        if cmd == "smclp":
            term.write("\n")
            clp_loop(term, "hpiLO-> ")
            term.write(MP_MENU)
            continue
        if cmd == "he":
            term.write(MP_MENU)
            continue
        if cmd in ("co", "vfp", "cl", "sl"):
            term.write("\nCommand not available in this emulation\n\n")
            continue
        term.write("\nInvalid command\n\n")


# ---------------------------------------------------------------- Moonshot chassis manager

def moonshot_command(line):
    w = [x.lower() for x in words(line)]
    if not w:
        return "", False
    if w == ["exit"]:
        return "", True
    if w == ["show", "node", "list"]:
        power = STATE.read()["nodes"]
        rows = ["Slot ID    Proc Manufacturer      Architecture         Memory Power Health",
                "---- ----- ---------------------- -------------------- ------ ----- ------"]
        for node, manuf, arch, mem, _ in MOONSHOT_NODES:
            rows.append(" %2s  %-5s %-22s %-20s %-6s %-5s %s" % (
                node[1:node.index("n")], node, manuf, arch, mem,
                "On" if power[node] else "Off", "OK"))
        return "\n" + "\n".join(rows) + "\n\n", False
    if len(w) == 4 and w[:3] == ["show", "node", "power"]:
        node = w[3]
        power = STATE.read()["nodes"]
        if node not in power:
            return "\nError: node %s is not present.\n\n" % node, False
        cart, num = node[1:].split("n")
        return ("\nCartridge #%s\n  Node #%s\n        Power State: %s\n\n"
                % (cart, num, "On" if power[node] else "Off")), False
    if len(w) in (5, 6) and w[:3] == ["set", "node", "power"] and w[3] in ("on", "off") \
            and (len(w) == 5 or (w[3] == "off" and w[4] == "force")):
        node = w[-1]
        with STATE.locked() as s:
            if node not in s["nodes"]:
                return "\nError: node %s is not present.\n\n" % node, False
            s["nodes"][node] = w[3] == "on"
        return "\n%s: Powering %s.\n\n" % (node, w[3]), False
    return "\nInvalid command\n\n", False


def moonshot_main(term):
    emulib.login(term, "login: ", "Password: ", "Login incorrect\n\n")
    term.write("\nHP Moonshot iLO Chassis Manager\nFirmware Version 1.56\n"
               "(C) Copyright 2013-2017 Hewlett Packard Enterprise Development LP\n\n")
    while True:
        term.write("hpiLO-> ")
        text, done = moonshot_command(term.readline())
        if text:
            term.write(text)
        if done:
            return


def main(term):
    if FLAVOUR == "mp":
        mp_main(term)
    elif FLAVOUR == "moonshot":
        moonshot_main(term)
    elif FLAVOUR in FIRMWARE:
        ilo_main(term)
    else:
        term.write("unknown EMU_FLAVOUR %r (ilo3, ilo4, ilo5, mp, moonshot)\n" % FLAVOUR)


if __name__ == "__main__":
    emulib.run(main)
