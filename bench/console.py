#!/usr/bin/env python3
"""Web-console rows of the benchmark: how fast the node list of `fencebox serve`'s console
(/ui/) loads in a real browser for 1,000 nodes (target: under 500 ms).

Set-up, all private to this run (its own PEERS_STATE under the scratch directory):
  * the browser peer (tests/peers/browser): chromedriver and a headless Chromium (Debian's),
    driven over WebDriver by tests/peers/browser/webdriver.py;
  * the fleet peer (tests/peers/fleet, FLEET_BMCS=0): 42 APC PDUs of 24 outlets in one
    snmpsim, the community picking the PDU;
  * `fencebox serve` on an inventory of 1,000 nodes n0001..n1000 on outlets 1..24 of
    pdu01..pdu42 (group rackNN per PDU, as tests/console_browser.rs builds its big
    inventory), a read-scope token, the API on a free loopback port.

Measured, after signing in with the token (the login form, as a user does) and once the
service has read every node's state (the list shows them; a page finding them older than
10 s starts a new read in the background, as in use):
  browser  N loads of /ui/ (after WARMUP unmeasured ones), each from about:blank: the
           navigation entry's responseEnd, domContentLoadedEventEnd and loadEventEnd (ms
           from the start of the navigation), checked to be /ui/'s with 1,000 rows;
  server   N plain HTTP GETs of /ui/ with the session cookie (urllib, a new connection
           each): the time to the last byte of the response, and its size;
and the same for a 100-node filter (`?nodes=n[0001-0100]`), for scale.
N = max(runs * 2, 10).

bench/run.py calls run() and writes the section into docs/benchmarks.md; standalone:
  bench/console.py [--runs N] [--fencebox PATH] [--out FILE]
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True
import fleet  # noqa: E402  (bench/fleet.py, beside this file)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = os.path.join(ROOT, "tests", "peers")
sys.path.insert(0, os.path.join(PEERS, "browser"))
import webdriver  # noqa: E402  (tests/peers/browser/webdriver.py)

NODES = 1000
PDUS, OUTLETS = 42, 24
LOAD_TARGET_MS = 500
WARMUP = 2
# (label, query, rows expected)
PAGES = [
    ("node list, all 1,000 nodes", "", NODES),
    ("node list, 100 nodes (`?nodes=n[0001-0100]`)", "?nodes=" + urllib.parse.quote("n[0001-0100]"), 100),
]

# No proxies, whatever http_proxy says: the service is on loopback.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def loads_for(runs):
    return max(runs * 2, 10)


def pct(values, q):
    """The q-quantile (0..1) by linear interpolation between closest ranks."""
    s = sorted(values)
    if len(s) == 1:
        return s[0]
    k = (len(s) - 1) * q
    i = int(k)
    j = min(i + 1, len(s) - 1)
    return s[i] + (s[j] - s[i]) * (k - i)


def read_env(path):
    with open(path) as f:
        return dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line and not line.startswith("#"))


def inventory(snmp_port):
    """42 PDUs and 1,000 nodes, node i on outlet i mod 24 + 1 of PDU i div 24 + 1 (from 0)."""
    text = "".join(
        f"[devices.pdu{p:02d}]\nagent = \"fence_apc_snmp\"\nip = \"127.0.0.1\"\nipport = {snmp_port}\n"
        f"community = \"pdu{p:02d}\"\n\n" for p in range(1, PDUS + 1))
    for i in range(NODES):
        rack = i // OUTLETS + 1
        text += (f"[nodes.n{i + 1:04d}]\ngroups = [\"rack{rack:02d}\"]\n"
                 f"feeds = [\"pdu{rack:02d}:{i % OUTLETS + 1}\"]\n\n")
    return text


class Serve:
    """`fencebox serve --config CONF`, its standard error read line by line (the API's
    address comes from it, as tests/common/service.rs reads it); stopped by its PID."""

    def __init__(self, argv, env):
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env, text=True, start_new_session=True)
        self.lines = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # end of stderr: the process is gone
            self.cond.notify_all()

    def api(self, timeout=20):
        """The API's address, once the service says it is ready."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not any(l and "fencebox serve: ready" in l for l in self.lines):
                left = deadline - time.monotonic()
                if left <= 0 or None in self.lines:
                    said = "\n".join(l for l in self.lines if l)[-1500:]
                    self.stop()
                    sys.exit(f"fencebox serve did not start:\n{said}")
                self.cond.wait(left)
            for l in self.lines:
                if l and " api listening on " in l:
                    return l.rsplit(" ", 1)[1]
        self.stop()
        sys.exit("fencebox serve said it was ready but named no api address")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # by its PID
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def http_get(url, cookie):
    """(seconds to the last byte, body) of one GET on a new connection."""
    req = urllib.request.Request(url, headers={"Cookie": cookie})
    t0 = time.perf_counter()
    with _opener.open(req, timeout=30) as r:
        body = r.read()
        status = r.status
    took = time.perf_counter() - t0
    if status != 200:
        sys.exit(f"GET {url}: HTTP {status}")
    return took, body


def browser_load(s, url, rows):
    """Load url from about:blank; its navigation timing (ms), checked to be url's with `rows` rows."""
    s.get("about:blank")
    s.get(url)
    t = s.execute("""var e = performance.getEntriesByType('navigation')[0];
        return e ? {name: e.name, response: e.responseEnd, dom: e.domContentLoadedEventEnd,
                    load: e.loadEventEnd, size: e.decodedBodySize,
                    rows: document.querySelectorAll('tr[data-node]').length} : null;""")
    if not t or t["name"] != url:
        sys.exit(f"console: no navigation timing for {url}: {t!r}")
    if t["rows"] != rows:
        sys.exit(f"console: {url} shows {t['rows']} nodes, expected {rows}")
    return t


def run(work, fencebox, runs, env=None, log=print):
    env = {k: v for k, v in (env or os.environ).items() if k not in ("FENCEBOX_CONFIG", "FENCEBOX_LOCK_DIR")}
    env.pop("PCMK_service", None)
    base = os.path.join(work, "console-bench")
    os.makedirs(base)
    lock_dir = os.path.join(base, "locks")
    os.mkdir(lock_dir)
    os.chmod(lock_dir, 0o755)
    env = dict(env, FENCEBOX_CONFIG=os.path.join(base, "absent.toml"), FENCEBOX_LOCK_DIR=lock_dir)
    state = os.path.join(work, "console-peers")  # a PEERS_STATE of its own
    os.makedirs(state)
    penv = dict(env, PEERS_STATE=state, FLEET_BMCS="0")
    for k in ("FLEET_PDUS", "FLEET_OUTLETS", "FLEET_SNMP_PORT", "FLEET_SNMP_LOG_LEVEL", "BROWSER_PORT"):
        penv.pop(k, None)
    n = loads_for(runs)
    stops = []
    saved_chromium = os.environ.get("BROWSER_CHROMIUM")
    try:
        # The browser peer.
        stops.append(lambda: subprocess.run([os.path.join(PEERS, "browser", "stop.sh")], env=penv,
                                            capture_output=True))
        t0 = time.monotonic()
        out = subprocess.run([os.path.join(PEERS, "browser", "start.sh")], env=penv, capture_output=True, text=True)
        if out.returncode != 0 or not os.path.exists(os.path.join(state, "browser.env")):
            sys.exit("browser peer did not start:\n" + out.stderr[-2000:])
        browser = read_env(os.path.join(state, "browser.env"))
        log(f"console: chromedriver on {browser['BROWSER_WEBDRIVER']}, up in {time.monotonic() - t0:.1f} s")

        # The fleet peer, PDUs only (as bench/serve.py starts it).
        stops.append(lambda: subprocess.run([os.path.join(fleet.PEER, "stop.sh")], env=penv,
                                            capture_output=True))
        t0 = time.monotonic()
        out = subprocess.run([os.path.join(fleet.PEER, "start.sh")], env=penv, capture_output=True, text=True)
        path = os.path.join(state, "fleet", "fleet.env")
        if out.returncode != 0 or not os.path.exists(path):
            sys.exit("fleet peer did not start:\n" + out.stderr[-2000:])
        f = read_env(path)
        log(f"console: fleet peer (PDUs only) on udp {f['FLEET_SNMP_PORT']}, up in {time.monotonic() - t0:.1f} s")

        # The service: 1,000 nodes, a read token.
        inv = fleet.write_inventory(base, "inventory.toml", inventory(f["FLEET_SNMP_PORT"]))  # 0600
        tokens = os.path.join(base, "tokens.toml")
        out = subprocess.run([os.path.abspath(fencebox), "token", "add", "viewer", "--scope", "read",
                              "--file", tokens], env=env, capture_output=True, text=True)
        token = out.stdout.splitlines()[0].strip() if out.stdout.strip() else ""
        if out.returncode != 0 or not token:
            sys.exit("fencebox token add failed:\n" + out.stderr[-1500:])
        conf = os.path.join(base, "serve.toml")
        with open(conf, "w") as c:
            c.write(f"inventory = \"{inv}\"\ntokens = \"{tokens}\"\n"
                    f"journal = \"{os.path.join(base, 'journal.jsonl')}\"\nlisten = [\"127.0.0.1:0\"]\n")
        serve = Serve([os.path.abspath(fencebox), "serve", "--config", conf], env)
        stops.append(serve.stop)
        api = serve.api()
        base_url = f"http://{api}"
        log(f"console: fencebox serve on {api} (pid {serve.proc.pid}), {NODES} nodes on {PDUS} PDUs")

        # Chromium: sign in as a user does.
        if browser.get("BROWSER_CHROMIUM"):
            os.environ["BROWSER_CHROMIUM"] = browser["BROWSER_CHROMIUM"]  # Session reads it
        s = webdriver.Session(browser["BROWSER_WEBDRIVER"], window=(1280, 900))
        stops.append(s.quit)
        version = s.capabilities.get("browserVersion", "?")
        s.get(base_url + "/ui/login")
        s.type("#token", token)
        s.submit_form("#login")
        s.wait_for("table#nodes", what="the node list after signing in")
        cookie = next((c for c in s.cookies() if c["name"] == "fb_session"), None)
        if not cookie:
            sys.exit("console: no fb_session cookie after signing in")
        cookie = f"fb_session={cookie['value']}"

        # Until the service has read every node's state (the page then shows them all).
        deadline = time.monotonic() + 60
        while True:
            _, body = http_get(base_url + "/ui/states", cookie)
            st = json.loads(body)
            if st["counts"]["unknown"] == 0:
                break
            if time.monotonic() > deadline:
                sys.exit(f"console: the service has not read every node's state in 60 s: {st['counts']}")
            time.sleep(0.2)
        counts = st["counts"]

        pages = []
        for label, query, rows in PAGES:
            url = base_url + "/ui/" + query
            for _ in range(WARMUP):
                browser_load(s, url, rows)
                http_get(url, cookie)
            nav = [browser_load(s, url, rows) for _ in range(n)]
            server, size = [], 0
            for _ in range(n):
                took, body = http_get(url, cookie)
                server.append(took * 1e3)
                size = len(body)
                got = body.count(b"data-node=")
                if got != rows:
                    sys.exit(f"console: GET {url} has {got} rows, expected {rows}")
            pages.append({
                "label": label, "rows": rows, "loads": n,
                "load50": pct([t["load"] for t in nav], 0.5), "load90": pct([t["load"] for t in nav], 0.9),
                "dom50": pct([t["dom"] for t in nav], 0.5), "response50": pct([t["response"] for t in nav], 0.5),
                "server50": pct(server, 0.5), "server90": pct(server, 0.9), "size": size,
                "browser_size": nav[-1]["size"],
            })
        return {"pages": pages, "browser": version, "counts": counts, "nodes": NODES, "pdus": PDUS,
                "cpus": os.cpu_count()}
    finally:
        for stop in reversed(stops):
            try:
                stop()
            except Exception as e:  # noqa: BLE001  (the other peers still stop)
                log(f"console: stopping: {e}")
        if saved_chromium is None:
            os.environ.pop("BROWSER_CHROMIUM", None)
        else:
            os.environ["BROWSER_CHROMIUM"] = saved_chromium


def targets(result):
    p = result["pages"][0]
    return [(f"node list of {result['nodes']:,} nodes loads in under {LOAD_TARGET_MS} ms (p50, "
             f"loadEventEnd in headless Chromium {result['browser']}): {p['load50']:.0f} ms p50, "
             f"{p['load90']:.0f} ms p90", p["load50"] < LOAD_TARGET_MS)]


def markdown(result):
    met = lambda ok: "met" if ok else "NOT met"  # noqa: E731
    c = result["counts"]
    lines = [
        "## Web console: the node list",
        "",
        f"The node list of `fencebox serve`'s web console (`/ui/`) for an inventory of {result['nodes']:,}",
        f"nodes, each on one outlet of the fleet peer's {result['pdus']} APC PDUs (24 outlets each, one",
        "snmpsim), in headless Chromium " + result["browser"] + " (Debian's `chromium`, over WebDriver:",
        "tests/peers/browser), signed in with a read token through the login form, on loopback. Each",
        "load starts from about:blank; the times are the navigation entry's (`performance`), from the",
        "start of the navigation: the last byte of the page (responseEnd), the document parsed and its",
        "script run (DOMContentLoaded), and the load event's end (the page load). The server rows are",
        "plain HTTP GETs of the same page with the session cookie from this process (a new connection",
        "each, to the last byte). The page is served from the states kept by the service's last read",
        f"of every node (measured once all {c['on'] + c['off'] + c['unknown']:,} were read: {c['on']:,} on, "
        f"{c['off']:,} off); a page finding them",
        "older than 10 s starts a new read in the background, as in use. Percentiles of the loads",
        f"after {WARMUP} unmeasured ones; {result['cpus']} CPUs shared with the simulator. Generated by",
        "`bench/console.py` (called by `bench/run.py`).",
        "",
        "| page | nodes | loads | page load p50 (ms) | page load p90 (ms) | DOMContentLoaded p50 (ms) "
        "| responseEnd p50 (ms) | server response p50 (ms) | page size (KiB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in result["pages"]:
        lines.append(f"| {p['label']} | {p['rows']:,} | {p['loads']} | {p['load50']:.1f} | {p['load90']:.1f} "
                     f"| {p['dom50']:.1f} | {p['response50']:.1f} | {p['server50']:.1f} | {p['size'] / 1024:.0f} |")
    lines += ["", "Targets:", ""]
    lines += [f"- {text} ({met(ok)})." for text, ok in targets(result)]
    lines.append("")
    return lines


def print_rows(result, log=print):
    log(f"console: Chromium {result['browser']}")
    for p in result["pages"]:
        log(f"console {p['label']:<45} load p50 {p['load50']:6.1f} ms p90 {p['load90']:6.1f} ms  "
            f"DCL p50 {p['dom50']:6.1f} ms  responseEnd p50 {p['response50']:5.1f} ms  "
            f"server p50 {p['server50']:5.1f} ms  {p['size'] / 1024:.0f} KiB ({p['loads']} loads)")
    fleet.report_targets(targets(result), log)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    fleet.standalone(ap, "fencebox-bench-console-", lambda work, a: run(work, a.fencebox, a.runs),
                     targets, markdown)


if __name__ == "__main__":
    main()
