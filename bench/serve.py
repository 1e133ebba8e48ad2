#!/usr/bin/env python3
"""Power-service rows of the benchmark: PDUDaemon 1.1.1 beside `fencebox serve`, both
serving PDUDaemon's HTTP protocol for the same simulated PDUs, under the same load.

The PDUs are 8 of the fleet peer's (tests/peers/fleet, started here with FLEET_BMCS=0 and
its own state): pdu35..pdu42 in one snmpsim, 24 outlets each. Both servers know them by
the host names 127.0.0.2 .. 127.0.0.9: PDUDaemon (tests/peers/pdudaemon/start-pdudaemon.sh)
through its `snmpv1` driver and a udp relay per address (the driver's port is 161), fencebox
as inventory devices of those names (fence_apc_snmp, v2c, the community picking the PDU).

Load: CLIENTS threads, each with one kept-alive http.client connection, send REQUESTS
`GET /power/control/{on,off}?hostname=H&port=N` in all. Request i goes to PDU i mod 8,
outlet (i div 8) mod 24 + 1; an outlet's requests alternate off, on, off, ... from all on,
so every request changes a state, and an outlet's next request is sent only after its
previous one was answered. The servers run one after the other on the same peer, each
after one warm-up request per PDU and a reset of the fleet (all on, change log emptied).

Per server: answers 200; "confirmed": a 200 whose command the PDU's change log (snmpsim's
setlog table) holds for that outlet between the request's send and its answer, and whose
outlet reads back in the final expected state (one snmpget per PDU afterwards);
throughput (requests / first send to last answer); p50 and p99 latency (send to answer);
peak RSS (VmHWM of the server process and its children, read before it stops); CPU
(user + system of the server process during the load, from /proc); overlapping jobs on
one PDU: for fencebox from its journal (per device, a job started before the previous one
ended), PDUDaemon keeps no journal; the closest two commands to one PDU in the change
log are shown for both.

bench/run.py calls run() and writes the rows into docs/benchmarks.md; standalone:
  bench/serve.py [--fencebox PATH] [--requests N] [--clients N] [--out FILE]
PDUDaemon's venv (systemd-python builds from source; about a minute once) is kept in
$PEERS_STATE/pdudaemon-venv (default /tmp/fencebox-test-peers), shared between runs.
"""

import argparse
import datetime
import http.client
import json
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
import fleet  # noqa: E402  (bench/fleet.py, beside this file)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = os.path.join(ROOT, "tests", "peers")
PDUS = list(range(35, 43))          # fleet PDUs used (tests use pdu01..pdu23)
OUTLETS = 24
REQUESTS = 1000
CLIENTS = 64
RSS_TARGET_MIB = 40
P50_FACTOR = 10
STATE = ".1.3.6.1.4.1.318.1.1.12.3.5.1.1.4"
CTL = "1.3.6.1.4.1.318.1.1.12.3.3.1.1.4"   # as setlog stores it (no leading dot)


def host_of(k):
    """The host name of the k-th PDU (from 0): 127.0.0.2 .. 127.0.0.9."""
    return f"127.0.0.{k + 2}"


def plan(n):
    """[(pdu index, outlet, action)]: request i on PDU i mod 8, outlet (i div 8) mod 24 + 1,
    off on its outlet's even rounds and on on its odd ones (the outlets start on)."""
    per_round = len(PDUS) * OUTLETS
    return [(i % len(PDUS), (i // len(PDUS)) % OUTLETS + 1, "off" if (i // per_round) % 2 == 0 else "on")
            for i in range(n)]


# ---- the load -------------------------------------------------------------------------------


def load(port, n, clients, timeout=120):
    """Send the plan's n requests from `clients` threads to 127.0.0.1:port; returns per request
    a dict: pdu, outlet, action, status, body, t0/t1 (time.time, for the logs) and latency."""
    reqs = plan(n)
    period = len(PDUS) * OUTLETS
    done = [threading.Event() for _ in range(n)]
    out = [None] * n
    lock = threading.Lock()
    nxt = [0]

    def client():
        conn = None
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= n:
                break
            if i >= period:
                done[i - period].wait()   # the outlet's previous request has its answer
            k, outlet, action = reqs[i]
            path = f"/power/control/{action}?hostname={host_of(k)}&port={outlet}"
            status, body = 0, ""
            w0, t0 = time.time(), time.perf_counter()
            for attempt in (1, 2):   # a kept-alive connection the server closed: once more
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
                    conn.request("GET", path)
                    r = conn.getresponse()
                    status, body = r.status, r.read().decode(errors="replace").strip()
                    if r.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = None
                    break
                except (OSError, http.client.HTTPException) as e:
                    if conn is not None:
                        conn.close()
                    conn = None
                    status, body = 0, f"{type(e).__name__}: {e}"
                    if attempt == 2 or isinstance(e, TimeoutError):
                        break
            t1, w1 = time.perf_counter(), time.time()
            out[i] = {"pdu": k, "outlet": outlet, "action": action, "status": status, "body": body,
                      "t0": w0, "t1": w1, "latency": t1 - t0}
            done[i].set()
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


# ---- what the servers and the PDUs say afterwards -----------------------------------------


def setlog(db, since):
    """{(pdu index, outlet): [(at, value)]} of the change log since `since`, for our PDUs."""
    names = {fleet.pdu_name(p): k for k, p in enumerate(PDUS)}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = con.execute("SELECT at, tbl, outlet, value FROM setlog WHERE at >= ? ORDER BY at, rowid",
                           (since,)).fetchall()
    finally:
        con.close()
    log = {}
    for at, tbl, outlet, value in rows:
        if tbl in names:
            log.setdefault((names[tbl], int(outlet)), []).append((float(at), int(value)))
    return log


def final_states(f, env):
    """{(pdu index, outlet): 1 on / 2 off}, read with snmpget (one per PDU)."""
    states = {}
    for k, p in enumerate(PDUS):
        oids = [f"{STATE}.{o}" for o in range(1, OUTLETS + 1)]
        r = subprocess.run(["snmpget", *fleet.SNMP, "-Oqv", "-c", fleet.pdu_name(p),
                            f"127.0.0.1:{f['FLEET_SNMP_PORT']}", *oids],
                           capture_output=True, text=True, env=env)
        vals = r.stdout.split()
        for o in range(1, OUTLETS + 1):
            states[(k, o)] = int(vals[o - 1]) if r.returncode == 0 and len(vals) == OUTLETS and vals[o - 1].isdigit() else 0
    return states


def confirm(results, log, states, slack=0.01):
    """How many 200s the change log and the final states confirm. A request is confirmed by a
    log entry of its command on its outlet between its send and its answer (each entry used
    once; `slack` seconds either side for the log's millisecond resolution), and its outlet
    must end in the state of its last request."""
    last = {}
    for r in results:
        last[(r["pdu"], r["outlet"])] = 1 if r["action"] == "on" else 2
    bad_final = {key for key, want in last.items() if states.get(key) != want}
    used = set()
    confirmed = 0
    for r in sorted(results, key=lambda r: r["t0"]):
        if r["status"] != 200:
            continue
        key = (r["pdu"], r["outlet"])
        want = 1 if r["action"] == "on" else 2
        for j, (at, value) in enumerate(log.get(key, [])):
            if (key, j) not in used and value == want and r["t0"] - slack <= at <= r["t1"] + slack:
                used.add((key, j))
                if key not in bad_final:
                    confirmed += 1
                break
    return confirmed, len(bad_final)


def min_gap_ms(log):
    """The closest two commands to one PDU in the change log (ms), or None."""
    by_pdu = {}
    for (k, _), entries in log.items():
        by_pdu.setdefault(k, []).extend(at for at, _ in entries)
    gaps = [b - a for ats in by_pdu.values() for a, b in zip(sorted(ats), sorted(ats)[1:])]
    return min(gaps) * 1e3 if gaps else None


def parse_time(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def journal_overlaps(path):
    """(jobs seen, overlapping pairs): per device, jobs ordered by start, one that started
    before the one before it ended."""
    jobs = {}
    with open(path) as f:
        for line in f:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            j = jobs.setdefault(ev.get("job"), {})
            if ev.get("event") == "queued":
                j["devices"] = {feed.rsplit(":", 1)[0] for feed in ev.get("feeds", [])}
            elif ev.get("event") in ("started", "ended"):
                j[ev["event"]] = parse_time(ev["at"])
    per_device = {}
    for j in jobs.values():
        if "started" in j and "ended" in j:
            for d in j.get("devices", ()):
                per_device.setdefault(d, []).append((j["started"], j["ended"]))
    overlaps = 0
    for spans in per_device.values():
        spans.sort()
        end = None
        for s, e in spans:
            if end is not None and s < end:
                overlaps += 1
            end = e if end is None else max(end, e)
    return sum(1 for j in jobs.values() if "ended" in j), overlaps


def proc_tree(pid):
    return [pid] + fleet.children_of(pid)


def peak_rss_kib(pid):
    return max(fleet.vm_hwm_kib(p) for p in proc_tree(pid))


def cpu_s(pid):
    t = fleet.proc_cpu(pid)
    return t[1] if t else 0.0


# ---- the servers ----------------------------------------------------------------------------


def start_pdudaemon(f, env, stops):
    args = [f["FLEET_SNMP_PORT"]] + [f"{host_of(k)}={fleet.pdu_name(p)}" for k, p in enumerate(PDUS)]
    script = os.path.join(PEERS, "pdudaemon", "start-pdudaemon.sh")

    def stop():
        subprocess.run([os.path.join(PEERS, "pdudaemon", "stop-pdudaemon.sh")], env=env, capture_output=True)
    stops.append(stop)
    out = subprocess.run([script, *args], env=env, capture_output=True, text=True)
    got = dict(l.split("=", 1) for l in out.stdout.splitlines() if "=" in l)
    if out.returncode != 0 or "PDUDAEMON_PORT" not in got:
        sys.exit("pdudaemon did not start:\n" + out.stderr[-2000:])
    return int(got["PDUDAEMON_PORT"]), int(got["PDUDAEMON_PID"]), stop


class Fencebox:
    """`fencebox serve` with the 8 PDUs as devices 127.0.0.2 .. and only PDUDaemon's HTTP
    listener besides the API (both on free ports)."""

    def __init__(self, fencebox, f, work, env):
        self.dir = os.path.join(work, "serve")
        os.makedirs(self.dir, exist_ok=True)
        inv = "".join(
            f"[devices.\"{host_of(k)}\"]\nagent = \"fence_apc_snmp\"\nip = \"127.0.0.1\"\n"
            f"ipport = {f['FLEET_SNMP_PORT']}\ncommunity = \"{fleet.pdu_name(p)}\"\n"
            "snmp_version = \"2c\"\npower_wait = 0\n\n" for k, p in enumerate(PDUS))
        inv_path = fleet.write_inventory(self.dir, "inventory.toml", inv)  # mode 0600: communities
        self.journal = os.path.join(self.dir, "journal.jsonl")
        self.conf = os.path.join(self.dir, "serve.toml")
        with open(self.conf, "w") as c:
            c.write(f"inventory = \"{inv_path}\"\ntokens = \"{os.path.join(self.dir, 'tokens.toml')}\"\n"
                    f"journal = \"{self.journal}\"\nlisten = [\"127.0.0.1:0\"]\n\n"
                    "[pdudaemon]\nlisten = [\"127.0.0.1:0\"]\n")
        self.log = os.path.join(self.dir, "serve.log")
        self.argv = [os.path.abspath(fencebox), "serve", "--config", self.conf]
        self.env = env
        self.proc = None

    def start(self):
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.proc.poll() is None:
            with open(self.log) as f:
                said = f.read()
            if "fencebox serve: ready" in said:
                for line in said.splitlines():
                    if "pdudaemon-http listening on " in line:
                        return int(line.rsplit(":", 1)[1]), self.proc.pid
            time.sleep(0.05)
        with open(self.log) as f:
            tail = f.read()[-1500:]
        self.stop()
        sys.exit(f"fencebox serve did not start:\n{tail}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---- one server under load ------------------------------------------------------------------


def warm_up(port):
    """One request per PDU (outlet 1 on: it is on already), so that first-use costs are not
    measured."""
    for k in range(len(PDUS)):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request("GET", f"/power/control/on?hostname={host_of(k)}&port=1")
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                sys.exit(f"warm-up request to {host_of(k)}: HTTP {r.status}")
        finally:
            conn.close()


def measure(name, port, pid, f, env, n, clients, journal=None, log=print):
    warm_up(port)
    fleet.reset_fleet(f)
    since = time.time()
    cpu0 = cpu_s(pid)
    results = load(port, n, clients)
    cpu = cpu_s(pid) - cpu0
    rss = peak_rss_kib(pid)
    time.sleep(0.2)   # the last entries reach the change log
    changes = setlog(f["FLEET_SETLOG_DB"], since - 1)
    states = final_states(f, env)
    ok200 = sum(1 for r in results if r["status"] == 200)
    confirmed, bad_final = confirm(results, changes, states)
    lat = sorted(r["latency"] for r in results)
    q = lambda p: lat[max(0, math.ceil(p * len(lat)) - 1)]
    span = max(r["t1"] for r in results) - min(r["t0"] for r in results)
    row = {
        "name": name, "requests": n, "clients": clients, "ok200": ok200, "confirmed": confirmed,
        "bad_final": bad_final, "throughput": n / span if span > 0 else 0.0, "span": span,
        "p50": q(0.50), "p99": q(0.99), "rss_kib": rss, "cpu": cpu,
        "commands": sum(len(v) for v in changes.values()), "min_gap_ms": min_gap_ms(changes),
        "jobs": None, "overlaps": None,
        "errors": sorted({f"{r['status']} {r['body'][:80]}" for r in results if r["status"] != 200})[:3],
    }
    if journal:
        row["jobs"], row["overlaps"] = journal_overlaps(journal)
    log(f"serve       {name:<22} {ok200}/{n} 200, {confirmed} confirmed, {row['throughput']:6.1f} req/s, "
        f"p50 {row['p50']*1e3:7.1f} ms, p99 {row['p99']*1e3:7.1f} ms, rss {rss/1024:5.1f} MiB, "
        f"cpu {cpu:5.2f} s" + (f", {row['overlaps']} overlapping job(s) of {row['jobs']}" if journal else "")
        + (f"; e.g. {row['errors']}" if row["errors"] else ""))
    return row


def run(work, fencebox, env=None, log=print, requests=REQUESTS, clients=CLIENTS):
    """Start the fleet peer (PDUs only) under `work`, PDUDaemon on 8 of its PDUs and load it,
    then fencebox serve on the same PDUs and load it; stop everything started, whatever
    happens. Returns the rows for markdown() and targets()."""
    env = dict(env or os.environ)
    env.setdefault("FENCEBOX_LOCK_DIR", os.path.join(work, "locks"))
    env.pop("PCMK_service", None)
    fleet.need_tools(False)
    stops = []
    rows = []
    try:
        t0 = time.monotonic()
        peers_env = dict(env, PEERS_STATE=os.path.join(work, "peers"), FLEET_BMCS="0")
        for k in ("FLEET_PDUS", "FLEET_OUTLETS", "FLEET_SNMP_PORT", "FLEET_SNMP_LOG_LEVEL"):
            peers_env.pop(k, None)
        stops.append(lambda: subprocess.run([os.path.join(fleet.PEER, "stop.sh")], env=peers_env,
                                            capture_output=True))
        out = subprocess.run([os.path.join(fleet.PEER, "start.sh")], env=peers_env, capture_output=True, text=True)
        path = os.path.join(work, "peers", "fleet", "fleet.env")
        if out.returncode != 0 or not os.path.exists(path):
            sys.exit("fleet peer did not start:\n" + out.stderr[-2000:])
        with open(path) as fh:
            f = dict(l.rstrip("\n").split("=", 1) for l in fh if "=" in l and not l.startswith("#"))
        f["_env"] = peers_env
        log(f"serve: fleet peer (PDUs only) on udp {f['FLEET_SNMP_PORT']}, up in {time.monotonic() - t0:.1f} s")

        # PDUDaemon: its venv is kept in the shared peers state (a build takes about a minute)
        shared = os.environ.get("PEERS_STATE", "/tmp/fencebox-test-peers")
        pd_env = dict(peers_env, PDUD_VENV=os.path.join(shared, "pdudaemon-venv", "venv"))
        t0 = time.monotonic()
        port, pid, stop = start_pdudaemon(f, pd_env, stops)
        log(f"serve: pdudaemon 1.1.1 on tcp {port} (pid {pid}), up in {time.monotonic() - t0:.1f} s")
        rows.append(measure("PDUDaemon 1.1.1", port, pid, f, env, requests, clients, log=log))
        stop()
        stops.remove(stop)

        fb = Fencebox(fencebox, f, work, env)
        stops.append(fb.stop)
        port, pid = fb.start()
        log(f"serve: fencebox serve on tcp {port} (pid {pid})")
        rows.append(measure("fencebox serve", port, pid, f, env, requests, clients, journal=fb.journal, log=log))
        fb.stop()
        return {"rows": rows, "requests": requests, "clients": clients}
    finally:
        for stop in reversed(stops):
            stop()


# ---- the report -----------------------------------------------------------------------------


def targets(result):
    """[(text, met)] of the power-service targets."""
    rows = {r["name"]: r for r in result["rows"]}
    fb, pd = rows.get("fencebox serve"), rows.get("PDUDaemon 1.1.1")
    out = []
    if fb:
        out.append((f"`fencebox serve`: every request confirmed: {fb['confirmed']} of {fb['requests']}",
                    fb["confirmed"] == fb["requests"]))
    if fb and pd:
        out.append((f"`fencebox serve` p50 latency at most a tenth of PDUDaemon's: {fb['p50']*1e3:.1f} ms "
                    f"against {pd['p50']*1e3:.1f} ms (x{pd['p50'] / fb['p50'] if fb['p50'] else float('inf'):.2f})",
                    fb["p50"] * P50_FACTOR <= pd["p50"]))
    if fb:
        out.append((f"`fencebox serve`: no device's jobs overlapping: {fb['overlaps']} overlapping of "
                    f"{fb['jobs']} jobs in the journal", fb["overlaps"] == 0 and bool(fb["jobs"])))
        out.append((f"`fencebox serve` peak RSS under {RSS_TARGET_MIB} MB: {fb['rss_kib']/1024:.1f} MiB",
                    fb["rss_kib"] / 1024 < RSS_TARGET_MIB))
    return out


def markdown(result):
    """The "Power service" section of docs/benchmarks.md."""
    met = lambda ok: "met" if ok else "NOT met"
    n, c = result["requests"], result["clients"]
    lines = [
        "## Power service: PDUDaemon's HTTP protocol",
        "",
        f"PDUDaemon 1.1.1 (PyPI) and `fencebox serve`, one after the other, each serving {n:,} requests",
        f"`GET /power/control/{{on,off}}?hostname=H&port=N` from {c} concurrent clients (threads with",
        f"kept-alive connections) for {len(PDUS)} PDUs of the fleet peer (pdu{PDUS[0]}..pdu{PDUS[-1]}, 24 outlets each,",
        "one snmpsim). Generated by `bench/serve.py` (called by `bench/run.py`).",
        "",
        "| server | requests | HTTP 200 | confirmed | throughput (req/s) | p50 (ms) | p99 (ms) "
        "| peak RSS (MiB) | CPU (s) | overlapping jobs on one PDU | closest commands to one PDU (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in result["rows"]:
        overlap = (f"{r['overlaps']} of {r['jobs']} jobs (journal)" if r["jobs"] is not None
                   else "not recorded (no journal)")
        gap = f"{r['min_gap_ms']:.1f}" if r["min_gap_ms"] is not None else "-"
        lines.append(f"| {r['name']} | {r['requests']} | {r['ok200']} | {r['confirmed']} | {r['throughput']:.1f} "
                     f"| {r['p50']*1e3:.1f} | {r['p99']*1e3:.1f} | {r['rss_kib']/1024:.1f} | {r['cpu']:.2f} "
                     f"| {overlap} | {gap} |")
    lines += ["", "Targets:", ""]
    lines += [f"- {text} ({met(ok)})." for text, ok in targets(result)]
    lines += [
        "",
        "How it is set up and measured:",
        "",
        "- Both servers know the PDUs by the host names 127.0.0.2 .. 127.0.0.9. PDUDaemon drives them",
        "  with its `snmpv1` driver (one SNMP SET of the APC outlet command per request; `retries` 1),",
        "  which always sends to udp port 161 of the host, so each address has a socat relay to",
        "  snmpsim's port (`tests/peers/pdudaemon/start-pdudaemon.sh`). fencebox has them as",
        "  `fence_apc_snmp` inventory devices of those names (SNMP v2c, the community picking the",
        "  PDU, `power_wait = 0`), and answers a request only after reading the outlet back in the",
        "  state asked for.",
        "- PDUDaemon 1.1.1's `snmpv1` driver starts a new asyncio loop and a new pysnmp `SnmpEngine`",
        "  for every request, in one Python process: its CPU column is mostly that, and with two",
        "  CPUs it is CPU-bound, so its queues, not the PDUs, set its latency. snmpsim (one Python",
        "  process for all PDUs) sets fencebox's.",
        "- Request i goes to PDU i mod 8, outlet (i div 8) mod 24 + 1; every outlet alternates off, on,",
        "  ... from all on, so each request changes a state; an outlet's next request waits for the",
        "  answer to its previous one. Before each server's run: one warm-up request per PDU, then",
        "  the fleet is reset (all on, change log emptied, `tests/peers/fleet/reset.sh`).",
        "- **Confirmed**: HTTP 200, and snmpsim's change log (its `setlog` table) holds the command",
        "  for that outlet between the request's send and its answer, and the outlet reads back",
        "  (snmpget afterwards) in the state its last request asked for.",
        "- Throughput: requests over the time from the first send to the last answer. Latency:",
        "  send to answer, as a client sees it, including the wait in the server's per-PDU queue",
        "  (both serve one PDU's requests one at a time).",
        "- Peak RSS: `VmHWM` of the server process (and any children) after the load; CPU: user +",
        "  system time of the server process during the load (`/proc`). PDUDaemon's socat relays",
        "  are not counted.",
        "- Overlap: fencebox writes every job's start and end to its journal; a job on a device",
        "  that started before the device's previous job ended would be an overlap. PDUDaemon",
        "  keeps no such record; for both, the closest two commands to one PDU in the change log",
        "  are shown.",
        "",
    ]
    return lines


def print_rows(result, log=print):
    fleet.report_targets(targets(result), log)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=REQUESTS)
    ap.add_argument("--clients", type=int, default=CLIENTS)
    fleet.standalone(
        ap, "fencebox-bench-serve-",
        lambda work, a: run(work, a.fencebox, requests=a.requests, clients=a.clients),
        targets, markdown)


if __name__ == "__main__":
    main()
