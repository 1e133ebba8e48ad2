"""A tiny W3C WebDriver client for fencebox's browser tests (Python 3 standard library only).

It talks to the chromedriver that tests/peers/browser/start.sh starts (BROWSER_WEBDRIVER in
$PEERS_STATE/browser.env); every Session is one headless Chromium with a fresh profile.

    from webdriver import Session
    with Session(os.environ["BROWSER_WEBDRIVER"]) as s:
        s.get("http://127.0.0.1:8080/")
        s.type("input[name=token]", "secret")
        s.submit_form("form")
        s.wait_for(lambda: s.url().endswith("/home"))
        print(s.text("h1"))

Elements are `Element` objects: a str (the WebDriver element id) that the methods taking
"css_or_element" recognise as an element rather than a selector. Every failure raises
WebDriverError (or its subclasses NoSuchElement / WaitTimeout) with a one-line message naming
the command, WebDriver's "error" code and the first line of its "message".
"""

import base64
import json
import os
import time
import urllib.error
import urllib.request

# The W3C key of an element reference in JSON ("web element identifier").
ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"

# No proxies, whatever http_proxy etc. say: chromedriver is on loopback.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class WebDriverError(Exception):
    """A WebDriver command failed. .error is WebDriver's error code ("no such element", ...)
    or None for a transport failure; .message its full message."""

    def __init__(self, text, error=None, message=None):
        super().__init__(text)
        self.error, self.message = error, message


class NoSuchElement(WebDriverError):
    pass


class WaitTimeout(WebDriverError):
    pass


class Element(str):
    """A WebDriver element id (a str), as returned by find / find_all / execute."""


def _first_line(s):
    return (s or "").strip().splitlines()[0] if (s or "").strip() else ""


class Session:
    def __init__(self, webdriver_url=None, headless=True, window=(1280, 900), args=(),
                 page_load_timeout=30, http_timeout=60):
        """Starts a browser. webdriver_url defaults to $BROWSER_WEBDRIVER; the Chromium binary
        is $BROWSER_CHROMIUM if set (else chromedriver's default); args: more Chromium flags."""
        self.base = (webdriver_url or os.environ.get("BROWSER_WEBDRIVER") or "").rstrip("/")
        if not self.base:
            raise WebDriverError("no WebDriver URL: pass one or set BROWSER_WEBDRIVER "
                                 "(tests/peers/browser/start.sh writes it to browser.env)")
        self.http_timeout = http_timeout
        self.sid = None
        chrome_args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                       "--window-size=%d,%d" % tuple(window)]
        if headless:
            chrome_args.insert(0, "--headless=new")
        opts = {"args": chrome_args + list(args)}
        if os.environ.get("BROWSER_CHROMIUM"):
            opts["binary"] = os.environ["BROWSER_CHROMIUM"]
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": opts,
            "timeouts": {"pageLoad": int(page_load_timeout * 1000), "script": 10000, "implicit": 0},
        }}}
        value = self._call("POST", "/session", caps)
        self.sid = value["sessionId"]
        self.capabilities = value.get("capabilities", {})

    # --- transport -------------------------------------------------------------------------
    def _call(self, method, path, body=None):
        """One WebDriver command; returns its "value" or raises WebDriverError."""
        url = self.base + path
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json; charset=utf-8"})
        what = "%s %s" % (method, path)
        try:
            with _opener.open(req, timeout=self.http_timeout) as r:
                raw = r.read()
        except urllib.error.HTTPError as e:  # a WebDriver error: JSON {"value": {"error", "message"}}
            raw = e.read()
            try:
                v = json.loads(raw)["value"]
                err, msg = v.get("error"), v.get("message", "")
            except (ValueError, KeyError, TypeError, AttributeError):
                err, msg = "http %d" % e.code, raw[:200].decode("utf-8", "replace")
            line = _first_line(msg)
            if line.startswith("%s: " % err):  # chromedriver often repeats the code
                line = line[len(err) + 2:]
            raise WebDriverError("%s: %s: %s" % (what, err, line), err, msg) from None
        except (urllib.error.URLError, OSError) as e:  # chromedriver not there, timeout, ...
            raise WebDriverError("%s: cannot reach WebDriver at %s: %s" % (what, self.base, e)) from None
        return json.loads(raw).get("value") if raw else None

    def _s(self, path=""):
        if not self.sid:
            raise WebDriverError("the session has ended (quit)")
        return "/session/%s%s" % (self.sid, path)

    def _el(self, css_or_element):
        """An Element as is; a str as a CSS selector, found now."""
        return css_or_element if isinstance(css_or_element, Element) else self.find(css_or_element)

    @staticmethod
    def _wrap(x):  # Python -> JSON arguments of execute: Elements become element references
        if isinstance(x, Element):
            return {ELEMENT_KEY: str(x)}
        if isinstance(x, (list, tuple)):
            return [Session._wrap(i) for i in x]
        if isinstance(x, dict):
            return {k: Session._wrap(v) for k, v in x.items()}
        return x

    @staticmethod
    def _unwrap(x):  # JSON results -> Python: element references become Elements
        if isinstance(x, dict):
            if ELEMENT_KEY in x and len(x) == 1:
                return Element(x[ELEMENT_KEY])
            return {k: Session._unwrap(v) for k, v in x.items()}
        if isinstance(x, list):
            return [Session._unwrap(i) for i in x]
        return x

    # --- navigation and page -----------------------------------------------------------------
    def get(self, url):
        """Navigates and returns once the page has loaded (pageLoadStrategy normal)."""
        self._call("POST", self._s("/url"), {"url": url})

    def url(self):
        return self._call("GET", self._s("/url"))

    def title(self):
        return self._call("GET", self._s("/title"))

    def source(self):
        return self._call("GET", self._s("/source"))

    # --- elements ------------------------------------------------------------------------------
    def find(self, css):
        """The first element matching the CSS selector; NoSuchElement names the selector."""
        try:
            v = self._call("POST", self._s("/element"), {"using": "css selector", "value": css})
        except WebDriverError as e:
            if e.error == "no such element":
                raise NoSuchElement("no element matches %r on %s" % (css, self._safe_url()),
                                    e.error, e.message) from None
            raise
        return Element(v[ELEMENT_KEY])

    def find_all(self, css):
        v = self._call("POST", self._s("/elements"), {"using": "css selector", "value": css})
        return [Element(e[ELEMENT_KEY]) for e in v]

    def exists(self, css):
        return bool(self.find_all(css))

    def text(self, css_or_element):
        """The rendered text (innerText-like; hidden elements give "")."""
        return self._call("GET", self._s("/element/%s/text" % self._el(css_or_element)))

    def attr(self, css_or_element, name):
        """An attribute (or, as WebDriver does for e.g. "value", the property); None if absent."""
        return self._call("GET", self._s("/element/%s/attribute/%s" % (self._el(css_or_element), name)))

    def click(self, css_or_element):
        """A real (simulated-user) click at the element's centre; scrolls it into view first."""
        self._call("POST", self._s("/element/%s/click" % self._el(css_or_element)), {})

    def type(self, css_or_element, text):
        """Types text into the element (appends to what it holds; clear() first to replace)."""
        self._call("POST", self._s("/element/%s/value" % self._el(css_or_element)), {"text": str(text)})

    def clear(self, css_or_element):
        self._call("POST", self._s("/element/%s/clear" % self._el(css_or_element)), {})

    def submit_form(self, css):
        """Submits the form matched by css (or an Element) as a user would: clicks its first
        submit button if it has one, else calls form.requestSubmit() (which also runs the
        form's validation and submit handlers, unlike form.submit())."""
        form = self._el(css)
        buttons = self._call("POST", self._s("/element/%s/elements" % form), {
            "using": "css selector",
            "value": "button[type=submit], button:not([type]), input[type=submit], input[type=image]"})
        if buttons:
            self.click(Element(buttons[0][ELEMENT_KEY]))
        else:
            self.execute("arguments[0].requestSubmit()", form)

    # --- scripts, waiting ------------------------------------------------------------------------
    def execute(self, script, *args):
        """Runs script (a function body: use `return`; arguments[i] are args) synchronously in
        the page; Elements pass in and come back as Elements."""
        v = self._call("POST", self._s("/execute/sync"), {"script": script, "args": self._wrap(list(args))})
        return self._unwrap(v)

    def wait_for(self, predicate_or_css, timeout=10, poll=0.05, what=None):
        """Polls until predicate() is truthy (returns its value) or, for a str, until an element
        matches that CSS selector (returns the Element). A WebDriverError raised while polling
        (a stale element, a page still loading) counts as "not yet". WaitTimeout after timeout
        seconds names what was awaited (what, the selector or the predicate's name), the page
        and the last error seen."""
        if isinstance(predicate_or_css, str):
            css = predicate_or_css
            pred = lambda: (self.find_all(css) or [None])[0]  # noqa: E731
            what = what or "an element matching %r" % css
        else:
            pred = predicate_or_css
            what = what or getattr(pred, "__name__", "condition")
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                v = pred()
                if v:
                    return v
            except WebDriverError as e:
                last = e
            if time.monotonic() >= deadline:
                break
            time.sleep(poll)
        raise WaitTimeout("timed out after %gs waiting for %s on %s%s"
                          % (timeout, what, self._safe_url(), " (last error: %s)" % last if last else ""))

    # --- screenshots, cookies, end -----------------------------------------------------------------
    def screenshot(self, path):
        """Saves a PNG of the viewport to path; returns its bytes."""
        png = base64.b64decode(self._call("GET", self._s("/screenshot")))
        with open(path, "wb") as f:
            f.write(png)
        return png

    def cookies(self):
        """All cookies of the current page's URL, HttpOnly ones included, as WebDriver's dicts
        (name, value, domain, path, httpOnly, secure, sameSite, expiry?)."""
        return self._call("GET", self._s("/cookie"))

    def quit(self):
        """Ends the session (chromedriver stops its Chromium); quitting twice is harmless."""
        if self.sid:
            try:
                self._call("DELETE", self._s())
            finally:
                self.sid = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.quit()
        except WebDriverError:
            if exc[0] is None:
                raise

    def _safe_url(self):  # for error messages: the current URL, or why there is none
        try:
            return self.url()
        except WebDriverError as e:
            return "(url unknown: %s)" % e
