#!/usr/bin/env python3
"""Hitachi Compute Blade 320 (CB320) management module (SVP), as fence_hds_cb drives it: a menu
console where the System Command Mode's PC (partition control) screen shows and switches the
power of each partition (one server blade each).

Flavours (EMU_FLAVOUR): cb320 (default) firmware A0300-E-6617 (the one fence_hds_cb names),
10 slots, partitions 0-5 installed; cb320-full: all 10 partitions installed.

Login:
  * telnet (EMU_LOGIN=1): telnet options, "login : " (user) and "password : " (not echoed); a
    wrong pair prints "Login incorrect." and asks again; 3 failures close the connection.
  * ssh: OpenSSH does the login; the session starts at the main menu.

Screens (lines end in CR LF; input is echoed; every menu prompt ends with "(...) :"):
  main menu          "** CB320 SVP console **", the choices S (System command mode), E (Event
                     log), X (Exit), prompt "Select (S,E,X) :"
  S                  System Command Mode: "SVP>" prompt; commands PC, HELP, EX (back to the
                     main menu); anything else "Invalid command."
  PC                 the partition table, then its prompt:
                       P Power        Condition     LID lamp Mode  Auto power on
                       0 On           Normal        Off      Basic Synchronized
                       2 Off          Normal        Off      Basic Synchronized
                     "Select (P:Power control, Q:Quit) :"
  P (in PC)          power control: P (power on), F (forced power off), H (hard reset),
                     Q (back to PC); prompt "Select (P,F,H,Q) :"
  P/F/H              "Input partition number (0-9) :"; a partition that is not installed:
                     "Partition N is not installed." and the power control prompt again
  partition number   "Power on partition N. OK? (Y/N) :" (or "Forced power off", "Hard
                     reset"); Y does it and prints "Completed. Hit enter key."; N "Canceled.
                     Hit enter key."; powering on a partition that is on (or off one that is
                     off) prints "Partition N is already powered on. Hit enter key."
  Enter              back to the power control prompt
  Q                  back to the PC table (from power control), to "SVP>" (from PC)
  X (main menu)      ends the session

State (EMU_STATE): {"power": {"N": "On"|"Off"}}; partitions 2 and 4 start off.

Sources: Hitachi "Compute Blade 320 User's Guide" / "System Console Operation Guide" (SVP
System Command Mode, PC command, power control menu); behaviour Debian's fence_hds_cb
(fence-agents 4.12.1) expects: telnet by default, the menu prompt regex "\\) :", "SVP>" after S and
Q, "Hit enter key." after Y, and the PC table rows "^N Power Condition LID Mode Auto..." (6
fields). The menu wording is ours, shaped by what the agent matches; not captured from a device.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emulib import State, Hangup, login  # noqa: E402
import emulib  # noqa: E402



MAIN = ("\n** CB320 SVP console **  (A0300-E-6617)\n\n"
        "  S : System command mode\n"
        "  E : Event log display\n"
        "  X : Exit\n\n")
ACTIONS = {"p": ("Power on", "On"), "f": ("Forced power off", "Off"), "h": ("Hard reset", None)}


def pc_table(term, power, installed):
    rows = ["", "P Power        Condition     LID lamp Mode  Auto power on"]
    for n in installed:
        rows.append(f"{n} {power.get(str(n), 'On'):<12} Normal        Off      Basic Synchronized")
    term.write("\n".join(rows) + "\n\n")


def power_control(term, state, installed):
    """The power control menu; returns when the user quits it (Q)."""
    while True:
        choice = term.ask("Power control\n  P : Power on\n  F : Forced power off\n"
                          "  H : Hard reset\n  Q : Quit\nSelect (P,F,H,Q) :").strip().lower()
        if choice == "q":
            return
        if choice not in ACTIONS:
            term.write("Invalid input.\n")
            continue
        label, target = ACTIONS[choice]
        part = term.ask("Input partition number (0-9) :").strip()
        if not part.isdigit() or int(part) not in installed:
            term.write(f"Partition {part} is not installed.\n")
            continue
        answer = term.ask(f"{label} partition {part}. OK? (Y/N) :").strip().lower()
        if answer != "y":
            term.ask("Canceled. Hit enter key.")
            continue
        with state.locked() as st:
            cur = st["power"].get(part, "On")
            if target is not None and cur == target:
                msg = f"Partition {part} is already powered {target.lower()}. Hit enter key."
            else:
                if target is not None:
                    st["power"][part] = target
                elif cur == "Off":
                    st["power"][part] = "Off"
                msg = "Completed. Hit enter key."
        term.ask(msg)


def system_command_mode(term, state, installed):
    """SVP> commands; returns on EX."""
    while True:
        cmd = term.ask("SVP>").strip().upper()
        if not cmd:
            continue
        if cmd == "EX":
            return
        if cmd == "HELP":
            term.write("PC : Partition control\nEX : Exit to main menu\n")
        elif cmd == "PC":
            while True:
                pc_table(term, state.read()["power"], installed)
                choice = term.ask("Select (P:Power control, Q:Quit) :").strip().lower()
                if choice == "q":
                    break
                if choice == "p":
                    power_control(term, state, installed)
                elif choice:
                    term.write("Invalid input.\n")
        else:
            term.write("Invalid command.\n")


def main(term):
    flavour = os.environ.get("EMU_FLAVOUR", "cb320")
    installed = list(range(10)) if flavour == "cb320-full" else list(range(6))
    state = State({"power": {"2": "Off", "4": "Off"}})
    login(term, "login : ", "password : ", "Login incorrect.\n")
    while True:
        term.write(MAIN)
        choice = term.ask("Select (S,E,X) :").strip().lower()
        if choice == "x":
            return
        if choice == "s":
            system_command_mode(term, state, installed)
        elif choice == "e":
            term.ask("No event.\nHit enter key.")
        elif choice:
            term.write("Invalid input.\n")


if __name__ == "__main__":
    emulib.run(main)
