#!/usr/bin/env python3
"""Print what a snmpsim device of tests/peers/snmp recorded: the values written to one
outlet's control OID after a time, one "TIME VALUE" line each, oldest first.
usage: setlog.py SQLITE TABLE OID [SINCE]"""
import sqlite3
import sys

db, table, oid = sys.argv[1:4]
since = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
# Where the control OID is also the state OID (Baytech), one SET is recorded twice in the
# same instant: the write and the state trigger that follows it. Print it once.
last = None
for at, value in con.execute(
        "SELECT at, value FROM setlog WHERE tbl = ? AND oid = ? AND at >= ? ORDER BY at, rowid",
        (table, oid.lstrip("."), since)):
    if (at, value) != last:
        print(f"{at:.3f} {value}")
    last = (at, value)
