#!/usr/bin/env python3
"""Run Debian's pduclient, unmodified, against a PDUDaemon-compatible server on any port.

pduclient (package pdudaemon-client) always connects to port 16421, in its TCP mode and
with -H, and has no option to change it. This runs /usr/bin/pduclient in this
interpreter with one change: a TCP connection to port 16421 goes to PORT instead. -H
goes through python3-requests, which connects with the same socket method.

usage: pduclient-at.py PORT [pduclient's arguments ...]
"""
import runpy
import socket
import sys

if len(sys.argv) < 2 or not sys.argv[1].isdigit():
    sys.exit(__doc__)
PORT = int(sys.argv[1])
sys.argv = ["pduclient"] + sys.argv[2:]
_connect = socket.socket.connect


def _redirected(sock, address):
    if isinstance(address, tuple) and len(address) >= 2 and address[1] == 16421:
        address = (address[0], PORT) + tuple(address[2:])
    return _connect(sock, address)


socket.socket.connect = _redirected
runpy.run_path("/usr/bin/pduclient", run_name="__main__")
