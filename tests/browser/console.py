#!/usr/bin/env python3
"""The web console of `fencebox serve` in a real browser (headless Chromium over WebDriver,
tests/peers/browser): what tests/console_browser.rs asks of it, step by step.

usage: console.py CONFIG.json
  CONFIG: {"url": "http://127.0.0.1:P", "control": TOKEN, "read": TOKEN, "node": NAME,
           "feeds": ["pdu41:5", "pdu42:5"], "meter": DEVICE, "shots": DIR or null,
           "attacker_host": "localhost", "big_url": URL of a 1000-node service or null,
           "big_token": TOKEN}
Prints one JSON object: what each step saw (the Rust test asserts on it), the page-load
timings of the node lists, and the page sources' checks. Exit 1 with the step that failed.
"""

import http.server
import json
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers", "browser"))
import webdriver  # noqa: E402  (tests/peers/browser/webdriver.py)

cfg = json.load(open(sys.argv[1]))
out = {"steps": []}
sources = []


def step(name):
    out["steps"].append(name)


def keep_source(s):
    sources.append(s.source())


def login(s, token):
    s.get(cfg["url"] + "/ui/login")
    s.type("#token", token)
    s.submit_form("#login")
    s.wait_for("table#nodes", what="the node list after signing in")


def load_timing(s, url):
    """Load url afresh and read its navigation timing (ms from the start of navigation)."""
    s.get("about:blank")
    s.get(url)
    s.wait_for("table#nodes")
    t = s.execute("""var e = performance.getEntriesByType('navigation')[0];
        return e ? {name: e.name, response: e.responseEnd, dom: e.domContentLoadedEventEnd,
                    load: e.loadEventEnd, rows: document.querySelectorAll('tr[data-node]').length} : null;""")
    if not t or not t["name"].startswith(url):
        raise SystemExit("no navigation timing for %s: %r" % (url, t))
    return t


def attacker_page(target):
    """A page on another site whose form posts a power-off to the console at once."""
    body = ("<!DOCTYPE html><html><body><form id=f method=post action='%s'>"
            "<input name=action value=off><input name=csrf value=guessed></form>"
            "<script>document.getElementById('f').submit()</script></body></html>" % target)

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def shot(s, name):
    if cfg.get("shots"):
        s.screenshot(os.path.join(cfg["shots"], name))


def main():
    node, url = cfg["node"], cfg["url"]
    s = webdriver.Session(window=(1280, 900))
    try:
        # 1. A control token signs in; the cookie is HttpOnly and out of the page's reach.
        login(s, cfg["control"])
        cookie = [c for c in s.cookies() if c["name"] == "fb_session"]
        out["cookie"] = {k: cookie[0].get(k) for k in ("httpOnly", "sameSite", "path")} if cookie else None
        out["document_cookie"] = s.execute("return document.cookie;")
        keep_source(s)
        step("signed in")

        # 2. The node's page: its chain, then reboot through the confirmation.
        s.get(url + "/ui/nodes/" + node)
        s.wait_for("#chain")
        out["chain_links"] = len(s.find_all("#chain li.link"))
        keep_source(s)
        s.click("button.switch[data-action=reboot]")
        s.wait_for("#confirm", what="the confirmation page")
        out["confirm_outlets"] = [s.attr(e, "data-feed") for e in s.find_all("#outlets li.outlet")]
        keep_source(s)
        s.click("#go")
        job = s.wait_for(lambda: s.exists("#job[data-state=done]") or s.exists("#job[data-state=failed]"),
                         timeout=60, what="the job's end")
        out["job_state"] = s.attr("#job", "data-state")
        out["job_confirmed"] = s.attr("#job", "data-confirmed")
        out["job_result"] = s.text("#result")
        keep_source(s)
        step("rebooted")

        # 3. The node list shows the node ON (refreshed by its script, no reload).
        s.get(url + "/ui/")
        cell = "tr[data-node='%s'] td.state" % node
        s.wait_for(lambda: s.text(cell) == "ON", timeout=20, what="%s ON on the node list" % node)
        out["list_state"] = s.text(cell)
        # The script's live refresh: the age line changes from the server's first words.
        s.wait_for(lambda: "read" in s.text("#age"), timeout=20, what="the live refresh")
        shot(s, "console-nodes.png")
        keep_source(s)
        step("listed")

        # 4. The chain of the node, for the docs.
        s.get(url + "/ui/nodes/" + node)
        s.wait_for("#chain")
        shot(s, "console-chain.png")

        # 5. A metered device: its plot fills from the service's reads (stats_max_age 1 s).
        s.get(url + "/ui/devices/" + cfg["meter"])
        s.wait_for("#outlets")

        def enough_readings():
            s.get(url + "/ui/devices/" + cfg["meter"])
            cap = s.text("figure.plot-box figcaption") if s.exists("figure.plot-box") else ""
            return "readings in the last hour" in cap and int(cap.split(" readings")[0].split(", ")[-1]) >= 4

        s.wait_for(enough_readings, timeout=30, poll=1.2, what="four readings in the plot")
        out["plot_points"] = len(s.attr("svg.plot polyline", "points").split())
        out["outlet_rows"] = len(s.find_all("#outlets tr[data-outlet]"))
        shot(s, "console-device.png")
        keep_source(s)
        step("plotted")

        # 6. A forged cross-site post (another site's page submitting a form to the console):
        # the browser withholds the SameSite=Strict cookie, and the console refuses.
        target = url + "/ui/nodes/%s/power" % node
        attacker = attacker_page(target)
        try:
            s.get("http://%s:%d/" % (cfg["attacker_host"], attacker.server_address[1]))
            s.wait_for(lambda: s.url().startswith(target), what="the forged post's answer")
            s.wait_for("#refused", what="a refusal")
            out["forged"] = {"url": s.url(), "refused": s.text("#refused"),
                             "title": s.title()}
        finally:
            attacker.shutdown()
        step("forgery refused")

        # 7. Log out: the session ends.
        s.get(url + "/ui/")
        s.click("#logout")
        s.wait_for("form#login", what="the login form after logging out")
        s.get(url + "/ui/nodes/" + node)
        out["after_logout"] = s.url()
        step("logged out")
    finally:
        s.quit()

    # 8. A read-only token, on a phone-sized screen: no switch anywhere, and no page wider
    # than the screen (wide tables scroll in their own box).
    r = webdriver.Session(window=(390, 844))
    overflow = "return document.documentElement.scrollWidth > window.innerWidth + 1;"
    try:
        login(r, cfg["read"])
        out["phone_overflow"] = [r.execute(overflow)]
        r.get(url + "/ui/nodes/" + node)
        r.wait_for("#chain")
        out["phone_overflow"].append(r.execute(overflow))
        out["read_switches"] = len(r.find_all("button.switch"))
        r.get(url + "/ui/devices/" + cfg["meter"])
        r.wait_for("#outlets")
        out["phone_overflow"].append(r.execute(overflow))
        out["read_switches"] += len(r.find_all("button.switch"))
        shot(r, "console-phone.png")
        keep_source(r)
        step("read-only")
    finally:
        r.quit()

    # 9. The page load of a node list of 1000 nodes (reported, not asserted).
    if cfg.get("big_url"):
        b = webdriver.Session()
        try:
            b.get(cfg["big_url"] + "/ui/login")
            b.type("#token", cfg["big_token"])
            b.submit_form("#login")
            b.wait_for("table#nodes")
            runs = [load_timing(b, cfg["big_url"] + "/ui/") for _ in range(7)]
            out["big"] = {
                "rows": runs[-1]["rows"],
                "load_ms": [round(t["load"], 1) for t in runs],
                "dom_ms": [round(t["dom"], 1) for t in runs],
                "response_ms": [round(t["response"], 1) for t in runs],
                "load_ms_median": round(statistics.median(t["load"] for t in runs), 1),
            }
        finally:
            b.quit()

    tokens = [cfg["control"], cfg["read"]] + ([cfg["big_token"]] if cfg.get("big_token") else [])
    out["token_in_source"] = any(t in src for t in tokens for src in sources)
    print(json.dumps(out))


try:
    main()
except webdriver.WebDriverError as e:
    sys.exit("console.py: after %s: %s" % (out["steps"][-1] if out["steps"] else "the start", e))
