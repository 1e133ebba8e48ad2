#!/usr/bin/env python3
"""Emulator of APC switched power distribution units as Debian's fence_apc drives them.

Device: an APC Switched Rack PDU (AP79xx) or MasterSwitch plus (AP9225 + AP9225EXP chain) behind a
Network Management Card. One program, several firmware generations (EMU_FLAVOUR):

  aos2   AOS 2.x numbered-menu control console (fence_apc was tested on AP7951, AOS v2.7.0).
         Device Manager lists the outlet screen directly: "3- Outlet Control/Configuration" for the
         administrator, "2- Outlet Control" for an outlet user (EMU_ROLE=outlet).
  aos3   AOS 3.x menu (AP7941, AOS v3.5.7): Device Manager -> "2- Outlet Management" ->
         "1- Outlet Control/Configuration" (administrator; the level also offers "2- Outlet Restriction")
         or "1- Outlet Control" (outlet user).
  msp    MasterSwitch plus daisy chain (AOS 3.x style menus): Device Manager lists
         "N- MasterSwitch plus N" for each unit of the chain (EMU_SWITCHES, default 2), each with its
         own outlets; its control menu numbers the actions differently (3 is Immediate Off).
  cli    command-line firmware (Rack PDU 2G, AOS v6.x): "apc>" prompt, olStatus/olOn/olOff/olReboot.
  cli10  the same command line with a two-digit major version (default "v10.2.1").
EMU_VERSION overrides the AOS version string printed in the banner (e.g. "v7.0.4", "v16.0.1").

Login: over telnet (EMU_LOGIN=1) the card asks "User Name : " then "Password  : " (the password is
not echoed); a wrong pair asks again, and the third failure closes the connection (the number of
attempts and the silent retry are our choice: the guides do not give them). Over SSH, sshd did the
login and the session starts at the banner. The telnet login is read here, not with emulib.login: see
read_key_line for the line-end problem that makes emulib's reader unusable for these agents.

Menu firmware (aos2, aos3, msp): every screen is a title rule ("------- Title ---..."), numbered
items "     N- Text", a key line and the prompt "> " on a line of its own. A number and Enter selects,
Enter alone redraws, ESC goes back one level, Ctrl-C goes straight back to the Control Console (the
top menu with "4- Logout"), which is how fence_apc leaves every screen. An unknown number redraws the
screen. Outlet lists show "     N- Name<padding>ON|OFF"; lists longer than 16 outlets (EMU_OUTLETS)
pause with "Press <ENTER> to continue...". Selecting an outlet shows its name and state; the
administrator then picks "1- Control Outlet" (an outlet user gets the control menu at once). The
control menu of a rack PDU is 1 Immediate On, 2 Immediate Off, 3 Immediate Reboot, 4-6 the delayed
ones, 7 Cancel; of a MasterSwitch plus 1 Immediate On, 2 Delayed On, 3 Immediate Off, 4 Delayed Off,
5 Immediate Reboot, 6 Delayed Reboot, 7 Cancel. An action asks "Enter 'YES' to continue or <ENTER>
to cancel : ", then reports and waits at "Press <ENTER> to continue...". "4" at the Control Console
logs out.

Command-line firmware (cli, cli10): banner, then "apc>". Commands are case-insensitive:
  olStatus <all|N|N-M|N,M|name>   "E000: Success" then one line per outlet " N: Name: On|Off"
  olOn / olOff / olReboot <same>  "E000: Success"
  ? / help                        the command list;  exit / quit / bye   "Bye." and the session ends
  anything else                   "E101: Command Not Found"; a bad or missing outlet "E102: Parameter Error"
Ctrl-C and ESC at the prompt only give a new prompt (our choice; what matters to fence_apc is that
they never print "- Logout").

Power state lives in EMU_STATE (JSON, shared by every session of one device): per switch and outlet,
name, on/off and a pending change (reboot and delayed actions end after EMU_DELAY seconds, default 3).
Outlets: 8 per switch by default (EMU_OUTLETS), outlets 3 and 6 start off.

Sources: APC "Switched Rack PDU User's Guide" (AP79xx; control console: Device Manager, Outlet
Control/Configuration, Control Outlet, the YES confirmation), APC "MasterSwitch plus User's Guide"
(AP9225/AP9225EXP; chained units, outlet user accounts), APC "Rack PDU 2G Command Line Interface
Guide" (olStatus, olOn, olOff, olReboot, the Exxx result codes); and the behaviour Debian's fence_apc
(fence-agents 4.12.1) expects: the "1- Device Manager", "Outlet Management", "Outlet
Control/Configuration", "2- Outlet Restriction" and " MasterSwitch plus" texts it keys on, the
"Press <ENTER>" and "- Logout" markers, the "\\n>" / "\\napc>" prompts and the "vN." version it reads
from the banner. Menu items the agent never selects (Phase Management, Network, System, ...) are
placeholders of ours and only show that the screens have other items.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emulib import Hangup, State, run  # noqa: E402

ESC, CTRL_C, CTRL_L = "esc", "ctrl-c", "ctrl-l"
RULE_WIDTH = 79
PAGE = 16

FLAVOURS = {
    "aos2": {"kind": "menu", "gen": 2, "aos": "v2.7.0", "app": ("Rack PDU APP", "v2.7.3"), "model": "AP7951"},
    "aos3": {"kind": "menu", "gen": 3, "aos": "v3.5.7", "app": ("Rack PDU APP", "v3.5.6"), "model": "AP7941"},
    "msp": {"kind": "menu", "gen": 3, "aos": "v3.3.3", "app": ("MasterSwitch plus APP", "v3.3.1"),
            "model": "AP9225"},
    "cli": {"kind": "cli", "aos": "v6.1.3", "app": ("RPDU 2g", "v6.1.3"), "model": "AP8941"},
    "cli10": {"kind": "cli", "aos": "v10.2.1", "app": ("RPDU 2g", "v10.2.1"), "model": "AP8941",
              "maker": ("Schneider Electric", "2023")},
}

NAMES = ["web-01", "web-02", "db-primary", "db-replica", "core switch", "spare 6", "nas", "console"]


def env_int(name, default):
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def initial_state(switches, outlets):
    def outlet(n):
        name = NAMES[n - 1] if n <= len(NAMES) else f"Outlet {n}"
        return {"name": name, "on": n not in (3, 6), "pending": None}

    return {str(s): {str(n): outlet(n) for n in range(1, outlets + 1)} for s in range(1, switches + 1)}


class Pdu:
    """The outlets of the device (all switches of a chain), read and changed under the state lock."""

    def __init__(self, switches, outlets):
        self.store = State(initial_state(switches, outlets))
        self.delay = env_int("EMU_DELAY", 3)

    @staticmethod
    def _settle(outlet, now):
        """Apply the pending steps (target state, due time) whose time has come."""
        steps = outlet.get("pending") or []
        while steps and now >= steps[0][1]:
            outlet["on"] = steps.pop(0)[0]
        outlet["pending"] = steps or None

    def outlets(self, switch):
        """{number: (name, on)} of one switch, in outlet order."""
        now = time.time()
        data = self.store.read()
        result = {}
        for key, outlet in sorted(data.get(switch, {}).items(), key=lambda kv: int(kv[0])):
            self._settle(outlet, now)
            result[int(key)] = (outlet["name"], outlet["on"])
        return result

    def act(self, switch, number, action):
        """action: on, off, reboot, delayed-on, delayed-off, delayed-reboot, cancel."""
        with self.store.locked() as data:
            outlet = data[switch][str(number)]
            now = time.time()
            self._settle(outlet, now)
            d = self.delay
            steps = {"on": (True, []), "off": (False, []), "reboot": (False, [[True, now + d]]),
                     "delayed-on": (outlet["on"], [[True, now + d]]),
                     "delayed-off": (outlet["on"], [[False, now + d]]),
                     "delayed-reboot": (outlet["on"], [[False, now + d], [True, now + 2 * d]]),
                     "cancel": (outlet["on"], [])}
            outlet["on"], pending = steps[action]
            outlet["pending"] = pending or None


def read_key_line(term, echo=True):
    """One line typed at a menu, or one of the keys that act at once (ESC, Ctrl-C, Ctrl-L).

    Read here rather than with emulib's Terminal.readline, for two reasons: that one ends the
    session on Ctrl-C and passes ESC as text, while on APC menus both are navigation keys; and it
    takes the telnet NVT line end CR NUL LF (what a telnet client in non-binary mode sends for the
    agents' "\\r\\n") as two lines, because the NUL clears its CR memory. Here a NUL is skipped
    and leaves that memory alone, so CR, LF, CR LF and CR NUL LF each end one line."""
    line = bytearray()
    while True:
        b = term._data_byte()
        if b == 0:
            continue
        if b == 10 and term.last_was_cr:
            term.last_was_cr = False
            continue
        term.last_was_cr = b == 13
        if b in (13, 10):
            if echo:
                term.raw(b"\r\n")
            return line.decode("latin-1")
        if b == 27:
            return ESC
        if b == 3:
            return CTRL_C
        if b == 12:
            return CTRL_L
        if b in (8, 127):
            if line:
                line.pop()
                if echo:
                    term.raw(b"\b \b")
            continue
        if 32 <= b < 127:
            line.append(b)
            if echo:
                term.raw(bytes([b]))


def apc_login(term, attempts=3):
    """The card's own login over telnet (see read_key_line for why not emulib.login): "User Name : ",
    "Password  : " (not echoed); a wrong pair asks again, the third closes the connection.
    Over SSH sshd did the login; returns the user name."""
    if not term.telnet:
        return os.environ.get("USER", "")
    for _ in range(attempts):
        term.write("User Name : ")
        user = read_key_line(term)
        term.write("Password  : ")
        password = read_key_line(term, echo=False)
        term.write("\n")
        if not isinstance(user, str) or not isinstance(password, str):
            continue
        if user.strip() == os.environ.get("EMU_USER", "") and password == os.environ.get("EMU_PASSWORD", ""):
            return user.strip()
    raise Hangup()


def banner_lines(flavour, version, role):
    app_name, app_version = flavour["app"]
    # cards from the Schneider Electric years print that name; the older ones APC's
    maker, year = flavour.get("maker", ("American Power Conversion", "2009"))
    user = "Administrator" if role == "admin" else "Outlet User"
    stamp = time.strftime("%m/%d/%Y"), time.strftime("%H:%M:%S")
    return [
        "",
        f"{maker:<40}Network Management Card AOS      {version}",
        f"(c) Copyright {year} All Rights Reserved  {app_name:<33}{app_version}",
        "-" * RULE_WIDTH,
        f"Name      : {'rack-pdu-' + flavour['model']:<40}Date : {stamp[0]}",
        f"Contact   : {'lab':<40}Time : {stamp[1]}",
        f"Location  : {'row 4':<40}User : {user}",
        f"Up Time   : {'12 Days 3 Hours 4 Minutes':<40}Stat : P+ N+ A+",
        "",
    ]


def rule(title):
    head = f"------- {title} "
    return head + "-" * max(3, RULE_WIDTH - len(head))


class Menu:
    """The numbered-menu control console of AOS 2.x/3.x and the MasterSwitch plus."""

    RACK_ACTIONS = [("Immediate On", "on"), ("Immediate Off", "off"), ("Immediate Reboot", "reboot"),
                    ("Delayed On", "delayed-on"), ("Delayed Off", "delayed-off"),
                    ("Delayed Reboot", "delayed-reboot"), ("Cancel", "cancel")]
    MSP_ACTIONS = [("Immediate On", "on"), ("Delayed On", "delayed-on"), ("Immediate Off", "off"),
                   ("Delayed Off", "delayed-off"), ("Immediate Reboot", "reboot"),
                   ("Delayed Reboot", "delayed-reboot"), ("Cancel", "cancel")]
    DESCRIBE = {"on": "turn the outlet on", "off": "turn the outlet off",
                "reboot": "turn the outlet off, then on again after its reboot duration",
                "delayed-on": "turn the outlet on after its power on delay",
                "delayed-off": "turn the outlet off after its power off delay",
                "delayed-reboot": "turn the outlet off after its power off delay, then on again",
                "cancel": "cancel every pending command of the outlet"}

    def __init__(self, term, name, flavour, role, pdu):
        self.term, self.name, self.flavour, self.role, self.pdu = term, name, flavour, role, pdu
        self.chain = name == "msp"
        self.admin = role == "admin"
        self.switches = env_int("EMU_SWITCHES", 2) if self.chain else 1

    # --- drawing ---------------------------------------------------------------------------
    def draw(self, title, body, items, keys="<ESC>- Back, <ENTER>- Refresh, <CTRL-L>- Event Log"):
        lines = ["", rule(title), ""] + body
        lines += [f"     {n}- {text}" for n, text in items]
        lines += ["", f"     {keys}"]
        self.term.write("\n".join(lines) + "\n> ")

    def control_console(self):
        self.draw("Control Console", [], [(1, "Device Manager"), (2, "Network"), (3, "System"), (4, "Logout")],
                  "<ESC>- Main Menu, <ENTER>- Refresh, <CTRL-L>- Event Log")

    def device_manager_items(self):
        if self.chain:
            return [(s, f"MasterSwitch plus {s}") for s in range(1, self.switches + 1)]
        if self.flavour["gen"] == 3:
            return [(1, "Phase Management"), (2, "Outlet Management"), (3, "Power Supply Status")]
        if self.admin:
            return [(1, "Phase Management"), (2, "Outlet Restriction Configuration"),
                    (3, "Outlet Control/Configuration"), (4, "Power Supply Status")]
        return [(1, "Phase Management"), (2, "Outlet Control")]

    def outlet_management_items(self):
        if self.admin:
            return [(1, "Outlet Control/Configuration"), (2, "Outlet Restriction"), (3, "Outlet Groups")]
        return [(1, "Outlet Control")]

    def list_title(self, switch):
        if self.chain:
            return f"MasterSwitch plus {switch}"
        return "Outlet Control/Configuration" if self.admin else "Outlet Control"

    def draw_list(self, switch):
        """The outlet list; a long one pauses after a page. Returns a key typed at the pause."""
        outlets = self.pdu.outlets(switch)
        lines = [f"     {n}- {name:<24}{'ON' if on else 'OFF'}" for n, (name, on) in outlets.items()]
        if self.admin and not self.chain:
            lines.append(f"     {len(outlets) + 1}- Master Control/Configuration")
        self.term.write("\n".join(["", rule(self.list_title(switch)), ""]) + "\n")
        while len(lines) > PAGE:
            self.term.write("\n".join(lines[:PAGE]) + "\n\n     Press <ENTER> to continue...")
            lines = lines[PAGE:]
            key = read_key_line(self.term)
            if key in (ESC, CTRL_C):
                return key
            self.term.write("\n")
        keys = "<ESC>- Back, <ENTER>- Refresh, <CTRL-L>- Event Log"
        self.term.write("\n".join(lines + ["", f"     {keys}"]) + "\n> ")
        return None

    def outlet_body(self, switch, number):
        name, on = self.pdu.outlets(switch)[number]
        return [f"        Name         : {name}", f"        Outlet       : {number}",
                f"        State        : {'ON' if on else 'OFF'}", ""]

    def actions(self):
        return self.MSP_ACTIONS if self.chain else self.RACK_ACTIONS

    # --- screens: each returns the screen to show next -----------------------------------------
    def run(self):
        stack = [("main",)]
        while True:
            screen = stack[-1]
            key = self.show(screen)
            if key is None:
                key = read_key_line(self.term)
            if key == CTRL_C:
                stack = [("main",)]
            elif key == ESC:
                if len(stack) > 1:
                    stack.pop()
            elif key in (CTRL_L, ""):
                continue
            else:
                nxt = self.select(screen, key.strip())
                if nxt == "logout":
                    self.term.write("\nConnection Closed - Bye\n")
                    return
                if nxt is not None and nxt != screen:
                    stack.append(nxt)

    def show(self, screen):
        """Draw a screen; returns a key already typed (at a page pause), else None."""
        kind = screen[0]
        if kind == "main":
            self.control_console()
        elif kind == "devmgr":
            self.draw("Device Manager", [], self.device_manager_items())
        elif kind == "outletmgmt":
            self.draw("Outlet Management", [], self.outlet_management_items())
        elif kind == "list":
            return self.draw_list(screen[1])
        elif kind == "outlet":
            self.draw(f"Outlet {screen[2]}", self.outlet_body(screen[1], screen[2]),
                      [(1, "Control Outlet"), (2, "Configure Outlet")],
                      "?- Help, <ESC>- Back, <ENTER>- Refresh, <CTRL-L>- Event Log")
        elif kind == "control":
            items = [(i + 1, text) for i, (text, _) in enumerate(self.actions())]
            self.draw("Control Outlet", self.outlet_body(screen[1], screen[2]), items,
                      "?- Help, <ESC>- Back, <ENTER>- Refresh, <CTRL-L>- Event Log")
        elif kind == "configure":
            body = self.outlet_body(screen[1], screen[2])[:2] + [
                "        Power On Delay   : 0 sec", "        Power Off Delay  : 0 sec",
                "        Reboot Duration  : 5 sec", ""]
            self.draw("Configure Outlet", body, [])
        else:
            self.draw(kind.capitalize(), ["        (not emulated)", ""], [])
        return None

    def select(self, screen, choice):
        if not choice.isdigit():
            return None
        n, kind = int(choice), screen[0]
        if kind == "main":
            return {1: ("devmgr",), 2: ("network",), 3: ("system",), 4: "logout"}.get(n)
        if kind == "devmgr":
            return self.select_device_manager(n)
        if kind == "outletmgmt":
            return ("list", "1") if n == 1 else None
        if kind == "list":
            if n in self.pdu.outlets(screen[1]):
                return ("outlet" if self.admin or self.chain else "control", screen[1], n)
            return None
        if kind == "outlet":
            return {1: ("control", screen[1], screen[2]), 2: ("configure", screen[1], screen[2])}.get(n)
        if kind == "control" and 1 <= n <= len(self.actions()):
            return self.confirm(screen[1], screen[2], self.actions()[n - 1])
        return None

    def select_device_manager(self, n):
        if self.chain:
            return ("list", str(n)) if 1 <= n <= self.switches else None
        if self.flavour["gen"] == 3:
            return ("outletmgmt",) if n == 2 else None
        wanted = 3 if self.admin else 2
        return ("list", "1") if n == wanted else None

    def confirm(self, switch, number, action):
        """The YES confirmation of a control action; stays on the control screen afterwards."""
        text, what = action
        self.term.write("\n".join([
            "", "        " + "-" * 63, f"        {text}", "",
            f"        This command will {self.DESCRIBE[what]}.", "",
            "        Enter 'YES' to continue or <ENTER> to cancel : "]))
        answer = read_key_line(self.term)
        if answer == CTRL_C:
            return None
        if isinstance(answer, str) and answer.strip().upper() == "YES":
            self.pdu.act(switch, number, what)
            self.term.write("\n        Command successfully issued.\n")
        else:
            self.term.write("\n        Command cancelled.\n")
        self.term.write("\n        Press <ENTER> to continue...")
        read_key_line(self.term)
        return None


class Cli:
    """The command line of AOS 5.x and later (Rack PDU 2G)."""

    HELP = ["System Commands:", "-" * RULE_WIDTH, "",
            "For command help: command ?", "",
            "?         about     bye       exit      help      olOff     olOn      olReboot",
            "olStatus  quit      whoami"]

    def __init__(self, term, pdu, user, model):
        self.term, self.pdu, self.user, self.model = term, pdu, user, model

    def parse_outlets(self, arg):
        """Outlet numbers named by 'all', N, N-M, N,M or an outlet name; None when not valid."""
        outlets = self.pdu.outlets("1")
        if not arg:
            return None
        if arg.lower() == "all":
            return list(outlets)
        chosen = []
        for part in arg.split(","):
            m = re.fullmatch(r"(\d+)(?:-(\d+))?", part.strip())
            if m:
                lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
                if lo > hi or lo not in outlets or hi not in outlets:
                    return None
                chosen += range(lo, hi + 1)
                continue
            named = [n for n, (name, _) in outlets.items() if name.lower() == part.strip().lower()]
            if not named:
                return None
            chosen += named
        return chosen

    def command(self, line):
        words = line.split(None, 1)
        if not words:
            return []
        cmd, arg = words[0].lower(), (words[1].strip() if len(words) > 1 else "")
        if cmd in ("?", "help"):
            return self.HELP
        if cmd == "whoami":
            return ["E000: Success", self.user or "apc"]
        if cmd == "about":
            return ["E000: Success", "Hardware Factory", "----------------", f"Model Number: {self.model}"]
        actions = {"olon": "on", "oloff": "off", "olreboot": "reboot"}
        if cmd not in actions and cmd != "olstatus":
            return ["E101: Command Not Found"]
        numbers = self.parse_outlets(arg.strip('"'))
        if numbers is None:
            return ["E102: Parameter Error"]
        if cmd in actions:
            for n in numbers:
                self.pdu.act("1", n, actions[cmd])
            return ["E000: Success"]
        outlets = self.pdu.outlets("1")
        return ["E000: Success"] + [f" {n}: {outlets[n][0]}: {'On' if outlets[n][1] else 'Off'}" for n in numbers]

    def run(self):
        self.term.write("Type ? for command listing\n"
                        "Use tcpip command for IP address(-i), subnet(-s), and gateway(-g)\n\n")
        while True:
            self.term.write("apc>")
            line = read_key_line(self.term)
            if line in (CTRL_C, ESC, CTRL_L):
                self.term.write("\n")
                continue
            if line.strip().lower() in ("exit", "quit", "bye"):
                self.term.write("Bye.\n")
                return
            out = self.command(line.strip())
            self.term.write("".join(text + "\n" for text in out) + ("\n" if out else ""))


def main(term):
    name = os.environ.get("EMU_FLAVOUR", "aos3")
    flavour = FLAVOURS.get(name)
    if flavour is None:
        term.write(f"apc.py: unknown EMU_FLAVOUR {name!r} (one of {', '.join(FLAVOURS)})\n")
        return
    version = os.environ.get("EMU_VERSION", flavour["aos"])
    role = os.environ.get("EMU_ROLE", "admin")
    switches = env_int("EMU_SWITCHES", 2) if name == "msp" else 1
    pdu = Pdu(switches, env_int("EMU_OUTLETS", 8))
    user = apc_login(term)
    term.write("\n".join(banner_lines(flavour, version, role)) + "\n")
    if flavour["kind"] == "cli":
        Cli(term, pdu, user, flavour["model"]).run()
    else:
        if name != "msp":
            term.write("Switched Rack PDU: Communication Established\n")
        Menu(term, name, flavour, role, pdu).run()


if __name__ == "__main__":
    try:
        run(main)
    except Hangup:
        pass
