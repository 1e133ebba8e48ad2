#!/usr/bin/env python3
"""Switch one outlet through labgrid's PDUDaemonDriver, as a labgrid test run would.

A labgrid Target gets a PDUDaemonPort resource (host HOST:PORT, the PDU's name, the
outlet index) and a PDUDaemonDriver bound to it; the driver is activated, then each
ACTION is called on it in the order given. One line per action goes to standard output:
"ACTION: ok" (get: "get: on" or "get: off"), or "ACTION: " and the name of the exception
it raised (its message goes to standard error). The exit status is 1 when on, off or cycle
raised, 2 on bad arguments or when the driver cannot be activated, else 0. A get that
raises does not change the exit status: labgrid 26's driver has no get.

Run it with the python of a venv holding labgrid (tests/peers/pdudaemon/labgrid-venv.sh).

usage: labgrid-pdu.py [--delay S] HOST:PORT PDU INDEX ACTION...
       ACTION: on | off | cycle | get   (cycle asks for a reboot with S seconds off)
"""
import argparse
import os
import sys

# The server is on loopback: requests must connect directly, not through a proxy from the
# environment, and labgrid must not tunnel through SSH (LG_PROXY is read at import).
for _name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "LG_PROXY"):
    os.environ.pop(_name, None)
    os.environ.pop(_name.upper(), None)

from labgrid import Target  # noqa: E402
from labgrid.driver import PDUDaemonDriver  # noqa: E402
from labgrid.resource import PDUDaemonPort  # noqa: E402

SWITCHING = ("on", "off", "cycle")


def main():
    p = argparse.ArgumentParser(
        prog="labgrid-pdu.py",
        description="Drive one PDU outlet with labgrid's PDUDaemonDriver.",
    )
    p.add_argument("--delay", type=float, default=None,
                   help="seconds between off and on in a cycle (the driver's default if left out)")
    p.add_argument("server", metavar="HOST:PORT", help="where the PDUDaemon HTTP protocol is served")
    p.add_argument("pdu", metavar="PDU", help="the PDU's name on that server")
    p.add_argument("index", metavar="INDEX", type=int, help="the outlet")
    p.add_argument("actions", metavar="ACTION", nargs="+", choices=SWITCHING + ("get",))
    a = p.parse_args()

    try:
        target = Target("fencebox-labgrid")
        port = PDUDaemonPort(target, None, host=a.server, pdu=a.pdu, index=a.index)
        extra = {} if a.delay is None else {"delay": a.delay}
        driver = PDUDaemonDriver(target, None, **extra)
        target.activate(driver)
    except Exception as e:  # pylint: disable=broad-except
        print(f"labgrid-pdu.py: cannot set up the driver: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    assert driver.port is port

    failed = False
    for action in a.actions:
        try:
            result = getattr(driver, action)()
        except Exception as e:  # pylint: disable=broad-except
            print(f"{action}: {type(e).__name__}", flush=True)
            print(f"labgrid-pdu.py: {action}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            failed = failed or action in SWITCHING
            continue
        if action == "get":
            print(f"get: {'on' if result else 'off'}", flush=True)
        else:
            print(f"{action}: ok", flush=True)
    target.deactivate(driver)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
