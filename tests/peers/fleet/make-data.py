#!/usr/bin/env python3
"""The fleet's PDUs for snmpsim (stdlib only): PDUS APC Rack PDUs in one sqlite file,
one table per PDU, served by snmpsim's `sql` variation module. The SNMP community (or,
over v3, the context name) is the PDU's name, pdu01 .. pduNN, and picks its table.

Each PDU is an APC Rack PDU (rPDU, sysObjectID .1.3.6.1.4.1.318.1.3.4.5, PowerNet-MIB):
  .318.1.1.12.3.3.1.1.4.N  rPDUOutletControlOutletCommand (read-write): 1 on, 2 off,
                           3 reboot (ends on), 4/5/6 the delayed forms (done at once),
                           7 cancel (no change); anything else is refused
  .318.1.1.12.3.5.1.1.4.N  rPDUOutletStatusOutletState: 1 on, 2 off (follows the command)
  .318.1.1.12.3.5.1.1.2.N  rPDUOutletStatusOutletName "pduNN-outletMM" (and .3.3.1.1.2.N)
  .318.1.1.12.1.1.0 rPDUIdentName "pduNN"; .12.1.8.0 and .12.3.1.4.0 the outlet count;
  .318.1.1.12.2.3.1.1.2.1 rPDULoadStatusLoad: 1 (0.1 A) per outlet that is on
  sysName "pduNN", sysLocation "rack R" (4 PDUs a rack)

The change log is the table `setlog` (tbl, oid, value, at, outlet): one row for every
accepted write of an outlet command, `at` in Unix seconds (ms resolution), `tbl` the
PDU, `oid` without leading dot. Its first four columns are those of tests/peers/snmp's
setlog, so tests/system/setlog.py DB pduNN OID [SINCE] reads it too.

usage: make-data.py OUTDIR [PDUS=42] [OUTLETS=24]   write OUTDIR/data/*.snmprec, OUTDIR/pdu.sqlite
       make-data.py --reset DB [--clear-log]        every outlet back on (not logged);
                                                    --clear-log also empties setlog
"""
import os
import sqlite3
import sys

RPDU = "1.3.6.1.4.1.318.1.1.12"
CTL = RPDU + ".3.3.1.1.4"
CTL_NAME = RPDU + ".3.3.1.1.2"
STATE = RPDU + ".3.5.1.1.4"
STATE_NAME = RPDU + ".3.5.1.1.2"
LOAD = RPDU + ".2.3.1.1.2.1"
COMMANDS = "('1','2','3','4','5','6','7')"
SYS = "1.3.6.1.2.1.1"


def pad(oid):
    # snmpsim's sql module looks OIDs up with every arc right-aligned to 10 characters.
    return ".".join("%10s" % arc for arc in oid.split("."))


def pdu_names(con):
    return [r[0] for r in con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'pdu[0-9]*' ORDER BY name")]


def generate(out, npdu, nout):
    data = os.path.join(out, "data")
    os.makedirs(data, exist_ok=True)
    width = max(2, len(str(npdu)))
    path = os.path.join(out, "pdu.sqlite")
    if os.path.exists(path):
        os.remove(path)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE setlog (tbl text, oid text, value text, at real, outlet integer)")
    ctl, state = pad(CTL), pad(STATE)
    for p in range(1, npdu + 1):
        t = "pdu%0*d" % (width, p)
        with open(os.path.join(data, t + ".snmprec"), "w") as f:
            f.write(f"{SYS}.1.0|4|APC Rack PDU (snmpsim fleet {t})\n"
                    f"{SYS}.2.0|6|1.3.6.1.4.1.318.1.3.4.5\n"
                    f"{SYS}.3.0|67:numeric|rate=100,initial=1000\n"
                    f"{SYS}.5.0|4|{t}\n"
                    f"{SYS}.6.0|4|rack {(p - 1) // 4 + 1}\n"
                    f"1.3.6.1.4.1.318|:sql|{t}\n")
        con.execute(f"CREATE TABLE {t} (oid text, tag text, value text, maxaccess text)")
        rows = [(RPDU + ".1.1.0", "4", t, "read-only"),
                (RPDU + ".1.8.0", "2", str(nout), "read-only"),
                (RPDU + ".3.1.4.0", "2", str(nout), "read-only"),
                (LOAD, "66", str(nout), "read-only")]
        for i in range(1, nout + 1):
            name = "%s-outlet%02d" % (t, i)
            rows += [(f"{RPDU}.3.3.1.1.1.{i}", "2", str(i), "read-only"),
                     (f"{CTL_NAME}.{i}", "4", name, "read-only"),
                     (f"{CTL}.{i}", "2", "1", "read-write"),
                     (f"{RPDU}.3.5.1.1.1.{i}", "2", str(i), "read-only"),
                     (f"{STATE_NAME}.{i}", "4", name, "read-only"),
                     (f"{STATE}.{i}", "2", "1", "read-only")]
        con.executemany(f"INSERT INTO {t} VALUES (?, ?, ?, ?)",
                        sorted((pad(o), tag, v, a) for o, tag, v, a in rows))
        con.execute(f"CREATE UNIQUE INDEX {t}_oid ON {t} (oid)")
        # snmpsim INSERTs a SET to an OID it does not have: a PDU has no outlet 99. Refusals
        # roll the whole transaction back, so no write lock is left behind in snmpsim.
        con.execute(f"""CREATE TRIGGER {t}_fixed BEFORE INSERT ON {t} BEGIN
            SELECT RAISE(ROLLBACK, 'no such object'); END""")
        con.execute(f"""CREATE TRIGGER {t}_refuse BEFORE UPDATE OF value ON {t}
            WHEN NEW.oid LIKE '{ctl}.%' AND (NEW.tag != '2' OR NEW.value NOT IN {COMMANDS}) BEGIN
            SELECT RAISE(ROLLBACK, 'bad outlet command'); END""")
        # An accepted command: log it, move the outlet's state, recount the load.
        # substr(oid, len(ctl) + 1) is ".      N", the outlet's arc with its dot.
        tail = len(ctl) + 1
        con.execute(f"""CREATE TRIGGER {t}_apply AFTER UPDATE OF value ON {t}
            WHEN NEW.oid LIKE '{ctl}.%' BEGIN
              INSERT INTO setlog VALUES ('{t}', replace(NEW.oid, ' ', ''), NEW.value,
                (julianday('now') - 2440587.5) * 86400.0, CAST(trim(substr(NEW.oid, {tail + 1})) AS integer));
              UPDATE {t} SET value = CASE NEW.value WHEN '2' THEN '2' WHEN '5' THEN '2'
                                                    WHEN '7' THEN value ELSE '1' END
                WHERE oid = '{state}' || substr(NEW.oid, {tail});
              UPDATE {t} SET value = (SELECT count(*) FROM {t} WHERE oid LIKE '{state}.%' AND value = '1')
                WHERE oid = '{pad(LOAD)}';
            END""")
    con.commit()
    con.close()
    print(f"wrote {npdu} PDUs x {nout} outlets: {data}, {path}")


def reset(path, clear_log):
    con = sqlite3.connect(path, timeout=30, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    mark = con.execute("SELECT coalesce(max(rowid), 0) FROM setlog").fetchone()[0]
    for t in pdu_names(con):
        # through the triggers, so state and load follow; the log rows this makes go below
        con.execute(f"UPDATE {t} SET tag = '2', value = '1' WHERE oid LIKE '{pad(CTL)}.%'")
    con.execute("DELETE FROM setlog WHERE rowid > ?" if not clear_log else "DELETE FROM setlog",
                () if clear_log else (mark,))
    con.execute("COMMIT")
    con.close()


if __name__ == "__main__":
    a = sys.argv[1:]
    if a and a[0] == "--reset" and len(a) in (2, 3):
        reset(a[1], a[2:] == ["--clear-log"])
    elif a and not a[0].startswith("-"):
        generate(a[0], int(a[1]) if len(a) > 1 else 42, int(a[2]) if len(a) > 2 else 24)
    else:
        sys.exit(__doc__)
