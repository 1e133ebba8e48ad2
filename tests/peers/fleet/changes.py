#!/usr/bin/env python3
"""Print the fleet's outlet change log (make-data.py's setlog table), oldest first, one
"TIME PDU OUTLET COMMAND" line per accepted outlet command (1 on, 2 off, 3 reboot, ...).

usage: changes.py DB [--since UNIXTIME] [PDU[:OUTLET] ...]
  no PDU: every PDU; PDU alone: all its outlets. Lines from several PDUs are merged in
  time order, e.g. for "both PSUs off before either is on":
    changes.py "$FLEET_SETLOG_DB" --since "$t" pdu01:1 pdu02:1 | awk '{print $4}'  -> 2 2 1 1
"""
import sqlite3
import sys

args = sys.argv[1:]
if not args or args[0].startswith("-"):
    sys.exit(__doc__)
db, since, picks = args.pop(0), 0.0, []
while args:
    a = args.pop(0)
    if a == "--since" and args:
        since = float(args.pop(0))
    elif a.startswith("pdu"):
        pdu, _, outlet = a.partition(":")
        picks.append((pdu, int(outlet) if outlet else None))
    else:
        sys.exit(__doc__)
where, params = "at >= ?", [since]
if picks:
    where += " AND (" + " OR ".join(
        "(tbl = ?" + (" AND outlet = ?)" if o is not None else ")") for _, o in picks) + ")"
    for p, o in picks:
        params += [p] if o is None else [p, o]
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
for at, tbl, outlet, value in con.execute(
        f"SELECT at, tbl, outlet, value FROM setlog WHERE {where} ORDER BY at, rowid", params):
    print(f"{at:.3f} {tbl} {outlet} {value}")
