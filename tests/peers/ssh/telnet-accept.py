#!/usr/bin/env python3
"""Accept telnet connections on loopback and hand each to a fresh program.

inetutils telnetd serves one connection given as fds 0-2, the way inetd starts it, and so
do the device emulators (tests/peers/emulators, with EMU_LOGIN=1); this stands in for
inetd (both loopback families, no config file, no system daemon).
Usage: telnet-accept.py PORT COMMAND [ARGS...]     one port, one command
       telnet-accept.py --table FILE               one "PORT COMMAND [ARGS...]" per line
                                                   (shell words), many ports in one process
"""
import os
import selectors
import shlex
import signal
import socket
import sys

if sys.argv[1:2] == ["--table"]:
    with open(sys.argv[2]) as f:
        rows = [shlex.split(line) for line in f if line.strip() and not line.startswith("#")]
    table = {int(row[0]): row[1:] for row in rows}
else:
    table = {int(sys.argv[1]): sys.argv[2:]}
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps finished sessions

selector = selectors.DefaultSelector()
for port, command in table.items():
    for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((address, port))
        sock.listen(32)
        selector.register(sock, selectors.EVENT_READ, command)
    print(f"accepting on port {port} for {' '.join(command)}", flush=True)
print("ready", flush=True)

while True:
    for key, _ in selector.select():
        try:
            conn, peer = key.fileobj.accept()
        except OSError:
            continue
        command = key.data
        child = os.fork()
        if child == 0:
            try:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                for fd in (0, 1, 2):
                    os.dup2(conn.fileno(), fd)
                os.execv(command[0], command)
            finally:
                os._exit(127)
        print(f"connection from {peer[0]} to {key.fileobj.getsockname()[1]} -> pid {child}", flush=True)
        conn.close()
