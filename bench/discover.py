#!/usr/bin/env python3
"""Discovery rows of the benchmark: `fencebox discover` beside NUT's nut-scanner (Debian's
nut-client) on the same planted range (tests/peers/discover: 27 SNMP PDUs of 11 families on
127.0.7.10-39 of 127.0.7.0/24, 8 ipmi_sim BMCs on 127.0.8.10-17), on the standard ports 161
and 623, which nut-scanner cannot change.

Cases (each tool alternately, N runs after one warm-up of each, the same targets, the same
timeout of 1 s, community public):
  snmp /24   254 addresses of 127.0.7.0/24: `fencebox discover --protocols snmp` and
             `nut-scanner -S`;
  ipmi       the 8 BMC addresses: `fencebox discover --protocols ipmi` and `nut-scanner -I`
             with the BMCs' login (nut-scanner's IPMI scan of a whole /24 takes minutes:
             FreeIPMI waits out its own session timeouts address by address).

Per case: median wall time, what each found, and whether fencebox found every address
nut-scanner found. nut-scanner recognises a PDU by sysObjectID and a model object of its
snmp-ups tables (planted for the families NUT has: APC, Raritan PX2, Eaton G3, Baytech),
and a BMC by its power-supply FRUs (which ipmi_sim does not have).

bench/run.py calls run() and writes the section into docs/benchmarks.md; standalone:
  bench/discover.py [--runs N] [--fencebox PATH] [--out FILE]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import fleet  # noqa: E402  (bench/fleet.py, beside this file)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER = os.path.join(ROOT, "tests", "peers", "discover")
TIMEOUT = 1


def ensure_nut_scanner(env):
    if shutil.which("nut-scanner"):
        return
    out = subprocess.run(["bash", "-c", f". {os.path.join(ROOT, 'tests/peers/lib.sh')}; need_pkgs nut-client"],
                         env=env, capture_output=True, text=True)
    if out.returncode != 0 or not shutil.which("nut-scanner"):
        sys.exit("nut-scanner is missing and could not be installed:\n" + out.stderr[-1000:])


def timed(cmd, env):
    t0 = time.monotonic()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    took = time.monotonic() - t0
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-1500:]}")
    return took, out.stdout


def nut_found(text):
    """Addresses in nut-scanner -P lines (port="...")."""
    return {line.split('port="', 1)[1].split('"', 1)[0] for line in text.splitlines() if 'port="' in line}


def fencebox_found(text):
    return {f["address"] for f in json.loads(text)["found"] if f["kind"] not in ("snmp-refused",)}


def run(work, fencebox, runs, env=None, log=print):
    env = dict(env or os.environ)
    ensure_nut_scanner(env)
    peers_env = dict(env, PEERS_STATE=os.path.join(work, "peers"), DISCOVER_SNMP_PORT="161",
                     DISCOVER_IPMI_PORT="623")
    os.makedirs(peers_env["PEERS_STATE"], exist_ok=True)
    passfile = os.path.join(work, "ipmi.pw")
    with open(passfile, "w") as f:
        f.write("password\n")
    stop = lambda: subprocess.run([os.path.join(PEER, "stop.sh")], env=peers_env, capture_output=True)
    rows = []
    try:
        t0 = time.monotonic()
        out = subprocess.run([os.path.join(PEER, "start.sh")], env=peers_env, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit("discover peer did not start:\n" + out.stderr[-2000:])
        log(f"discover: planted set on ports 161/623, up in {time.monotonic() - t0:.1f} s")
        cases = [
            ("snmp /24 (254 addresses, 27 PDUs)",
             [fencebox, "discover", "127.0.7.0/24", "--protocols", "snmp", "-c", "public",
              "--timeout", str(TIMEOUT), "--json"],
             ["nut-scanner", "-q", "-P", "-S", "-m", "127.0.7.0/24", "-c", "public", "-t", str(TIMEOUT)]),
            ("ipmi (8 BMCs)",
             [fencebox, "discover", "127.0.8.10-17", "--protocols", "ipmi", "--ipmi-user", "admin",
              "--ipmi-password-file", passfile, "--timeout", str(TIMEOUT), "--json"],
             ["nut-scanner", "-q", "-P", "-I", "-s", "127.0.8.10", "-e", "127.0.8.17", "-b", "admin",
              "-B", "password", "-t", str(TIMEOUT)]),
        ]
        for name, fb_cmd, ns_cmd in cases:
            timed(fb_cmd, env)
            timed(ns_cmd, env)
            fb_t, ns_t = [], []
            fb_set, ns_set = set(), set()
            for i in range(runs):
                order = [(fb_cmd, fb_t, True), (ns_cmd, ns_t, False)]
                if i % 2:
                    order.reverse()
                for cmd, times, is_fb in order:
                    took, text = timed(cmd, env)
                    times.append(took)
                    if is_fb:
                        fb_set = fencebox_found(text)
                    else:
                        ns_set = nut_found(text)
            rows.append({"name": name, "runs": runs,
                         "fencebox": statistics.median(fb_t), "nut_scanner": statistics.median(ns_t),
                         "fb_found": len(fb_set), "ns_found": len(ns_set),
                         "missed": sorted(ns_set - fb_set)})
    finally:
        stop()
    return {"rows": rows}


def targets(result):
    out = []
    for r in result["rows"]:
        out.append((f"`fencebox discover` {r['name']} no slower than nut-scanner: {r['fencebox']:.2f} s "
                    f"against {r['nut_scanner']:.2f} s (x{r['nut_scanner'] / r['fencebox']:.2f})",
                    r["fencebox"] <= r["nut_scanner"]))
        out.append((f"`fencebox discover` {r['name']}: every device nut-scanner finds also found "
                    f"({r['ns_found']} found by nut-scanner, {r['fb_found']} by fencebox"
                    f"{', missed: ' + ', '.join(r['missed']) if r['missed'] else ''})", not r["missed"]))
    return out


def markdown(result):
    met = lambda ok: "met" if ok else "NOT met"
    lines = [
        "## Discovery: `fencebox discover` beside nut-scanner",
        "",
        "The planted set of tests/peers/discover on the standard ports (161, 623): 27 SNMP PDUs of 11",
        "families on 127.0.7.10-39 (two behind another community), 8 ipmi_sim BMCs on 127.0.8.10-17;",
        f"timeout {TIMEOUT} s for both tools, community public; medians of alternate runs. nut-scanner",
        "(NUT 2.8, Debian's nut-client) recognises a PDU by sysObjectID and the model object of its",
        "snmp-ups tables (planted for APC, Raritan PX2, Eaton G3, Baytech; it has no table for the",
        "other families) and a BMC by its power-supply FRUs (ipmi_sim has none). Generated by",
        "`bench/discover.py` (called by `bench/run.py`).",
        "",
        "| scan | runs | nut-scanner (s) | fencebox (s) | ratio | found by nut-scanner | found by fencebox |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['name']} | {r['runs']} | {r['nut_scanner']:.3f} | {r['fencebox']:.3f} "
                     f"| x{r['nut_scanner'] / r['fencebox']:.2f} | {r['ns_found']} | {r['fb_found']} |")
    lines += ["", "Targets:", ""]
    lines += [f"- {text} ({met(ok)})." for text, ok in targets(result)]
    lines += [
        "",
        "Both tools wait the timeout for addresses that stay silent (here the two PDUs behind",
        "another community; the loopback refuses the empty addresses at once), so the wall times",
        "sit at the timeout; fencebox asks each community, and SNMPv3's credential-less engine",
        "discovery that tells a refusing agent from a silent address, in parallel.",
        "",
    ]
    return lines


def print_rows(result, log=print):
    fleet.report_targets(targets(result), log)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    fleet.standalone(ap, "fencebox-bench-discover-", lambda work, a: run(work, a.fencebox, a.runs),
                     targets, markdown)


if __name__ == "__main__":
    main()
