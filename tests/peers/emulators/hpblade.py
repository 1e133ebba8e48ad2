#!/usr/bin/env python3
"""HP BladeSystem Onboard Administrator (OA) command line, as fence_hpblade sees it.

Device and flavours (EMU_FLAVOUR):
  c7000 (default)  BladeSystem c7000 enclosure, 16 device bays
  c3000            BladeSystem c3000 enclosure, 8 device bays
  superdome        Integrity Superdome X style enclosure: blades are grouped in hardware
                   partitions (nPars), powered and listed with `parstatus`,
                   `poweron partition N`, `poweroff partition N force`
The OA's name (EMU_OA_NAME, default `c7000oa`) is its prompt: `c7000oa> `, which is what
fence_hpblade's default command prompt `c7000oa>` expects.

Login.
  Over SSH, sshd has checked the password (ForceCommand) and the OA greets the user.
  Over telnet (EMU_LOGIN=1, EMU_USER / EMU_PASSWORD) the OA prints its product banner and
  asks `<oa name> login: ` and `Password: ` (not echoed); a failure prints
  `Login failed.` and asks again; after three failures the OA hangs up.
  After login: the product banner, the `Type 'HELP' ...` lines, and the prompt.
  CR, LF, CR LF, CR NUL and CR NUL LF each end one line; the OA echoes what is typed.

Commands (case-insensitive; several spaces between words are fine):
  show enclosure info         `Enclosure Information:` block; `Enclosure Type: BladeSystem
                              c7000 Enclosure G2` (c3000: `BladeSystem c3000 Enclosure`,
                              superdome: `Superdome X Enclosure`), name, part and serial
                              numbers, then the midplane block
  show server status N        `Blade #N Status:` and tab-indented `Power: On|Off`,
                              `Current Wattage used:`, `Health:`, `Unit Identification LED:`,
                              `Virtual Fan:` and the `Diagnostic Status:` table.
                              An empty bay: `Bay N is empty.`; a bay number outside
                              1..bays or not a number: `Invalid Arguments`
  show server list            table `Bay Server Name ... Serial Number Status Power UID
                              Partner`, one row per bay; an empty bay `N [Absent]`;
                              then `Totals: <n> server blades installed, <m> powered on.`
  poweron server N            `Powering on blade N.`; already on: `Blade N is already
                              powered on.`
  poweroff server N [force]   `Blade N is powering down.`; already off: `Blade N is
                              already powered off.`
  reboot server N [force]     `Blade N is rebooting.` (an off blade is powered on)
  (superdome) parstatus -P -M   one machine-readable line per partition:
                                `partition:<n>   :<name> /<STATE>  :OK  :<blades>:<name>`
              parstatus -M -p N the same line for partition N only; unknown N:
                                `Error: Partition N does not exist.`
              poweron partition N, poweroff partition N [force]
  exit, logout, quit          ends the session
  blank line                  the prompt again
  anything else               `Invalid Command.` (a known verb with wrong arguments:
                              `Invalid Arguments`)

Blades (c7000): bay 1 node1 On, 2 node2 Off, 3 node3 On, 4 empty, 5 `ProLiant BL460c
Gen8` (no host name set, so the OA shows the product name) Off, 6 node6 On with Status
Degraded, 7 node7 Off; other bays empty. c3000: bays 1-4 the same, 5-8 empty.
superdome: partition 1 `sdxpar1` active (blades 1-2), 2 `sdxpar2` down (blades 3-4),
3 `sdxpar3` active (blades 5-6).
State: EMU_STATE (JSON), shared by every session of one enclosure.

Sources: HP BladeSystem Onboard Administrator Command Line Interface User Guide (3.x/4.x:
SHOW ENCLOSURE INFO, SHOW SERVER STATUS, SHOW SERVER LIST, POWERON SERVER, POWEROFF SERVER
[FORCE], REBOOT SERVER), HP BladeSystem Onboard Administrator User Guide (login), HPE
Integrity Superdome X / Superdome 2 Onboard Administrator CLI guide (parstatus,
POWERON/POWEROFF PARTITION), and the behaviour Debian's fence_hpblade (fence-agents
4.12.1) expects. Error wording and the machine-readable parstatus line layout are ours
where the guides give no example; the layout is what fence_hpblade's regexes read.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emulib  # noqa: E402



FLAVOUR = os.environ.get("EMU_FLAVOUR", "c7000")
OA_NAME = os.environ.get("EMU_OA_NAME", "c7000oa")
BAYS = 8 if FLAVOUR == "c3000" else 16

# bay: (server name, serial, health status, initial power)
BLADES = {
    1: ("node1.example.net", "CZ3101ABC1", "OK", True),
    2: ("node2.example.net", "CZ3101ABC2", "OK", False),
    3: ("node3.example.net", "CZ3101ABC3", "OK", True),
    5: ("ProLiant BL460c Gen8", "CZ3101ABC5", "OK", False),
    6: ("node6.example.net", "CZ3101ABC6", "Degraded", True),
    7: ("node7.example.net", "CZ3101ABC7", "OK", False),
}
if FLAVOUR == "c3000":
    BLADES = {b: v for b, v in BLADES.items() if b <= 4}

# superdome partitions: number: (name, blades, initially active)
PARTITIONS = {1: ("sdxpar1", "1,2", True), 2: ("sdxpar2", "3,4", False), 3: ("sdxpar3", "5,6", True)}

ENCLOSURE_TYPE = {
    "c7000": ("BladeSystem c7000 Enclosure G2", "681844-B21"),
    "c3000": ("BladeSystem c3000 Enclosure", "437506-B21"),
    "superdome": ("Superdome X Enclosure", "AT147A"),
}


def initial_state():
    if FLAVOUR == "superdome":
        return {"partitions": {str(p): v[2] for p, v in PARTITIONS.items()}}
    return {"blades": {str(b): v[3] for b, v in BLADES.items()}}


STATE = emulib.State(initial_state())

BANNER = ("\nHP BladeSystem Onboard Administrator\n"
          "(C) Copyright 2006-2016 Hewlett Packard Enterprise Development LP\n\n")
GREETING = ("\nType 'HELP' to display a list of valid commands.\n"
            "Type 'HELP <command>' to display detailed information about a specific command.\n"
            "Type 'HELP HELP' to display more detailed information about the help system.\n\n")
INVALID_ARGS = "\nInvalid Arguments\n\n"
INVALID_CMD = "\nInvalid Command.\n\n"


def bay_arg(text):
    """The bay number of a command argument, or None if it is not a valid bay."""
    if not text.isdigit():
        return None
    bay = int(text)
    return bay if 1 <= bay <= BAYS else None


def show_enclosure_info():
    etype, part = ENCLOSURE_TYPE.get(FLAVOUR, ENCLOSURE_TYPE["c7000"])
    return ("\nEnclosure Information:\n"
            "\tEnclosure Name: Enc-Lab-1\n"
            "\tEnclosure Type: %s\n"
            "\tPart Number: %s\n"
            "\tSerial Number: CZJ3170ABC\n"
            "\tUUID: 09CZJ3170ABC\n"
            "\tAsset Tag: \n\n"
            "Midplane Information:\n"
            "\tSerial Number: CZJ3170ABC\n"
            "\tPart Number: 414048-B21\n"
            "\tSpare Part Number: 416000-001\n"
            "\tManufacturer: HP\n\n"
            "Solutions ID: 0000000000000000000000000000000000000000\n\n" % (etype, part))


DIAGNOSTICS = ["Internal Data", "Management Processor", "Thermal Warning", "Thermal Danger",
               "I/O Configuration", "Power Configuration", "Cooling", "Location",
               "Device Failure", "Device Degraded", "iLO Network", "Mezzanine Card"]


def show_server_status(arg):
    bay = bay_arg(arg)
    if bay is None:
        return INVALID_ARGS
    if bay not in BLADES:
        return "\nBay %d is empty.\n\n" % bay
    name, serial, health, _ = BLADES[bay]
    on = STATE.read()["blades"][str(bay)]
    diag = "".join("\t\t%-40s %s\n" % (d, "Degraded" if (health != "OK" and d == "Device Degraded")
                                         else "OK") for d in DIAGNOSTICS)
    return ("\nBlade #%d Status:\n"
            "\tPower: %s\n"
            "\tCurrent Wattage used: %d Watts\n"
            "\tHealth: %s\n"
            "\tUnit Identification LED: Off\n"
            "\tVirtual Fan: %d%%\n"
            "\tDiagnostic Status:\n%s\n"
            % (bay, "On" if on else "Off", 168 if on else 12, health, 31 if on else 0, diag))


def show_server_list():
    power = STATE.read()["blades"]
    rows = ["Bay Server Name                                       Serial Number   Status   Power   UID Partner",
            "--- ------------------------------------------------- --------------- -------- ------- --- -------"]
    installed = powered = 0
    for bay in range(1, BAYS + 1):
        if bay not in BLADES:
            rows.append("%3d [Absent]" % bay)
            continue
        name, serial, health, _ = BLADES[bay]
        on = power[str(bay)]
        installed += 1
        powered += on
        rows.append("%3d %-49s %-15s %-8s %-7s %-3s" % (
            bay, name, serial, health, "On" if on else "Off", "Off"))
    rows.append("Totals: %d server blades installed, %d powered on." % (installed, powered))
    return "\n" + "\n".join(rows) + "\n\n"


def power_server(verb, args):
    force = args[1:] == ["force"]
    if len(args) not in (1, 2) or (len(args) == 2 and not force):
        return INVALID_ARGS
    bay = bay_arg(args[0])
    if bay is None:
        return INVALID_ARGS
    if bay not in BLADES:
        return "\nBay %d is empty.\n\n" % bay
    with STATE.locked() as s:
        on = s["blades"][str(bay)]
        if verb == "poweron":
            if on:
                return "\nBlade %d is already powered on.\n\n" % bay
            s["blades"][str(bay)] = True
            return "\nPowering on blade %d.\n\n" % bay
        if verb == "poweroff":
            if not on:
                return "\nBlade %d is already powered off.\n\n" % bay
            s["blades"][str(bay)] = False
            return "\nBlade %d is powering down.\n\n" % bay
        s["blades"][str(bay)] = True
        return "\nBlade %d is rebooting.\n\n" % bay


def partition_line(number, active):
    name, blades, _ = PARTITIONS[number]
    return "partition:%-3d :%-8s /%-8s :OK      :%s:%s" % (
        number, "nPar", "ACTIVE" if active else "DOWN", blades, name)


def parstatus(args):
    parts = STATE.read()["partitions"]
    if args == ["-p", "-m"]:
        return "\n" + "\n".join(partition_line(p, parts[str(p)]) for p in sorted(PARTITIONS)) + "\n\n"
    if len(args) == 3 and args[:2] == ["-m", "-p"]:
        if not args[2].isdigit() or int(args[2]) not in PARTITIONS:
            return "\nError: Partition %s does not exist.\n\n" % args[2]
        p = int(args[2])
        return "\n" + partition_line(p, parts[str(p)]) + "\n\n"
    return INVALID_ARGS


def power_partition(verb, args):
    force = args[1:] == ["force"]
    if len(args) not in (1, 2) or (len(args) == 2 and not force):
        return INVALID_ARGS
    if not args[0].isdigit() or int(args[0]) not in PARTITIONS:
        return "\nError: Partition %s does not exist.\n\n" % args[0]
    p = args[0]
    with STATE.locked() as s:
        on = s["partitions"][p]
        if verb == "poweron":
            if on:
                return "\nPartition %s is already powered on.\n\n" % p
            s["partitions"][p] = True
            return "\nPowering on partition %s.\n\n" % p
        if not on:
            return "\nPartition %s is already powered off.\n\n" % p
        s["partitions"][p] = False
        return "\nPartition %s is powering down.\n\n" % p


def command(line):
    """One command line; returns (text, end_session)."""
    w = line.lower().split()
    if not w:
        return "", False
    verb, args = w[0], w[1:]
    if verb in ("exit", "logout", "quit"):
        return "\n", True
    if verb == "show" and args == ["enclosure", "info"]:
        return show_enclosure_info(), False
    if FLAVOUR == "superdome":
        if verb == "parstatus":
            return parstatus(args), False
        if verb in ("poweron", "poweroff") and args[:1] == ["partition"]:
            return power_partition(verb, args[1:]), False
    if verb == "show" and args[:2] == ["server", "status"] and len(args) == 3:
        return show_server_status(args[2]), False
    if verb == "show" and args == ["server", "list"]:
        return show_server_list(), False
    if verb in ("poweron", "poweroff", "reboot") and args[:1] == ["server"]:
        return power_server(verb, args[1:]), False
    if verb in ("show", "poweron", "poweroff", "reboot", "parstatus", "help"):
        if verb == "help":
            return ("\nexit help logout poweroff poweron quit reboot show%s\n\n"
                    % (" parstatus" if FLAVOUR == "superdome" else "")), False
        return INVALID_ARGS, False
    return INVALID_CMD, False


def main(term):
    if term.telnet:
        term.write(BANNER)
    emulib.login(term, "%s login: " % OA_NAME, "Password: ", "Login failed.\n\n")
    term.write(BANNER + GREETING)
    while True:
        term.write("%s> " % OA_NAME)
        text, done = command(term.readline())
        if text:
            term.write(text)
        if done:
            return


if __name__ == "__main__":
    emulib.run(main)
