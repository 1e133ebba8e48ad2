#!/usr/bin/env python3
"""Fujitsu-Siemens PRIMERGY Remote Service Board (RSB) "Remote Manager": the numbered text menu
the board serves on telnet port 3172 (and over SSH), as fence_rsb meets it. One server.

Flavours (EMU_FLAVOUR):
  rsb  (default) the server is on at start.

Login: over telnet (EMU_LOGIN=1) the board asks "login: " and "Password: " (not echoed); a wrong
pair prints "Login incorrect" and asks again, three tries, then the connection is closed. Over
SSH, sshd has logged the user in and the main menu comes at once.

Screens. Every menu ends with the line "Enter selection or (0) to quit: ". A selection is one
key, taken as soon as it is typed (no Enter needed; the board echoes it); CR, LF and NUL between
selections are ignored, as are keys that are not on the menu (the prompt is shown again).
  Main menu         title block (board, system name), then
                      (1) System Information...      (2) Power Management...
                      (3) Enclosure Information...   (4) Service Processor...
                      (l) View System Event Log      (0) Exit
                    "0" ends the session ("Goodbye").
  (1) System Information    a few lines (model, serial, BIOS), then "Press any key to continue".
  (2) Power Management      "Power Status     : On" (or Off), then
                      (1) Immediate Power Off   (2) Immediate Reset   (3) Power Cycle
                      (4) Power On              (5) Graceful Power Off (Shutdown)
                      (6) Graceful Reset (Reboot)                     (0) Exit
                    "0" goes back to the main menu. An action asks
                    "Do you really want to power off the server? (yes/no): " (wording per
                    action: "power on", "reset", "power cycle", ...), reads a line (leading line
                    ends are skipped); "yes" does it and prints "Power Off initiated." (or the
                    like), anything else "Action cancelled."; then "Press any key to continue"
                    and one key redraws the Power Management menu. Power On of a server that
                    is on, or an off/reset of one that is off: "Server is already powered on."
                    / "Server is powered off." and "Press any key to continue".
  (3), (4), (l)             a short screen, then "Press any key to continue".

Sources (the vendor manuals are named for what they document; their wording was not re-read
for this file, while the agent's side was checked by running it, see prove-dellibm.sh):
Fujitsu Siemens Computers "Remote Service Board (RSB) User Manual" and "ServerView
Remote Management Frontend / Remote Manager" (telnet port 3172, the numbered Remote Manager
menus, the Power Management choices); and the behaviour Debian's fence_rsb (fence-agents
4.12.1) expects: the prompt regex "to quit:", "2" and "0" sent without a line end, the action
keys "1" (off) and "4" (on) sent with one, the question matched by "want to power on|off",
"yes/no" or "'yes' or 'no'", then "any key to continue", and the state regex
"Power Status[\\s]*: (on|off)" (case-insensitive).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emulib import Hangup, State, login, run  # noqa: E402




FLAVOUR = os.environ.get("EMU_FLAVOUR", "rsb")
if FLAVOUR != "rsb":
    sys.exit("rsb.py: unknown EMU_FLAVOUR %r" % FLAVOUR)

state = State({"power": "on"})
PROMPT = "Enter selection or (0) to quit: "
RULE = "-" * 64


def key(term):
    """One selection key; line ends and NULs between selections are skipped."""
    while True:
        b = term._data_byte()
        if b in (10, 13):
            continue
        if b == 3:
            raise Hangup()
        ch = chr(b)
        term.write(ch + "\n")
        return ch.lower()


# the answer line ended with CR: the LF of a CR LF pair may follow and is not a key press
after_cr = [False]


def any_key(term):
    term.write("Press any key to continue")
    b = term._data_byte()
    if b == 10 and after_cr[0]:
        b = term._data_byte()
    after_cr[0] = False
    if b == 3:
        raise Hangup()
    term.write("\n")


def answer(term):
    """A typed line (yes/no); line ends before the first character are skipped."""
    line = bytearray()
    while True:
        b = term._data_byte()
        if b in (10, 13):
            if not line:
                continue
            after_cr[0] = b == 13
            term.write("\n")
            return line.decode("latin-1").strip()
        if b in (8, 127):
            if line:
                line.pop()
                term.raw(b"\b \b")
            continue
        if b == 3:
            raise Hangup()
        line.append(b)
        term.raw(bytes([b]))


def main_menu(term):
    term.write("\n" + RULE + "\n"
               "  Fujitsu Siemens PRIMERGY Remote Service Board - Remote Manager\n"
               "  System: PRIMERGY RX600 S3          Name: node-rx600\n"
               + RULE + "\n"
               "  Main Menu\n\n"
               "  (1) System Information...\n"
               "  (2) Power Management...\n"
               "  (3) Enclosure Information...\n"
               "  (4) Service Processor...\n"
               "  (l) View System Event Log\n"
               "  (0) Exit\n\n" + PROMPT)


def power_menu(term):
    on = state.read()["power"] == "on"
    term.write("\n" + RULE + "\n  Power Management\n" + RULE + "\n"
               "  Power Status     : %s\n\n"
               "  (1) Immediate Power Off\n"
               "  (2) Immediate Reset\n"
               "  (3) Power Cycle\n"
               "  (4) Power On\n"
               "  (5) Graceful Power Off (Shutdown)\n"
               "  (6) Graceful Reset (Reboot)\n"
               "  (0) Exit\n\n" % ("On" if on else "Off") + PROMPT)


# key: (question words, done message, needs power (on/off/None), new power)
ACTIONS = {
    "1": ("power off", "Power Off initiated.", "on", "off"),
    "2": ("reset", "Reset initiated.", "on", "on"),
    "3": ("power cycle", "Power Cycle initiated.", "on", "on"),
    "4": ("power on", "Power On initiated.", "off", "on"),
    "5": ("shut down", "Graceful Shutdown initiated.", "on", "off"),
    "6": ("reboot", "Graceful Reboot initiated.", "on", "on"),
}


def power_management(term):
    power_menu(term)
    while True:
        k = key(term)
        if k == "0":
            return
        if k not in ACTIONS:
            term.write(PROMPT)
            continue
        words, done, needs, new = ACTIONS[k]
        power = state.read()["power"]
        if power != needs:
            term.write("Server is already powered on.\n" if power == "on" else "Server is powered off.\n")
        else:
            term.write("Do you really want to %s the server? (yes/no): " % words)
            if answer(term).lower() == "yes":
                with state.locked() as data:
                    data["power"] = new
                term.write(done + "\n")
            else:
                term.write("Action cancelled.\n")
        any_key(term)
        power_menu(term)


def info_screen(term, lines):
    term.write("\n" + RULE + "\n" + "\n".join("  " + x for x in lines) + "\n" + RULE + "\n")
    any_key(term)


def main(term):
    login(term, "login: ", "Password: ", "Login incorrect\n")
    main_menu(term)
    while True:
        k = key(term)
        if k == "0":
            term.write("Goodbye\n")
            return
        if k == "1":
            info_screen(term, ["System Information", "", "Model          : PRIMERGY RX600 S3",
                               "Serial Number  : YBAH004512", "BIOS Version   : 4.06 Rev. 1.08.2425"])
        elif k == "2":
            power_management(term)
        elif k == "3":
            info_screen(term, ["Enclosure Information", "", "Fans           : 6 ok",
                               "Temperatures   : 8 ok", "Power Supplies : 2 ok"])
        elif k == "4":
            info_screen(term, ["Service Processor", "", "Firmware       : RSB 2.40",
                               "IP Address     : 192.0.2.31"])
        elif k == "l":
            info_screen(term, ["System Event Log (newest first)", "",
                               "Sun Dec 06 00:12:44 2026  Power on by Remote Manager"])
        else:
            term.write(PROMPT)
            continue
        main_menu(term)


if __name__ == "__main__":
    run(main)
