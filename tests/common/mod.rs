//! Shared harness: each test gets a sandbox directory with its own lock directory, site
//! agent directory and fence_* links to the real binary, so tests run in parallel
//! without sharing state.
#![allow(dead_code)]

pub mod bmc;
pub mod etcd;
pub mod fleet;
pub mod hostile_snmp;
pub mod hostile_upsd;
pub mod service;
pub mod shell;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const BIN: &str = env!("CARGO_BIN_EXE_fencebox");
/// The binary of the agents that never speak SSH; it hands SSH calls to `SHELL_BIN` and
/// every other name to `BIN`.
pub const AGENT_BIN: &str = env!("CARGO_BIN_EXE_fencebox-agent");
/// The binary of the agent calls that speak SSH, without the fleet commands and the service.
pub const SHELL_BIN: &str = env!("CARGO_BIN_EXE_fencebox-shell");

/// SNMPv3 authPriv arguments of the user every snmpsim v3 instance knows
/// (tests/peers/snmp): SHA and AES, both passwords set.
pub const V3: &[&str] = &[
    "-d",
    "3",
    "-l",
    "fenceuser",
    "-p",
    "authpass123",
    "-b",
    "SHA",
    "-B",
    "AES",
    "-P",
    "privpass123",
];

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub struct Sandbox {
    pub dir: PathBuf,
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Non-empty stderr lines.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Sandbox {
    pub fn new(tag: &str) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir()
            .join("fencebox-tests")
            .join(format!("{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::create_dir_all(dir.join("locks")).unwrap();
        let agents = dir.join("agents.d");
        std::fs::create_dir_all(&agents).unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agents.d");
        for e in std::fs::read_dir(fixtures).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, agents.join(p.file_name().unwrap())).unwrap();
        }
        Sandbox { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The default status file of this sandbox's dummy device.
    pub fn status_file(&self) -> PathBuf {
        self.path("dummy.status")
    }

    pub fn set_state(&self, state: &str) {
        std::fs::write(self.status_file(), state).unwrap();
    }

    pub fn state(&self) -> String {
        std::fs::read_to_string(self.status_file()).unwrap_or_default()
    }

    /// `fence_<name>` as a symlink to `fencebox-agent`, the binary most names are
    /// installed as; it runs the SNMP, IPMI, NUT, dummy and telnet agents itself and hands
    /// SSH calls to `fencebox-shell`, power chains to `fencebox` (so every binary, and the
    /// hand-over, are under every test).
    pub fn agent(&self, name: &str) -> PathBuf {
        let link = self.dir.join("bin").join(name);
        // Threads of one test may make the same link at once: one of them wins.
        if let Err(e) = std::os::unix::fs::symlink(AGENT_BIN, &link) {
            assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "{e}");
        }
        link
    }

    pub fn command(&self, name: &str) -> Command {
        let mut c = Command::new(self.agent(name));
        c.env("FENCEBOX_LOCK_DIR", self.dir.join("locks"))
            // The sandbox's own site settings (absent unless a test writes them), never
            // the machine's.
            .env("FENCEBOX_CONFIG", self.dir.join("fencebox.toml"))
            .env("FENCEBOX_AGENTS_DIR", self.dir.join("agents.d"))
            .env_remove("PCMK_service")
            .env_remove("FENCEBOX_DUMMY_IGNORE")
            .env("FENCEBOX_SYSLOG_SOCKET", self.dir.join("no-syslog"));
        c
    }

    /// Run an agent with `stdin` as its input (no arguments), the way Pacemaker does.
    /// Agents on the dummy backend get this sandbox's `status_file` unless the input names
    /// one; every other agent gets `stdin` exactly (differential tests compare it).
    pub fn run(&self, name: &str, stdin: &str) -> Out {
        self.run_env(name, stdin, &[])
    }

    pub fn run_env(&self, name: &str, stdin: &str, env: &[(&str, &str)]) -> Out {
        let child = self.spawn_env(name, stdin, env);
        finish(child)
    }

    pub fn spawn_env(&self, name: &str, stdin: &str, env: &[(&str, &str)]) -> Child {
        if self.on_dummy_backend(name) {
            self.spawn_raw(name, self.dummy_input(stdin).as_bytes(), env)
        } else {
            self.spawn_raw(name, stdin.as_bytes(), env)
        }
    }

    /// fence_dummy, and the site test agents (tests/fixtures/agents.d) that drive its
    /// backend: the agents that take a status_file.
    pub fn on_dummy_backend(&self, name: &str) -> bool {
        name == "fence_dummy"
            || std::fs::read_to_string(self.path("agents.d").join(format!("{name}.toml")))
                .is_ok_and(|t| t.lines().any(|l| l.trim() == "backend = \"dummy\""))
    }

    /// `stdin` with this sandbox's status file added, unless it names one.
    pub fn dummy_input(&self, stdin: &str) -> String {
        let mut input = stdin.to_string();
        if !input.contains("status_file") && !input.contains("status-file") {
            input.push_str(&format!("\nstatus_file={}\n", self.status_file().display()));
        }
        input
    }

    pub fn spawn_raw(&self, name: &str, stdin: &[u8], env: &[(&str, &str)]) -> Child {
        let mut c = self.command(name);
        for (k, v) in env {
            c.env(k, v);
        }
        feed(&mut c, stdin)
    }

    /// Start an agent with arguments (stdin closed), output captured.
    pub fn spawn_args(&self, name: &str, args: &[&str]) -> Child {
        self.command(name)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    pub fn run_raw(&self, name: &str, stdin: &[u8]) -> Out {
        finish(self.spawn_raw(name, stdin, &[]))
    }

    /// Run with command-line arguments (stdin closed).
    pub fn run_args(&self, name: &str, args: &[&str]) -> Out {
        let out = self
            .command(name)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        to_out(out)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Start `cmd` with output captured, write `stdin` to it and close it.
pub fn feed(cmd: &mut Command, stdin: &[u8]) -> Child {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut si = child.stdin.take().unwrap();
    // The program may stop reading early (an oversized line); that is not our failure.
    let _ = si.write_all(stdin);
    drop(si);
    child
}

/// Every call exits `code` printing exactly `stdout`.
pub fn expect_all(children: Vec<Child>, code: i32, stdout: &str) {
    for c in children {
        let out = finish(c);
        assert_eq!((out.code, out.stdout.as_str()), (code, stdout), "{out:?}");
    }
}

pub fn finish(child: Child) -> Out {
    to_out(child.wait_with_output().unwrap())
}

/// The output of a call that must end within `limit`; one still running is killed and
/// fails the test, so that a wait the agent should have refused cannot hang the suite.
pub fn finish_within(mut child: Child, limit: std::time::Duration, what: &str) -> Out {
    let t0 = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > limit {
            // Not finish(): a process the agent left behind may hold its output open.
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("{what}: still running after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    finish(child)
}

fn to_out(o: std::process::Output) -> Out {
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Lines of a log file (stderr or debug_file) that contain `needle`, with their timestamps
/// (`YYYY-MM-DD HH:MM:SS,micro`, fixed width, so they order as strings).
pub fn stamped(text: &str, needle: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains(needle))
        .map(|l| l.chars().take(26).collect())
        .collect()
}

/// The snmpsim instances started by tests/peers/snmp/start-all.sh: the main one (every
/// device by community) and one per device for SNMPv3 (empty context).
pub struct Sims {
    pub port: u16,
    /// net-snmp's snmpd with static APC rPDU tables (tests/peers/snmp/start-snmpd.sh).
    pub snmpd: u16,
    v3: std::collections::HashMap<String, u16>,
}

impl Sims {
    /// The v3 instance whose empty context is `device` (a community of the main one).
    pub fn v3(&self, device: &str) -> u16 {
        let key = format!(
            "FENCEBOX_SNMPSIM_V3_{}",
            device.to_uppercase().replace('-', "_")
        );
        *self
            .v3
            .get(&key)
            .unwrap_or_else(|| panic!("no v3 simulator for {device} ({key})"))
    }
}

/// Where start-all.sh wrote the ports; fails loudly when the simulators are not running.
pub fn sims() -> Sims {
    let state = std::env::var("PEERS_STATE").unwrap_or_else(|_| "/tmp/fencebox-test-peers".into());
    let file = std::env::var("FENCEBOX_SNMP_ENV").unwrap_or_else(|_| format!("{state}/snmp.env"));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!(
            "the SNMP simulators are not running ({file}: {e}); start them with tests/peers/snmp/start-all.sh \
             (tests/run-all.sh does it for the whole suite)"
        )
    });
    let mut v3 = std::collections::HashMap::new();
    let mut port = None;
    let mut snmpd = None;
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            let p: u16 = v.trim().parse().expect("port number");
            if k == "FENCEBOX_SNMPSIM_PORT" {
                port = Some(p);
            } else if k == "FENCEBOX_SNMPD_PORT" {
                snmpd = Some(p);
            } else {
                v3.insert(k.to_string(), p);
            }
        }
    }
    let port = port.expect("FENCEBOX_SNMPSIM_PORT in the simulator env file");
    // A stale file from a stopped run must not pass for running simulators.
    assert!(
        snmpsim_answers(port),
        "snmpsim does not answer a GET of sysObjectID on port {port} ({file} is stale?)"
    );
    let snmpd = snmpd.expect("FENCEBOX_SNMPD_PORT in the simulator env file");
    Sims { port, snmpd, v3 }
}

/// A v2c GET of sysObjectID (community private) on `port` is answered, within three
/// tries of 2 s (snmpsim is slow on a loaded machine). Opening a UDP socket proves nothing:
/// it succeeds whether or not anything listens.
fn snmpsim_answers(port: u16) -> bool {
    let Ok(oid) = snmp2::Oid::from(&[1u64, 3, 6, 1, 2, 1, 1, 2, 0][..]) else {
        return false;
    };
    let timeout = Some(std::time::Duration::from_secs(2));
    let Ok(mut session) = snmp2::SyncSession::new_v2c(("127.0.0.1", port), b"private", timeout, 1)
    else {
        return false;
    };
    (0..3).any(|_| {
        session.get(&oid).is_ok_and(|pdu| {
            pdu.varbinds
                .clone()
                .any(|(_, v)| matches!(v, snmp2::Value::ObjectIdentifier(_)))
        })
    })
}

/// (start, end) of the one device session recorded in a debug log.
pub fn session(log: &str) -> (String, String) {
    let s = stamped(log, "device session start");
    let e = stamped(log, "device session end");
    assert_eq!((s.len(), e.len()), (1, 1), "one session per call:\n{log}");
    (s[0].clone(), e[0].clone())
}

/// Assert that the sessions in these debug logs never overlap in time.
pub fn assert_sessions_disjoint(logs: &[std::path::PathBuf]) {
    let mut sessions: Vec<(String, String)> = logs
        .iter()
        .map(|p| session(&std::fs::read_to_string(p).unwrap()))
        .collect();
    sessions.sort();
    for w in sessions.windows(2) {
        assert!(
            w[0].1 < w[1].0,
            "two calls through one device overlapped: {w:?}"
        );
    }
}

/// The NUT stack started by tests/peers/nut/start.sh: upsd's port, the test CA, an
/// unrelated CA, and the SHA-256 fingerprint of upsd's certificate.
pub struct Nut {
    pub port: u16,
    pub ca: String,
    pub other_ca: String,
    pub fingerprint: String,
}

/// Fails loudly when the NUT stack is not running.
pub fn nut() -> Nut {
    let state = std::env::var("PEERS_STATE").unwrap_or_else(|_| "/tmp/fencebox-test-peers".into());
    let file = format!("{state}/nut.env");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!(
            "the NUT peer is not running ({file}: {e}); start it with tests/peers/nut/start.sh \
             (tests/run-all.sh does it for the whole suite)"
        )
    });
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} missing in {file}"))
            .to_string()
    };
    let port: u16 = get("FENCEBOX_NUT_PORT").parse().expect("port");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "upsd is not listening on port {port} ({file} is stale)"
    );
    Nut {
        port,
        ca: get("FENCEBOX_NUT_CA"),
        other_ca: get("FENCEBOX_NUT_OTHER_CA"),
        fingerprint: get("FENCEBOX_NUT_FINGERPRINT"),
    }
}

/// Debian's Python agent of that name (the reference of the differential tests), run with
/// `stdin` as Pacemaker runs it.
pub fn debian_agent(agent: &str, stdin: &str) -> Out {
    let path = format!("/usr/sbin/{agent}");
    assert!(
        Path::new(&path).exists(),
        "{path} is missing: Debian's fence-agents is the reference (tests/run-all.sh installs it)"
    );
    let mut cmd = Command::new(&path);
    cmd.env_remove("PCMK_service")
        .env("PYTHONWARNINGS", "ignore");
    finish(feed(&mut cmd, stdin.as_bytes()))
}
