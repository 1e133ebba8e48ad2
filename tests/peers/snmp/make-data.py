#!/usr/bin/env python3
"""Write snmpsim data for the simulated PDUs (stdlib only).

One SNMP community (or v3 context) per device. Each device is described below by its
sysObjectID and its outlet columns, from the vendors' published MIBs (and, for the devices
fence-agents drives, the OIDs its agents use). Outlet state lives in SQLite tables served
by snmpsim's `sql` variation module; triggers make the state column follow the command
column and reject commands the device would refuse, so a client has to read the state back
to know what happened.

Usage: make-data.py OUTDIR [outlets=24] [device at the empty v3 context=private]
"""
import os
import sqlite3
import sys

out = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 24
SELF = sys.argv[3] if len(sys.argv) > 3 else "private"
data = os.path.join(out, "data")
os.makedirs(data, exist_ok=True)
E = "1.3.6.1.4.1."


def outlets(n=N):
    return [(str(i), i) for i in range(1, n + 1)]


# A device: community, sysObjectID, description, the enterprise subtree served from SQL,
# rows [(row suffix for each column, outlet number)], columns, and command -> state maps.
# column: (name, oid, row function of the outlet number, tag, initial value, access); the
# initial value is a format string ({i}: the outlet number) or a function of the number.
DEVICES = []


def device(community, sysoid, descr, subtree, columns, follow=None, valid=None, status=None,
           control=None, rows=None, extra=None):
    DEVICES.append(dict(community=community, sysoid=sysoid, descr=descr, subtree=subtree,
                        columns=columns, follow=follow or {}, valid=valid, status=status,
                        control=control, rows=rows or [i for i in range(1, N + 1)],
                        extra=extra or []))


def plain(i):
    return str(i)


# Metered readings (read-only), raw as the MIB gives them: each a known function of the
# outlet number, so a test can compute what a client must report after scaling
# (tests/stats.rs holds the same table, written from the MIBs, not from the family files).
def meters(*cols):
    return [(name, oid, rowf, tag, (lambda i, base=base: base + i), "read-only")
            for name, oid, rowf, tag, base in cols]


def scalars(*objs):
    return [(oid, tag, str(value), "read-only") for oid, tag, value in objs]


# APC Rack PDU (PowerNet-MIB rPDUOutlet): command 1 on, 2 off, 3 reboot, 4 delayed on,
# 5 delayed off, 6 delayed reboot, 7 cancel; state 1 on, 2 off.
device("private", E + "318.1.3.4.5", "APC Rack PDU (snmpsim)", E + "318",
       [("ctl", E + "318.1.1.12.3.3.1.1.4", plain, "2", "1", "read-write"),
        ("state", E + "318.1.1.12.3.5.1.1.4", plain, "2", "1", "read-only"),
        ("name", E + "318.1.1.12.3.5.1.1.2", plain, "4", "Outlet {i}", "read-only")]
       # rPDUOutletStatusLoad (0.1 A); rPDULoadStatusLoad.1 (0.1 A), rPDUIdentDevicePowerWatts.
       + meters(("load", E + "318.1.1.12.3.5.1.1.7", plain, "66", 10))
       # rPDU2 metered outlets: the table's own entries (100 + outlet, to show the mapping
       # is by rPDU2OutletMeteredStatusNumber, not by row), power (W) and energy (0.1 kWh).
       + [("m2number", E + "318.1.1.26.9.4.3.1.4", lambda i: str(100 + i), "2", "{i}", "read-only")]
       + meters(("m2power", E + "318.1.1.26.9.4.3.1.7", lambda i: str(100 + i), "2", 90),
                ("m2energy", E + "318.1.1.26.9.4.3.1.11", lambda i: str(100 + i), "2", 400)),
       follow={"1": "1", "2": "2", "3": "1", "4": "1", "5": "2", "6": "1"},
       valid=["1", "2", "3", "4", "5", "6", "7"], control="ctl", status="state",
       extra=scalars((E + "318.1.1.12.2.3.1.1.2.1", "66", 123), (E + "318.1.1.12.1.16.0", "2", 2345)))
# APC MasterSwitch (sPDUOutletCtl is state and command: 1 on, 2 off, 3 reboot).
device("apc-ms", E + "318.1.3.4.2", "APC MasterSwitch (snmpsim)", E + "318",
       [("ctl", E + "318.1.1.4.4.2.1.3", plain, "2", "1", "read-write"),
        ("name", E + "318.1.1.4.4.2.1.4", plain, "4", "Outlet {i}", "read-only")],
       follow={"1": "1", "2": "2", "3": "1"}, valid=["1", "2", "3"], control="ctl", status="ctl")
# APC Rack PDU firmware 6: commands in rPDUOutletControl, state and names in sPDUOutletCtl.
device("apc-rpdu2", E + "318.1.3.4.6", "APC Rack PDU fw6 (snmpsim)", E + "318",
       [("ctl", E + "318.1.1.12.3.3.1.1.4", plain, "2", "1", "read-write"),
        ("state", E + "318.1.1.4.4.2.1.3", plain, "2", "1", "read-only"),
        ("name", E + "318.1.1.4.4.2.1.4", plain, "4", "Outlet {i}", "read-only")],
       follow={"1": "1", "2": "2", "3": "1"}, valid=["1", "2", "3", "4", "5", "6", "7"],
       control="ctl", status="state")
# APC MasterSwitch Plus: two daisy-chained units, rows switch.1.outlet; command 1 on, 3 off.
MSP_ROWS = [(s, o) for s in (1, 2) for o in range(1, 9)]
device("apc-msp", E + "318.1.3.4.4", "APC MasterSwitch Plus (snmpsim)", E + "318",
       [("ctl", E + "318.1.1.6.5.1.1.5", lambda r: f"{r[0]}.1.{r[1]}", "2", "1", "read-write"),
        ("state", E + "318.1.1.6.7.1.1.5", lambda r: f"{r[0]}.1.{r[1]}", "2", "1", "read-only"),
        ("name", E + "318.1.1.6.7.1.1.4", lambda r: f"{r[0]}.1.{r[1]}", "4", "Unit {s} Outlet {o}", "read-only")],
       follow={"1": "1", "2": "1", "3": "2", "4": "2", "5": "1"}, valid=["1", "2", "3", "4", "5"],
       control="ctl", status="state", rows=MSP_ROWS)
# Tripp Lite (TRIPPLITE-12X): state 2 on, 1 off; command 2 on, 1 off.
device("tripplite", E + "850.1", "Tripp Lite PDU (snmpsim)", E + "850",
       [("ctl", E + "850.10.2.3.5.1.4", lambda i: f"1.{i}", "2", "2", "read-write"),
        ("state", E + "850.10.2.3.5.1.2", lambda i: f"1.{i}", "2", "2", "read-only"),
        ("name", E + "850.10.2.3.5.1.5", lambda i: f"1.{i}", "4", "Outlet {i}", "read-only")],
       follow={"1": "1", "2": "2"}, valid=["1", "2"], control="ctl", status="state")
# Tripp Lite LX platform (TRIPPLITE-PRODUCTS tlpPduOutlet): rows device.outlet; state 2 on,
# 1 off; command 2 on, 1 off; outlet current (0.01 A) and power (W); the input phase's
# current (0.01 A) and the output's active power (W).
device("tripplite-lx", E + "850.1.1.1", "Tripp Lite LX PDU (snmpsim)", E + "850",
       [("ctl", E + "850.1.1.3.2.3.3.1.1.6", lambda i: f"1.{i}", "2", "2", "read-write"),
        ("state", E + "850.1.1.3.2.3.3.1.1.4", lambda i: f"1.{i}", "2", "2", "read-only"),
        ("name", E + "850.1.1.3.2.3.3.1.1.2", lambda i: f"1.{i}", "4", "Outlet {i}", "read-only")]
       + meters(("current", E + "850.1.1.3.2.3.3.1.1.8", lambda i: f"1.{i}", "66", 60),
                ("power", E + "850.1.1.3.2.3.3.1.1.9", lambda i: f"1.{i}", "66", 80)),
       follow={"1": "1", "2": "2"}, valid=["1", "2"], control="ctl", status="state",
       extra=scalars((E + "850.1.1.3.2.3.1.2.1.7.1.1", "66", 765),
                     (E + "850.1.1.3.2.3.2.1.1.8.1.1", "66", 1750)))
# Eaton Managed ePDU (EATON-EPDU-MA): 0-based outlet index, state = command, 1 on, 0 off.
device("eaton-ma", E + "534.6.6.6", "Eaton Managed ePDU (snmpsim)", E + "534",
       [("ctl", E + "534.6.6.6.1.2.2.1.3", lambda i: str(i - 1), "2", "1", "read-write"),
        ("idx", E + "534.6.6.6.1.2.2.1.1", lambda i: str(i - 1), "2", "{i0}", "read-only")]
       # outletCurrent (mA), outletActivePower (W).
       + meters(("current", E + "534.6.6.6.1.2.2.1.4", lambda i: str(i - 1), "2", 250),
                ("power", E + "534.6.6.6.1.2.2.1.7", lambda i: str(i - 1), "2", 30)),
       follow={"1": "1", "0": "0"}, valid=["0", "1"], control="ctl", status="ctl")
# IBM BladeCenter (BLADE-MIB): power state 1 on, 0 off; control 1 on, 0 off.
device("ibmblade", E + "2.3.51.2.7", "IBM BladeCenter AMM (snmpsim)", E + "2.3.51",
       [("ctl", E + "2.3.51.2.22.1.6.1.1.7", plain, "2", "1", "read-write"),
        ("state", E + "2.3.51.2.22.1.5.1.1.4", plain, "2", "1", "read-only")],
       follow={"1": "1", "0": "0"}, valid=["0", "1"], control="ctl", status="state", rows=list(range(1, 15)))
# IBM iPDU (IBM-PDU-MIB): state = command, 1 on, 0 off.
device("ipdu", E + "2.6.223", "IBM iPDU (snmpsim)", E + "2.6.223",
       [("ctl", E + "2.6.223.8.2.2.1.11", plain, "2", "1", "read-write"),
        ("name", E + "2.6.223.8.2.2.1.2", plain, "4", "Outlet {i}", "read-only")],
       follow={"1": "1", "0": "0"}, valid=["0", "1"], control="ctl", status="ctl")
# Emerson MPX/MPH2 (EMERSON LGP-MPX-MIB): rows are 1.1.outlet; state 2 on, 1 off;
# command 1 on, 0 off.
device("emerson", E + "476.1.42", "Emerson MPH2 (snmpsim)", E + "476",
       [("ctl", E + "476.1.42.3.8.50.20.1.100", lambda i: f"1.1.{i}", "2", "1", "read-write"),
        ("state", E + "476.1.42.3.8.50.20.1.95", lambda i: f"1.1.{i}", "2", "2", "read-only"),
        ("name", E + "476.1.42.3.8.50.20.1.10", lambda i: f"1.1.{i}", "4", "Outlet {i}", "read-only")]
       # lgpPduRcpEntryEcHundredths (0.01 A), PwrOut (W), EnergyAccum (0.1 kWh).
       + meters(("current", E + "476.1.42.3.8.50.20.1.61", lambda i: f"1.1.{i}", "66", 15),
                ("power", E + "476.1.42.3.8.50.20.1.65", lambda i: f"1.1.{i}", "66", 35),
                ("energy", E + "476.1.42.3.8.50.20.1.85", lambda i: f"1.1.{i}", "66", 900)),
       follow={"1": "2", "0": "1"}, valid=["0", "1"], control="ctl", status="state")
# Intel Modular Server: one column, 2 on; command 2 on, 3 off.
device("intelmodular", E + "343.2.19.1", "Intel Modular Server (snmpsim)", E + "343",
       [("ctl", E + "343.2.19.1.2.10.202.1.1.6", plain, "2", "2", "read-write")],
       follow={"2": "2", "3": "3"}, valid=["2", "3"], control="ctl", status="ctl", rows=list(range(1, 7)))
# Eaton Switched ePDU (Pulizzi, enterprise 20677): state .6.3.N.0 (1 on, 2 off); commands at
# .6.2.(N+1).0 (1 on, 2 off), .6.2.1.0 being the whole-PDU command.
device("eaton-sw", E + "20677.2", "Eaton Switched ePDU (snmpsim)", E + "20677",
       [("ctl", E + "20677.2.6.2", lambda i: f"{i + 1}.0", "2", "1", "read-write"),
        ("state", E + "20677.2.6.3", lambda i: f"{i}.0", "2", "1", "read-only")],
       follow={"1": "1", "2": "2"}, valid=["1", "2"], control="ctl", status="state", rows=list(range(1, 9)))
# A switch's ports through IF-MIB: ifAdminStatus 1 up, 2 down; ifDescr; ifAlias.
device("ifmib", E + "9.1.1", "Ethernet switch (snmpsim IF-MIB)", ["1.3.6.1.2.1.2", "1.3.6.1.2.1.31"],
       [("ctl", "1.3.6.1.2.1.2.2.1.7", plain, "2", "1", "read-write"),
        ("descr", "1.3.6.1.2.1.2.2.1.2", plain, "4", "Ethernet1/{i}", "read-only"),
        ("alias", "1.3.6.1.2.1.31.1.1.1.18", plain, "4", "node{i}", "read-only")],
       follow={"1": "1", "2": "2"}, valid=["1", "2"], control="ctl", status="ctl", rows=list(range(1, 13)))
# Raritan PX2 (PDU2-MIB): rows pdu.outlet; outletSwitchingState on(7), off(8);
# switchingOperation off(0), on(1), cycle(2) (ends on).
device("raritan", E + "13742.6", "Raritan PX2 (snmpsim)", E + "13742",
       [("op", E + "13742.6.4.1.2.1.2", lambda i: f"1.{i}", "2", "1", "read-write"),
        ("state", E + "13742.6.4.1.2.1.3", lambda i: f"1.{i}", "2", "7", "read-only"),
        ("name", E + "13742.6.3.5.3.1.3", lambda i: f"1.{i}", "4", "Outlet {i}", "read-only")]
       # measurementsOutletSensorValue by sensor type (1 rmsCurrent, 5 activePower,
       # 8 activeEnergy) and outletSensorDecimalDigits (3, 1 and 0): the value is raw / 10^d.
       + meters(("current", E + "13742.6.5.4.3.1.4", lambda i: f"1.{i}.1", "66", 1000),
                ("power", E + "13742.6.5.4.3.1.4", lambda i: f"1.{i}.5", "66", 500),
                ("energy", E + "13742.6.5.4.3.1.4", lambda i: f"1.{i}.8", "66", 20000))
       + [("digits1", E + "13742.6.3.5.4.1.7", lambda i: f"1.{i}.1", "66", "3", "read-only"),
          ("digits5", E + "13742.6.3.5.4.1.7", lambda i: f"1.{i}.5", "66", "1", "read-only"),
          ("digits8", E + "13742.6.3.5.4.1.7", lambda i: f"1.{i}.8", "66", "0", "read-only")],
       follow={"0": "8", "1": "7", "2": "7"}, valid=["0", "1", "2"], control="op", status="state",
       # Inlet 1: 9.87 A (digits 2), 2109.5 W (digits 1), 7654321 Wh (digits 0).
       extra=scalars((E + "13742.6.5.2.3.1.4.1.1.1", "66", 987), (E + "13742.6.5.2.3.1.4.1.1.5", "66", 21095),
                     (E + "13742.6.5.2.3.1.4.1.1.8", "66", 7654321), (E + "13742.6.3.3.4.1.7.1.1.1", "66", 2),
                     (E + "13742.6.3.3.4.1.7.1.1.5", "66", 1), (E + "13742.6.3.3.4.1.7.1.1.8", "66", 0)))
# ServerTech Sentry3: rows tower.infeed.outlet; outletStatus off(0)/on(1); outletControlAction
# on(1), off(2), reboot(3) (ends on).
device("sentry3", E + "1718.3", "Sentry Switched CDU (snmpsim Sentry3)", E + "1718",
       [("act", E + "1718.3.2.3.1.11", lambda i: f"1.1.{i}", "2", "0", "read-write"),
        ("state", E + "1718.3.2.3.1.5", lambda i: f"1.1.{i}", "2", "1", "read-only"),
        ("name", E + "1718.3.2.3.1.3", lambda i: f"1.1.{i}", "4", "Outlet {i}", "read-only")]
       # outletLoadValue (0.01 A), outletPower (W), outletEnergy (Wh); infeedLoadValue
       # (0.01 A), towerActivePower (W), towerEnergy (kWh).
       + meters(("current", E + "1718.3.2.3.1.7", lambda i: f"1.1.{i}", "2", 20),
                ("power", E + "1718.3.2.3.1.14", lambda i: f"1.1.{i}", "2", 100),
                ("energy", E + "1718.3.2.3.1.18", lambda i: f"1.1.{i}", "2", 5000)),
       follow={"1": "1", "2": "0", "3": "1"}, valid=["0", "1", "2", "3"], control="act", status="state",
       extra=scalars((E + "1718.3.2.2.1.7.1.1", "2", 1234), (E + "1718.3.2.1.1.11.1", "2", 3456),
                     (E + "1718.3.2.1.1.14.1", "2", 789)))
# ServerTech Sentry4: rows unit.cord.outlet; st4OutletControlState on(11)/off(10);
# st4OutletControlAction on(1), off(2), reboot(3).
device("sentry4", E + "1718.4", "Sentry PRO (snmpsim Sentry4)", E + "1718",
       [("act", E + "1718.4.1.8.5.1.2", lambda i: f"1.1.{i}", "2", "0", "read-write"),
        ("state", E + "1718.4.1.8.5.1.1", lambda i: f"1.1.{i}", "2", "11", "read-only"),
        ("name", E + "1718.4.1.8.2.1.3", lambda i: f"1.1.{i}", "4", "Outlet {i}", "read-only")]
       # st4OutletCurrent (0.01 A), ActivePower (W), Energy (Wh); st4InputCordActivePower
       # (W) and Energy (0.1 kWh).
       + meters(("current", E + "1718.4.1.8.3.1.3", lambda i: f"1.1.{i}", "2", 30),
                ("power", E + "1718.4.1.8.3.1.7", lambda i: f"1.1.{i}", "2", 200),
                ("energy", E + "1718.4.1.8.3.1.14", lambda i: f"1.1.{i}", "2", 6000)),
       extra=scalars((E + "1718.4.1.3.3.1.3.1.1", "2", 4567), (E + "1718.4.1.3.3.1.10.1.1", "2", 1234)),
       follow={"1": "11", "2": "10", "3": "11"}, valid=["0", "1", "2", "3", "4", "5", "6"], control="act", status="state")
# Eaton ePDU G3 (EATON-EPDU-MIB): rows unit.outlet; outletControlStatus off(0)/on(1);
# writing 0 to outletControlOffCmd / OnCmd / RebootCmd acts now.
device("eaton-g3", E + "534.6.6.7", "Eaton ePDU G3 (snmpsim)", E + "534",
       [("offcmd", E + "534.6.6.7.6.6.1.3", lambda i: f"1.{i}", "2", "-1", "read-write"),
        ("oncmd", E + "534.6.6.7.6.6.1.4", lambda i: f"1.{i}", "2", "-1", "read-write"),
        ("rebootcmd", E + "534.6.6.7.6.6.1.5", lambda i: f"1.{i}", "2", "-1", "read-write"),
        ("state", E + "534.6.6.7.6.6.1.2", lambda i: f"1.{i}", "2", "1", "read-only"),
        ("name", E + "534.6.6.7.6.1.1.3", lambda i: f"1.{i}", "4", "Outlet {i}", "read-only")]
       # outletCurrent (mA), outletWatts (W), outletWh (Wh); inputTotalWatts, inputTotalWh.
       + meters(("current", E + "534.6.6.7.6.4.1.3", lambda i: f"1.{i}", "2", 500),
                ("power", E + "534.6.6.7.6.5.1.3", lambda i: f"1.{i}", "2", 60),
                ("energy", E + "534.6.6.7.6.5.1.4", lambda i: f"1.{i}", "66", 7000)),
       extra=scalars((E + "534.6.6.7.3.5.1.4.1.1", "2", 1500), (E + "534.6.6.7.3.5.1.5.1.1", "66", 99999)),
       follow={"offcmd": {"0": "0"}, "oncmd": {"0": "1"}, "rebootcmd": {"0": "1"}},
       valid=["-1", "0"], control=["offcmd", "oncmd", "rebootcmd"], status="state")
# Cisco MDS: 8 Fibre Channel ports fc1/1..fc1/8 as ifIndex 1..8 (ifDescr, ifAlias) and
# their admin status in FIBRE-CHANNEL-FE-MIB at (slot + 21).(port - 1): 1 online, 2 offline;
# ifIndex 9 is the management port.
device("cisco-mds", E + "9.12.3.1.3.1", "Cisco MDS 9148 (snmpsim)",
       ["1.3.6.1.2.1.2", "1.3.6.1.2.1.31", "1.3.6.1.2.1.75"],
       [("ctl", "1.3.6.1.2.1.75.1.2.2.1.1", lambda i: f"22.{i - 1}", "2", "1", "read-write"),
        ("descr", "1.3.6.1.2.1.2.2.1.2", plain, "4", "fc1/{i}", "read-only"),
        ("alias", "1.3.6.1.2.1.31.1.1.1.18", plain, "4", "node{i}-hba", "read-only")],
       follow={"1": "1", "2": "2"}, valid=["1", "2"], control="ctl", status="ctl", rows=list(range(1, 9)),
       extra=[("1.3.6.1.2.1.2.2.1.2.9", "4", "mgmt0", "read-only"),
              ("1.3.6.1.2.1.31.1.1.1.18.9", "4", "management", "read-only")])
# Vertiv/Geist V5 (IMD3): pduOutletSwitchState on(1)/off(2); pduOutletSwitchControl
# on(2), off(4), reboot(6) (ends on); reads of the control column give none(8).
device("geist", E + "21239.42.1.53", "Vertiv Geist IMD3 (snmpsim)", E + "21239",
       [("ctl", E + "21239.5.2.3.5.1.6", plain, "2", "8", "read-write"),
        ("state", E + "21239.5.2.3.5.1.4", plain, "2", "1", "read-only"),
        ("name", E + "21239.5.2.3.5.1.2", plain, "4", "Outlet {i}", "read-only")]
       # pduOutletMeter current (0.01 A), real power (W), energy (Wh); pduTotal W and Wh.
       + meters(("current", E + "21239.5.2.3.6.1.8", plain, "66", 40),
                ("power", E + "21239.5.2.3.6.1.12", plain, "66", 70),
                ("energy", E + "21239.5.2.3.6.1.15", plain, "66", 8000)),
       extra=scalars((E + "21239.5.2.3.1.1.9.1", "66", 2100), (E + "21239.5.2.3.1.1.12.1", "66", 555555)),
       follow={"2": "1", "4": "2", "6": "1"}, valid=["1", "2", "3", "4", "5", "6", "7", "8"],
       control="ctl", status="state")
# Baytech RPC (for NUT's snmp-ups driver): state = command, 0 off, 1 on, 2 reboot (ends on).
device("baytech", E + "4779", "Universal RPC Host Module (snmpsim Baytech)", E + "4779",
       [("ctl", E + "4779.1.3.5.3.1.3.1", plain, "2", "1", "read-write"),
        ("name", E + "4779.1.3.5.3.1.4.1", plain, "4", "Outlet {i}", "read-write"),
        ("switchable", E + "4779.1.3.5.3.1.1.1", plain, "2", "1", "read-only")],
       follow={"0": "0", "1": "1", "2": "1"}, valid=["0", "1", "2"], control="ctl", status="ctl",
       rows=list(range(1, 9)),
       # Module identity (sBTAIdent: firmware, serial, id; module outlet count and model),
       # which NUT's snmp-ups reads to recognise the unit (tests/peers/nut).
       extra=[(E + "4779.1.1.1.0", "4", "F4.00 (snmpsim)", "read-only"),
              (E + "4779.1.1.2.0", "4", "SIM0001", "read-only"),
              (E + "4779.1.1.3.0", "4", "baytech-sim", "read-only"),
              (E + "4779.1.3.5.2.1.15.1", "2", "8", "read-only"),
              (E + "4779.1.3.5.2.1.24.1", "4", "MRP27 (snmpsim)", "read-only")])
# CyberPower ePDU (CPS-MIB): command 1 on, 2 off, 3 reboot; state 1 on, 2 off.
device("cyberpower", E + "3808.1.1.3", "CyberPower ePDU (snmpsim)", E + "3808",
       [("ctl", E + "3808.1.1.3.3.3.1.1.4", plain, "2", "1", "read-write"),
        ("name", E + "3808.1.1.3.3.3.1.1.2", plain, "4", "Outlet {i}", "read-only"),
        ("state", E + "3808.1.1.3.3.5.1.1.4", plain, "2", "1", "read-only")]
       # ePDUOutletStatusLoad (0.1 A), ActivePower (W), Energy (0.1 kWh); ePDULoadStatus
       # row 1: load (0.1 A), active power (W), energy (0.1 kWh).
       + meters(("current", E + "3808.1.1.3.3.5.1.1.7", plain, "66", 5),
                ("power", E + "3808.1.1.3.3.5.1.1.8", plain, "66", 40),
                ("energy", E + "3808.1.1.3.3.5.1.1.13", plain, "66", 300)),
       follow={"1": "1", "2": "2", "3": "1"}, valid=["1", "2", "3", "4"], control="ctl", status="state",
       extra=scalars((E + "3808.1.1.3.2.3.1.1.2.1", "66", 87), (E + "3808.1.1.3.2.3.1.1.7.1", "66", 1900),
                     (E + "3808.1.1.3.2.3.1.1.10.1", "66", 4321)))
# HPE ePDU (CPQPOWER-MIB pdu2 tables, as NUT's hpe-pdu-mib.c reads them): rows unit.outlet
# with unit 0; pdu2OutletControlStatus off(1)/on(2); writing 0 to the Off / On / Reboot
# command column acts now (reads give -1).
device("hpe2", E + "232.165.7", "HPE ePDU (snmpsim)", E + "232",
       [("offcmd", E + "232.165.7.5.2.1.2", lambda i: f"0.{i}", "2", "-1", "read-write"),
        ("oncmd", E + "232.165.7.5.2.1.3", lambda i: f"0.{i}", "2", "-1", "read-write"),
        ("rebootcmd", E + "232.165.7.5.2.1.4", lambda i: f"0.{i}", "2", "-1", "read-write"),
        ("state", E + "232.165.7.5.2.1.1", lambda i: f"0.{i}", "2", "2", "read-only"),
        ("name", E + "232.165.7.5.1.1.2", lambda i: f"0.{i}", "4", "Outlet {i}", "read-only")],
       follow={"offcmd": {"0": "1"}, "oncmd": {"0": "2"}, "rebootcmd": {"0": "2"}},
       valid=["-1", "0"], control=["offcmd", "oncmd", "rebootcmd"], status="state")
# The same HPE ePDU whose unit is numbered 1 (rows 1.outlet): one sysObjectID, two
# numberings, told apart by probing (the family's confirm object).
device("hpe2-u1", E + "232.165.7", "HPE ePDU unit 1 (snmpsim)", E + "232",
       [("offcmd", E + "232.165.7.5.2.1.2", lambda i: f"1.{i}", "2", "-1", "read-write"),
        ("oncmd", E + "232.165.7.5.2.1.3", lambda i: f"1.{i}", "2", "-1", "read-write"),
        ("rebootcmd", E + "232.165.7.5.2.1.4", lambda i: f"1.{i}", "2", "-1", "read-write"),
        ("state", E + "232.165.7.5.2.1.1", lambda i: f"1.{i}", "2", "2", "read-only"),
        ("name", E + "232.165.7.5.1.1.2", lambda i: f"1.{i}", "4", "Outlet {i}", "read-only")],
       follow={"offcmd": {"0": "1"}, "oncmd": {"0": "2"}, "rebootcmd": {"0": "2"}},
       valid=["-1", "0"], control=["offcmd", "oncmd", "rebootcmd"], status="state")
# HPE PDU3 / CIS (CPQPOWER-MIB pdu3 tables, NUT's hpe-pdu3-cis-mib.c): rows 1.outlet;
# the same status values and command columns as the ePDU.
device("hpe3", E + "232.165.11", "HPE PDU3 CIS (snmpsim)", E + "232",
       [("offcmd", E + "232.165.11.5.2.1.2", lambda i: f"1.{i}", "2", "-1", "read-write"),
        ("oncmd", E + "232.165.11.5.2.1.3", lambda i: f"1.{i}", "2", "-1", "read-write"),
        ("rebootcmd", E + "232.165.11.5.2.1.4", lambda i: f"1.{i}", "2", "-1", "read-write"),
        ("state", E + "232.165.11.5.2.1.1", lambda i: f"1.{i}", "2", "2", "read-only"),
        ("name", E + "232.165.11.5.1.1.2", lambda i: f"1.{i}", "4", "Outlet {i}", "read-only")],
       follow={"offcmd": {"0": "1"}, "oncmd": {"0": "2"}, "rebootcmd": {"0": "2"}},
       valid=["-1", "0"], control=["offcmd", "oncmd", "rebootcmd"], status="state")
# Eaton nLogic PDU (NUT's eaton-pdu-nlogic-mib.c): rows 1.outlet; pduOutletControlStatus
# off(1)/on(2); pduOutletControlCommand off(1), on(2), delayed off(3) / on(4), reboot(5)
# (ends on), delayed reboot(6); the delayed ones change nothing at once.
device("nlogic", E + "534.7.1", "Eaton nLogic PDU (snmpsim)", E + "534",
       [("ctl", E + "534.7.1.5.2.1.10", lambda i: f"1.{i}", "2", "2", "read-write"),
        ("state", E + "534.7.1.5.2.1.1", lambda i: f"1.{i}", "2", "2", "read-only"),
        ("name", E + "534.7.1.5.1.1.2", lambda i: f"1.{i}", "4", "Outlet {i}", "read-only")],
       follow={"1": "1", "2": "2", "5": "2"}, valid=["1", "2", "3", "4", "5", "6"],
       control="ctl", status="state")
# Avocent PM PDU (NUT's emerson-avocent-pdu-mib.c): rows 1.pdu.outlet; status off(1)/on(2);
# control noAction(1), powerOn(2), powerOff(3), powerCycle(4) (ends on), lock(5), unlock(6).
device("avocent", E + "10418.17.1.7", "Avocent PM3000 (snmpsim)", E + "10418",
       [("ctl", E + "10418.17.2.5.5.1.6", lambda i: f"1.1.{i}", "2", "1", "read-write"),
        ("state", E + "10418.17.2.5.5.1.5", lambda i: f"1.1.{i}", "2", "2", "read-only"),
        ("name", E + "10418.17.2.5.5.1.4", lambda i: f"1.1.{i}", "4", "Outlet {i}", "read-only")],
       follow={"2": "2", "3": "1", "4": "2"}, valid=["1", "2", "3", "4", "5", "6"],
       control="ctl", status="state")
# Raritan PX1 (PDU-MIB, NUT's raritan-pdu-mib.c): 0-based outlet rows; the state column
# is the command column: off(0), on(1), cycle(2) (ends on).
device("raritan1", E + "13742", "Raritan Dominion PX (snmpsim)", E + "13742",
       [("ctl", E + "13742.1.2.2.1.3", lambda i: str(i - 1), "2", "1", "read-write"),
        ("name", E + "13742.1.2.2.1.2", lambda i: str(i - 1), "4", "Outlet {i}", "read-only")],
       follow={"0": "0", "1": "1", "2": "1"}, valid=["0", "1", "2"], control="ctl", status="ctl")


def pad(oid):
    # snmpsim's sql module keeps OIDs with every arc right-aligned to 10 characters.
    return ".".join("%10s" % x for x in oid.split("."))


SYS = "1.3.6.1.2.1.1"
db_path = os.path.join(out, "pdu.sqlite")
if os.path.exists(db_path):
    os.remove(db_path)
db = sqlite3.connect(db_path)
# Every change of a value (a SET, and the state that follows it), with the time in Unix
# seconds: the simulator's own record of what was switched and when (tests read it).
db.execute("CREATE TABLE setlog (tbl text, oid text, value text, at real)")


def log_changes(table):
    db.execute(f"""CREATE TRIGGER {table}_setlog AFTER UPDATE OF value ON {table} BEGIN
        INSERT INTO setlog VALUES ('{table}', replace(NEW.oid, ' ', ''), NEW.value,
                                   (julianday('now') - 2440587.5) * 86400.0); END""")


for d in DEVICES:
    table = d["community"].replace("-", "_")
    sysgroup = [f"{SYS}.1.0|4|{d['descr']}", f"{SYS}.2.0|6|{d['sysoid']}",
                f"{SYS}.3.0|67:numeric|rate=100,initial=1000", f"{SYS}.5.0|4|{d['community']}-sim"]
    with open(os.path.join(data, d["community"] + ".snmprec"), "w") as f:
        subtrees = d["subtree"] if isinstance(d["subtree"], list) else [d["subtree"]]
        f.write("\n".join(sysgroup + [f"{t}|:sql|{table}" for t in subtrees]) + "\n")
    db.execute(f"CREATE TABLE {table} (oid text, tag text, value text, maxaccess text)")
    cols = {c[0]: c for c in d["columns"]}
    rows = []
    for r in d["rows"]:
        for name, oid, rowf, tag, init, access in d["columns"]:
            s, o = (r if isinstance(r, tuple) else (1, r))
            value = str(init(o)) if callable(init) else init.format(i=o, s=s, o=o, i0=o - 1)
            rows.append((pad(f"{oid}.{rowf(r)}"), tag, value, access))
    rows += [(pad(o), tg, v, a) for o, tg, v, a in d["extra"]]
    rows.sort()
    db.executemany(f"INSERT INTO {table} VALUES (?,?,?,?)", rows)
    log_changes(table)
    st = cols[d["status"]]
    controls = d["control"] if isinstance(d["control"], list) else [d["control"]]
    ok = ",".join(f"'{v}'" for v in d["valid"])
    for cname in controls:
        ctl = cols[cname]
        follow = d["follow"].get(cname, d["follow"]) if len(controls) > 1 else d["follow"]
        cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in follow.items())
        for n, r in enumerate(d["rows"]):
            c_oid, s_oid = pad(f"{ctl[1]}.{ctl[2](r)}"), pad(f"{st[1]}.{st[2](r)}")
            # The state follows the command (a command with no state change keeps the state).
            db.execute(f"""CREATE TRIGGER {table}_{cname}_follow_{n} AFTER UPDATE OF value ON {table}
              WHEN NEW.oid = '{c_oid}' BEGIN
                UPDATE {table} SET value = CASE NEW.value {cases} ELSE (SELECT value FROM {table} WHERE oid = '{s_oid}') END
                  WHERE oid = '{s_oid}';
              END""")
        # A bad command (wrong type or value) is refused with an SNMP error, as a real PDU does.
        db.execute(f"""CREATE TRIGGER {table}_{cname}_validate BEFORE UPDATE OF value ON {table}
          WHEN NEW.oid LIKE '{pad(ctl[1])}.%' AND (NEW.tag != '2' OR NEW.value NOT IN ({ok})) BEGIN
            SELECT RAISE(ABORT, 'bad value'); END""")
    # Only existing rows can be switched: a SET must not create outlet 99.
    db.execute(f"""CREATE TRIGGER {table}_no_new_rows BEFORE INSERT ON {table} BEGIN
        SELECT RAISE(ABORT, 'no such outlet'); END""")

# Lindy IPower (enterprise 17420): the states of all outlets of unit 1 are one string
# ("1,1,0,...": 1 on, 0 off) that a client rewrites whole; names are "name,..." records.
LINDY = E + "17420.1.2.9.1"
with open(os.path.join(data, "lindy.snmprec"), "w") as f:
    f.write("\n".join([f"{SYS}.1.0|4|Lindy IPower (snmpsim)", f"{SYS}.2.0|6|{E}17420",
                       f"{SYS}.3.0|67:numeric|rate=100,initial=1000", f"{SYS}.5.0|4|lindy-sim",
                       f"{E}17420|:sql|lindy"]) + "\n")
db.execute("CREATE TABLE lindy (oid text, tag text, value text, maxaccess text)")
rows = [(pad(f"{LINDY}.13.0"), "4", ",".join(["1"] * 8), "read-write")]
rows += [(pad(f"{LINDY}.14.{i}.0"), "4", f"Outlet {i},0,0", "read-only") for i in range(1, 9)]
rows.sort()
db.executemany("INSERT INTO lindy VALUES (?,?,?,?)", rows)
# snmpsim stores a SET string hex-encoded (tag 4x): '0' '1' ',' are 30 31 2c.
db.execute(f"""CREATE TRIGGER lindy_validate BEFORE UPDATE OF value ON lindy
  WHEN NEW.oid = '{pad(LINDY + ".13.0")}' AND NOT (
       (NEW.tag = '4' AND NEW.value NOT GLOB '*[^01,]*') OR
       (NEW.tag = '4x' AND replace(replace(replace(lower(NEW.value), '2c', ''), '30', ''), '31', '') = '')) BEGIN
    SELECT RAISE(ABORT, 'bad value'); END""")
db.execute("CREATE TRIGGER lindy_no_new_rows BEFORE INSERT ON lindy BEGIN SELECT RAISE(ABORT, 'no such outlet'); END")
DEVICES.append(dict(community="lindy"))

# SNMPv3 with an empty context name (all fence-agents can send) reaches one device.
if SELF not in [d["community"] for d in DEVICES]:
    sys.exit(f"no device called {SELF}")
with open(os.path.join(data, "self.snmprec"), "w") as f:
    f.write(open(os.path.join(data, SELF + ".snmprec")).read())
db.commit()
db.close()
print("wrote", data, "and", db_path)
