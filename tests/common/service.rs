//! `fencebox serve` as tests drive it: the process with its standard error read line by
//! line (the listening addresses come from it), and a plain HTTP/1.1 client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use std::os::unix::fs::PermissionsExt;

use super::hostile_snmp::{Hostile, ON};
use super::Sandbox;

/// A running service: its addresses, and its standard error as lines come.
pub struct Service {
    pub child: Child,
    pub api: String,
    pub pdu_http: String,
    pub pdu_tcp: String,
    pub openflight: String,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Service {
    pub fn start(sb: &Sandbox, config: &PathBuf) -> Service {
        let mut c = sb.command("fencebox");
        c.arg("serve")
            .arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut s = Service {
            child,
            api: String::new(),
            pdu_http: String::new(),
            pdu_tcp: String::new(),
            openflight: String::new(),
            lines: rx,
            seen: vec![],
        };
        s.wait_for("fencebox serve: ready");
        for l in &s.seen {
            let addr = l.rsplit(' ').next().unwrap_or("").to_string();
            if l.contains(" api listening on ") {
                s.api = addr;
            } else if l.contains(" pdudaemon-http listening on ") {
                s.pdu_http = addr;
            } else if l.contains(" pdudaemon-tcp listening on ") {
                s.pdu_tcp = addr;
            } else if l.contains(" openflight listening on ") {
                s.openflight = addr;
            }
        }
        s
    }

    /// Wait (10 s at most) for a line containing `needle`; every line is kept in `seen`.
    pub fn wait_for(&mut self, needle: &str) -> String {
        let until = Instant::now() + Duration::from_secs(10);
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(_) => panic!(
                    "no line with '{needle}' from the service; it said:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Everything said so far (after a short wait for stragglers).
    pub fn said(&mut self) -> String {
        std::thread::sleep(Duration::from_millis(100));
        while let Ok(l) = self.lines.try_recv() {
            self.seen.push(l);
        }
        self.seen.join("\n")
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY-free: kill(1) by PID, as the tests stop what they start.
        let ok = std::process::Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request; the status code and the body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let code = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {resp:?}"));
    let body = resp
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (code, body)
}

/// A service's site: two in-process APC PDUs of 8 outlets (all on), nodes n1 and n2
/// (rack1, on pdua 1 and 2) and n3 (rack2, on pdua 3 and pdub 3), and three tokens:
/// `read`, `rack1` (control of @rack1), `all` (control of all).
pub struct Site {
    pub sb: Sandbox,
    pub pdua: Hostile,
    pub pdub: Hostile,
    pub config: PathBuf,
    pub read: String,
    pub rack1: String,
    pub all: String,
}

/// Write a file only its owner reads (inventories hold secrets).
pub fn private(path: &PathBuf, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// The site, with `extra` lines in serve.toml.
pub fn site(tag: &str, extra: &str) -> Site {
    let sb = Sandbox::new(tag);
    let pdua = Hostile::honest(&[ON; 8]);
    let pdub = Hostile::honest(&[ON; 8]);
    let pdu = |name: &str, port: String| {
        format!(
            "[devices.{name}]\nagent = \"fence_apc_snmp\"\nip = \"127.0.0.1\"\nipport = {port}\ncommunity = \"c0mmunity-secret\"\nshell_timeout = 2\npower_timeout = 3\n\n"
        )
    };
    let inv = sb.path("inventory.toml");
    private(
        &inv,
        &format!(
            "{}{}[nodes.n1]\ngroups = [\"rack1\"]\nfeeds = [\"pdua:1\"]\n\n[nodes.n2]\ngroups = [\"rack1\"]\nfeeds = [\"pdua:2\"]\n\n[nodes.n3]\ngroups = [\"rack2\"]\nfeeds = [\"pdua:3\", \"pdub:3\"]\n",
            pdu("pdua", pdua.port()),
            pdu("pdub", pdub.port())
        ),
    );
    let tokens = sb.path("tokens.toml");
    let config = sb.path("serve.toml");
    std::fs::write(
        &config,
        format!(
            "inventory = \"{}\"\ntokens = \"{}\"\njournal = \"{}\"\nlisten = [\"127.0.0.1:0\"]\n{extra}",
            inv.display(),
            tokens.display(),
            sb.path("journal.jsonl").display()
        ),
    )
    .unwrap();
    let add = |name: &str, scope: &str, nodes: &str| {
        let out = sb
            .command("fencebox")
            .args([
                "token", "add", name, "--scope", scope, "--nodes", nodes, "--file",
            ])
            .arg(&tokens)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines().next().unwrap().to_string()
    };
    let read = add("reader", "read", "all");
    let rack1 = add("rack1-ops", "control", "@rack1");
    let all = add("admin", "control", "all");
    Site {
        sb,
        pdua,
        pdub,
        config,
        read,
        rack1,
        all,
    }
}
