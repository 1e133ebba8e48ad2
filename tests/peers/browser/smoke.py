#!/usr/bin/env python3
"""Proves the browser harness (start.sh + webdriver.py) end to end, against tiny local HTTP
servers in this process:

  target   http://127.0.0.1:P1  GET / a login form (input name=token); POST /login answers 303 to
           /home and sets  s=abc; HttpOnly; SameSite=Strict  (plus x=lax; SameSite=Lax and d=def
           without SameSite, for comparison); GET /home needs s=abc and has a button whose click
           changes a span by JavaScript; GET|POST /echo?n=NONCE records which cookies, Origin and
           Sec-Fetch-Site a request brought.
  attacker http://127.0.0.1:P2 (also reached as localhost:P2, evil.localhost:P2), 127.0.0.2:P3,
           [::1]:P4: GET /attack?target=URL&n=NONCE&mode=post|get, a page with a form that POSTs
           to URL (clicked like a user would) or a link to it.

Steps: log in through the form, wait for /home, the HttpOnly cookie is in WebDriver's cookies
but not in document.cookie, click the JS button and wait for the text, a screenshot (a PNG of
the viewport's size), the navigation timing of /home; then the SameSite matrix: from each
attacker origin a top-level POST (form) and GET (link) to the target, for the target reached as
127.0.0.1 and as localhost, checking that the Strict cookie arrives exactly when the two are
same-site (site = scheme + registrable domain; ports do not count).
Env: BROWSER_WEBDRIVER, BROWSER_CHROMIUM, else read from $PEERS_STATE/browser.env.
Exit 0 and "smoke: OK" on success; exit 1 and "smoke: FAIL: why" otherwise.
"""

import html
import http.cookies
import http.server
import ipaddress
import json
import os
import socket
import struct
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webdriver import NoSuchElement, Session, WaitTimeout, WebDriverError  # noqa: E402


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def load_env():
    """BROWSER_* from the environment, else from $PEERS_STATE/browser.env."""
    if os.environ.get("BROWSER_WEBDRIVER"):
        return
    path = os.path.join(os.environ.get("PEERS_STATE", "/tmp/fencebox-test-peers"), "browser.env")
    try:
        with open(path) as f:
            for line in f:
                k, sep, v = line.strip().partition("=")
                if sep and k.startswith("BROWSER_"):
                    os.environ.setdefault(k, v)
    except OSError as e:
        raise Fail("BROWSER_WEBDRIVER unset and %s unreadable (%s): run tests/peers/browser/start.sh "
                   "(with the same PEERS_STATE: export it, a VAR=... prefix sets it for one command only)"
                   % (path, e))


# --- the servers ------------------------------------------------------------------------------
SEEN = {}  # nonce -> what /echo?n=nonce received
SEEN_LOCK = threading.Lock()

LOGIN_PAGE = """<!doctype html><html><head><title>Login</title></head><body>
<h1>Log in</h1>
<form id="login" method="POST" action="/login">
  <label>Token <input name="token" autocomplete="off"></label>
  <button type="submit">Log in</button>
</form></body></html>"""

HOME_PAGE = """<!doctype html><html><head><title>Home</title>
<style>body{font-family:sans-serif;margin:2em} #out{color:#070;font-weight:bold}</style></head>
<body><h1>Home</h1>
<p id="who">signed in with session cookie s=%s</p>
<button id="go">Go</button> <span id="out">idle</span>
<script>
  let n = 0;
  document.getElementById("go").addEventListener("click", () =>
    setTimeout(() => { document.getElementById("out").textContent = "clicked " + (++n); }, 150));
</script></body></html>"""

ATTACK_PAGE = """<!doctype html><html><head><title>Attacker</title></head><body>
<form id="f" method="POST" action="%(url)s"><input name="amount" value="1000">
<button id="send" type="submit">Send</button></form>
<a id="link" href="%(url)s">link</a></body></html>"""


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "smoke/1"

    def log_message(self, *a):  # quiet
        pass

    def send(self, code, body, ctype="text/html; charset=utf-8", headers=()):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def cookies(self):
        c = http.cookies.SimpleCookie()
        try:
            c.load(self.headers.get("Cookie", ""))
        except http.cookies.CookieError:
            pass
        return {k: m.value for k, m in c.items()}

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(n).decode()
        self.route("POST")

    def route(self, method):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        key = (method, u.path)
        if key == ("GET", "/"):
            return self.send(200, LOGIN_PAGE)
        if key == ("POST", "/login"):
            form = dict(urllib.parse.parse_qsl(self.body))
            if form.get("token") != "letmein":
                return self.send(403, "<p id=err>bad token</p>")
            return self.send(303, "", headers=[
                ("Location", "/home"),
                ("Set-Cookie", "s=abc; HttpOnly; SameSite=Strict; Path=/"),
                ("Set-Cookie", "x=lax; SameSite=Lax; Path=/"),
                ("Set-Cookie", "d=def; Path=/")])
        if key == ("GET", "/home"):
            s = self.cookies().get("s")
            if s != "abc":
                return self.send(401, "<p id=who>not signed in</p>")
            return self.send(200, HOME_PAGE % html.escape(s))
        if u.path == "/echo":
            rec = {"method": method, "host": self.headers.get("Host"), "cookies": sorted(self.cookies()),
                   "origin": self.headers.get("Origin"), "sec_fetch_site": self.headers.get("Sec-Fetch-Site")}
            with SEEN_LOCK:
                SEEN[q.get("n", "")] = rec
            return self.send(200, "<pre id=seen>%s</pre>" % html.escape(json.dumps(rec)))
        if key == ("GET", "/attack"):
            url = "%s/echo?n=%s" % (q["target"], urllib.parse.quote(q["n"]))
            return self.send(200, ATTACK_PAGE % {"url": html.escape(url)})
        self.send(404, "not found")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a browser dropping a connection is no news
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Server6(Server):
    address_family = socket.AF_INET6


def serve(host):
    """A server on host:free port in a thread, or None if host cannot be bound here."""
    try:
        srv = (Server6 if ":" in host else Server)((host, 0), Handler)
    except OSError as e:
        print("note: cannot bind %s (%s); its cases are skipped" % (host, e))
        return None
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


# --- SameSite ----------------------------------------------------------------------------------
def site(host):
    """The "site" of an http URL's host for SameSite, as the spec defines it: an IP address is its
    own site; otherwise the registrable domain (eTLD+1). "localhost" has no public suffix above it
    and counts as one whole site; for *.localhost Chromium takes "localhost" as an unknown TLD,
    so a.localhost and b.localhost are different sites (this is what we assert, and observe)."""
    h = host.strip("[]")
    try:
        ipaddress.ip_address(h)
        return h
    except ValueError:
        return ".".join(h.split(".")[-2:])


def host_of(origin):
    return urllib.parse.urlsplit(origin).hostname


# --- the smoke test ------------------------------------------------------------------------------
def main():
    load_env()
    t_all = time.monotonic()
    target = serve("127.0.0.1")
    attackers = {"127.0.0.1": serve("127.0.0.1"), "127.0.0.2": serve("127.0.0.2"), "::1": serve("::1")}
    check(target and attackers["127.0.0.1"], "could not start the local HTTP servers")
    P1 = target.server_address[1]
    T = "http://127.0.0.1:%d" % P1

    t0 = time.monotonic()
    s = Session(os.environ["BROWSER_WEBDRIVER"])
    print("session (Chromium %s) started in %.2f s" % (s.capabilities.get("browserVersion"), time.monotonic() - t0))
    try:
        # 1. log in through the form; the 303 leads to /home.
        s.get(T + "/")
        check(s.title() == "Login", "login page title is %r" % s.title())
        s.type("input[name=token]", "letmein")
        s.submit_form("#login")
        s.wait_for(lambda: s.url() == T + "/home", what="the redirect to /home")
        s.wait_for("#go")
        check("s=abc" in s.text("#who"), "/home does not show the session: %r" % s.text("#who"))
        print("login form -> 303 -> %s: %r" % (s.url(), s.text("#who")))

        # 2. the HttpOnly cookie: WebDriver sees it, the page's JavaScript does not.
        jar = {c["name"]: c for c in s.cookies()}
        check("s" in jar, "cookie s missing from WebDriver's cookies: %s" % sorted(jar))
        check(jar["s"].get("httpOnly") is True and jar["s"].get("sameSite") == "Strict",
              "cookie s is not HttpOnly + SameSite=Strict: %r" % jar["s"])
        doc = s.execute("return document.cookie")
        check("s=" not in doc.split("; ") and not any(p.startswith("s=") for p in doc.split("; ")),
              "HttpOnly cookie s visible to document.cookie: %r" % doc)
        check("x=lax" in doc, "document.cookie lacks the non-HttpOnly cookie x: %r" % doc)
        print("cookies via WebDriver: %s; document.cookie: %r" %
              (", ".join("%s(httpOnly=%s,sameSite=%s)" % (c["name"], c.get("httpOnly"), c.get("sameSite"))
                         for c in jar.values()), doc))

        # 3. a click that changes the page by JavaScript (after a delay: wait_for must wait).
        s.click("#go")
        s.wait_for(lambda: s.text("#out") == "clicked 1", timeout=5, what="#out to read 'clicked 1'")
        print("JS button: #out = %r" % s.text("#out"))

        # 4. a screenshot: a PNG the size of the viewport (times devicePixelRatio).
        with tempfile.TemporaryDirectory() as d:
            png = s.screenshot(os.path.join(d, "home.png"))
            check(png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR", "screenshot is not a PNG")
            w, h = struct.unpack(">II", png[16:24])
            vw, vh = s.execute("return [Math.round(innerWidth * devicePixelRatio), Math.round(innerHeight * devicePixelRatio)]")
            check((w, h) == (vw, vh), "screenshot is %dx%d, the viewport %dx%d" % (w, h, vw, vh))
            check(3000 < len(png) < 5_000_000, "screenshot of implausible size: %d bytes" % len(png))
            print("screenshot: PNG %dx%d, %d bytes" % (w, h, len(png)))

        # 5. navigation timing of /home (a fresh load; ms since the navigation started). From
        # another page, to a URL of its own: get() of the URL already shown can return before
        # the new document replaces the old, whose timing execute() would then read.
        s.get("about:blank")
        home = T + "/home?timing=1"
        t0 = time.monotonic()
        s.get(home)
        wall = (time.monotonic() - t0) * 1000
        nav = s.wait_for(lambda: s.execute(
            "const e = performance.getEntriesByType('navigation')[0];"
            "return e && e.name === arguments[0] && e.loadEventEnd > 0 ? e.toJSON() : null", home),
            what="the navigation entry of %s with loadEventEnd" % home)
        print("load of /home: responseEnd %.1f ms, domContentLoadedEventEnd %.1f ms, loadEventEnd %.1f ms "
              "(WebDriver get() %.0f ms wall)" % (nav["responseEnd"], nav["domContentLoadedEventEnd"],
                                                  nav["loadEventEnd"], wall))
        check(0 < nav["responseEnd"] <= nav["domContentLoadedEventEnd"] <= nav["loadEventEnd"] < 10000,
              "implausible navigation timing: %r" % nav)

        # 6. the harness's own errors name what was missing.
        try:
            s.find("#no-such-thing")
            raise Fail("find of a missing element did not raise")
        except NoSuchElement as e:
            check("#no-such-thing" in str(e), "NoSuchElement does not name the selector: %s" % e)
            msgs = [str(e)]
        t0 = time.monotonic()
        try:
            s.wait_for("#never", timeout=0.3)
            raise Fail("wait_for of a missing element did not time out")
        except WaitTimeout as e:
            check("#never" in str(e) and time.monotonic() - t0 < 2, "bad WaitTimeout: %s" % e)
            msgs.append(str(e))
        print("errors read: %s | %s" % tuple(msgs))

        # 7. SameSite on loopback: which origin pairs are cross-site, and is s withheld?
        samesite_matrix(s, P1, attackers)
    finally:
        s.quit()
        for srv in [target] + list(attackers.values()):
            if srv:
                srv.shutdown()
                srv.server_close()
    print("smoke: OK (%.1f s)" % (time.monotonic() - t_all))


def samesite_matrix(s, P1, attackers):
    P2 = attackers["127.0.0.1"].server_address[1]
    origins = ["http://127.0.0.1:%d" % P2, "http://localhost:%d" % P2, "http://evil.localhost:%d" % P2]
    if attackers["127.0.0.2"]:
        origins.append("http://127.0.0.2:%d" % attackers["127.0.0.2"].server_address[1])
    if attackers["::1"]:
        origins.append("http://[::1]:%d" % attackers["::1"].server_address[1])
    rows, bad = [], []
    for thost in ["127.0.0.1", "localhost"]:
        T = "http://%s:%d" % (thost, P1)
        if thost != "127.0.0.1":  # cookies are per host: log in on this one too
            s.get(T + "/")
            s.type("input[name=token]", "letmein")
            s.submit_form("#login")
            s.wait_for(lambda: s.url() == T + "/home", what="the redirect to %s/home" % T)
        for origin in [T] + origins:  # T itself: the same-origin baseline
            same = site(host_of(origin)) == site(thost)
            for mode in ("post", "get"):
                n = "%s-%s-%s-%d" % (thost, host_of(origin), mode, len(rows))
                s.get("%s/attack?%s" % (origin, urllib.parse.urlencode({"target": T, "n": n})))
                s.click("#send" if mode == "post" else "#link")
                s.wait_for(lambda: n in SEEN, what="the %s from %s to reach %s" % (mode.upper(), origin, T))
                s.wait_for("#seen")  # the landing page loaded before the next navigation
                rec = SEEN[n]
                rows.append((origin, T, mode.upper(), same, rec))
                want_s = same
                want_x = same or mode == "get"
                if ("s" in rec["cookies"]) != want_s or ("x" in rec["cookies"]) != want_x:
                    bad.append(rows[-1])
    print("SameSite matrix (s=Strict+HttpOnly, x=Lax, d=no SameSite attribute, set <2 min before):")
    print("  %-28s -> %-24s %-5s %-6s %-10s %-12s %s" % ("from", "to", "", "site", "cookies", "Sec-Fetch-Site", "Origin"))
    for origin, T, mode, same, rec in rows:
        print("  %-28s -> %-24s %-5s %-6s %-10s %-12s %s" % (origin, T, mode, "same" if same else "CROSS",
              ",".join(rec["cookies"]) or "-", rec["sec_fetch_site"], rec["origin"]))
    check(not bad, "SameSite not as expected (Strict only same-site, Lax also on cross-site GET) for: %s" %
          "; ".join("%s %s -> %s got %s" % (m, o, t, r["cookies"]) for o, t, m, _, r in bad))


if __name__ == "__main__":
    try:
        main()
    except (Fail, WebDriverError) as e:
        print("smoke: FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)
