#!/usr/bin/env python3
"""Fleet rows of the benchmark: `fencebox power` over many devices at once, beside the tools
an administrator would otherwise script for the same work, on the fleet peer
(tests/peers/fleet: 42 APC rack PDUs of 24 outlets in one snmpsim, the community picking the
PDU; 64 ipmi_sim BMCs on consecutive ports).

Cases (each run alternately with its references, N times, after one warm-up run of each):
  pdu-status   `fencebox power status all` over 504 dual-feed nodes mapping all 1,008
               outlets, beside 42 snmpget processes at once, each one GET of 24 outlets;
  bmc-status   `fencebox power status all` over 64 BMC-only nodes, beside FreeIPMI's
               `ipmipower --stat` over the 64 BMCs, and PowerMan's `pm -q` (a powermand
               started here, one ipmipower coprocess per BMC);
  reboot       `fencebox power reboot all` of 64 dual-PSU nodes (node k on the same outlet
               of a pair of PDUs, as in tests/peers/fleet/README.md), beside snmpset/snmpget
               doing the same steps; the fleet is reset before every run.

Per run: wall time; CPU (user + system) of the process tree from wait4 (for references, of
every process they start; for powerman also what powermand and its coprocesses spent, from
/proc); peak RSS from GNU time in a separate run (fencebox; for references the largest of
their processes).

bench/run.py calls run() and writes the rows into docs/benchmarks.md; standalone:
  bench/fleet.py [--runs N] [--fencebox PATH] [--out FILE]
starts the fleet peer itself (its state under a temporary directory), prints the rows and the
targets, and stops the peer (and powermand) whatever happens.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER = os.path.join(ROOT, "tests", "peers", "fleet")
GNU_TIME = "/usr/bin/time"
TICK = os.sysconf("SC_CLK_TCK")

RPDU = ".1.3.6.1.4.1.318.1.1.12"
CTL = RPDU + ".3.3.1.1.4"     # rPDUOutletControlOutletCommand: 1 on, 2 off
STATE = RPDU + ".3.5.1.1.4"   # rPDUOutletStatusOutletState: 1 on, 2 off
SNMP = ["-m", "", "-v2c", "-t", "2", "-r", "1"]

NODES_REBOOT = 64
RSS_TARGET_MIB = 30


# ---- measuring ------------------------------------------------------------------------------


@dataclass
class Sample:
    wall: list = field(default_factory=list)
    cpu: list = field(default_factory=list)
    rss_kib: list = field(default_factory=list)

    def medians(self):
        m = statistics.median
        return m(self.wall), m(self.cpu), m(self.rss_kib)


@dataclass
class Reference:
    name: str          # for the table
    run: object        # run(rss: bool) -> (wall s, cpu s, peak rss KiB or 0); checks the result
    sample: Sample = field(default_factory=Sample)


@dataclass
class Case:
    key: str
    command: str       # the fencebox command, for the table
    fleet: str         # what it runs over, for the table
    fencebox: object   # run(rss: bool) -> (wall, cpu, rss)
    refs: list
    before: object = None   # called before every run, outside the timing (resets the fleet)
    sample: Sample = field(default_factory=Sample)


class Group:
    """Processes started side by side; wait() reaps each with wait4 and sums their CPU."""

    def __init__(self):
        self.procs = []

    def start(self, argv, out=None, env=None, rss_file=None):
        if rss_file:
            argv = [GNU_TIME, "-f", "%M", "-o", rss_file, *argv]
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out or subprocess.DEVNULL,
                             stderr=subprocess.STDOUT if out else subprocess.DEVNULL, env=env)
        self.procs.append((p, argv))
        return p

    def wait(self):
        """(CPU seconds of every process and its waited-for children, [(argv, exit code)])."""
        cpu, codes = 0.0, []
        for p, argv in self.procs:
            _, status, ru = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            cpu += ru.ru_utime + ru.ru_stime
            codes.append((argv, p.returncode))
        self.procs = []
        return cpu, codes


def read_rss(path):
    try:
        with open(path) as f:
            words = f.read().split()
    except OSError:
        return 0
    return int(words[-1]) if words and words[-1].isdigit() else 0


def check_codes(what, codes):
    for argv, code in codes:
        if code != 0:
            sys.exit(f"{what}: {' '.join(argv)} exited {code}")


def proc_cpu(pid):
    """(start time, CPU seconds so far) of a running process, or None. The CPU is the sum of
    its threads' run time from /proc/PID/task/*/schedstat (nanoseconds); where that file is
    missing, utime + stime + cutime + cstime of /proc/PID/stat (clock ticks)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # fields[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17, start 22
    start = int(fields[19])
    try:
        ns = 0
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                ns += int(f.read().split()[0])
        return start, ns / 1e9
    except (OSError, ValueError, IndexError):
        return start, sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICK


def children_of(pid):
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        kids.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return kids


def vm_hwm_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# ---- the fleet peer -------------------------------------------------------------------------


def start_fleet(work, stops):
    """Start tests/peers/fleet with its state under work/peers; returns fleet.env as a dict.
    Its stop goes on `stops` before the start, so that a half-started fleet is stopped too."""
    env = dict(os.environ, PEERS_STATE=os.path.join(work, "peers"))
    for k in ("FLEET_PDUS", "FLEET_OUTLETS", "FLEET_BMCS", "FLEET_SNMP_PORT", "FLEET_BMC_BASE",
              "IPMI_USER", "IPMI_PASS", "FLEET_SNMP_LOG_LEVEL"):
        env.pop(k, None)

    def stop():
        subprocess.run([os.path.join(PEER, "stop.sh")], env=env, capture_output=True)
    stops.append(stop)
    out = subprocess.run([os.path.join(PEER, "start.sh")], env=env, capture_output=True, text=True)
    path = os.path.join(work, "peers", "fleet", "fleet.env")
    if out.returncode != 0 or not os.path.exists(path):
        sys.exit("fleet peer did not start:\n" + out.stderr[-2000:])
    with open(path) as f:
        fleet = dict(l.rstrip("\n").split("=", 1) for l in f if "=" in l and not l.startswith("#"))
    fleet["_env"] = env
    return fleet


def reset_fleet(fleet):
    subprocess.run([os.path.join(PEER, "reset.sh"), "--clear-logs"], env=fleet["_env"], check=True,
                   stdout=subprocess.DEVNULL)


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- inventories ----------------------------------------------------------------------------


def pdu_name(n):
    return f"pdu{n:02d}"


def pdu_device(fleet, n):
    return (f"[devices.{pdu_name(n)}]\nagent = \"fence_apc_snmp\"\nip = \"127.0.0.1\"\n"
            f"ipport = {fleet['FLEET_SNMP_PORT']}\ncommunity = \"{pdu_name(n)}\"\n"
            "snmp_version = \"2c\"\npower_wait = 0\n\n")


def bmc_device(fleet, n):
    port = int(fleet["FLEET_BMC_BASE"]) + n - 1
    return (f"[devices.bmc{n:02d}]\nagent = \"fence_ipmilan\"\nip = \"127.0.0.1\"\nipport = {port}\n"
            f"username = \"{fleet['IPMI_USER']}\"\npassword = \"{fleet['IPMI_PASS']}\"\n"
            "lanplus = true\ncipher = 3\npower_wait = 0\n\n")


def dual_feed(k, outlets):
    """Node k (from 1) of the fleet README's layout: the same outlet of PDUs 2j+1 and 2j+2."""
    j, o = (k - 1) // outlets, (k - 1) % outlets + 1
    return [(2 * j + 1, o), (2 * j + 2, o)]


def write_inventory(work, name, text):
    path = os.path.join(work, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # inline secrets: private
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def inventories(work, fleet):
    npdu, nout, nbmc = (int(fleet[k]) for k in ("FLEET_PDUS", "FLEET_OUTLETS", "FLEET_BMCS"))
    pdus = "".join(pdu_device(fleet, p) for p in range(1, npdu + 1))
    # every outlet: 504 nodes with two feeds each, on PDU pairs
    nodes = ""
    for k in range(1, npdu // 2 * nout + 1):
        feeds = ", ".join(f'"{pdu_name(p)}:{o}"' for p, o in dual_feed(k, nout))
        nodes += f"[nodes.node{k:03d}]\nfeeds = [{feeds}]\n\n"
    outlets = write_inventory(work, "fleet-outlets.toml", pdus + nodes)
    # BMC-only nodes
    bmcs = "".join(bmc_device(fleet, b) + f"[nodes.node{b:02d}]\nbmc = \"bmc{b:02d}\"\n\n"
                   for b in range(1, nbmc + 1))
    bmc_inv = write_inventory(work, "fleet-bmcs.toml", bmcs)
    # node01..node64: two PSUs on a pair of PDUs, and a BMC (not switched: the feeds are)
    used = sorted({p for k in range(1, NODES_REBOOT + 1) for p, _ in dual_feed(k, nout)})
    text = "".join(pdu_device(fleet, p) for p in used)
    text += "".join(bmc_device(fleet, b) for b in range(1, min(nbmc, NODES_REBOOT) + 1))
    for k in range(1, NODES_REBOOT + 1):
        feeds = ", ".join(f'"{pdu_name(p)}:{o}"' for p, o in dual_feed(k, nout))
        bmc = f'bmc = "bmc{k:02d}"\n' if k <= nbmc else ""
        text += f"[nodes.node{k:02d}]\nfeeds = [{feeds}]\n{bmc}\n"
    reboot_inv = write_inventory(work, "fleet-reboot.toml", text)
    return outlets, bmc_inv, reboot_inv


# ---- fencebox -------------------------------------------------------------------------------


def fencebox_runner(fencebox, args, env, scratch, expect, nodes):
    """run(rss) for `fencebox power ARGS`: exit 0, `expect` in its summary line, and each of
    `nodes` nodes on and ok in its table."""
    argv = [fencebox, "power", *args]
    out_path = os.path.join(scratch, "fencebox.out")

    def run(rss):
        g = Group()
        rss_file = os.path.join(scratch, "fencebox.rss") if rss else None
        with open(out_path, "w") as out:
            t0 = time.perf_counter()
            g.start(argv, out, env, rss_file)
            cpu, codes = g.wait()
            wall = time.perf_counter() - t0
        with open(out_path) as f:
            said = f.read()
        on = len(re.findall(r"^\S+\s+on\s+ok\s", said, re.M))
        if codes[0][1] != 0 or expect not in said or on != nodes:
            sys.exit(f"fencebox {' '.join(args)}: exit {codes[0][1]}, {on} node(s) on and ok; expected "
                     f"0, {nodes} and {expect!r}:\n" + said[-1500:])
        return wall, cpu, read_rss(rss_file) if rss else 0
    return run


# ---- references -----------------------------------------------------------------------------


def snmp_status_runner(fleet, scratch, env):
    """42 snmpget at once, each one GET of its PDU's 24 outlet states; every state must be on."""
    npdu, nout, port = int(fleet["FLEET_PDUS"]), int(fleet["FLEET_OUTLETS"]), fleet["FLEET_SNMP_PORT"]
    oids = [f"{STATE}.{o}" for o in range(1, nout + 1)]
    argvs = [["snmpget", *SNMP, "-Oqv", "-c", pdu_name(p), f"127.0.0.1:{port}", *oids]
             for p in range(1, npdu + 1)]
    return parallel_runner("snmpget", [argvs], scratch, env, [[["1"] * nout] * npdu])


def reboot_ref_runner(fleet, scratch, env):
    """The reboot done with net-snmp's tools, PDU by PDU in parallel (6 PDUs): one snmpset of
    every outlet of the 64 nodes off, one snmpget confirming them off, one snmpset on, one
    snmpget confirming them on; each step waits for the one before."""
    nout, port = int(fleet["FLEET_OUTLETS"]), fleet["FLEET_SNMP_PORT"]
    by_pdu = {}
    for k in range(1, NODES_REBOOT + 1):
        for p, o in dual_feed(k, nout):
            by_pdu.setdefault(p, []).append(o)
    steps, expect = [], []
    for value in ("2", "1"):
        steps.append([["snmpset", *SNMP, "-Oqv", "-c", pdu_name(p), f"127.0.0.1:{port}",
                       *[a for o in outs for a in (f"{CTL}.{o}", "i", value)]]
                      for p, outs in sorted(by_pdu.items())])
        expect.append(None)
        steps.append([["snmpget", *SNMP, "-Oqv", "-c", pdu_name(p), f"127.0.0.1:{port}",
                       *[f"{STATE}.{o}" for o in outs]] for p, outs in sorted(by_pdu.items())])
        expect.append([[value] * len(outs) for _, outs in sorted(by_pdu.items())])
    return parallel_runner("snmpset/snmpget reboot", steps, scratch, env, expect)


def parallel_runner(what, steps, scratch, env, expect):
    """run(rss) for steps of processes: each step's processes at once, the next step after.
    `expect`, per step: None, or per process the lines its output must be."""

    def run(rss):
        g = Group()
        cpu, rss_kib = 0.0, 0
        t0 = time.perf_counter()
        for s, argvs in enumerate(steps):
            outs = []
            for i, argv in enumerate(argvs):
                path = os.path.join(scratch, f"ref.{s}.{i}")
                rss_file = path + ".rss" if rss else None
                with open(path, "w") as out:
                    g.start(argv, out, env, rss_file)
                outs.append(path)
            c, codes = g.wait()
            cpu += c
            check_codes(what, codes)
            for i, path in enumerate(outs):
                if rss:
                    rss_kib = max(rss_kib, read_rss(path + ".rss"))
                if expect[s] is not None:
                    with open(path) as f:
                        got = [l.strip() for l in f.read().splitlines() if l.strip()]
                    if got != expect[s][i]:
                        sys.exit(f"{what}: {' '.join(argvs[i])} said {got}, expected {expect[s][i]}")
        wall = time.perf_counter() - t0
        return wall, cpu, rss_kib
    return run


def ipmipower_argv(fleet, hosts):
    return ["ipmipower", "-h", hosts, "-u", fleet["IPMI_USER"], "-p", fleet["IPMI_PASS"],
            "-D", "LAN_2_0", "-W", "opensesspriv"]


def ipmipower_runner(fleet, scratch, env):
    """One ipmipower --stat over the 64 BMCs (a host range of ports); 64 lines ': on'."""
    base, n = int(fleet["FLEET_BMC_BASE"]), int(fleet["FLEET_BMCS"])
    argv = ipmipower_argv(fleet, f"127.0.0.1:[{base}-{base + n - 1}]") + ["--stat"]
    out_path = os.path.join(scratch, "ipmipower.out")

    def run(rss):
        g = Group()
        rss_file = os.path.join(scratch, "ipmipower.rss") if rss else None
        with open(out_path, "w") as out:
            t0 = time.perf_counter()
            g.start(argv, out, env, rss_file)
            cpu, codes = g.wait()
            wall = time.perf_counter() - t0
        check_codes("ipmipower", codes)
        with open(out_path) as f:
            on = sum(1 for l in f if l.rstrip().endswith(": on"))
        if on != n:
            sys.exit(f"ipmipower --stat: {on} of {n} BMCs on")
        return wall, cpu, read_rss(rss_file) if rss else 0
    return run


class Powerman:
    """powermand on a free TCP port of 127.0.0.1, one ipmipower coprocess per BMC (as the
    fleet's shared check.sh runs it: one coprocess for several BMCs on one address could not
    tell them apart). Started and stopped by PID; its coprocesses are checked gone."""

    def __init__(self, fleet, work, env):
        self.fleet, self.env, self.proc, self.kids = fleet, env, None, {}
        self.port = free_tcp_port()
        self.conf = os.path.join(work, "powerman.conf")
        self.log = os.path.join(work, "powermand.log")
        base, n = int(fleet["FLEET_BMC_BASE"]), int(fleet["FLEET_BMCS"])
        self.nodes = f"node[01-{n:02d}]"
        lines = ["# generated by bench/fleet.py", f'listen "127.0.0.1:{self.port}"',
                 'include "/etc/powerman/ipmipower.dev"']
        for b in range(1, n + 1):
            cmd = " ".join(ipmipower_argv(fleet, f"127.0.0.1:{base + b - 1}"))
            lines.append(f'device "bmc{b:02d}" "ipmipower" "/usr/sbin/{cmd} |&"')
            lines.append(f'node "node{b:02d}" "bmc{b:02d}" "127.0.0.1"')
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.pm = ["pm", "-h", f"127.0.0.1:{self.port}", "-q"]
        self.all_on = re.compile(r"^on:\s+" + re.escape(self.nodes) + r"\s*$", re.M)

    def start(self):
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(["powermand", "-f", "-c", self.conf], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                         start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            q = subprocess.run(self.pm, capture_output=True, text=True, env=self.env)
            if q.returncode == 0 and self.all_on.search(q.stdout):
                self.kids = {k: t[0] for k in children_of(self.proc.pid) if (t := proc_cpu(k))}
                return
            time.sleep(0.1)
        with open(self.log) as f:
            tail = f.read()[-1500:]
        self.stop()
        sys.exit(f"powermand did not answer pm -q with every node on:\n{tail}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # coprocesses it started and did not take down (same PID and start time: ours)
        for pid, start in self.kids.items():
            now = proc_cpu(pid)
            if now and now[0] == start:
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass
        self.kids = {}

    def tree(self):
        """{pid: (start, CPU seconds)} of powermand and its coprocesses."""
        pids = [self.proc.pid] + children_of(self.proc.pid)
        return {p: t for p in pids if (t := proc_cpu(p))}

    def runner(self, scratch):
        out_path = os.path.join(scratch, "pm.out")
        n = int(self.fleet["FLEET_BMCS"])

        def run(rss):
            g = Group()
            rss_file = os.path.join(scratch, "pm.rss") if rss else None
            before = self.tree()
            with open(out_path, "w") as out:
                t0 = time.perf_counter()
                g.start(self.pm, out, self.env, rss_file)
                cpu, codes = g.wait()
                wall = time.perf_counter() - t0
            after = self.tree()
            # what powermand and its coprocesses spent meanwhile
            for pid, (start, spent) in after.items():
                old = before.get(pid)
                cpu += spent - (old[1] if old and old[0] == start else 0)
            check_codes("pm -q", codes)
            with open(out_path) as f:
                said = f.read()
            if not self.all_on.search(said):
                sys.exit(f"pm -q: not every one of {n} nodes on:\n{said}")
            peak = 0
            if rss:
                peak = max([read_rss(rss_file)] + [vm_hwm_kib(p) for p in after])
            return wall, cpu, peak
        return run


# ---- the cases ------------------------------------------------------------------------------


def need_tools(bmcs):
    for tool in ("snmpget", "snmpset", GNU_TIME) + (("ipmipower",) if bmcs else ()):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing (apt-get install snmp freeipmi-tools time)")


def ensure_powerman(env):
    """Install Debian's powerman if missing, without starting its service (tests/peers' need_pkgs)."""
    if shutil.which("powermand") and shutil.which("pm"):
        return
    out = subprocess.run(["bash", "-c", f". {os.path.join(ROOT, 'tests/peers/lib.sh')}; need_pkgs powerman"],
                         env=env, capture_output=True, text=True)
    if out.returncode != 0 or not shutil.which("powermand"):
        sys.exit("powerman is missing and could not be installed:\n" + out.stderr[-1000:])


def measure(case, runs, log):
    """Warm-up once each, then `runs` rounds; the first to go alternates between rounds."""
    impls = [(case.fencebox, case.sample)] + [(r.run, r.sample) for r in case.refs]
    for run, _ in impls:
        if case.before:
            case.before()
        run(False)
    for i in range(runs):
        order = impls if i % 2 == 0 else impls[1:] + impls[:1]
        for run, sample in order:
            if case.before:
                case.before()
            wall, cpu, _ = run(False)
            if case.before:
                case.before()
            _, _, rss = run(True)
            sample.wall.append(wall)
            sample.cpu.append(cpu)
            sample.rss_kib.append(rss)
    fb = case.sample.medians()
    for r in case.refs:
        ref = r.sample.medians()
        log(f"{case.key:<11} {r.name:<22} wall {ref[0]*1e3:8.1f} / {fb[0]*1e3:7.1f} ms "
            f"(x{ratio(ref[0], fb[0]):4.2f})  cpu {ref[1]*1e3:7.1f} / {fb[1]*1e3:6.1f} ms "
            f"(x{ratio(ref[1], fb[1]):4.2f})  rss {ref[2]/1024:5.1f} / {fb[2]/1024:4.1f} MiB")


def ratio(a, b):
    return a / b if b > 0 else float("inf")


def run(work, fencebox, runs, env=None, log=print):
    """Start the fleet peer under `work`, measure every case `runs` times, stop what was
    started (whatever happens); returns the measured cases (for markdown() and targets())."""
    env = dict(env or os.environ)
    env.setdefault("FENCEBOX_LOCK_DIR", os.path.join(work, "locks"))
    env.pop("PCMK_service", None)
    need_tools(True)
    ensure_powerman(env)
    fencebox = os.path.abspath(fencebox)
    scratch = os.path.join(work, "fleet-scratch")
    os.makedirs(scratch, exist_ok=True)
    stops = []
    try:
        t0 = time.monotonic()
        fleet = start_fleet(work, stops)
        log(f"fleet peer: {fleet['FLEET_PDUS']} PDUs x {fleet['FLEET_OUTLETS']} outlets on udp "
            f"{fleet['FLEET_SNMP_PORT']}, {fleet['FLEET_BMCS']} BMCs from udp {fleet['FLEET_BMC_BASE']}, "
            f"up in {time.monotonic() - t0:.1f} s")
        npdu, nout, nbmc = (int(fleet[k]) for k in ("FLEET_PDUS", "FLEET_OUTLETS", "FLEET_BMCS"))
        outlets_inv, bmc_inv, reboot_inv = inventories(work, fleet)
        pm = Powerman(fleet, work, env)
        stops.append(pm.stop)
        pm.start()
        nnodes = npdu // 2 * nout
        reboot_pdus = len({p for k in range(1, NODES_REBOOT + 1) for p, _ in dual_feed(k, nout)})
        cases = [
            Case("pdu-status", "power status all",
                 f"{nnodes} dual-feed nodes: {npdu} PDUs x {nout} outlets ({npdu * nout} outlets) in one "
                 "snmpsim, SNMP v2c",
                 fencebox_runner(fencebox, ["status", "all", "--inventory", outlets_inv], env, scratch,
                                 f"{nnodes} of {nnodes} node(s) read", nnodes),
                 [Reference(f"{npdu} x snmpget at once", snmp_status_runner(fleet, scratch, env))]),
            Case("bmc-status", "power status all",
                 f"{nbmc} BMC-only nodes: {nbmc} ipmi_sim, RMCP+ suite 3",
                 fencebox_runner(fencebox, ["status", "all", "--inventory", bmc_inv], env, scratch,
                                 f"{nbmc} of {nbmc} node(s) read", nbmc),
                 [Reference("ipmipower --stat", ipmipower_runner(fleet, scratch, env)),
                  Reference("powerman pm -q", pm.runner(scratch))]),
            Case("reboot", "power reboot all",
                 f"{NODES_REBOOT} dual-PSU nodes: {2 * NODES_REBOOT} outlets on {reboot_pdus} PDUs of the snmpsim, "
                 "SNMP v2c",
                 fencebox_runner(fencebox, ["reboot", "all", "--inventory", reboot_inv], env, scratch,
                                 f"{NODES_REBOOT} of {NODES_REBOOT} node(s) rebooted", NODES_REBOOT),
                 [Reference("snmpset/snmpget, 4 steps", reboot_ref_runner(fleet, scratch, env))],
                 before=lambda: reset_fleet(fleet)),
        ]
        for case in cases:
            measure(case, runs, log)
        return {"cases": cases, "runs": runs}
    finally:
        for stop in reversed(stops):
            stop()


# ---- the report -----------------------------------------------------------------------------


def targets(result):
    """[(text, met)] of the fleet targets."""
    out = []
    for case in result["cases"]:
        fb = case.sample.medians()
        for r in case.refs:
            ref = r.sample.medians()
            out.append((f"`fencebox {case.command}` ({case.key}) no slower than {r.name}: "
                        f"{fb[0]*1e3:.0f} ms against {ref[0]*1e3:.0f} ms (x{ratio(ref[0], fb[0]):.2f})",
                        fb[0] <= ref[0]))
    peak = max(max(c.sample.rss_kib) for c in result["cases"]) / 1024
    out.append((f"`fencebox power` peak RSS under {RSS_TARGET_MIB} MB: highest measured {peak:.1f} MiB",
                peak < RSS_TARGET_MIB))
    return out


def markdown(result):
    """The "Fleet commands" section of docs/benchmarks.md."""
    met = lambda ok: "met" if ok else "NOT met"
    lines = [
        "## Fleet commands",
        "",
        "`fencebox power` over many devices at once, on the fleet peer (`tests/peers/fleet`, started",
        "by the benchmark with its own state): 42 APC rack PDUs of 24 outlets in one snmpsim (the",
        "SNMP community picks the PDU) and 64 ipmi_sim BMCs on consecutive ports, all on loopback.",
        "Beside it, the tools an administrator would otherwise script for the same work, run",
        "alternately with it (which goes first alternates too), after one warm-up run of each;",
        f"medians of {result['runs']} runs. Generated by `bench/fleet.py` (called by `bench/run.py`).",
        "",
        "| command | fleet | reference | runs | wall ref. (ms) | wall fencebox (ms) | wall ratio "
        "| CPU ref. (ms) | CPU fencebox (ms) | CPU ratio | peak RSS ref. (MiB) | peak RSS fencebox (MiB) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in result["cases"]:
        fb = case.sample.medians()
        for r in case.refs:
            ref = r.sample.medians()
            lines.append(
                f"| `{case.command}` | {case.fleet} | {r.name} | {result['runs']} "
                f"| {ref[0]*1e3:.1f} | {fb[0]*1e3:.1f} | {ratio(ref[0], fb[0]):.2f}x "
                f"| {ref[1]*1e3:.1f} | {fb[1]*1e3:.1f} | {ratio(ref[1], fb[1]):.2f}x "
                f"| {ref[2]/1024:.1f} | {fb[2]/1024:.1f} |")
    lines += ["", "Targets:", ""]
    lines += [f"- {text} ({met(ok)})." for text, ok in targets(result)]
    lines += [
        "",
        "What the references do, and how they are measured:",
        "",
        "- **42 x snmpget at once** (net-snmp): one `snmpget -v2c` per PDU, all started together,",
        "  each one GET of its 24 outlet states (`rPDUOutletStatusOutletState`); every answer must be",
        "  on. fencebox reads the same 1,008 outlets through the inventory's 42 devices, every PDU",
        "  at once with one session each, and reports 504 nodes of two feeds each.",
        "- **ipmipower --stat** (FreeIPMI): one process over all 64 BMCs (`-h 127.0.0.1:[first-last]`,",
        "  IPMI 2.0 with its default cipher suite 3, `-W opensesspriv` as ipmi_sim needs). It can",
        "  count the states but not say which BMC is which (every line is `127.0.0.1: on`).",
        "- **powerman pm -q** (PowerMan): a powermand started by the benchmark, with one `ipmipower`",
        "  coprocess per BMC (Debian's `ipmipower.dev`), already logged in and answering before the",
        "  runs; `pm -q` asks it for every node. Its CPU is `pm`'s plus what powermand and its",
        "  coprocesses spent during the query (`/proc/PID/task/*/schedstat`); its peak RSS is the",
        "  largest of `pm`, powermand and the coprocesses (`VmHWM`). powermand's start (about half a",
        "  second) is not counted.",
        "- **snmpset/snmpget, 4 steps** (net-snmp), the reboot of the same 64 nodes: for each of the",
        "  6 PDUs at once, one `snmpset` switching every outlet of those nodes off",
        "  (`rPDUOutletControlOutletCommand`), then one `snmpget` confirming them off, then one",
        "  `snmpset` on and one `snmpget` confirming them on; each step waits for the one before.",
        "  fencebox does the same per PDU (it reads the outlets first, switches those not yet off in",
        "  one SET, confirms, and switches back on only nodes whose both feeds are confirmed off).",
        "  The fleet is reset (`tests/peers/fleet/reset.sh`) before every run, outside the timing.",
        "",
        "CPU is user + system time from `wait4` of every process a run starts (fencebox is one",
        "process; its threads count). Peak RSS comes from a separate run under GNU time (for",
        "fencebox, and for each process of a reference, of which the largest is shown). The",
        "simulators do most of the work on this machine: snmpsim is one Python process that",
        "answers one request at a time, so the PDU rows' wall times are mostly its queue, and every",
        "ipmi_sim power read runs a shell script. The machine has 2 CPUs shared with other work",
        "(a CI run, a fuzzer), so wall times vary by tens of percent from run to run.",
        "",
    ]
    return lines


def report_targets(pairs, log=print):
    """One "met" or "NOT met" line per (text, ok) target."""
    for text, ok in pairs:
        log(f"{'met    ' if ok else 'NOT met'} {text}")


def print_rows(result, log=print):
    report_targets(targets(result), log)


def exit_on_signals():
    """SIGTERM and SIGHUP end the process through SystemExit, so `finally` stops the peers."""
    def handler(sig, _frame):
        raise SystemExit(128 + sig)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def standalone(ap, prefix, measure, targets_of, markdown_of):
    """A bench part run on its own: `--fencebox` and `--out` besides the part's own options
    in `ap`; `measure(work, args)` runs in a scratch directory snmpsim can read, its target
    lines are printed and its markdown section written to `--out`."""
    ap.add_argument("--fencebox", default=os.path.join(ROOT, "target", "release", "fencebox"))
    ap.add_argument("--out", help="also write the markdown section to this file")
    args = ap.parse_args()
    exit_on_signals()
    if not os.access(args.fencebox, os.X_OK):
        sys.exit(f"{args.fencebox} is missing: run cargo build --release first")
    work = tempfile.mkdtemp(prefix=prefix)
    os.chmod(work, 0o755)  # snmpsim runs as nobody and must reach its data in here
    try:
        result = measure(work, args)
        report_targets(targets_of(result))
        if args.out:
            with open(args.out, "w") as f:
                f.write("\n".join(markdown_of(result)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    standalone(ap, "fencebox-bench-fleet-", lambda work, a: run(work, a.fencebox, a.runs),
               targets, markdown)


if __name__ == "__main__":
    main()
