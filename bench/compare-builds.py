#!/usr/bin/env python3
"""CPU per call of two fencebox builds, side by side on the same machine and devices: the
check that a change costs no start-up or per-call work (issue 12 asks for within 10 %).

    bench/compare-builds.py OLD_BINARY NEW_BINARY SNMPD_PORT [WORK_DIR]

SNMPD_PORT: net-snmp's snmpd with the APC tables (tests/peers/snmp/start-snmpd.sh prints
it). Runs alternate in blocks of 20, 200 runs per build and case; CPU is user + system
time of the child (getrusage), the mean is printed with the ratio new/old.
"""
import os, subprocess, resource, sys, statistics
OLD, NEW, port = sys.argv[1], sys.argv[2], sys.argv[3]
W = sys.argv[4] if len(sys.argv) > 4 else "/tmp/fencebox-compare"
os.makedirs(W, exist_ok=True)
os.makedirs(f"{W}/bin-old",exist_ok=True); os.makedirs(f"{W}/bin-new",exist_ok=True)
os.makedirs(f"{W}/locks",mode=0o755,exist_ok=True); os.chmod(f"{W}/locks",0o755)
for d,b in ((f"{W}/bin-old",OLD),(f"{W}/bin-new",NEW)):
    for n in ("fence_dummy","fence_apc_snmp"):
        p=f"{d}/{n}"
        if not os.path.lexists(p): os.symlink(b,p)
open(f"{W}/dummy.status","w").write("on")
env=dict(os.environ, FENCEBOX_LOCK_DIR=f"{W}/locks", FENCEBOX_AGENTS_DIR=f"{W}/none")
env.pop("PCMK_service",None)
cases={
 "fence_dummy status": ("fence_dummy", f"action=status\nstatus_file={W}/dummy.status\n"),
 "fence_apc_snmp status (snmpd v2c)": ("fence_apc_snmp", f"action=status\nip=127.0.0.1\nipport={port}\nsnmp_version=2c\ncommunity=private\nplug=1\n"),
 "fence_apc_snmp list (snmpd v2c)": ("fence_apc_snmp", f"action=list\nip=127.0.0.1\nipport={port}\nsnmp_version=2c\ncommunity=private\n"),
}
def cpu_of(binary, stdin, n):
    samples=[]
    for _ in range(n):
        r0=resource.getrusage(resource.RUSAGE_CHILDREN)
        p=subprocess.run([binary],input=stdin.encode(),capture_output=True,env=env)
        r1=resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode not in (0,2): raise SystemExit(f"{binary}: {p.returncode} {p.stderr[-300:]}")
        samples.append((r1.ru_utime+r1.ru_stime-r0.ru_utime-r0.ru_stime)*1000)
    return samples
for name,(agent,stdin) in cases.items():
    old=[];new=[]
    for _ in range(10):
        old+=cpu_of(f"{W}/bin-old/{agent}",stdin,20)
        new+=cpu_of(f"{W}/bin-new/{agent}",stdin,20)
    mo,mn=statistics.mean(old),statistics.mean(new)
    print(f"{name}: before {mo:.3f} ms, after {mn:.3f} ms CPU per call (mean of {len(old)}), after/before {mn/mo:.3f}")
