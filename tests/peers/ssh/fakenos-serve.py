#!/usr/bin/env python3
"""Serve one fakenos host (PyPI fakenos: a paramiko SSH server with a Python cmd shell)
until SIGTERM, as a non-OpenSSH peer of the SSH transport tests.

Usage: fakenos-serve.py --port N --user U --password-file F --host-key KEY --platform P
The platform file defines NOS, a fakenos NOS dictionary (name, initial_prompt, commands;
a command matches a whole input line, its output is text, a callable returning text, or
True to end the session), and optionally INTRO (printed when the shell starts).
fakenos binds IPv4 only; the address is 127.0.0.1. Password login only.
"""
import argparse
import importlib.util
import signal
import sys
import threading

sys.dont_write_bytecode = True  # importing the platform must not write __pycache__ into the tree

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--user", required=True)
ap.add_argument("--password-file", required=True)
ap.add_argument("--host-key", required=True, help="RSA private key, PEM")
ap.add_argument("--platform", required=True)
args = ap.parse_args()

from fakenos import FakeNOS  # noqa: E402  (slow; after the arguments are known good)

spec = importlib.util.spec_from_file_location("fencebox_fakenos_platform", args.platform)
platform = importlib.util.module_from_spec(spec)
spec.loader.exec_module(platform)
with open(args.password_file) as f:
    password = f.readline().rstrip("\n")

name = platform.NOS["name"]
inventory = {"hosts": {name: {
    "username": args.user,
    "password": password,
    "port": args.port,
    # fakenos' own host key is public (in its package): ours instead, so that the
    # harness's known_hosts covers this server too.
    "server": {"plugin": "ParamikoSshServer",
               "configuration": {"address": "127.0.0.1", "timeout": 1, "ssh_key_file": args.host_key}},
    "shell": {"plugin": "CMDShell", "configuration": {"intro": getattr(platform, "INTRO", ""), "newline": "\r\n"}},
    "nos": {"plugin": name},
}}}
net = FakeNOS(inventory=inventory, plugins=[platform.NOS])
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())
net.start()
print("ready: fakenos %s on 127.0.0.1:%d" % (name, args.port), flush=True)
stop.wait()
net.stop()
