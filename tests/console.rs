//! The web console of `fencebox serve` over plain HTTP (the browser test, tests/
//! console_browser.rs, drives it in Chromium): sessions from tokens, the cookie's
//! attributes, read-only sessions without switches, forged and cross-site posts refused
//! with nothing switched, a reboot through the confirmation reaching the PDUs, and no
//! token in any page or log line.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::hostile_snmp::{Req, CONTROL};
use common::service::{site, Service};

struct Answer {
    code: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// One request with these extra header lines.
fn req(addr: &str, method: &str, path: &str, headers: &[String], body: &str) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    let text = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(text.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    Answer {
        code: head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap(),
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// A signed-in browser: its cookie and its CSRF token.
struct Browser {
    addr: String,
    cookie: String,
    csrf: String,
}

impl Browser {
    fn login(addr: &str, token: &str) -> Browser {
        let a = req(
            addr,
            "POST",
            "/ui/login",
            &[format!("Origin: http://{addr}")],
            &format!("token={token}"),
        );
        assert_eq!(a.code, 303, "{}", a.body);
        assert_eq!(a.header("location").as_deref(), Some("/ui/"));
        let set = a.header("set-cookie").expect("a session cookie");
        assert!(
            set.ends_with("; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=43200"),
            "{set}"
        );
        let cookie = set.split(';').next().unwrap().to_string();
        let mut b = Browser {
            addr: addr.to_string(),
            cookie,
            csrf: String::new(),
        };
        let page = b.get("/ui/");
        assert_eq!(page.code, 200);
        b.csrf = page
            .body
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("a csrf field")
            .to_string();
        b
    }

    fn get(&self, path: &str) -> Answer {
        req(
            &self.addr,
            "GET",
            path,
            &[format!("Cookie: {}", self.cookie)],
            "",
        )
    }

    fn post(&self, path: &str, body: &str) -> Answer {
        req(
            &self.addr,
            "POST",
            path,
            &[
                format!("Cookie: {}", self.cookie),
                format!("Origin: http://{}", self.addr),
                "Sec-Fetch-Site: same-origin".into(),
            ],
            body,
        )
    }
}

/// SETs of an outlet command among a PDU's requests.
fn sets(reqs: &[Req]) -> usize {
    reqs.iter()
        .filter(|r| !r.set.is_empty() && r.oids.iter().any(|o| o.starts_with(CONTROL)))
        .count()
}

#[test]
fn a_session_reboots_a_dual_feed_node_through_the_confirmation_and_forgeries_switch_nothing() {
    let site = site("console", "");
    let mut s = Service::start(&site.sb, &site.config);
    let addr = s.api.clone();

    // Without a session: the login form, and nothing else.
    let a = req(&addr, "GET", "/ui/nodes/n3", &[], "");
    assert_eq!(
        (a.code, a.header("location").as_deref()),
        (303, Some("/ui/login"))
    );
    let a = req(&addr, "POST", "/ui/login", &[], "token=fbx_not_a_token");
    assert_eq!(a.code, 401);
    assert!(a.header("set-cookie").is_none());
    assert!(a.body.contains("Unknown token"));

    let ops = Browser::login(&addr, &site.all);
    let list = ops.get("/ui/");
    assert!(list
        .header("content-security-policy")
        .is_some_and(|c| c.contains("script-src 'self'")));
    assert_eq!(list.header("cache-control").as_deref(), Some("no-store"));
    for n in ["n1", "n2", "n3"] {
        assert!(
            list.body.contains(&format!("<tr data-node=\"{n}\">")),
            "{}",
            list.body
        );
    }
    // The states come from a background read: ON within a few seconds.
    let t = Instant::now();
    loop {
        let st = ops.get("/ui/states");
        if st.body.contains("\"n3\":\"ON\"") {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "{}", st.body);
        std::thread::sleep(Duration::from_millis(100));
    }
    let filtered = ops.get("/ui/?group=rack2");
    assert!(
        filtered.body.contains("data-node=\"n3\"") && !filtered.body.contains("data-node=\"n1\"")
    );

    // The node page: its chain and its switches; the confirmation names both outlets.
    let node = ops.get("/ui/nodes/n3");
    assert!(node.body.contains("id=\"chain\""), "{}", node.body);
    assert!(node.body.contains("/ui/devices/pdua") && node.body.contains("/ui/devices/pdub"));
    assert!(node.body.contains("data-action=\"reboot\""));
    let confirm = ops.get("/ui/nodes/n3/confirm?action=reboot");
    assert!(
        confirm.body.contains("data-feed=\"pdua:3\"")
            && confirm.body.contains("data-feed=\"pdub:3\""),
        "{}",
        confirm.body
    );

    // Forgeries: another site's post, a post without the session's CSRF token, a post
    // without the cookie. None switches anything.
    let before = sets(&site.pdua.requests()) + sets(&site.pdub.requests());
    let cross = req(
        &addr,
        "POST",
        "/ui/nodes/n3/power",
        &[
            format!("Cookie: {}", ops.cookie),
            "Origin: http://attacker.example".into(),
            "Sec-Fetch-Site: cross-site".into(),
        ],
        &format!("action=reboot&csrf={}", ops.csrf),
    );
    assert_eq!(cross.code, 403, "{}", cross.body);
    assert_eq!(
        ops.post("/ui/nodes/n3/power", "action=reboot&csrf=0000")
            .code,
        403
    );
    let bare = req(
        &addr,
        "POST",
        "/ui/nodes/n3/power",
        &[],
        &format!("action=reboot&csrf={}", ops.csrf),
    );
    assert_eq!(bare.code, 403);
    assert_eq!(
        sets(&site.pdua.requests()) + sets(&site.pdub.requests()),
        before
    );

    // The reboot: to the job's page, which shows what the devices confirmed.
    let go = ops.post(
        "/ui/nodes/n3/power",
        &format!("action=reboot&csrf={}", ops.csrf),
    );
    assert_eq!(go.code, 303, "{}", go.body);
    let job = go.header("location").unwrap();
    assert!(job.starts_with("/ui/jobs/"), "{job}");
    let t = Instant::now();
    let page = loop {
        let p = ops.get(&job);
        if p.body.contains("data-state=\"done\"") {
            break p;
        }
        assert!(
            p.body.contains("http-equiv=\"refresh\""),
            "an unfinished job's page follows it"
        );
        assert!(t.elapsed() < Duration::from_secs(30), "{}", p.body);
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        page.body.contains("data-confirmed=\"true\"")
            && page.body.contains("Done: the devices confirmed it."),
        "{}",
        page.body
    );
    assert!(sets(&site.pdua.requests()) + sets(&site.pdub.requests()) >= before + 4);
    // The node list then says ON without waiting for the next read.
    assert!(ops.get("/ui/states").body.contains("\"n3\":\"ON\""));

    // A reader sees no switch and cannot reach one.
    let reader = Browser::login(&addr, &site.read);
    assert!(!reader.get("/ui/nodes/n3").body.contains("data-action="));
    assert!(!reader.get("/ui/devices/pdua").body.contains("data-action="));
    assert_eq!(reader.get("/ui/nodes/n3/confirm?action=off").code, 403);
    assert_eq!(
        reader
            .post(
                "/ui/nodes/n3/power",
                &format!("action=off&csrf={}", reader.csrf)
            )
            .code,
        403
    );
    // A rack1 operator may switch n1, not n3.
    let rack1 = Browser::login(&addr, &site.rack1);
    assert!(rack1
        .get("/ui/nodes/n1")
        .body
        .contains("data-action=\"off\""));
    assert!(!rack1.get("/ui/nodes/n3").body.contains("data-action="));

    // Logging out ends the session.
    let out = ops.post("/ui/logout", &format!("csrf={}", ops.csrf));
    assert_eq!(out.code, 303);
    assert!(out
        .header("set-cookie")
        .is_some_and(|c| c.contains("Max-Age=0")));
    assert_eq!(ops.get("/ui/").code, 303);

    // No token in any page, and none in the service's log.
    for page in [&list.body, &node.body, &confirm.body, &page.body] {
        for t in [&site.all, &site.read, &site.rack1] {
            assert!(!page.contains(t.as_str()));
        }
    }
    let log = s.said();
    for t in [&site.all, &site.read, &site.rack1] {
        assert!(!log.contains(t.as_str()), "a token in the log");
    }
    assert!(
        log.contains("POST /ui/nodes/{node}/power -> 403") && log.contains("token admin"),
        "{log}"
    );
}
