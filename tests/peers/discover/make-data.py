#!/usr/bin/env python3
"""The planted PDUs of the discover peer, as static snmpsim data (stdlib only).

One PDU per loopback address in 127.0.7.0/24, all served by one snmpsim on one UDP port.
snmpsim-endpoints.py picks a device's data by the endpoint a request came in on and the
community it carries: endpoint k (0-based, in the order of endpoints.tsv, which is the
order of the --agent-udpv4-endpoint options) answers community C from
data/C/1.3.6.1.6.1.1.<k>.snmprec and from nothing else. data/C.snmprec only makes
snmpsim accept community C; it is never served.

Each PDU: sysDescr, sysObjectID, sysUpTime, sysContact, sysName "pdu-<last octet>",
sysLocation, sysServices, snmpEngineBoots and snmpEngineTime, and the outlet table of its
family (agents/families/*.toml): the status column, every outlet on, and the names
column, "Outlet N", where the family has one; rows as the family's row pattern renders
them for switch 1 (1.N for {switch}.{plug}, 1.1.N for a {path}).

usage: make-data.py OUTDIR   writes OUTDIR/data/, OUTDIR/endpoints.tsv (address, community,
       sysObjectID, the last outlet's status OID, its value) and OUTDIR/manifest-snmp.tsv
       (address, "snmp", family, outlets, community)
"""
import os
import sys

E = "1.3.6.1.4.1."
SYS = "1.3.6.1.2.1.1."

# family name: (sysObjectID, status column, row of outlet N, on value, names column or None,
#               sysDescr). Columns and sysObjectIDs are those of agents/families/*.toml.
FAMILIES = {
    "apc-rpdu": (E + "318.1.3.4.5", E + "318.1.1.12.3.5.1.1.4", "{n}", 1, E + "318.1.1.12.3.5.1.1.2",
                 "APC Web/SNMP Management Card (MB:v4.1.0 PF:v6.9.6 PN:apc_hw05_aos_696.bin "
                 "AF1:v6.9.6 AN1:apc_hw05_rpdu2g_696.bin MN:AP8959 HR:05 SN: 5A19{k:04d}E0 MD:06/01/2021)"),
    "raritan-px2": (E + "13742.6", E + "13742.6.4.1.2.1.3", "1.{n}", 7, E + "13742.6.3.5.3.1.3",
                    "PX2 - Raritan Dominion PX2 (firmware 3.5.0.5-44720) SN PEG17{k:05d}"),
    "servertech-sentry3": (E + "1718.3", E + "1718.3.2.3.1.5", "1.1.{n}", 1, E + "1718.3.2.3.1.3",
                           "Sentry Switched CDU Version 7.0j (SN ABEF00{k:04d})"),
    "servertech-sentry4": (E + "1718.4", E + "1718.4.1.8.5.1.1", "1.1.{n}", 11, E + "1718.4.1.8.2.1.3",
                           "Sentry Switched PDU Version 8.0t (SN AFAG00{k:04d})"),
    "eaton-g3": (E + "534.6.6.7", E + "534.6.6.7.6.6.1.2", "1.{n}", 1, E + "534.6.6.7.6.1.1.3",
                 "Eaton ePDU Switched EMAT08-10 - Network Management Card 04.00.0011 (SN G3{k:06d})"),
    "cyberpower-epdu": (E + "3808.1.1.3", E + "3808.1.1.3.3.5.1.1.4", "{n}", 1, E + "3808.1.1.3.3.3.1.1.2",
                        "CyberPower Systems, Inc. PDU81005 Switched ePDU, firmware 2.3.4 (SN QBU{k:06d})"),
    "vertiv-geist-v5": (E + "21239.42.1.53", E + "21239.5.2.3.5.1.4", "{n}", 1, E + "21239.5.2.3.5.1.2",
                        "Vertiv Geist IMD-03E-S rPDU, firmware 5.10.1 (SN 0000{k:04d}53)"),
    "tripplite-lx": (E + "850.1.1.1", E + "850.1.1.3.2.3.3.1.1.4", "1.{n}", 2, E + "850.1.1.3.2.3.3.1.1.2",
                     "Tripp Lite PDUMH15NET2LX, SNMPWEBCARD LX Platform 15.5.4 (SN 2739{k:06d})"),
    "emerson-mpx": (E + "476.1.42", E + "476.1.42.3.8.50.20.1.95", "1.1.{n}", 2, E + "476.1.42.3.8.50.20.1.10",
                    "Liebert MPH2 Rack PDU (RPC2 card, firmware 4.3.0.0) SN 1609{k:06d}"),
    "baytech-rpc": (E + "4779", E + "4779.1.3.5.3.1.3", "1.{n}", 1, E + "4779.1.3.5.3.1.4",
                    "Universal RPC Host Module F4.00, MRP27 (SN BT{k:06d})"),
    "apc-masterswitch": (E + "318.1.3.4.2", E + "318.1.1.4.4.2.1.3", "{n}", 1, E + "318.1.1.4.4.2.1.4",
                         "APC Web/SNMP Management Card (MB:v3.3.4 PF:v2.6.4 PN:apc_hw02_aos_264.bin "
                         "AF1:v2.6.1 AN1:apc_hw02_ms_261.bin MN:AP9211 HR:B2 SN: WA97{k:04d}23 MD:02/10/1999)"),
}
ORDER = list(FAMILIES)
# The model-name object NUT's nut-scanner reads to confirm a device whose sysObjectID it
# knows (its snmp-ups MIB tables), so the side-by-side benchmark gives it the same chance
# a real unit would: family name: (OID, value).
MODELS = {
    "apc-rpdu": (E + "318.1.1.4.1.4.0", "AP8959"),
    "raritan-px2": (E + "13742.6.3.2.1.1.3.1", "PX2-5464"),
    "eaton-g3": (E + "534.6.6.7.1.2.1.2.0", "EMAT08-10"),
    "baytech-rpc": (E + "4779.1.3.5.2.1.24.1", "MRP27"),
}
OUTLETS = (8, 16, 24)
NET = "127.0.7."
# 127.0.7.10 .. 127.0.7.39 but for these (and everything outside that range): empty.
HOLES = {15, 24, 31}
# PDUs answering community "secret42" only (not "public"), by last octet.
SECRET = {16, 33}
SECRET_COMMUNITY = "secret42"


def plan():
    pdus = []
    octets = [o for o in range(10, 40) if o not in HOLES]
    for i, o in enumerate(octets):
        family = ORDER[i % len(ORDER)]
        pdus.append(dict(addr=NET + str(o), octet=o, family=family, outlets=OUTLETS[i % len(OUTLETS)],
                         community=SECRET_COMMUNITY if o in SECRET else "public"))
    return pdus


def key(oid):
    return tuple(int(x) for x in oid.split("."))


def records(p):
    sysoid, status, row, on, names, descr = FAMILIES[p["family"]]
    k = p["octet"]
    recs = [(SYS + "1.0", "4", descr.format(k=k)),
            (SYS + "2.0", "6", sysoid),
            (SYS + "3.0", "67", str(8640000 + 1000 * k)),
            (SYS + "4.0", "4", "lab-ops@example.invalid"),
            (SYS + "5.0", "4", "pdu-%d" % k),
            (SYS + "6.0", "4", "discover lab, rack %d" % (k // 4)),
            (SYS + "7.0", "2", "72"),
            # snmpEngineBoots and snmpEngineTime, so that walks of the outlet table end
            # on a next object, as on a real agent, rather than at the end of the MIB
            ("1.3.6.1.6.3.10.2.1.2.0", "2", str(3 + k % 5)),
            ("1.3.6.1.6.3.10.2.1.3.0", "2", str(86400 + 10 * k))]
    if p["family"] in MODELS:
        oid, model = MODELS[p["family"]]
        recs.append((oid, "4", model))
    for n in range(1, p["outlets"] + 1):
        recs.append((status + "." + row.format(n=n), "2", str(on)))
        if names:
            recs.append((names + "." + row.format(n=n), "4", "Outlet %d" % n))
    recs.sort(key=lambda r: key(r[0]))
    return recs, status + "." + row.format(n=p["outlets"]), on


def main():
    out = sys.argv[1]
    data = os.path.join(out, "data")
    os.makedirs(data, exist_ok=True)
    pdus = plan()
    communities = sorted({p["community"] for p in pdus})
    for c in communities:
        os.makedirs(os.path.join(data, c), exist_ok=True)
        # Only so that snmpsim accepts the community; snmpsim-endpoints.py never serves it.
        with open(os.path.join(data, c + ".snmprec"), "w") as f:
            f.write(SYS + "1.0|4|community registration only, never served\n")
    with open(os.path.join(out, "endpoints.tsv"), "w") as ep, \
            open(os.path.join(out, "manifest-snmp.tsv"), "w") as man:
        for k, p in enumerate(pdus):
            recs, last, on = records(p)
            with open(os.path.join(data, p["community"], "1.3.6.1.6.1.1.%d.snmprec" % k), "w") as f:
                for oid, tag, value in recs:
                    f.write("%s|%s|%s\n" % (oid, tag, value))
            ep.write("%s\t%s\t%s\t%s\t%d\n" % (p["addr"], p["community"], FAMILIES[p["family"]][0], last, on))
            man.write("%s\tsnmp\t%s\t%d\t%s\n" % (p["addr"], p["family"], p["outlets"], p["community"]))


if __name__ == "__main__":
    main()
