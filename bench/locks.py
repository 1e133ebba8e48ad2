#!/usr/bin/env python3
"""Device-lock rows of the benchmark: what the etcd lock of `[locks] backend = "etcd"` adds to
an agent call, on a private 3-member etcd on loopback (tests/peers/etcd).

The call is fence_dummy `action=on` on a status file that already says "on" (the package's
link, as the dummy rows of bench/run.py run it): it takes the device's lock exclusively (so,
with the etcd backend, the etcd lock too) and only reads the device, so its own work is as
small as a call's can be and the lock's cost shows. Four configurations, each with its own
lock directory, called in turns (each turn in a shuffled order) after a warm-up of each:
  none       FENCEBOX_CONFIG names a file that does not exist (the installed default);
  local      a site file with `[locks] backend = "local"`;
  etcd       a site file with `backend = "etcd"`, the three members' endpoints, ttl 10 and
             on_unreachable = "fail" (a call that could not reach etcd fails instead of going
             on with the local lock alone, so every etcd row really went through etcd); each
             call takes the lease the call before handed on (src/engine/spare_lease.rs), or a
             fresh one once that has less than two thirds of its TTL left: a txn putting the
             lock entry, its deletion at the end, and a lease grant every few seconds;
  etcd-cold  the same, with the handed-on lease's note emptied before each call (untimed), as
             for a host's first call in a while: lease grant, txn, deletion.
Per call: wall time and CPU (user + system of the process and its threads, wait4's rusage).
Before the runs, etcd's revision confirms that an etcd call writes and that the others do not.
In the same turns, etcd's own share: the writes of a lock sent by this process over one kept
HTTP connection, as the agent sends them (each a raft commit: leader and a follower write
their WAL), so this is what no client can save: txn and deletion on a kept lease at the
leader, the same with a lease grant first, and the two through a follower.

Contended (4 "hosts"): 4 threads, each with a lock directory of its own, each running 25 calls
one after the other on the same status file with the etcd backend, so the hosts queue in
etcd; beside it the same 4 threads sharing one lock directory with the local backend (one
host, its flock queues them).

bench/run.py calls run() and writes the section into docs/benchmarks.md; standalone:
  bench/locks.py [--runs N] [--fencebox PATH] [--out FILE]
"""

import argparse
import base64
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

sys.dont_write_bytecode = True
import fleet  # noqa: E402  (bench/fleet.py, beside this file)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER = os.path.join(ROOT, "tests", "peers", "etcd")
TTL = 10
WARMUP = 5
WORKERS, WORKER_CALLS = 4, 25
P50_TARGET = 0.005   # s of wall time the etcd lock may add to a call (p50)
CPU_TARGET = 1.10    # CPU with backend = "local" at most this times the CPU without a site file
CONFIGS = ("none", "local", "etcd", "etcd-cold")
ETCD_CONFIGS = ("etcd", "etcd-cold")
LABELS = {
    "none": "no site file (default)",
    "local": "`backend = \"local\"`",
    "etcd": "`backend = \"etcd\"`, 3 members, calls in a row (lease handed on)",
    "etcd-cold": "`backend = \"etcd\"`, 3 members, no lease handed on (a first call)",
}


def calls_for(runs):
    """Calls per configuration: a call is a few ms, so many more than the other rows' runs,
    for a p99 that means something."""
    return max(runs * 20, 100)


def run_once(argv0_path, stdin, env):
    """(exit code, wall s, CPU s) of one call, as bench/run.py measures it."""
    t0 = time.perf_counter()
    p = subprocess.Popen([argv0_path], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=env)
    p.stdin.write(stdin.encode())
    p.stdin.close()
    err = p.stderr.read()
    p.stderr.close()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    return os.waitstatus_to_exitcode(status), wall, ru.ru_utime + ru.ru_stime, err.decode(errors="replace")


def pct(values, q):
    """The q-quantile (0..1) by linear interpolation between closest ranks."""
    s = sorted(values)
    if len(s) == 1:
        return s[0]
    k = (len(s) - 1) * q
    i = int(k)
    j = min(i + 1, len(s) - 1)
    return s[i] + (s[j] - s[i]) * (k - i)


def etcd_revision(endpoint):
    """The cluster's current revision (every write raises it by one)."""
    req = urllib.request.Request(endpoint + "/v3/kv/range", data=b'{"key":"AA==","count_only":true}',
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        return int(json.load(r)["header"]["revision"])


class EtcdFloor:
    """The etcd requests of one lock, timed from here over one kept connection: txn and
    deletion on a lease kept from one lock to the next (`grant` False; renewed, untimed,
    when a third of its TTL has gone), or with a lease grant first."""

    def __init__(self, endpoint, grant):
        host, port = endpoint[len("http://"):].rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=5)
        self.n = 0
        self.grant = grant
        self.lease, self.renewed = None, 0.0

    def post(self, path, body):
        self.conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        r = self.conn.getresponse()
        data = json.loads(r.read())
        if r.status != 200:
            sys.exit(f"etcd {path}: {r.status} {data}")
        return data

    def once(self):
        self.n += 1
        key = base64.b64encode(f"fencebox-bench/floor/{self.n}".encode()).decode()
        if not self.grant and time.monotonic() - self.renewed > TTL / 3:
            if self.lease is None:
                self.lease = self.post("/v3/lease/grant", {"TTL": TTL})["ID"]
            else:
                self.post("/v3/lease/keepalive", {"ID": self.lease})
            self.renewed = time.monotonic()
        t0 = time.perf_counter()
        lease = self.post("/v3/lease/grant", {"TTL": TTL})["ID"] if self.grant else self.lease
        self.post("/v3/kv/txn", {"compare": [{"key": key, "target": "CREATE", "create_revision": "0"}],
                                 "success": [{"request_put": {"key": key, "value": "aA==", "lease": lease}}]})
        self.post("/v3/kv/deleterange", {"key": key})
        return time.perf_counter() - t0

    def close(self):
        self.conn.close()


def peer_env(work):
    """The etcd scripts' environment: PEERS_STATE, and none of the caller's ETCD_*/ETCDCTL_*
    (etcd and etcdctl read those as flags)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETCD_", "ETCDCTL_"))}
    env["PEERS_STATE"] = os.path.join(work, "etcd-peers")
    return env


def run(work, fencebox, runs, env=None, log=print):
    env = {k: v for k, v in (env or os.environ).items() if k not in ("FENCEBOX_CONFIG", "FENCEBOX_LOCK_DIR")}
    env.pop("PCMK_service", None)
    base = os.path.join(work, "locks-bench")
    os.makedirs(base)
    bindir = os.path.join(base, "bin")
    os.mkdir(bindir)
    # The package's links (fence_dummy -> fencebox-agent), as bench/run.py's dummy rows.
    subprocess.run([os.path.abspath(fencebox), "link", bindir], check=True, stdout=subprocess.DEVNULL)
    agent = os.path.join(bindir, "fence_dummy")
    state = os.path.join(base, "dummy.status")
    with open(state, "w") as f:
        f.write("on")
    stdin = f"action=on\nstatus_file={state}\n"

    def lock_dir(name):
        d = os.path.join(base, "lockdir-" + name)
        os.mkdir(d)
        os.chmod(d, 0o755)
        return d

    penv = peer_env(work)
    os.makedirs(penv["PEERS_STATE"], exist_ok=True)
    try:
        t0 = time.monotonic()
        out = subprocess.run([os.path.join(PEER, "start.sh")], env=penv, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit("etcd peer did not start:\n" + out.stderr[-2000:])
        with open(os.path.join(penv["PEERS_STATE"], "etcd.env")) as f:
            peer = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        endpoints = peer["ETCD_ENDPOINTS"].split(",")
        log(f"locks: etcd m1 m2 m3 up in {time.monotonic() - t0:.1f} s ({', '.join(endpoints)})")

        site = {
            "none": os.path.join(base, "absent.toml"),
            "local": os.path.join(base, "local.toml"),
            "etcd": os.path.join(base, "etcd.toml"),
        }
        site["etcd-cold"] = site["etcd"]
        with open(site["local"], "w") as f:
            f.write('[locks]\nbackend = "local"\n')
        with open(site["etcd"], "w") as f:
            f.write('[locks]\nbackend = "etcd"\nendpoints = [%s]\nttl = %d\non_unreachable = "fail"\n'
                    % (", ".join(f'"{e}"' for e in endpoints), TTL))
        envs = {c: dict(env, FENCEBOX_CONFIG=site[c], FENCEBOX_LOCK_DIR=lock_dir(c)) for c in CONFIGS}

        def call(c, e=None):
            if c == "etcd-cold":
                # Emptied in place, as a call that takes it leaves it (a new file per call
                # would be a cost no real call has).
                try:
                    with open(os.path.join(envs[c]["FENCEBOX_LOCK_DIR"], "etcd-lease"), "r+b") as f:
                        size = len(f.read())
                        f.seek(0)
                        f.write(b" " * size)
                except FileNotFoundError:
                    pass
            code, wall, cpu, err = run_once(agent, stdin, e or envs[c])
            if code != 0:
                sys.exit(f"fence_dummy action=on ({c}): exit {code}:\n{err[-1500:]}")
            return wall, cpu

        # Which calls write to etcd: the etcd one (its lock entry put and deleted), no other.
        writes = {}
        for c in CONFIGS:
            before = etcd_revision(endpoints[0])
            call(c)
            writes[c] = etcd_revision(endpoints[0]) - before
        if min(writes[c] for c in ETCD_CONFIGS) < 1 or writes["none"] or writes["local"]:
            sys.exit(f"etcd writes per call not as expected (etcd > 0, the others 0): {writes}")
        for _ in range(WARMUP):
            for c in CONFIGS:
                call(c)

        # The agents go to the leader they noted beside their locks (after the first call);
        # the floor is measured there too, and through a follower for comparison.
        leader = subprocess.run([os.path.join(PEER, "member.sh"), "leader"], env=penv,
                                capture_output=True, text=True).stdout.strip() or "?"
        noted_file = os.path.join(envs["etcd"]["FENCEBOX_LOCK_DIR"], "etcd-leader")
        try:
            with open(noted_file) as f:
                noted = f.read().split()[2]
        except (OSError, IndexError):
            sys.exit(f"the etcd calls noted no leader in {noted_file}")
        if noted != peer.get(f"ETCD_{leader.upper()}_CLIENT"):
            sys.exit(f"the etcd calls noted {noted} as the leader, but {leader} leads")
        follower = next(e for e in endpoints if e != noted)
        floors = {"leader": EtcdFloor(noted, False), "leader-grant": EtcdFloor(noted, True),
                  "follower": EtcdFloor(follower, False)}
        for _ in range(WARMUP):
            for fl in floors.values():
                fl.once()
        n = calls_for(runs)
        wall = {c: [] for c in CONFIGS}
        cpu = {c: [] for c in CONFIGS}
        floor_wall = {k: [] for k in floors}
        # Every turn in its own order: a fixed cyclic order would always run each
        # configuration right after the same other one (after the etcd ones, say, while the
        # members still write).
        order = random.Random(17)
        rev0 = etcd_revision(endpoints[0])
        for _ in range(n):
            turn = list(CONFIGS + tuple(floors))
            order.shuffle(turn)
            for c in turn:
                if c in floors:
                    floor_wall[c].append(floors[c].once())
                    continue
                w, u = call(c)
                wall[c].append(w)
                cpu[c].append(u)
        for fl in floors.values():
            fl.close()
        # the floors': put, delete
        revs = (etcd_revision(endpoints[0]) - rev0 - 2 * len(floors) * n) / n / len(ETCD_CONFIGS)
        name_of = lambda e: next((m for m in ("m1", "m2", "m3") if peer.get(f"ETCD_{m.upper()}_CLIENT") == e), "?")
        with open(state) as f:
            if f.read().strip() != "on":
                sys.exit(f"{state} no longer says on")
        rows = [{"config": c, "calls": n, "wall50": pct(wall[c], 0.5), "wall99": pct(wall[c], 0.99),
                 "cpu50": pct(cpu[c], 0.5), "cpu_mean": statistics.fmean(cpu[c])} for c in CONFIGS]

        contended = [
            contend("4 hosts, etcd (a lock directory each)", agent, stdin,
                    [dict(envs["etcd"], FENCEBOX_LOCK_DIR=lock_dir(f"host{h}")) for h in range(WORKERS)]),
            contend("1 host, local flock (one lock directory)", agent, stdin,
                    [dict(envs["local"], FENCEBOX_LOCK_DIR=lock_dir("shared"))] * WORKERS),
        ]
    finally:
        subprocess.run([os.path.join(PEER, "stop.sh")], env=penv, capture_output=True)
    floor = {k: {"calls": n, "wall50": pct(v, 0.5), "wall99": pct(v, 0.99)} for k, v in floor_wall.items()}
    return {"rows": rows, "writes": writes["etcd"], "revs_per_call": revs, "contended": contended,
            "floor": floor["leader"], "floor_grant": floor["leader-grant"], "floor_follower": floor["follower"],
            "leader": leader, "follower": name_of(follower)}


def contend(name, agent, stdin, worker_envs):
    """WORKER_CALLS calls one after the other in each of len(worker_envs) threads, at once."""
    walls, failures = [], []
    lock = threading.Lock()
    go = threading.Barrier(len(worker_envs) + 1)

    def worker(env):
        go.wait()
        for _ in range(WORKER_CALLS):
            code, wall, _, err = run_once(agent, stdin, env)
            with lock:
                walls.append(wall)
                if code != 0:
                    failures.append(f"exit {code}: {err.strip()[-300:]}")

    # daemon: a SIGTERM (SystemExit in the main thread) does not wait for them
    threads = [threading.Thread(target=worker, args=(e,), daemon=True) for e in worker_envs]
    for t in threads:
        t.start()
    go.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    total = time.perf_counter() - t0
    return {"name": name, "workers": len(worker_envs), "calls": len(walls), "total": total,
            "rate": len(walls) / total, "wall50": pct(walls, 0.5), "wall99": pct(walls, 0.99),
            "failures": failures}


def added(result, config="etcd"):
    by = {r["config"]: r for r in result["rows"]}
    return (by[config]["wall50"] - by["none"]["wall50"], by[config]["wall99"] - by["none"]["wall99"])


def targets(result):
    by = {r["config"]: r for r in result["rows"]}
    p50, p99 = added(result)
    cpu_ratio = by["local"]["cpu50"] / by["none"]["cpu50"] if by["none"]["cpu50"] > 0 else float("inf")
    out = [
        (f"etcd device lock adds at most 5 ms to a call (p50), calls in a row: {p50 * 1e3:+.2f} ms p50, "
         f"{p99 * 1e3:+.2f} ms p99 (fence_dummy action=on, 3 etcd members on loopback)", p50 <= P50_TARGET),
        (f"agent CPU per call with `backend = \"local\"` within 10 % of no site file: "
         f"{by['local']['cpu50'] * 1e3:.2f} ms against {by['none']['cpu50'] * 1e3:.2f} ms p50 "
         f"(x{cpu_ratio:.2f})", cpu_ratio <= CPU_TARGET),
    ]
    for c in result["contended"]:
        out.append((f"contended, {c['name']}: every call succeeded ({c['calls']} calls, "
                    f"{len(c['failures'])} failed)", not c["failures"]))
    return out


def markdown(result):
    met = lambda ok: "met" if ok else "NOT met"
    by = {r["config"]: r for r in result["rows"]}
    lines = [
        "## Device locks across hosts (etcd)",
        "",
        "fence_dummy `action=on` on a status file that already says on (the device is only read, but",
        "the lock is exclusive, so with `[locks] backend = \"etcd\"` the call also takes the device's",
        "etcd lock), through the package's link, with four configurations (`FENCEBOX_CONFIG`), each",
        "with its own lock directory, called in turns (each in a shuffled order) after a warm-up. An",
        "etcd call puts its lock entry on a lease (one txn) and deletes it at the end; the lease is the",
        "one the host's call before handed on while it has two thirds of its TTL left, else a fresh",
        "grant (src/engine/spare_lease.rs). The cold row empties the handed-on lease's note before",
        "each call (untimed), as for a host's first call in a while. etcd: Debian 12's etcd-server 3.4, three members on",
        f"127.0.0.1 (tests/peers/etcd), `ttl = {TTL}`, `on_unreachable = \"fail\"` (no etcd row went on",
        "without etcd). Wall time is the caller's, start to exit; CPU is user + system time of the",
        "call's process (all its threads, from `wait4`). Generated by `bench/locks.py` (called by",
        "`bench/run.py`).",
        "",
        "| site settings | calls | wall p50 (ms) | wall p99 (ms) | CPU p50 (ms) | CPU mean (ms) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for c in CONFIGS:
        r = by[c]
        lines.append(f"| {LABELS[c]} | {r['calls']} | {r['wall50'] * 1e3:.2f} | {r['wall99'] * 1e3:.2f} "
                     f"| {r['cpu50'] * 1e3:.2f} | {r['cpu_mean'] * 1e3:.2f} |")
    p50, p99 = added(result)
    cold50, cold99 = added(result, "etcd-cold")
    cpu_x = lambda c: by[c]["cpu50"] / by["none"]["cpu50"] if by["none"]["cpu50"] > 0 else float("inf")
    fl = lambda name, f: (f"| {name} | {f['calls']} | {f['wall50'] * 1e3:.2f} | {f['wall99'] * 1e3:.2f} | | |")
    lines += [
        f"| added by the etcd lock, calls in a row (etcd − none) | | {p50 * 1e3:+.2f} | {p99 * 1e3:+.2f} "
        f"| {(by['etcd']['cpu50'] - by['none']['cpu50']) * 1e3:+.2f} (x{cpu_x('etcd'):.2f}) | |",
        f"| added by the etcd lock, no lease handed on (etcd-cold − none) | | {cold50 * 1e3:+.2f} "
        f"| {cold99 * 1e3:+.2f} "
        f"| {(by['etcd-cold']['cpu50'] - by['none']['cpu50']) * 1e3:+.2f} (x{cpu_x('etcd-cold'):.2f}) | |",
        fl(f"etcd alone: txn, delete on a kept lease, from one kept connection, to the leader ({result['leader']})",
           result["floor"]),
        fl("the same with a lease grant first", result["floor_grant"]),
        fl(f"txn, delete through a follower ({result['follower']})", result["floor_follower"]),
        "",
        f"Each etcd call raised etcd's revision by {result['revs_per_call']:.1f} (its lock entry put, then",
        "deleted); the calls without etcd left it alone. The last three rows are etcd's own share of the",
        "added time: the same requests, each a raft commit (the leader's and a follower's WAL fsync), sent",
        "from the benchmark over one kept connection, in the same turns. The agents send them to the",
        "leader they noted beside their local locks (`etcd-leader`, learnt by the first call; the benchmark",
        "checks it names the leader), saving the hop a follower makes to forward each write. Of the",
        f"{p50 * 1e3:.2f} ms added (p50) to calls in a row, etcd's two commits take "
        f"{result['floor']['wall50'] * 1e3:.2f} ms; of the {cold50 * 1e3:.2f} ms added to a cold call, its three take "
        f"{result['floor_grant']['wall50'] * 1e3:.2f} ms.",
        "The rest is the agent's (a new connection, the lease's renewing thread, the requests' encoding,",
        "reading and writing the handed-on lease's note).",
        "",
        f"Contended: {WORKERS} threads at once, each running {WORKER_CALLS} calls one after the other on the",
        "same status file (the same device), so every call waits for the ones before it.",
        "",
        "| workers | calls | failed | total wall (s) | calls/s | wall per call p50 (ms) | p99 (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c in result["contended"]:
        lines.append(f"| {c['name']} | {c['calls']} | {len(c['failures'])} | {c['total']:.2f} | {c['rate']:.0f} "
                     f"| {c['wall50'] * 1e3:.2f} | {c['wall99'] * 1e3:.2f} |")
    lines += ["", "Targets:", ""]
    lines += [f"- {text} ({met(ok)})." for text, ok in targets(result)]
    lines += [
        "",
        "Also measured, beside the target: a host's first call after a pause (a third of the TTL or more",
        "since its last call's lease was renewed, so no lease to take over) adds",
        f"{cold50 * 1e3:+.2f} ms p50, {cold99 * 1e3:+.2f} ms p99:",
        "it grants its own lease, a third raft commit, and etcd's three commits alone take",
        f"{result['floor_grant']['wall50'] * 1e3:.2f} ms here (the row \"with a lease grant first\"), so on this machine no",
        "client could add much less than that to such a call.",
    ]
    failed = [f for c in result["contended"] for f in c["failures"]]
    if failed:
        lines += ["", "Failures of the contended calls (first 3):", ""]
        lines += [f"- `{f}`" for f in failed[:3]]
    lines.append("")
    return lines


def print_rows(result, log=print):
    for r in result["rows"]:
        log(f"locks {r['config']:<9} wall p50 {r['wall50'] * 1e3:6.2f} ms p99 {r['wall99'] * 1e3:6.2f} ms  "
            f"cpu p50 {r['cpu50'] * 1e3:5.2f} ms mean {r['cpu_mean'] * 1e3:5.2f} ms  ({r['calls']} calls)")
    f = result["floor"]
    log(f"locks etcd alone (txn, delete) p50 {f['wall50'] * 1e3:6.2f} ms p99 {f['wall99'] * 1e3:6.2f} ms "
        f"at the leader {result['leader']}; with a grant first p50 {result['floor_grant']['wall50'] * 1e3:6.2f} ms; "
        f"through follower {result['follower']} p50 {result['floor_follower']['wall50'] * 1e3:6.2f} ms")
    for c in result["contended"]:
        log(f"locks contended, {c['name']}: {c['calls']} calls in {c['total']:.2f} s ({c['rate']:.0f}/s), "
            f"{len(c['failures'])} failed")
    fleet.report_targets(targets(result), log)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    fleet.standalone(ap, "fencebox-bench-locks-", lambda work, a: run(work, a.fencebox, a.runs),
                     targets, markdown)


if __name__ == "__main__":
    main()
