"""A BMC on pyghmi's IPMI server (PyPI pyghmi), the second, independent IPMI peer of
fencebox's tests: RMCP+ with cipher suite 3. It keeps the power state in memory and
appends every chassis command it executes, with a timestamp, to the log file, which the
tests read to see what was done.

usage: python pyghmi-bmc.py PORT LOGFILE [ADDRESS]   (user admin, password password)
"""
import sys
import time

import pyghmi.ipmi.bmc as bmc


class TestBmc(bmc.Bmc):
    def __init__(self, port, log, address):
        super().__init__({"admin": "password"}, port=port, address=address)
        self.state = "on"
        self.log = log

    def note(self, what):
        with open(self.log, "a") as f:
            f.write(f"{time.time():.6f} {what}\n")

    def get_power_state(self):
        return self.state

    def power_off(self):
        self.state = "off"
        self.note("power off")

    def power_on(self):
        self.state = "on"
        self.note("power on")

    def power_cycle(self):
        self.note("power cycle")
        self.state = "on"

    def power_reset(self):
        self.note("power reset")

    def pulse_diag(self):
        self.note("diag")

    def power_shutdown(self):
        self.state = "off"
        self.note("soft off")

    def is_active(self):
        return self.state == "on"


if __name__ == "__main__":
    port, log = int(sys.argv[1]), sys.argv[2]
    address = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
    open(log, "a").close()
    TestBmc(port, log, address).listen()
