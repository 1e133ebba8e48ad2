#!/usr/bin/env python3
"""Dell remote access controllers: DRAC 5, iDRAC (SM-CLP shell), the M1000e chassis CMC and the
old DRAC III/4 shell, as the fence agents fence_drac5 and fence_drac meet them.

Flavours (EMU_FLAVOUR):
  drac5  (default) DRAC 5 on a PowerEdge rack server. One server. Shell prompt "$ ".
         After login it prints who it is, then the prompt:
             Dell Remote Access Controller 5 (DRAC 5)
             Firmware Version 1.45 (Build 09.01.16)
             Type "racadm help" to get racadm subcommands. Type "smclp" to invoke SMCLP interface.
  idrac  iDRAC6/7 on a PowerEdge server: the SM-CLP shell, prompt "/admin1-> ", which also runs
         racadm commands. Its banner names neither "DRAC 5" nor "CMC", so fence_drac5 assumes
         DRAC 5 commands (which are the right ones) but needs command_prompt="/admin1->".
  cmc    Chassis Management Controller of a PowerEdge M1000e blade enclosure. Prompt "$ ".
         Banner "Welcome to the CMC firmware version 4.50.A00.201407221536". Sixteen server slots,
         slots 1-5 populated (server-1 ON, server-2 OFF, server-3 ON, server-4 OFF, server-5 ON),
         the others empty. Commands take "-m server-N" (module names in any letter case).
  drac4  DRAC III / DRAC 4/I (fence_drac): telnet only, racadm subcommands typed bare at a
         prompt "[USER]# " that carries the login name. One server. Its telnet greeting names
         the card in parentheses, "(DRAC 4/I)", before "Login: ".
  dracmc DRAC/MC of a PowerEdge 1855/1955 blade chassis (fence_drac5 "DRAC MC"): telnet,
         prompt "DRAC/MC:" (no space), modules chassis, switch-1/2 and ten server slots,
         server-1 ON, server-2 OFF, server-3 ON, server-4 OFF, the rest not present.

Login: over SSH, sshd has logged the user in (the account's ForceCommand runs this program) and
the device prints its banner and prompt. Over telnet (EMU_LOGIN=1) the controller asks
"login: " (drac4 and dracmc: "Login: ") then "Password: " (not echoed); a wrong pair prints
"Login incorrect" and asks again, three tries, then the connection is closed.

Commands (a leading "racadm" is optional on cmc, drac4 and dracmc, required on drac5/idrac,
where a bare word is not a command of the restricted shell):
  racadm serveraction [-m MODULE] powerstatus
        drac5/idrac: "Server power status: ON" (or OFF)
        cmc:         "ON" (or OFF) alone on the line
  racadm serveraction [-m MODULE] powerup|powerdown|powercycle|hardreset|graceshutdown
        "Server power operation successful"; powerup of a server that is on gives
        "ERROR: Server is already powered ON.", powerdown/graceshutdown/hardreset of one that is
        off "ERROR: Server is already powered OFF."
  racadm getmodinfo  (cmc; also typed bare, as fence_drac5 sends it)
        a table <module> <presence> <pwrState> <health> <svcTag> listing the chassis, fans,
        power supplies, CMCs, I/O switches and all sixteen server slots (empty ones "Not Present").
  getmodinfo (drac4, dracmc): the older table, header
        "#<group>     <module>    <presence>  <pwrState>  <health>  <svcTag>" and rows like
        " 1  ---->     chassis     Present     ON          Normal    CQXYV61" (drac4: the one
        "server" row; dracmc: chassis, switches, server-1..10, absent ones "Not Present N/A").
  serveraction [-d 0] [-m|-s MODULE] ACTION (drac4, dracmc): answers "OK" instead of the
        DRAC 5 text; dracmc needs a server module.
  racadm getsysinfo   a short system summary (the power state among it)
  racadm help, help   the subcommands
  exit, quit, logout  ends the session
Errors: an unknown racadm subcommand "ERROR: Invalid subcommand specified."; on cmc a module
that does not exist "ERROR: Invalid module: NAME", an empty slot "ERROR: Server in slot N is not
present."; a serveraction on cmc without -m "ERROR: The -m option is required for this
subcommand."; an unknown word at the prompt "ERROR: Invalid command: WORD" (drac5/cmc/drac4) or
the SM-CLP "COMMAND STATUS: FAILED" block (idrac).

Sources (the vendor guides are named for what they document; their wording was not re-read
for this file, while the agents' side was checked by running them, see prove-dellibm.sh):
Dell "Dell Remote Access Controller 5 Firmware Version 1.45 User's Guide" (racadm
serveraction, getsysinfo, the SSH/telnet banners); "Integrated Dell Remote Access Controller 6
(iDRAC6) Version 1.x User Guide" (SM-CLP /admin1-> prompt, racadm from SM-CLP); "Dell Chassis
Management Controller Firmware Version 4.5 RACADM Command Line Reference Guide" (serveraction -m,
getmodinfo columns); the older fence_drac Perl agent of Red Hat's cluster suite (tested on
DRAC III/XT, DRAC/MC and DRAC 4/I), which shows those cards' "Login: " prompt, the card name
in parentheses in the greeting, the "#<group> ... ---->" getmodinfo table and "OK" as the
serveraction answer; and the behaviour Debian's fence_drac5 and fence_drac (fence-agents 4.12.1)
expect: the prompt regexes "\\$", "DRAC\\/MC:" and "\\[USER\\]# ", the status regex
"(^|: )(ON|OFF|Powering ON|Powering OFF)\\s*$", the getmodinfo line regexes
"^([^\\s]*?)\\s+Present\\s*(ON|OFF)" (CMC) and "^\\s*([^\\s]*)\\s*---->\\s*(.*?)\\s+Present\\s*(ON|OFF)"
(DRAC/MC) and, for DRAC 4, "\\s+(on|off)\\s+".
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emulib import Hangup, State, login, run  # noqa: E402



FLAVOUR = os.environ.get("EMU_FLAVOUR", "drac5")
if FLAVOUR not in ("drac5", "idrac", "cmc", "drac4", "dracmc"):
    sys.exit("drac.py: unknown EMU_FLAVOUR %r" % FLAVOUR)

BANNERS = {
    "drac5": "Dell Remote Access Controller 5 (DRAC 5)\n"
             "Firmware Version 1.45 (Build 09.01.16)\n"
             'Type "racadm help" to get racadm subcommands. Type "smclp" to invoke SMCLP interface.\n\n',
    "idrac": "Integrated Dell Remote Access Controller 6 - Enterprise\n"
             "Firmware Version 1.97 (Build 15)\n\n",
    "cmc": "Welcome to the CMC firmware version 4.50.A00.201407221536\n\n",
    "drac4": "Dell Remote Access Controller 4/I\n"
             "Firmware Version 1.75 (Build 08.12)\n\n",
    "dracmc": "Dell Remote Access Controller/Modular Chassis\n"
              "Firmware Version 1.3 (Build 06.12)\n\n",
}
TELNET_GREETING = {
    "drac5": "\nDell Remote Access Controller 5 (DRAC 5)\n\n",
    "idrac": "\nIntegrated Dell Remote Access Controller 6\n\n",
    "cmc": "\nDell Chassis Management Controller (CMC)\n\n",
    "drac4": "\nDell Remote Access Controller 4/I (DRAC 4/I)\n\n",
    "dracmc": "\nDell Remote Access Controller/Modular Chassis (DRAC/MC)\n\n",
}

SLOTS = 16
POPULATED = {1: ("ON", "7XK2M4J"), 2: ("OFF", "7XK2M4K"), 3: ("ON", "8B1CQ2L"),
             4: ("OFF", "8B1CQ2M"), 5: ("ON", "9D7HX3A")}

MC_SLOTS = 10
MC_POPULATED = {1: ("ON", "5QRT81J"), 2: ("OFF", "5QRT81K"), 3: ("ON", "6HZW02A"), 4: ("OFF", "6HZW02B")}
CHASSIS = FLAVOUR in ("cmc", "dracmc")
if FLAVOUR == "dracmc":
    SLOTS, POPULATED = MC_SLOTS, MC_POPULATED
if CHASSIS:
    INITIAL = {"servers": {"server-%d" % n: p for n, (p, _) in POPULATED.items()}}
else:
    INITIAL = {"servers": {"system": "ON"}}

state = State(INITIAL)

OK = "Server power operation successful"
ACTIONS = ("powerstatus", "powerup", "powerdown", "powercycle", "hardreset", "graceshutdown")


def module_key(name):
    """A -m argument to a state key, or an error text."""
    n = name.lower()
    if n.startswith("server-") and n[7:].isdigit():
        slot = int(n[7:])
        if 1 <= slot <= SLOTS:
            if slot not in POPULATED:
                return None, "ERROR: Server in slot %d is not present." % slot
            return n, None
    if n in ("chassis", "switch-1", "switch-2", "switch-3", "switch-4", "switch-5", "switch-6"):
        return None, "ERROR: This operation is not supported on module %s." % name
    return None, "ERROR: Invalid module: %s" % name


def serveraction(args):
    module = None
    rest = []
    i = 0
    while i < len(args):
        if args[i] in ("-m", "-s") and i + 1 < len(args):   # -s: DRAC/MC, as fence_drac5 sends it
            module = args[i + 1]
            i += 2
        elif args[i] == "-d" and i + 1 < len(args):   # DRAC 4: "-d 0", the only server
            i += 2
        else:
            rest.append(args[i])
            i += 1
    if len(rest) != 1 or rest[0].lower() not in ACTIONS:
        return "ERROR: Invalid syntax.\nUsage: racadm serveraction [-m <module>] <action>\n" \
               "  <action>: powerstatus | powerup | powerdown | powercycle | hardreset | graceshutdown"
    action = rest[0].lower()
    if CHASSIS:
        if module is None:
            return "ERROR: The -m option is required for this subcommand."
        key, err = module_key(module)
        if err:
            return err
    else:
        if module is not None:
            return "ERROR: The -m option is not supported on this system."
        key = "system"
    if action == "powerstatus":
        power = state.read()["servers"][key]
        if CHASSIS:
            return power
        return "Server power status: %s" % power
    with state.locked() as data:
        power = data["servers"][key]
        if action == "powerup":
            if power == "ON":
                return "ERROR: Server is already powered ON."
            data["servers"][key] = "ON"
        elif action in ("powerdown", "graceshutdown"):
            if power == "OFF":
                return "ERROR: Server is already powered OFF."
            data["servers"][key] = "OFF"
        elif action == "hardreset":
            if power == "OFF":
                return "ERROR: Server is already powered OFF."
        elif action == "powercycle":
            data["servers"][key] = "ON"
    return "OK" if FLAVOUR in ("drac4", "dracmc") else OK


def getmodinfo_old():
    """The DRAC III/4 and DRAC/MC table: group number, an arrow, the module."""
    servers = state.read()["servers"]
    row = " %-3s---->     %-12s%-12s%-12s%-10s%s"
    lines = ["#<group>     <module>    <presence>  <pwrState>  <health>  <svcTag>"]
    if FLAVOUR == "drac4":
        lines.append(row % (1, "server", "Present", servers["system"], "Normal", "4JKX2L1"))
        return "\n".join(lines)
    lines.append(row % (1, "chassis", "Present", "ON", "Normal", "CQXYV61"))
    lines.append(row % (2, "switch-1", "Present", "ON", "Normal", "N/A"))
    lines.append(row % (3, "switch-2", "Not Present", "N/A", "N/A", "N/A"))
    for n in range(1, SLOTS + 1):
        if n in POPULATED:
            lines.append(row % (3 + n, "server-%d" % n, "Present", servers["server-%d" % n],
                                "Normal", POPULATED[n][1]))
        else:
            lines.append(row % (3 + n, "server-%d" % n, "Not Present", "N/A", "N/A", "N/A"))
    return "\n".join(lines)


def getmodinfo():
    if FLAVOUR in ("drac4", "dracmc"):
        return getmodinfo_old()
    servers = state.read()["servers"]
    row = "%-16s%-16s%-16s%-16s%s"
    lines = [row % ("<module>", "<presence>", "<pwrState>", "<health>", "<svcTag>")]
    if FLAVOUR != "cmc":
        lines.append(row % ("System", "Present", servers["system"], "OK", "4JKX2L1"))
        return "\n".join(lines)
    lines.append(row % ("Chassis", "Present", "ON", "OK", "CH4X9Z1"))
    for n in range(1, 10):
        lines.append(row % ("Fan-%d" % n, "Present", "ON", "OK", "N/A"))
    for n in range(1, 7):
        lines.append(row % ("PS-%d" % n, "Present", "Online", "OK", "N/A"))
    lines.append(row % ("CMC-1", "Present", "Primary", "OK", "N/A"))
    lines.append(row % ("CMC-2", "Not Present", "N/A", "N/A", "N/A"))
    lines.append(row % ("Switch-1", "Present", "ON", "OK", "N/A"))
    lines.append(row % ("Switch-2", "Present", "ON", "OK", "N/A"))
    for n in range(3, 7):
        lines.append(row % ("Switch-%d" % n, "Not Present", "N/A", "N/A", "N/A"))
    for n in range(1, SLOTS + 1):
        if n in POPULATED:
            lines.append(row % ("Server-%d" % n, "Present", servers["server-%d" % n], "OK",
                                POPULATED[n][1]))
        else:
            lines.append(row % ("Server-%d" % n, "Not Present", "N/A", "N/A", "N/A"))
    return "\n".join(lines)


def getsysinfo():
    servers = state.read()["servers"]
    if FLAVOUR == "dracmc":
        return ("RAC Information:\nFirmware Version        = 1.3\n\nChassis Information:\n"
                "System Model            = PowerEdge 1855\nService Tag             = CQXYV61")
    if CHASSIS:
        return ("CMC Information:\nCMC Date/Time             = Sun Dec 06 2026 01:00\n"
                "Primary CMC Version       = 4.50\nCMC Host Name             = cmc-enclosure1\n\n"
                "Chassis Information:\nSystem Model              = PowerEdge M1000e\n"
                "Service Tag               = CH4X9Z1\nPower Status              = ON")
    return ("RAC Information:\nRAC Date/Time           = Sun Dec 06 2026 01:00\n"
            "Firmware Version        = %s\n\nSystem Information:\n"
            "System Model            = PowerEdge 2950\nService Tag             = 4JKX2L1\n"
            "Power Status            = %s"
            % ({"drac5": "1.45", "idrac": "1.97", "drac4": "1.75"}[FLAVOUR], servers["system"]))


HELP = ("help              -- list the subcommands\n"
        "getmodinfo        -- module configuration and status\n"
        "getsysinfo        -- general RAC and system information\n"
        "serveraction      -- power operations on the managed server(s)")


def racadm(args):
    if not args or args[0] in ("help", "-h", "--help"):
        return HELP
    sub = args[0].lower()
    if sub == "serveraction":
        return serveraction(args[1:])
    if sub == "getsysinfo":
        return getsysinfo()
    if sub == "getmodinfo" and FLAVOUR in ("cmc", "drac4", "dracmc"):
        return getmodinfo()
    return "ERROR: Invalid subcommand specified."


SMCLP_FAILED = ("COMMAND STATUS: FAILED\nERROR TAG: COMMAND NOT RECOGNIZED\n"
                "ERROR MESSAGE: The command %s is not valid.")


def main(term):
    if term.telnet:
        term.write(TELNET_GREETING[FLAVOUR])
    user = login(term, "Login: " if FLAVOUR in ("drac4", "dracmc") else "login: ", "Password: ",
                 "Login incorrect\n\n")
    if FLAVOUR == "drac4":
        prompt = "[%s]# " % user
    elif FLAVOUR == "dracmc":
        prompt = "DRAC/MC:"
    elif FLAVOUR == "idrac":
        prompt = "/admin1-> "
    else:
        prompt = "$ "
    term.write(BANNERS[FLAVOUR])
    while True:
        words = term.ask(prompt).split()
        if not words:
            continue
        cmd = words[0].lower()
        if cmd in ("exit", "quit", "logout"):
            return
        if cmd == "racadm":
            out = racadm(words[1:])
        elif FLAVOUR in ("cmc", "drac4", "dracmc") and cmd in ("serveraction", "getmodinfo", "getsysinfo", "help"):
            out = racadm(words)
        elif FLAVOUR == "idrac":
            out = SMCLP_FAILED % words[0]
        elif cmd == "help":
            out = HELP
        else:
            out = "ERROR: Invalid command: %s" % words[0]
        term.write(out + "\n")


if __name__ == "__main__":
    run(main)
