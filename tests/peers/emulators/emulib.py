"""What every device-shell emulator in this folder shares: a terminal on stdin/stdout,
the vendor's own login over telnet, and power state kept in a file.

An emulator is a stdio program. It runs in one of two ways:
  * over SSH, as an sshd account's ForceCommand: sshd has done the login, stdin is a pty
    (or pipes, for exec devices) and the emulator starts at its banner or menu;
  * over telnet, started by telnet-accept.py with the connection as fds 0-2 and
    EMU_LOGIN=1: the emulator negotiates telnet options itself, as the device would, and
    asks for the user name and password the device asks for.

Environment:
  EMU_STATE     path of the JSON state file (shared by every session of one device)
  EMU_LOGIN     1: do the device's own login (telnet); unset: sshd logged the user in
  EMU_USER, EMU_PASSWORD   the credentials the device accepts (EMU_LOGIN=1)
  EMU_FLAVOUR   a model or firmware variant, where the emulator has several
"""
import contextlib
import fcntl
import json
import os
import sys
import termios
import time
import tty

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
ECHO, SGA = 1, 3


class Hangup(Exception):
    """The client went away; the emulator ends quietly."""


class Terminal:
    """A character terminal as devices present it: the device echoes what is typed,
    CR, LF and CR LF all end a line, and output lines end in CR LF."""

    def __init__(self, telnet=None):
        self.fd_in = sys.stdin.fileno()
        self.fd_out = sys.stdout.fileno()
        self.telnet = os.environ.get("EMU_LOGIN") == "1" if telnet is None else telnet
        self.pending = b""
        self.last_was_cr = False
        self.saved = None
        if os.isatty(self.fd_in):
            # The device echoes, not the kernel.
            self.saved = termios.tcgetattr(self.fd_in)
            tty.setraw(self.fd_in, termios.TCSANOW)  # keep what was typed before start
        if self.telnet:
            # Character mode, device-side echo, as switched PDUs and BMCs negotiate it.
            self.raw(bytes([IAC, WILL, ECHO, IAC, WILL, SGA]))

    def restore(self):
        if self.saved is not None:
            termios.tcsetattr(self.fd_in, termios.TCSADRAIN, self.saved)

    def raw(self, data):
        try:
            os.write(self.fd_out, data)
        except OSError as e:
            raise Hangup() from e

    def write(self, text):
        """Text with \\n line ends, sent with CR LF."""
        self.raw(text.replace("\r\n", "\n").replace("\n", "\r\n").encode("latin-1"))

    def _byte(self):
        while not self.pending:
            try:
                chunk = os.read(self.fd_in, 4096)
            except OSError as e:
                raise Hangup() from e
            if not chunk:
                raise Hangup()
            self.pending = chunk
        b, self.pending = self.pending[0], self.pending[1:]
        return b

    def _data_byte(self):
        """The next byte of data, with telnet commands taken out (and answered) and NULs
        dropped (a telnet client not in binary mode sends Enter as CR NUL; no device here
        takes a NUL as data)."""
        while True:
            b = self._byte()
            if b == 0:
                continue
            if not self.telnet or b != IAC:
                return b
            cmd = self._byte()
            if cmd == IAC:
                return IAC
            if cmd in (DO, DONT, WILL, WONT):
                opt = self._byte()
                if cmd == DO and opt not in (ECHO, SGA):
                    self.raw(bytes([IAC, WONT, opt]))
                elif cmd == WILL and opt != SGA:
                    self.raw(bytes([IAC, DONT, opt]))
            elif cmd == SB:
                while not (self._byte() == IAC and self._byte() == SE):
                    pass

    def readline(self, echo=True):
        """One line as typed; `echo=False` for passwords (nothing is echoed)."""
        line = bytearray()
        while True:
            b = self._data_byte()
            if b == 10 and self.last_was_cr:
                # the LF of a CR LF pair: the CR already ended the line
                self.last_was_cr = False
                continue
            self.last_was_cr = b == 13
            if b in (13, 10):
                if echo:
                    self.raw(b"\r\n")
                return line.decode("latin-1")
            if b in (8, 127):
                if line:
                    line.pop()
                    if echo:
                        self.raw(b"\b \b")
                continue
            if b == 3:
                raise Hangup()
            line.append(b)
            if echo:
                self.raw(bytes([b]))

    def ask(self, prompt, echo=True):
        self.write(prompt)
        return self.readline(echo)


def login(term, user_prompt, password_prompt, failed_text, attempts=3):
    """The device's own login, over telnet only (sshd logged the user in otherwise).
    Returns the user name; ends the session after `attempts` failures."""
    if not term.telnet:
        return os.environ.get("USER", "")
    want_user = os.environ.get("EMU_USER", "")
    want_password = os.environ.get("EMU_PASSWORD", "")
    for _ in range(attempts):
        user = term.ask(user_prompt).strip()
        password = term.ask(password_prompt, echo=False)
        term.write("\n")
        if user == want_user and password == want_password:
            return user
        term.write(failed_text)
    raise Hangup()


def flatten(tree, path=""):
    """Every leaf of a JSON tree by its slash-separated path."""
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            out.update(flatten(v, f"{path}/{k}"))
        return out
    if isinstance(tree, list):
        out = {}
        for i, v in enumerate(tree):
            out.update(flatten(v, f"{path}/{i}"))
        return out
    return {path: tree}


class State:
    """Power state of one emulated device, in a JSON file that every session of the
    device shares (sessions may run side by side, so each change is made under a lock)."""

    def __init__(self, initial):
        self.path = os.environ.get("EMU_STATE") or os.path.expanduser("~/emulator.state")
        self.initial = initial

    @contextlib.contextmanager
    def locked(self):
        with open(self.path + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._load()
            before = flatten(data)
            yield data
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(data, f, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
            # The device's own record of what changed and when ("UNIXTIME PATH VALUE" a
            # line, under the same lock): tests read the order of switches from it.
            after = flatten(data)
            changed = [(k, v) for k, v in sorted(after.items()) if before.get(k) != v]
            if changed:
                now = time.time()
                with open(self.path + ".changes", "a") as f:
                    f.writelines(f"{now:.6f} {k} {json.dumps(v)}\n" for k, v in changed)

    def read(self):
        with open(self.path + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_SH)
            return self._load()

    def _load(self):
        try:
            with open(self.path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return json.loads(json.dumps(self.initial))


def run(main, terminal=None):
    """Run an emulator's main(term) and end quietly when the client hangs up; `terminal`
    is a Terminal subclass for devices that read differently."""
    term = (terminal or Terminal)()
    try:
        main(term)
    except Hangup:
        pass
    finally:
        term.restore()
