//! `fencebox serve` driven by PDUDaemon's real client, Debian's `pduclient` (unmodified;
//! tests/peers/pdudaemon/pduclient-at.py points its fixed port at the service), in both
//! its modes (TCP and HTTP), and by labgrid's `PDUDaemonDriver` (PyPI's labgrid in the venv
//! of tests/peers/pdudaemon/labgrid-venv.sh, driven by labgrid-pdu.py there), on snmpsim
//! PDUs of the fleet peer (tests/peers/fleet), whose timestamped change log confirms every
//! switch and its order. PDUs pdu20 to pdu23 are this file's own.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::fleet::{fleet, Fleet};
use common::service::Service;
use common::Sandbox;

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A service on fleet PDUs `pdus`, nodes n1..n4 each fed by outlet i of every PDU.
fn start(tag: &str, f: &Fleet, pdus: &[u32]) -> (Sandbox, Service) {
    let sb = Sandbox::new(tag);
    let mut inv: String = pdus.iter().map(|n| f.pdu(*n)).collect();
    for i in 1..=4 {
        let feeds: Vec<String> = pdus.iter().map(|n| format!("\"pdu{n:02}:{i}\"")).collect();
        inv.push_str(&format!("[nodes.n{i}]\nfeeds = [{}]\n\n", feeds.join(", ")));
    }
    let inv_path = sb.path("inventory.toml");
    std::fs::write(&inv_path, inv).unwrap();
    std::fs::set_permissions(&inv_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = sb.path("serve.toml");
    std::fs::write(
        &config,
        format!(
            "inventory = \"{}\"\ntokens = \"{}\"\njournal = \"{}\"\n[pdudaemon]\nlisten = [\"127.0.0.1:0\"]\ntcp = [\"127.0.0.1:0\"]\n",
            inv_path.display(),
            sb.path("tokens.toml").display(),
            sb.path("journal.jsonl").display()
        ),
    )
    .unwrap();
    let s = Service::start(&sb, &config);
    (sb, s)
}

fn port_of(addr: &str) -> &str {
    addr.rsplit(':').next().unwrap()
}

/// The service's PDUDaemon listeners.
struct Ports {
    tcp: String,
    http: String,
}

fn ports(s: &Service) -> Ports {
    Ports {
        tcp: s.pdu_tcp.clone(),
        http: s.pdu_http.clone(),
    }
}

/// Debian's pduclient against the service; `http` picks its -H mode.
fn pduclient(
    s: &Ports,
    http: bool,
    pdu: &str,
    port: &str,
    command: &str,
    delay: Option<u32>,
) -> Output {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/pdudaemon/pduclient-at.py"
    );
    let mut c = Command::new("python3");
    let target = if http { &s.http } else { &s.tcp };
    c.arg(script).arg(port_of(target));
    if http {
        c.arg("-H");
    }
    c.args([
        "--daemon",
        "127.0.0.1",
        "--hostname",
        pdu,
        "--port",
        port,
        "--command",
        command,
    ]);
    if let Some(d) = delay {
        c.args(["--delay", &d.to_string()]);
    }
    // requests must not send the loopback request to a proxy.
    for v in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        c.env_remove(v);
    }
    c.output().unwrap()
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "pduclient: {:?}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn pduclient_switches_outlets_over_tcp_and_http_and_the_pdu_confirms_each() {
    let f = fleet();
    let (_sb, service) = start("serve-pduclient", &f, &[20]);
    let s = ports(&service);
    for (http, outlet) in [(false, 1u32), (true, 2)] {
        let t = now();
        // pduclient and LAVA zero-pad ports.
        let port = format!("{outlet:02}");
        ok(&pduclient(&s, http, "pdu20", &port, "off", None));
        assert_eq!(f.states(20, outlet..=outlet), vec![2], "http={http}");
        ok(&pduclient(&s, http, "pdu20", &port, "on", None));
        assert_eq!(f.states(20, outlet..=outlet), vec![1]);
        ok(&pduclient(&s, http, "pdu20", &port, "reboot", Some(1)));
        assert_eq!(f.states(20, outlet..=outlet), vec![1]);
        let log = f.changes(t, &[&format!("pdu20:{outlet}")]);
        let commands: Vec<u32> = log.iter().map(|c| c.2).collect();
        assert_eq!(commands, vec![2, 1, 2, 1], "http={http}: {log:?}");
    }
    // What cannot be done is refused (pduclient exits 127 on nack and on HTTP 500), and
    // nothing is switched.
    let t = now();
    for http in [false, true] {
        let out = pduclient(&s, http, "nosuch", "1", "off", None);
        assert_eq!(out.status.code(), Some(127), "{out:?}");
        let out = pduclient(&s, http, "pdu20", "99", "off", None);
        assert_eq!(out.status.code(), Some(127), "{out:?}");
    }
    assert!(f.changes(t, &["pdu20"]).is_empty());
}

#[test]
fn a_pduclient_reboot_is_not_split_by_another_request_to_the_same_pdu() {
    let f = fleet();
    let (_sb, service) = start("serve-pduclient-reboot", &f, &[21]);
    let s = ports(&service);
    let t = now();
    std::thread::scope(|scope| {
        let reboot = scope.spawn(|| pduclient(&s, false, "pdu21", "3", "reboot", Some(2)));
        // Once the off is in, ask for outlet 4 off on the same PDU.
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while f.changes(t, &["pdu21:3"]).is_empty() {
            assert!(
                std::time::Instant::now() < until,
                "the reboot's off never came"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        ok(&pduclient(&s, true, "pdu21", "4", "off", None));
        ok(&reboot.join().unwrap());
    });
    let log = f.changes(t, &["pdu21:3", "pdu21:4"]);
    let order: Vec<(u32, u32)> = log.iter().map(|c| (c.1, c.2)).collect();
    assert_eq!(order, vec![(3, 2), (3, 1), (4, 2)], "{log:?}");
    ok(&pduclient(&s, false, "pdu21", "4", "on", None));
}

/// labgrid's `PDUDaemonDriver` on outlet `index` of `pdu` through the service's HTTP
/// listener: tests/peers/pdudaemon/labgrid-pdu.py (which keeps requests off any proxy) in
/// the python of $FENCEBOX_LABGRID_PYTHON. No labgrid is a failure, not a skip.
fn labgrid(s: &Ports, delay: Option<u32>, pdu: &str, index: u32, actions: &[&str]) -> Output {
    let python = std::env::var("FENCEBOX_LABGRID_PYTHON").unwrap_or_else(|_| {
        panic!(
            "FENCEBOX_LABGRID_PYTHON is not set: point it at the python that \
             tests/peers/pdudaemon/labgrid-venv.sh prints (tests/run-all.sh does)"
        )
    });
    assert!(
        std::path::Path::new(&python).is_file(),
        "FENCEBOX_LABGRID_PYTHON={python}: no such file; run tests/peers/pdudaemon/labgrid-venv.sh"
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/pdudaemon/labgrid-pdu.py"
    );
    let mut c = Command::new(&python);
    c.arg(script);
    if let Some(d) = delay {
        c.args(["--delay", &d.to_string()]);
    }
    c.arg(&s.http).arg(pdu).arg(index.to_string()).args(actions);
    c.output()
        .unwrap_or_else(|e| panic!("FENCEBOX_LABGRID_PYTHON={python}: {e}"))
}

/// labgrid-pdu.py exited 0 and printed exactly `lines`.
fn labgrid_said(out: &Output, lines: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout == lines,
        "labgrid-pdu.py: {:?}, wanted {lines:?}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn labgrid_switches_outlets_and_cycles_them_in_one_job() {
    let f = fleet();
    let (sb, service) = start("serve-labgrid", &f, &[22]);
    let s = ports(&service);
    let t = now();
    labgrid_said(&labgrid(&s, None, "pdu22", 5, &["off"]), "off: ok\n");
    assert_eq!(f.states(22, 5..=5), vec![2]);
    labgrid_said(&labgrid(&s, None, "pdu22", 5, &["on"]), "on: ok\n");
    assert_eq!(f.states(22, 5..=5), vec![1]);
    // cycle is PDUDaemon's reboot with labgrid's delay: the answer comes after the on.
    let started = Instant::now();
    labgrid_said(&labgrid(&s, Some(1), "pdu22", 5, &["cycle"]), "cycle: ok\n");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the cycle took {:?}, less than its delay",
        started.elapsed()
    );
    assert_eq!(f.states(22, 5..=5), vec![1]);
    let log = f.changes(t, &["pdu22:5"]);
    let commands: Vec<u32> = log.iter().map(|c| c.2).collect();
    assert_eq!(commands, vec![2, 1, 2, 1], "{log:?}");
    // Three requests, three jobs; the cycle's off and on are one job (it went halfway).
    let journal = std::fs::read_to_string(sb.path("journal.jsonl")).unwrap();
    let count = |event: &str| journal.matches(&format!("\"event\":\"{event}\"")).count();
    assert_eq!(
        (count("queued"), count("halfway"), count("ended")),
        (3, 1, 3),
        "{journal}"
    );
    // labgrid 26's driver has no get: it raises NotImplementedError itself, without asking
    // the service (nothing is switched), and a failing get is not a failing run.
    let t = now();
    labgrid_said(
        &labgrid(&s, None, "pdu22", 5, &["get"]),
        "get: NotImplementedError\n",
    );
    assert!(f.changes(t, &["pdu22"]).is_empty());
    assert_eq!(f.states(22, 5..=5), vec![1]);
}
