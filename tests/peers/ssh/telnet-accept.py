#!/usr/bin/env python3
"""Accept telnet connections on loopback and hand each to a fresh telnetd.

inetutils telnetd serves one connection given as fds 0-2, the way inetd starts it; this
stands in for inetd (one port, both loopback families, no config file, no system daemon).
Usage: telnet-accept.py PORT TELNETD [ARGS...]
"""
import os
import signal
import socket
import selectors
import sys

port = int(sys.argv[1])
command = sys.argv[2:]
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps finished sessions

selector = selectors.DefaultSelector()
for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind((address, port))
    sock.listen(32)
    selector.register(sock, selectors.EVENT_READ)
print(f"accepting on port {port} for {' '.join(command)}", flush=True)

while True:
    for key, _ in selector.select():
        try:
            conn, peer = key.fileobj.accept()
        except OSError:
            continue
        child = os.fork()
        if child == 0:
            try:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                for fd in (0, 1, 2):
                    os.dup2(conn.fileno(), fd)
                os.execv(command[0], command)
            finally:
                os._exit(127)
        print(f"connection from {peer[0]} -> pid {child}", flush=True)
        conn.close()
