#!/usr/bin/env python3
"""Eaton ePDU G3 emulator: the network management module's command line over ssh.

Device
  Eaton's G3 ePDUs (switched and managed, network module EMAB03/EMAB04, firmware 4.x) have
  an ssh/telnet/serial command line whose prompt names the PDU in a daisy chain:
  "pdu#0>" for the first (master) unit. Data are read and written as object paths of
  Eaton's data model with `get` and `set`; outlets are numbered from 1.

Flavours (EMU_FLAVOUR)
  g3  (default) one ePDU, 8 switched outlets, firmware 04.02.0001.

Login
  ssh: sshd has logged the user in. telnet (EMU_LOGIN=1): telnet negotiation, "Enter Login: ",
  "Enter Password: " (not echoed); a wrong pair prints "Login failed" and asks again; the
  third failure disconnects. Then a short banner and the prompt "pdu#0>" (no space after).

Commands (one value or nothing per command; each reply line ends in CR LF)
  get PDU.OutletSystem.Outlet.Count                      8
  get PDU.OutletSystem.Outlet[N].iName                   web1
  get PDU.OutletSystem.Outlet[x].iName                   web1|web2|...|outlet8   (x = all)
  get PDU.OutletSystem.Outlet[N].PresentStatus.SwitchOnOff   1 (on) or 0 (off)
  set PDU.OutletSystem.Outlet[N].DelayBeforeShutdown D   switch off in D seconds (0 = now,
                                                         -1 cancels a pending switch-off)
  set PDU.OutletSystem.Outlet[N].DelayBeforeStartup D    switch on in D seconds (same)
  set PDU.OutletSystem.Outlet[N].iName NAME              rename
  `set` answers nothing on success. quit / exit / logout end the session.
  An outlet out of range or an unknown object: "Invalid object" ; a malformed line:
  "Invalid command" ; a bad value: "Invalid value" (texts ours).

Sources
  Eaton "ePDU G3 Operation Manual" (section on the command line interface: get/set of
  data-model objects, PDU.OutletSystem.Outlet[n] objects, DelayBeforeShutdown /
  DelayBeforeStartup with 0 = immediate and -1 = cancel, pdu#0> prompt); and the behaviour
  upstream fence-agents' fence_eaton_ssh (added in 4.13; not in Debian's 4.12.1) expects:
  prompt "pdu#0>", replies of exactly one line between the echoed command and the prompt,
  SwitchOnOff 0/1, DelayBeforeShutdown/DelayBeforeStartup 0, "quit".
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emulib  # noqa: E402




NAMES = ["web1", "web2", "db1", "db2", "nas1", "nas2", "spare", "outlet8"]
INITIAL_ON = [True, True, False, True, False, False, True, False]
STATE = emulib.State({"outlets": {str(i + 1): {"on": on, "name": NAMES[i], "events": []}
                                  for i, on in enumerate(INITIAL_ON)}})
OBJ = re.compile(r"^PDU\.OutletSystem\.Outlet\[(\d+|x)\]\.(.+)$", re.IGNORECASE)


def current(o):
    on = o["on"]
    for at, then in sorted(o["events"]):
        if time.time() >= at:
            on = then
    return on


def settle(o):
    """Apply the due switchings for good; keep the pending ones."""
    now = time.time()
    for at, then in sorted(o["events"]):
        if now >= at:
            o["on"] = then
    o["events"] = [e for e in o["events"] if e[0] > now]


def get(path):
    data = STATE.read()["outlets"]
    if path.lower() == "pdu.outletsystem.outlet.count":
        return str(len(data))
    m = OBJ.match(path)
    if not m:
        return "Invalid object"
    idx, prop = m.group(1), m.group(2).lower()
    ids = [str(i) for i in range(1, len(data) + 1)] if idx == "x" else [idx]
    if any(i not in data for i in ids):
        return "Invalid object"
    if prop == "iname":
        return "|".join(data[i]["name"] for i in ids)
    if prop == "presentstatus.switchonoff":
        return "|".join("1" if current(data[i]) else "0" for i in ids)
    return "Invalid object"


def set_(path, value):
    m = OBJ.match(path)
    if not m or m.group(1) == "x":
        return "Invalid object"
    idx, prop = m.group(1), m.group(2).lower()
    with STATE.locked() as data:
        o = data["outlets"].get(idx)
        if o is None:
            return "Invalid object"
        if prop == "iname":
            o["name"] = value
            return None
        if prop not in ("delaybeforeshutdown", "delaybeforestartup"):
            return "Invalid object"
        try:
            delay = int(value)
        except ValueError:
            return "Invalid value"
        if delay < -1:
            return "Invalid value"
        on = prop == "delaybeforestartup"
        settle(o)
        o["events"] = [e for e in o["events"] if e[1] != on]  # replaces a pending one
        if delay == 0:
            o["on"] = on
        elif delay > 0:
            o["events"].append([time.time() + delay, on])
    return None


def do_login(term):
    if not term.telnet:
        return
    want = (os.environ.get("EMU_USER", ""), os.environ.get("EMU_PASSWORD", ""))
    for _ in range(3):
        user = term.ask("\nEnter Login: ").strip()
        password = term.ask("Enter Password: ", echo=False)
        term.write("\n")
        if (user, password) == want:
            return
        term.write("Login failed\n")
    raise emulib.Hangup()


def main(term):
    do_login(term)
    term.write("\nWelcome to Eaton ePDU G3 CLI - firmware 04.02.0001\n\n")
    while True:
        words = term.ask("pdu#0>").split()
        if not words:
            continue
        cmd = words[0].lower()
        if cmd == "get" and len(words) == 2:
            term.write(get(words[1]) + "\n")
        elif cmd == "set" and len(words) == 3:
            err = set_(words[1], words[2])
            if err:
                term.write(err + "\n")
        elif cmd in ("quit", "exit", "logout"):
            return
        else:
            term.write("Invalid command\n")


if __name__ == "__main__":
    emulib.run(main)
