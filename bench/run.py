#!/usr/bin/env python3
"""Side-by-side benchmark: fencebox against the Python fence-agents on the same device.

Each case runs both agents alternately, N times each, with the same stdin. Per run it
records wall time, CPU time (user + system) and peak RSS of the agent process (from
wait4's rusage), then reports medians and ratios, and writes docs/benchmarks.md.

Usage: bench/run.py [--runs N] [--out FILE] [--fencebox PATH] [--no-fleet] [--no-serve] ...
Cases are data (CASES below): every backend adds its rows. The fleet rows (`fencebox power`
over many devices beside snmpget, ipmipower and powerman) come from bench/fleet.py, in a
second table; the power-service rows (`fencebox serve` beside PDUDaemon 1.1.1 under 64
concurrent clients of PDUDaemon's HTTP protocol) from bench/serve.py, in a third; the
discovery rows (`fencebox discover` beside nut-scanner on a planted range) from
bench/discover.py, in a fourth; the device-lock rows (what the etcd lock of `[locks] backend =
"etcd"` adds to a call, on a 3-member etcd on loopback) from bench/locks.py, in a fifth;
the web-console rows (the page load of `fencebox serve`'s node list of 1,000 nodes in headless
Chromium) from bench/console.py, in a sixth.
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

sys.dont_write_bytecode = True  # no bench/__pycache__ from the import below
import fleet  # noqa: E402  (bench/fleet.py, beside this file)
import serve  # noqa: E402  (bench/serve.py, beside this file)
import discover  # noqa: E402  (bench/discover.py, beside this file)
import locks  # noqa: E402  (bench/locks.py, beside this file)
import console  # noqa: E402  (bench/console.py, beside this file)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Case:
    agent: str            # fence_<name>, the same name for both implementations
    device: str           # what the agents talk to, for the table
    action: str
    stdin: str            # key=value lines; {state} is replaced by the dummy status file
    expect_exit: int
    before: object = None  # called before every run (resets the device)
    python_agent: str = ""  # path of the reference agent
    max_runs: int = 0      # slow cases: at most this many runs (0: no cap)
    reference: str = "Python"  # what the reference is, for the table


@dataclass
class Result:
    wall: list = field(default_factory=list)
    cpu: list = field(default_factory=list)
    rss_kib: list = field(default_factory=list)


def dummy_cases(workdir):
    state = os.path.join(workdir, "dummy.status")

    def on():
        with open(state, "w") as f:
            f.write("on")

    base = f"status_file={state}\n"
    ref = "/usr/sbin/fence_dummy"
    return [
        Case("fence_dummy", "status file", "status", "action=status\n" + base, 0, on, ref),
        Case("fence_dummy", "status file", "monitor", "action=monitor\n" + base, 0, on, ref),
        Case("fence_dummy", "status file", "reboot", "action=reboot\n" + base, 0, on, ref),
        Case("fence_dummy", "status file", "metadata", "action=metadata\n", 0, None, ref),
    ]


GNU_TIME = "/usr/bin/time"


def peak_rss_kib(argv0_path, stdin, env, scratch):
    """Peak RSS of one run, measured by GNU time.

    wait4 from this Python process would over-report: at exec the kernel keeps the
    high-water mark of the forked parent's memory, so every child would inherit
    Python's RSS. GNU time is a small C parent (its own floor is about 1 MiB, the RSS
    of /bin/true)."""
    with open(scratch, "w"):
        pass
    subprocess.run([GNU_TIME, "-f", "%M", "-o", scratch, argv0_path], input=stdin.encode(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    with open(scratch) as f:
        words = f.read().split()
    return int(words[-1]) if words and words[-1].isdigit() else 0


def start_peer(work, script, args, port_key, start_name="start.sh", stop_name="stop.sh"):
    """Start a simulator of our test harness (tests/peers/<script>) on a free port, with its
    state under work/; returns (port, stop function). The stop script takes the same args."""
    env = dict(os.environ, PEERS_STATE=os.path.join(work, "peers"))
    start_script = os.path.join(ROOT, "tests/peers", script, start_name)
    out = subprocess.run([start_script, *args], env=env, capture_output=True, text=True)
    prefix = port_key + "="
    port = next((l[len(prefix):] for l in out.stdout.splitlines() if l.startswith(prefix)), None)
    if out.returncode != 0 or not port:
        sys.exit(f"{script} peer did not start:\n" + out.stderr[-2000:])

    def stop():
        subprocess.run([os.path.join(ROOT, "tests/peers", script, stop_name), *args], env=env,
                       capture_output=True)
    return int(port), stop


def snmp_cases(port, fencebox):
    """fence_apc_snmp on snmpsim's APC Rack PDU (24 outlets), v1 and v2c, power_wait 0."""
    ref = "/usr/sbin/fence_apc_snmp"
    cases = []
    for version in ("1", "2c"):
        base = f"ip=127.0.0.1\nipport={port}\ncommunity=private\nsnmp_version={version}\npower_wait=0\n"

        def on(base=base):
            subprocess.run([fencebox, "apc_snmp"], input=(base + "plug=1\naction=on\n").encode(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        dev = f"snmpsim APC rPDU, SNMP v{version}"
        cases += [
            Case("fence_apc_snmp", dev, "status", base + "plug=1\naction=status\n", 0, on, ref),
            Case("fence_apc_snmp", dev, "list", base + "action=list\n", 0, None, ref),
            Case("fence_apc_snmp", dev, "reboot", base + "plug=1\naction=reboot\n", 0, on, ref),
        ]
    return cases


def ipmi_cases(port, fencebox):
    """fence_ipmilan on ipmi_sim: RMCP+ cipher suite 3 and IPMI 1.5 (MD5), power_wait 0."""
    ref = "/usr/sbin/fence_ipmilan"
    cases = []
    for mode, dev in (("lanplus=1\ncipher=3\n", "ipmi_sim, RMCP+ suite 3"),
                      ("auth=md5\n", "ipmi_sim, IPMI 1.5 MD5")):
        base = f"ip=127.0.0.1\nipport={port}\nusername=admin\npassword=password\npower_wait=0\n{mode}"

        def on(base=base):
            subprocess.run([fencebox, "ipmilan"], input=(base + "action=on\n").encode(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        cases += [
            Case("fence_ipmilan", dev, "status", base + "action=status\n", 0, on, ref),
            Case("fence_ipmilan", dev, "reboot", base + "action=reboot\n", 0, on, ref),
        ]
    return cases


def nut_cases(port, fencebox):
    """fence_nut on upsd (snmp-ups, Baytech PDU on snmpsim) beside upsc/upscmd doing the same."""
    ref = os.path.join(ROOT, "bench", "nut-tools.sh")
    base = (f"ip=127.0.0.1\nipport={port}\nups_name=baytech\nplug=2\nusername=admin\n"
            "password=adminpass\npower_wait=0\n")

    def on():
        subprocess.run([fencebox, "nut"], input=(base + "action=on\n").encode(),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    dev = "upsd 2.8.0, snmp-ups, Baytech PDU"
    return [
        Case("fence_nut", dev, "status", base + "action=status\n", 0, on, ref, 0, "upsc/upscmd"),
        Case("fence_nut", dev, "reboot", base + "action=reboot\n", 0, on, ref, 5, "upsc/upscmd"),
    ]


def snmpd_cases(port):
    """fence_apc_snmp on net-snmp's snmpd serving the same APC rPDU tables (static): the
    device answers in microseconds, so the agents' own costs show."""
    ref = "/usr/sbin/fence_apc_snmp"
    cases = []
    for version in ("1", "2c"):
        base = f"ip=127.0.0.1\nipport={port}\ncommunity=private\nsnmp_version={version}\npower_wait=0\n"
        dev = f"net-snmp snmpd APC rPDU, SNMP v{version}"
        cases += [
            Case("fence_apc_snmp", dev, "status", base + "plug=1\naction=status\n", 0, None, ref),
            Case("fence_apc_snmp", dev, "list", base + "action=list\n", 0, None, ref),
        ]
    return cases


def start_ssh_peers(work):
    """The SSH and telnet peers of tests/peers/ssh (OpenSSH sshd, bash + virsh with libvirtd's
    test driver, the device emulators) with their own state and account; returns (settings
    of peers.env, stop function)."""
    env = dict(os.environ, PEERS_STATE=os.path.join(work, "peers"), FB_SSH_USER="fbbench")
    here = os.path.join(ROOT, "tests/peers/ssh")
    out = subprocess.run([os.path.join(here, "start.sh")], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("ssh peers did not start:\n" + out.stderr[-2000:])
    with open(os.path.join(work, "peers", "ssh", "peers.env")) as f:
        peers = dict(l.rstrip("\n").split("=", 1) for l in f if "=" in l)

    def stop():
        subprocess.run([os.path.join(here, "stop.sh")], env=env, capture_output=True)
    return peers, stop


# fence_virsh's default ssh_options (a plain bash with its prompt), after the host-key options.
VIRSH_BASH = "-t '/bin/bash -c \"PS1=\\\\[EXPECT\\\\]# /bin/bash --noprofile --norc\"'"


def ssh_cases(peers, fencebox):
    """fence_virsh through OpenSSH's sshd, bash and virsh to libvirtd's test driver; fence_apc
    on its emulator over telnet and over SSH (when the agent file and device exist)."""
    strict = (f"-o UserKnownHostsFile={peers['FB_SSH_KNOWN_HOSTS']} -o StrictHostKeyChecking=yes")
    virsh = (f"ip=127.0.0.1\nipport={peers['FB_SSH_PORT_MAIN']}\nusername={peers['FB_SSH_USER']}\n"
             f"password={peers['FB_SSH_PASSWORD']}\nssh_options={strict} {VIRSH_BASH}\n"
             "plug=vnode2\npower_wait=0\n")
    dev = "OpenSSH 9.2 sshd, bash, virsh, libvirtd test driver"
    cases = [
        Case("fence_virsh", dev, "status", virsh + "action=status\n", 0, None, "/usr/sbin/fence_virsh", 10),
        Case("fence_virsh", dev, "reboot", virsh + "action=reboot\n", 0, None, "/usr/sbin/fence_virsh", 10),
        # A key instead of the password (fence_virsh's documentation's advice): sshd checks a
        # signature, not a yescrypt hash, so the server's share is smaller for both agents.
        Case("fence_virsh", dev + ", key login", "status",
             virsh.replace(f"password={peers['FB_SSH_PASSWORD']}\n", f"identity_file={peers['FB_SSH_KEY']}\n")
             + "action=status\n", 0, None, "/usr/sbin/fence_virsh", 10),
    ]
    if "FB_EMU_APC_CLI_TELNET_PORT" in peers and os.path.exists(os.path.join(ROOT, "agents", "apc.toml")):
        user = peers["FB_EMU_APC_CLI_USER"]
        common = f"username={user}\npassword={peers['FB_SSH_PASSWORD']}\nplug=1\npower_wait=0\n"
        telnet = f"ip=127.0.0.1\nipport={peers['FB_EMU_APC_CLI_TELNET_PORT']}\n" + common
        ssh = (f"ip=127.0.0.1\nipport={peers['FB_SSH_PORT_MAIN']}\nssh=1\nssh_options={strict}\n" + common)
        cases += [
            Case("fence_apc", "emulated APC AOS 6 CLI, telnet", "status", telnet + "action=status\n", 0, None,
                 "/usr/sbin/fence_apc", 10),
            Case("fence_apc", "emulated APC AOS 6 CLI, OpenSSH sshd", "status", ssh + "action=status\n", 0, None,
                 "/usr/sbin/fence_apc", 10),
        ]
    return cases


def run_once(argv0_path, stdin, env):
    t0 = time.perf_counter()
    p = subprocess.Popen([argv0_path], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=env)
    p.stdin.write(stdin.encode())
    p.stdin.close()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, wall, ru.ru_utime + ru.ru_stime


def measure(case, ours, runs, env, scratch):
    res = {"python": Result(), "fencebox": Result()}
    for _ in range(runs):
        for impl, path in (("python", case.python_agent), ("fencebox", ours)):
            if case.before:
                case.before()
            code, wall, cpu = run_once(path, case.stdin, env)
            if code != case.expect_exit:
                sys.exit(f"{impl} {case.agent} {case.action}: exit {code}, expected {case.expect_exit}")
            if case.before:
                case.before()
            r = res[impl]
            r.wall.append(wall)
            r.cpu.append(cpu)
            r.rss_kib.append(peak_rss_kib(path, case.stdin, env, scratch))
    return res


def ratio(a, b):
    return a / b if b > 0 else float("inf")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--fencebox", default=os.path.join(ROOT, "target", "release", "fencebox"))
    ap.add_argument("--no-snmp", action="store_true", help="skip the rows that need snmpsim")
    ap.add_argument("--no-ipmi", action="store_true", help="skip the rows that need ipmi_sim")
    ap.add_argument("--no-nut", action="store_true", help="skip the rows that need upsd")
    ap.add_argument("--no-ssh", action="store_true", help="skip the rows that need sshd and libvirtd")
    ap.add_argument("--no-fleet", action="store_true",
                    help="skip the fleet rows (fencebox power on tests/peers/fleet, bench/fleet.py)")
    ap.add_argument("--no-serve", action="store_true",
                    help="skip the power-service rows (fencebox serve beside PDUDaemon, bench/serve.py)")
    ap.add_argument("--no-discover", action="store_true",
                    help="skip the discovery rows (fencebox discover beside nut-scanner, bench/discover.py)")
    ap.add_argument("--no-locks", action="store_true",
                    help="skip the device-lock rows (fence_dummy with the etcd lock, bench/locks.py)")
    ap.add_argument("--no-console", action="store_true",
                    help="skip the web-console rows (the node list in headless Chromium, bench/console.py)")
    args = ap.parse_args()
    fleet.exit_on_signals()  # SIGTERM/SIGHUP still stop every peer (finally below)

    if not os.access(GNU_TIME, os.X_OK):
        sys.exit(f"{GNU_TIME} is missing: apt-get install time")
    if not os.access(args.fencebox, os.X_OK):
        sys.exit(f"{args.fencebox} is missing: run cargo build --release first")
    work = tempfile.mkdtemp(prefix="fencebox-bench-")
    os.chmod(work, 0o755)  # snmpsim runs as nobody and must reach its data in here
    stops = []  # every started peer is stopped, whatever happens (finally below)
    try:
        bindir = os.path.join(work, "bin")
        os.mkdir(bindir)
        # The agents' links as the package has them: fencebox-agent for the agents without
        # SSH, fencebox-shell for the SSH ones, fencebox for fence_chain (`fencebox link`).
        subprocess.run([os.path.abspath(args.fencebox), "link", bindir], check=True,
                       stdout=subprocess.DEVNULL)
        env = dict(os.environ, FENCEBOX_LOCK_DIR=os.path.join(work, "locks"),
                   PYTHONWARNINGS="ignore")
        env.pop("PCMK_service", None)
        cases = dummy_cases(work)
        if not args.no_snmp:
            port, stop = start_peer(work, "snmp", ["private"], "SNMPSIM_PORT")
            stops.append(stop)
            cases += snmp_cases(port, os.path.abspath(args.fencebox))
            port, stop = start_peer(work, "snmp", [], "SNMPD_PORT", "start-snmpd.sh", "stop-snmpd.sh")
            stops.append(stop)
            cases += snmpd_cases(port)
        if not args.no_ipmi:
            port, stop = start_peer(work, "ipmi", ["bench"], "IPMI_PORT")
            stops.append(stop)
            cases += ipmi_cases(port, os.path.abspath(args.fencebox))
        if not args.no_nut:
            port, stop = start_peer(work, "nut", [], "NUT_PORT")
            stops.append(stop)
            cases += nut_cases(port, os.path.abspath(args.fencebox))
        if not args.no_ssh:
            peers, stop = start_ssh_peers(work)
            stops.append(stop)
            cases += ssh_cases(peers, os.path.abspath(args.fencebox))
        rows = []
        for case in cases:
            if not os.access(case.python_agent, os.X_OK):
                sys.exit(f"{case.python_agent} is missing: apt-get install fence-agents")
            link = os.path.join(bindir, case.agent)
            runs = min(args.runs, case.max_runs) if case.max_runs else args.runs
            res = measure(case, link, runs, env, os.path.join(work, "rss"))
            py, fb = res["python"], res["fencebox"]
            m = statistics.median
            row = {
                "case": case,
                "wall": (m(py.wall), m(fb.wall)),
                "cpu": (m(py.cpu), m(fb.cpu)),
                "rss": (m(py.rss_kib), m(fb.rss_kib)),
                "runs": runs,
            }
            rows.append(row)
            print(f"{case.agent:<14} {case.action:<9} wall {row['wall'][0]*1e3:8.2f} / {row['wall'][1]*1e3:6.2f} ms "
                  f"(x{ratio(*row['wall']):5.1f})  cpu {row['cpu'][0]*1e3:8.2f} / {row['cpu'][1]*1e3:6.2f} ms "
                  f"(x{ratio(*row['cpu']):5.1f})  rss {row['rss'][0]/1024:5.1f} / {row['rss'][1]/1024:4.1f} MiB")
        floor = [run_once("/bin/true", "", env) for _ in range(args.runs)]
        floor = (statistics.median(f[1] for f in floor), statistics.median(f[2] for f in floor))
        # The agents' peers are done: stop them before the fleet (2 CPUs), then the fleet
        # peer runs alone; fleet.run stops it (and powermand) whatever happens.
        while stops:
            stops.pop(0)()
        fleet_result = None
        if not args.no_fleet:
            fleet_result = fleet.run(work, args.fencebox, args.runs, env)
            fleet.print_rows(fleet_result)
        # Then the power service: PDUDaemon and fencebox serve on 8 of the fleet's PDUs (a
        # fleet peer of its own, PDUs only); serve.run stops everything it started.
        serve_result = None
        if not args.no_serve:
            serve_result = serve.run(work, args.fencebox, env)
            serve.print_rows(serve_result)
        # Then discovery: fencebox discover and nut-scanner on the planted set of
        # tests/peers/discover (standard ports); discover.run stops what it started.
        discover_result = None
        if not args.no_discover:
            discover_result = discover.run(work, args.fencebox, min(args.runs, 10), env)
            discover.print_rows(discover_result)
        # Then the device locks: fence_dummy without a site file, with backend "local" and
        # with backend "etcd" on a 3-member etcd of tests/peers/etcd; locks.run stops it.
        locks_result = None
        if not args.no_locks:
            locks_result = locks.run(work, args.fencebox, args.runs, env)
            locks.print_rows(locks_result)
        # Then the web console: the node list of 1,000 nodes in headless Chromium
        # (tests/peers/browser) on a fleet peer of its own; console.run stops what it started.
        console_result = None
        if not args.no_console:
            console_result = console.run(work, args.fencebox, args.runs, env)
            console.print_rows(console_result)
        write_report(args.out, rows, args.runs, floor, fleet_result, serve_result, discover_result,
                     locks_result, console_result)
    finally:
        for stop in stops:
            stop()
        shutil.rmtree(work, ignore_errors=True)


def write_report(path, rows, runs, floor, fleet_result=None, serve_result=None, discover_result=None,
                 locks_result=None, console_result=None):
    uname = platform.uname()
    lines = [
        "# Benchmarks",
        "",
        "Generated by `bench/run.py` (do not edit by hand): fencebox beside a reference on the same",
        "device with the same stdin, run alternately; medians of the runs shown (up to",
        f"{runs}). The reference is the Python agent of Debian 12's `fence-agents`, or for fence_nut",
        "(which fence-agents does not have) NUT's own clients upsc and upscmd doing the same work",
        "(`bench/nut-tools.sh`). CPU is user + system time of the process and the children it",
        "waited for (`wait4`); peak RSS is the largest resident set among them as GNU time reports",
        "it (that includes about 1 MiB of the measuring process itself, the RSS of /bin/true).",
        "Ratios are reference / fencebox (higher is better).",
        "",
        f"Machine: {os.cpu_count()} CPUs, {uname.system} {uname.release} {uname.machine}, "
        f"Python {platform.python_version()}. Date: {time.strftime('%Y-%m-%d')}.",
        "",
        "| agent | device | action | reference | runs | wall ref. (ms) | wall fencebox (ms) | wall ratio "
        "| CPU ref. (ms) | CPU fencebox (ms) | CPU ratio | peak RSS ref. (MiB) | peak RSS fencebox (MiB) |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        c = r["case"]
        lines.append(
            f"| {c.agent} | {c.device} | {c.action} | {c.reference} | {r['runs']} "
            f"| {r['wall'][0]*1e3:.2f} | {r['wall'][1]*1e3:.2f} "
            f"| {ratio(*r['wall']):.1f}x | {r['cpu'][0]*1e3:.2f} | {r['cpu'][1]*1e3:.2f} | {ratio(*r['cpu']):.1f}x "
            f"| {r['rss'][0]/1024:.1f} | {r['rss'][1]/1024:.1f} |"
        )
    dummy = [r for r in rows if r["case"].agent == "fence_dummy" and r["case"].action in ("status", "reboot")]
    worst = min(ratio(*r["cpu"]) for r in dummy) if dummy else 0
    def snmp_rows(responder):
        return [r for r in rows if r["case"].agent == "fence_apc_snmp"
                and r["case"].action in ("status", "list") and r["case"].device.startswith(responder)]
    fast, sim = snmp_rows("net-snmp"), snmp_rows("snmpsim")
    worst_of = lambda rs, k: min((ratio(*r[k]) for r in rs), default=0)
    snmp = fast + sim
    snmp_rss = max((r["rss"][1] / 1024 for r in rows if r["case"].agent == "fence_apc_snmp"), default=0)
    ipmi = [r for r in rows if r["case"].agent == "fence_ipmilan" and r["case"].action == "status"
            and "suite 3" in r["case"].device]
    ipmi_wall = min((ratio(*r["wall"]) for r in ipmi), default=0)
    ipmi_cpu = min((ratio(*r["cpu"]) for r in ipmi), default=0)
    met = lambda ok: "met" if ok else "NOT met"
    shell = [r for r in rows if r["case"].agent in ("fence_virsh", "fence_apc") and r["case"].action == "status"]
    shell_wall = min((ratio(*r["wall"]) for r in shell), default=0)
    shell_cpu = min((ratio(*r["cpu"]) for r in shell), default=0)
    shell_rss = max((r["rss"][1] / 1024 for r in rows if r["case"].agent in ("fence_virsh", "fence_apc")), default=0)
    lines += [
        "",
        "## Targets",
        "",
        f"- fence_dummy status and reboot: at least 30x less CPU per call than the Python agent. "
        f"Worst measured: {worst:.1f}x ({met(worst >= 30)}).",
    ]
    if snmp:
        lines += [
            f"- fence_apc_snmp status and list: at least 30x faster (wall) and 50x less CPU than the Python "
            f"agent, on a device that answers as fast as a PDU does (net-snmp snmpd). Worst measured: "
            f"{worst_of(fast, 'wall'):.1f}x wall ({met(worst_of(fast, 'wall') >= 30)}), {worst_of(fast, 'cpu'):.1f}x CPU "
            f"({met(worst_of(fast, 'cpu') >= 50)}). On snmpsim, whose own answer time dominates a list: "
            f"{worst_of(sim, 'wall'):.1f}x wall, {worst_of(sim, 'cpu'):.1f}x CPU.",
            f"- fence_apc_snmp peak RSS under 10 MB: highest measured {snmp_rss:.1f} MiB ({met(snmp_rss < 10)}).",
        ]
    if ipmi:
        lines += [
            f"- fence_ipmilan status (cipher suite 3): at least 10x faster (wall) and 30x less CPU than the "
            f"Python agent with ipmitool. Measured: {ipmi_wall:.1f}x wall ({met(ipmi_wall >= 10)}), "
            f"{ipmi_cpu:.1f}x CPU ({met(ipmi_cpu >= 30)}).",
        ]
    if shell:
        lines += [
            f"- Shell agents (fence_virsh, fence_apc) status: at least 10x faster (wall) and 20x less CPU than the "
            f"Python agent with its ssh/telnet child. Worst measured: {shell_wall:.1f}x wall ({met(shell_wall >= 10)}), "
            f"{shell_cpu:.1f}x CPU ({met(shell_cpu >= 20)}); peak RSS under 10 MB: highest {shell_rss:.1f} MiB "
            f"({met(shell_rss < 10)}).",
        ]
    lines += [
        "",
        "Resolution: CPU times come from the kernel's accounting (clock ticks or better); fencebox's",
        "per-call CPU is close to that resolution, so its CPU ratios are approximate lower bounds.",
        "The floor under every fencebox number is starting a process at all: /bin/true, started the",
        f"same way, costs {floor[1]*1e3:.2f} ms CPU and {floor[0]*1e3:.2f} ms wall here (median of {runs}). fencebox keeps",
        "its own start-up small: it skips the Rust runtime's set-up (src/process_start.rs), links",
        "GCC's unwinder statically, has its agent definitions compiled into it by build.rs (const",
        "data, no parser at run time), and runs every agent call without SSH (telnet shells",
        "included) from `fencebox-agent`, a binary without libssh2's static OpenSSL, whose",
        "relocations at every start would double their CPU; SSH calls run in `fencebox-shell`,",
        "which leaves the service and the fleet commands out, so that a call maps less code.",
        "Both are linked with packed relative relocations (RELR; build.rs), so the loader reads",
        "a few kilobytes of relocation table rather than hundreds (docs/architecture.md).",
        "",
        "Two SNMP responders serve the same APC Rack PDU tables. snmpsim (the test peer, a Python",
        "program; states follow commands, so it also serves reboot) answers one GETBULK of 25 outlet",
        "names in about 10 ms, and a v1 walk needs several round trips, so on snmpsim fencebox's",
        "`list` wall time is mostly the simulator's. net-snmp's snmpd (C, static values; status and",
        "list only) answers in microseconds, as a PDU's agent does, so its rows show the agents'",
        "own costs; the wall-time targets are judged there.",
        "",
        "fence_nut: a status is one TCP connection and one GET VAR either way; a reboot's wall time is",
        "the driver's: upsd's tracking reports a command done after the driver's next poll, and the",
        "outlet state follows about a second later, for both implementations.",
        "",
        "fence_ipmilan: the Python agent runs one ipmitool process per step (a reboot is five: status,",
        "off, status, on, status), each opening its own IPMI session; fencebox opens one session per",
        "call. CPU of the Python agent includes its ipmitool children (wait4 counts waited-for",
        "children). Without `cipher`, ipmitool first asks ipmi_sim for its cipher suites, which",
        "ipmi_sim never answers: about 14 s per Python call (not in the table; fencebox negotiates",
        "by Open Session and takes about a millisecond more).",
        "",
        "Shell agents: the Python agents run OpenSSH's ssh (or telnet) in a pseudo-terminal through",
        "pexpect and sleep between steps; their CPU includes that child. fencebox speaks SSH itself",
        "(libssh2) and reads the shell as soon as the prompt arrives; both pay the server's key",
        "exchange and the login shell's start (bash, then virsh's own connection to libvirtd).",
        "Devices and sshd write with Nagle's algorithm on, so a second small write of theirs",
        "waits for the client's acknowledgement of the first, which Linux delays by up to 40 ms:",
        "fencebox asks for immediate acknowledgements (TCP_QUICKACK) before every wait, the",
        "Python agents' ssh and telnet children do not (four such waits per status call on the",
        "telnet emulator, one per SSH login). What no client avoids on the SSH peer (measured",
        "with strace, December 2026): sshd's fork and re-exec per connection (about 10 ms), the",
        "key exchange (5 ms), the password check (about 60 ms: yescrypt, and OpenSSH pads a",
        "successful password login), the three bash processes of fence_virsh's default command",
        "(6 ms) and virsh's own start (21 ms); each telnet connection to an emulator starts a",
        "Python process (about 40 ms). The key-login row spares sshd the password hash (it checks",
        "an ed25519 signature), so both agents' wall time drops; fencebox reads the Ed25519 key",
        "and signs with it itself (ring), sparing libssh2's parse through OpenSSL 3's decoders.",
        "",
    ]
    if fleet_result:
        lines += fleet.markdown(fleet_result)
    if serve_result:
        lines += serve.markdown(serve_result)
    if discover_result:
        lines += discover.markdown(discover_result)
    if locks_result:
        lines += locks.markdown(locks_result)
    if console_result:
        lines += console.markdown(console_result)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
