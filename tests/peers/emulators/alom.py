#!/usr/bin/env python3
"""Sun Advanced Lights Out Manager (ALOM), the service processor of Sun Fire V2x0/V4x0 and of the
CMT servers (T1000/T2000, "ALOM CMT"), as fence_alom drives it.

Flavours (EMU_FLAVOUR):
  cmt    (default) ALOM CMT v1.6.1 on a SUNW,Sun-Fire-T200 (the firmware fence_alom names as tested)
  alom   ALOM v1.6.10 on a SUNW,Sun-Fire-V240
  The command set fence_alom uses is the same in both; the banner and platform line differ.

Login:
  * telnet (EMU_LOGIN=1): telnet options (WILL ECHO, WILL SGA), a banner, then ALOM's own login:
    "Please login: " (user, echoed) and "Please Enter password: " (not echoed). A wrong pair prints
    "Login incorrect." and asks again; after 3 failures the connection
    is closed.
  * ssh: ALOM's SSH server does not authenticate at the SSH level; after the channel opens it shows
    the same banner and the same login prompts as over telnet, whatever user name the client gave.
    That is the behaviour fence_alom expects (fencing.py's "telnet_over_ssh": it waits for a login
    prompt after ssh connects and answers it with the user name, then the password).
    `alom.py --ssh-serve PORT HOSTKEY` runs such a server on loopback (paramiko, "none" auth),
    each session running this emulator with ALOM_OWN_LOGIN=1 (login without telnet negotiation).
  * run as an sshd ForceCommand (OpenSSH did the login, e.g. with a key): straight to "sc> ".

Prompt: "sc> ". Lines end in CR LF; the device echoes what is typed.

Commands (case-sensitive, as ALOM's are):
  showplatform        platform name, chassis serial number and the host's domain status:
                         Domain Status
                         ------ ------
                         S0     OS Running        (host powered on)
                         S0     OS Standby        (host off, only standby power)
  poweron             powers the host on, no output; no effect (and no output) if it is on
  poweroff [-y] [-f]  without -y asks "Are you sure you want to power off the system? [y/n] ";
                      -f (forced, immediate) or not, the host goes to standby and ALOM reports
                      "SC Alert: Host system has shut down." (here at once: the emulated host
                      has no OS to wait for); no effect (and no output) if the host is off
  showusers, help     short fixed outputs
  logout              ends the session
  anything else       "Invalid command. Type 'help' for list of commands."
  an empty line       just a new prompt

State (EMU_STATE): {"power": "on"|"off"}; the host starts on.

Sources: Sun "Advanced Lights Out Manager (ALOM) CMT v1.x Guide" (819-7991: login, shell commands
showplatform, poweron, poweroff -y -f, logout); Sun "Advanced Lights Out Manager Software User's
Guide" v1.6 (817-5481) for the non-CMT flavour; behaviour Debian's fence_alom (fence-agents 4.12.1)
expects: ssh by default, a login prompt after the SSH connection, the prompt `sc\\>\\ `, the word
"standby" (any case) anywhere in showplatform's output meaning off. The poweroff alert and the
"no effect" behaviour are as the ALOM 1.5 online help describes them; the showplatform layout and
the login texts are our reading of the guides, not captured from a device.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emulib import Hangup, State  # noqa: E402
import emulib  # noqa: E402



FLAVOURS = {
    "cmt": {
        "banner": "\nCopyright 2007 Sun Microsystems, Inc.  All rights reserved.\n"
                  "Use is subject to license terms.\n\n"
                  "Sun(tm) Advanced Lights Out Manager CMT v1.6.1\n\n",
        "platform": "SUNW,Sun-Fire-T200",
        "serial": "0651AB01C2",
    },
    "alom": {
        "banner": "\nCopyright 2006 Sun Microsystems, Inc. All Rights Reserved.\n"
                  "Use is subject to license terms.\n\n"
                  "Sun(tm) Advanced Lights Out Manager 1.6.10 (v240-sc)\n\n",
        "platform": "SUNW,Sun-Fire-V240",
        "serial": "FN64310188",
    },
}

PROMPT = "sc> "


def own_login(term, banner):
    """ALOM's login, over telnet and over its SSH server alike (3 tries)."""
    want_user = os.environ.get("EMU_USER", "admin")
    want_password = os.environ.get("EMU_PASSWORD", "")
    term.write(banner)
    for _ in range(3):
        user = term.ask("Please login: ").strip()
        password = term.ask("Please Enter password: ", echo=False)
        term.write("\n")
        if user == want_user and password == want_password:
            return
        term.write("Login incorrect.\n\n")
    raise Hangup()


def showplatform(term, flav, power):
    status = "OS Running" if power == "on" else "OS Standby"
    term.write(f"{flav['platform']}\nChassis Serial Number: {flav['serial']}\n\n"
               "Domain Status\n------ ------\n"
               f"S0     {status}\n\n")


def main(term):
    flav = FLAVOURS.get(os.environ.get("EMU_FLAVOUR", "cmt"), FLAVOURS["cmt"])
    state = State({"power": "on"})
    if term.telnet or os.environ.get("ALOM_OWN_LOGIN") == "1":
        own_login(term, flav["banner"])
    else:
        term.write("\n")
    while True:
        line = term.ask(PROMPT)
        words = line.split()
        if not words:
            continue
        cmd, args = words[0], words[1:]
        if cmd == "logout":
            return
        if cmd == "showplatform":
            showplatform(term, flav, state.read()["power"])
        elif cmd == "poweron":
            with state.locked() as st:
                st["power"] = "on"
        elif cmd == "poweroff":
            if any(a not in ("-y", "-f") for a in args):
                term.write("Error: Invalid option.\nUsage: poweroff [-y] [-f]\n")
                continue
            if state.read()["power"] == "off":
                continue
            if "-y" not in args:
                answer = term.ask("Are you sure you want to power off the system? [y/n] ")
                if answer.strip().lower() not in ("y", "yes"):
                    continue
            with state.locked() as st:
                st["power"] = "off"
            term.write("SC Alert: Host system has shut down.\n")
        elif cmd == "showusers":
            term.write("username     connection    login time    client IP addr  console\n"
                       "-------------------------------------------------------------\n"
                       "admin        net-1         Dec 06 01:00  127.0.0.1\n")
        elif cmd == "help":
            term.write("Available commands\n------------------\n"
                       "poweron\npoweroff [-y] [-f]\nshowplatform\nshowusers\nhelp\nlogout\n")
        else:
            term.write("Invalid command. Type 'help' for list of commands.\n")


# --- ALOM's SSH server: no SSH authentication, the device's own login afterwards -------------------

def ssh_serve(port, hostkey):
    import socket
    import subprocess
    import threading
    import logging
    import paramiko

    # a probe that connects and closes at once is no error worth a traceback
    logging.getLogger("paramiko").setLevel(logging.CRITICAL + 1)
    key = paramiko.RSAKey(filename=hostkey)
    me = os.path.abspath(__file__)

    class Server(paramiko.ServerInterface):
        def __init__(self):
            self.shell = threading.Event()

        def get_allowed_auths(self, username):
            return "none"

        def check_auth_none(self, username):
            return paramiko.AUTH_SUCCESSFUL

        def check_channel_request(self, kind, chanid):
            if kind == "session":
                return paramiko.OPEN_SUCCEEDED
            return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

        def check_channel_pty_request(self, *args):
            return True

        def check_channel_shell_request(self, channel):
            self.shell.set()
            return True

        def check_channel_env_request(self, *args):
            return True

    def session(conn):
        transport = paramiko.Transport(conn)
        transport.add_server_key(key)
        server = Server()
        try:
            transport.start_server(server=server)
        except Exception:
            return
        chan = transport.accept(30)
        if chan is None or not server.shell.wait(30):
            transport.close()
            return
        mine, theirs = socket.socketpair()
        env = dict(os.environ, ALOM_OWN_LOGIN="1")
        env.pop("EMU_LOGIN", None)
        proc = subprocess.Popen([sys.executable, me], stdin=theirs, stdout=theirs,
                                stderr=subprocess.DEVNULL, env=env, close_fds=True)
        theirs.close()

        def pump_in():
            try:
                while True:
                    data = chan.recv(4096)
                    if not data:
                        break
                    mine.sendall(data)
            except OSError:
                pass
            try:
                mine.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        threading.Thread(target=pump_in, daemon=True).start()
        try:
            while True:
                data = mine.recv(4096)
                if not data:
                    break
                chan.sendall(data)
        except OSError:
            pass
        proc.wait()
        try:
            chan.send_exit_status(0)
            chan.close()
        except Exception:
            pass
        transport.close()

    listeners = []
    for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((address, port))
        s.listen(16)
        listeners.append(s)
    print(f"ALOM ssh server on port {port}", flush=True)

    def accept_loop(s):
        while True:
            conn, _ = s.accept()
            threading.Thread(target=session, args=(conn,), daemon=True).start()

    for s in listeners[1:]:
        threading.Thread(target=accept_loop, args=(s,), daemon=True).start()
    accept_loop(listeners[0])


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--ssh-serve":
        ssh_serve(int(sys.argv[2]), sys.argv[3])
    else:
        emulib.run(main)
