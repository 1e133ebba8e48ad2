//! Device locks across hosts on a real 3-member etcd (tests/peers/etcd, one private cluster
//! per test) over the fleet peer's snmpsim PDUs (tests/peers/fleet), whose own timestamped
//! log of accepted outlet commands shows whether two calls through one PDU interleaved.
//! A "host" is a lock directory of its own (FENCEBOX_LOCK_DIR), so that only etcd can keep
//! two hosts apart. The tests take turns: they share four PDUs and time their callers.

mod common;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::etcd::Etcd;
use common::fleet::{fleet, Fleet};
use common::shell::ShellPeers;
use common::{finish, Out, Sandbox};

static TURN: Mutex<()> = Mutex::new(());

/// The PDUs these tests switch (pdu37..pdu40); host h switches outlet 20 + h.
const PDUS: [u32; 4] = [37, 38, 39, 40];

fn turn() -> std::sync::MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

struct Hosts<'a> {
    sb: &'a Sandbox,
    fleet: &'a Fleet,
    /// The site settings every host reads (None: local locks only).
    site: Option<PathBuf>,
}

impl Hosts<'_> {
    fn new<'a>(sb: &'a Sandbox, fleet: &'a Fleet, site: Option<&str>) -> Hosts<'a> {
        let site = site.map(|text| {
            let path = sb.path("site.toml");
            std::fs::write(&path, text).unwrap();
            path
        });
        Hosts { sb, fleet, site }
    }

    /// fence_apc_snmp on `host`: `action` of `outlet` of PDU `pdu`, with `extra` lines.
    fn spawn(&self, host: u32, pdu: u32, outlet: u32, action: &str, extra: &str) -> Child {
        self.spawn_with(host, pdu, outlet, action, extra, &[])
    }

    /// `spawn`, with `env` added to the call's environment.
    fn spawn_with(
        &self,
        host: u32,
        pdu: u32,
        outlet: u32,
        action: &str,
        extra: &str,
        env: &[(&str, &str)],
    ) -> Child {
        let dir = self.sb.path(&format!("host{host}"));
        std::fs::create_dir_all(&dir).unwrap();
        let site = self
            .site
            .clone()
            .unwrap_or_else(|| self.sb.path("no-site.toml"));
        let input = format!(
            "ip=127.0.0.1\nipport={}\ncommunity=pdu{pdu:02}\nplug={outlet}\naction={action}\n{extra}\n",
            self.fleet.get("FLEET_SNMP_PORT")
        );
        let mut all = vec![
            ("FENCEBOX_LOCK_DIR", dir.to_str().unwrap()),
            ("FENCEBOX_CONFIG", site.to_str().unwrap()),
        ];
        all.extend_from_slice(env);
        self.sb.spawn_raw("fence_apc_snmp", input.as_bytes(), &all)
    }

    /// `hosts` hosts, each rebooting its own outlet `calls` times, one call after another,
    /// on PDUs picked pseudo-randomly per call (so hosts meet on a PDU now and then).
    fn reboots(&self, hosts: u32, calls: u32) -> Vec<Out> {
        std::thread::scope(|s| {
            let runs: Vec<_> = (0..hosts)
                .map(|h| {
                    s.spawn(move || {
                        let mut x = 0x9e37_79b9u32.wrapping_mul(h + 1);
                        (0..calls)
                            .map(|_| {
                                x ^= x << 13;
                                x ^= x >> 17;
                                x ^= x << 5;
                                let pdu = PDUS[(x % 4) as usize];
                                finish(self.spawn(h, pdu, 20 + h, "reboot", "power_wait=0"))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            runs.into_iter().flat_map(|r| r.join().unwrap()).collect()
        })
    }
}

/// The menu-driven APC (tests/peers/emulators/apc.py, AOS 3 menus, 24 outlets) over telnet.
const MENU: &str = "apc-aos3-24";

impl Hosts<'_> {
    /// fence_apc on `host` through the menu PDU: `action` of `outlet`.
    fn spawn_menu(&self, peers: &ShellPeers, host: u32, outlet: u32, action: &str) -> Child {
        let dir = self.sb.path(&format!("host{host}"));
        std::fs::create_dir_all(&dir).unwrap();
        let site = self
            .site
            .clone()
            .unwrap_or_else(|| self.sb.path("no-site.toml"));
        let input = format!(
            "{}plug={outlet}\naction={action}\n",
            peers.telnet_stdin("127.0.0.1", MENU)
        );
        self.sb.spawn_raw(
            "fence_apc",
            input.as_bytes(),
            &[
                ("FENCEBOX_LOCK_DIR", dir.to_str().unwrap()),
                ("FENCEBOX_CONFIG", site.to_str().unwrap()),
            ],
        )
    }

    /// `hosts` hosts rebooting their own outlet of the menu PDU `calls` times each.
    fn menu_reboots(&self, peers: &ShellPeers, hosts: u32, calls: u32) -> Vec<Out> {
        std::thread::scope(|s| {
            let runs: Vec<_> = (0..hosts)
                .map(|h| {
                    s.spawn(move || {
                        (0..calls)
                            .map(|_| finish(self.spawn_menu(peers, h, 20 + h, "reboot")))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            runs.into_iter().flat_map(|r| r.join().unwrap()).collect()
        })
    }
}

/// The menu PDU's own record of outlet changes since `t` (tests/peers/emulators/emulib.py:
/// `UNIXTIME /UNIT/OUTLET/on true|false`), as (pdu, outlet, command) with 2 off and 1 on.
fn menu_changes(peers: &ShellPeers, t: f64) -> Vec<(String, u32, u32)> {
    let key = MENU.to_uppercase().replace('-', "_");
    let path = format!("{}.changes", peers.get(&format!("FB_EMU_{key}_STATE")));
    std::fs::read_to_string(&path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let at: f64 = w.first()?.parse().ok()?;
            let parts: Vec<&str> = w.get(1)?.split('/').collect();
            if at < t || parts.len() != 4 || parts[3] != "on" {
                return None;
            }
            let cmd = if *w.get(2)? == "true" { 1 } else { 2 };
            Some((MENU.to_string(), parts[2].parse().ok()?, cmd))
        })
        .collect()
}

/// Reboots whose off and on were split by another call's command on the same PDU, from
/// snmpsim's log since `t`.
fn interleavings(f: &Fleet, t: f64) -> Vec<String> {
    let picks: Vec<String> = PDUS.iter().map(|p| format!("pdu{p:02}")).collect();
    let picks: Vec<&str> = picks.iter().map(String::as_str).collect();
    split_reboots(&f.changes(t, &picks))
}

/// Reboots split by another command on their PDU in `log` (time order, per PDU).
fn split_reboots(log: &[(String, u32, u32)]) -> Vec<String> {
    let mut open: std::collections::BTreeMap<String, u32> = Default::default();
    let mut found = Vec::new();
    for (pdu, outlet, cmd) in log {
        match cmd {
            2 => {
                if let Some(other) = open.insert(pdu.clone(), *outlet) {
                    found.push(format!("{pdu}: off {outlet} while outlet {other} was off"));
                }
            }
            1 => {
                if open.remove(pdu) != Some(*outlet) {
                    found.push(format!("{pdu}: on {outlet} not after its own off"));
                }
            }
            _ => found.push(format!("{pdu}: command {cmd} on {outlet}")),
        }
    }
    assert!(open.is_empty(), "a reboot was left half done: {open:?}");
    found
}

fn assert_all_rebooted(outs: &[Out]) {
    for out in outs {
        assert_eq!(out.code, 0, "{out:?}");
        assert_eq!(out.stdout, "Success: Rebooted\n", "{out:?}");
    }
}

#[test]
fn four_hosts_never_interleave_on_a_pdu_with_etcd_and_do_without() {
    let _turn = turn();
    let f = fleet();
    let sb = Sandbox::new("etcd-four-hosts");
    let etcd = Etcd::start(&sb.path("etcd"));
    // Without etcd first: the same run interleaves, so the check below can fail.
    let t = now();
    let outs = Hosts::new(&sb, &f, None).reboots(4, 50);
    assert_all_rebooted(&outs);
    let apart = interleavings(&f, t);
    eprintln!(
        "local locks only: {} interleaved reboots of 200",
        apart.len()
    );
    assert!(
        !apart.is_empty(),
        "four hosts with local locks only never met on a PDU: the test proves nothing"
    );
    let t = now();
    let outs = Hosts::new(&sb, &f, Some(&etcd.site("ttl = 5"))).reboots(4, 50);
    assert_all_rebooted(&outs);
    assert_eq!(interleavings(&f, t), Vec::<String>::new());
    assert_eq!(
        f.changes(t, &["pdu37", "pdu38", "pdu39", "pdu40"]).len(),
        400
    );
    // Every lock entry was deleted: nothing left under the prefix.
    let listed = sb
        .command("fencebox")
        .arg("locks")
        .env("FENCEBOX_CONFIG", sb.path("site.toml"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout),
        "no device lock is held or waited for\n"
    );
}

#[test]
fn four_hosts_take_turns_on_a_menu_pdu_with_etcd_and_do_not_without() {
    let _turn = turn();
    let f = fleet();
    let peers = ShellPeers::load();
    let _device = common::shell::hold(MENU);
    let sb = Sandbox::new("etcd-menu");
    let etcd = Etcd::start(&sb.path("etcd"));
    let t = now();
    let outs = Hosts::new(&sb, &f, None).menu_reboots(&peers, 4, 10);
    assert_all_rebooted(&outs);
    let apart = split_reboots(&menu_changes(&peers, t));
    eprintln!(
        "menu PDU, local locks only: {} interleavings in 40 reboots",
        apart.len()
    );
    assert!(
        !apart.is_empty(),
        "four hosts never met on the menu PDU: the test proves nothing"
    );
    let t = now();
    let outs = Hosts::new(&sb, &f, Some(&etcd.site("ttl = 5"))).menu_reboots(&peers, 4, 10);
    assert_all_rebooted(&outs);
    let log = menu_changes(&peers, t);
    assert_eq!(log.len(), 80, "{log:?}");
    assert_eq!(split_reboots(&log), Vec::<String>::new());
}

/// The instant `needle` shows up in the debug log at `path`, polled.
fn seen(path: &Path, needle: &str, limit: Duration) -> Option<Instant> {
    let t = Instant::now();
    while t.elapsed() < limit {
        if std::fs::read_to_string(path).is_ok_and(|s| s.contains(needle)) {
            return Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[test]
fn a_killed_holder_frees_the_device_within_its_ttl_and_a_long_reboot_keeps_it() {
    let _turn = turn();
    let f = fleet();
    let sb = Sandbox::new("etcd-holder");
    let etcd = Etcd::start(&sb.path("etcd"));
    let ttl = 2;
    let hosts = Hosts::new(&sb, &f, Some(&etcd.site(&format!("ttl = {ttl}"))));
    let log = |name: &str| sb.path(name);
    let debug = |name: &str| format!("debug_file={}\nverbose=1", log(name).display());

    // A holder killed mid-reboot (in its 30 s power_wait): the waiter goes on within
    // the TTL and a second.
    let mut holder = hosts.spawn(
        0,
        37,
        21,
        "reboot",
        &format!("power_wait=30\n{}", debug("a.log")),
    );
    seen(
        &log("a.log"),
        "device session start",
        Duration::from_secs(10),
    )
    .expect("the holder started");
    let waiter = hosts.spawn(
        1,
        37,
        22,
        "reboot",
        &format!("power_wait=0\n{}", debug("b.log")),
    );
    std::thread::sleep(Duration::from_millis(700));
    let b_log = std::fs::read_to_string(log("b.log")).unwrap_or_default();
    assert!(
        !b_log.contains("device session start"),
        "the second host did not wait:\n{b_log}"
    );
    assert!(b_log.contains("across hosts (etcd), in use by"), "{b_log}");
    // fencebox locks names both, from another host's point of view.
    let listed = sb
        .command("fencebox")
        .arg("locks")
        .env("FENCEBOX_CONFIG", sb.path("site.toml"))
        .env("FENCEBOX_LOCK_DIR", sb.path("host9"))
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    let pid = holder.id();
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 3, "{listed}");
    assert!(
        lines[1].contains(" etcd   holds  ")
            && lines[1].contains(&format!("pid {pid} (fence_apc_snmp reboot plug 21)")),
        "{listed}"
    );
    assert!(
        lines[2].contains(" etcd   waits  ")
            && lines[2].contains("(fence_apc_snmp reboot plug 22)"),
        "{listed}"
    );
    holder.kill().unwrap();
    let killed = Instant::now();
    let _ = holder.wait();
    let went = seen(
        &log("b.log"),
        "device session start",
        Duration::from_secs(10),
    )
    .expect("the waiter never got the device");
    let after = went.duration_since(killed);
    eprintln!("the waiter went on {after:?} after the holder was killed (TTL {ttl} s)");
    assert!(
        after <= Duration::from_secs(ttl + 1),
        "the waiter went on {after:?} after the holder was killed (TTL {ttl} s)"
    );
    let out = finish(waiter);
    assert_eq!(out.stdout, "Success: Rebooted\n", "{out:?}");
    // The killed holder left its outlet off; put it back for the next test.
    assert_eq!(finish(hosts.spawn(0, 37, 21, "on", "")).code, 0);

    // A reboot whose power_wait is three TTLs: its lease is renewed throughout, so the
    // other host's call starts only after it ended.
    let t = now();
    let long = hosts.spawn(
        0,
        38,
        21,
        "reboot",
        &format!("power_wait={}\n{}", 3 * ttl, debug("c.log")),
    );
    seen(
        &log("c.log"),
        "device session start",
        Duration::from_secs(10),
    )
    .expect("the long reboot started");
    std::thread::sleep(Duration::from_millis(500));
    let other = hosts.spawn(
        1,
        38,
        22,
        "reboot",
        &format!("power_wait=0\n{}", debug("d.log")),
    );
    let (long, other) = (finish(long), finish(other));
    assert_eq!(long.stdout, "Success: Rebooted\n", "{long:?}");
    assert_eq!(other.stdout, "Success: Rebooted\n", "{other:?}");
    let c = common::session(&std::fs::read_to_string(log("c.log")).unwrap());
    let d = common::session(&std::fs::read_to_string(log("d.log")).unwrap());
    assert!(c.1 < d.0, "the calls overlapped: {c:?} {d:?}");
    assert!(!long.stderr.contains("lease"), "{long:?}");
    assert_eq!(interleavings(&f, t), Vec::<String>::new());
}

#[test]
fn a_host_hands_its_lease_on_to_its_next_call_and_replaces_one_revoked_meanwhile() {
    let _turn = turn();
    let f = fleet();
    let sb = Sandbox::new("etcd-spare");
    let etcd = Etcd::start(&sb.path("etcd"));
    let hosts = Hosts::new(
        &sb,
        &f,
        Some(&etcd.site("ttl = 10\non_unreachable = \"fail\"")),
    );
    // "on": the outlets stay as the other tests' reboots leave them.
    let call = |h: u32| {
        let out = finish(hosts.spawn(h, PDUS[0], 20 + h, "on", ""));
        assert_eq!(out.code, 0, "host{h}: {}{}", out.stdout, out.stderr);
    };
    let spare = |h: u32| -> Option<String> {
        let note = std::fs::read_to_string(sb.path(&format!("host{h}/etcd-lease"))).ok()?;
        note.split_whitespace().next().map(str::to_string)
    };
    call(0);
    let first = spare(0).expect("the first call handed its lease on");
    // The lease lives on, carrying no lock entry.
    let lease = etcd.post(
        "lease/timetolive",
        serde_json::json!({"ID": first, "keys": true}),
    );
    let ttl: i64 = lease["TTL"].as_str().unwrap_or("0").parse().unwrap();
    assert!(ttl > 5, "{lease}");
    assert!(lease.get("keys").is_none(), "{lease}");
    // The next call of the host takes it (no grant), and hands it on again; another
    // host has a lease of its own.
    call(0);
    assert_eq!(spare(0).as_deref(), Some(first.as_str()));
    call(1);
    assert!(spare(1).is_some_and(|l| l != first));
    // Revoked meanwhile (by an administrator, say): the next call takes a fresh one.
    etcd.post("lease/revoke", serde_json::json!({"ID": first}));
    call(0);
    assert!(spare(0).is_some_and(|l| l != first), "{:?}", spare(0));
    let left = etcd.post(
        "kv/range",
        serde_json::json!({"key": "ZmVuY2Vib3gv", "range_end": "ZmVuY2Vib3gw", "count_only": true}),
    );
    assert!(left.get("count").is_none(), "entries left: {left}");
}

#[test]
fn the_leader_killed_mid_run_loses_no_call_and_lets_none_interleave() {
    let _turn = turn();
    let f = fleet();
    let sb = Sandbox::new("etcd-leader");
    let etcd = Etcd::start(&sb.path("etcd"));
    // "fail": a call that could not reach etcd would fail, not go on alone.
    let hosts = Hosts::new(
        &sb,
        &f,
        Some(&etcd.site("ttl = 3\non_unreachable = \"fail\"")),
    );
    let t = now();
    let started = Instant::now();
    let outs = std::thread::scope(|s| {
        let run = s.spawn(|| hosts.reboots(4, 30));
        std::thread::sleep(Duration::from_millis(800));
        let leader = etcd.member(&["leader"]);
        etcd.member(&["kill", &leader]);
        let killed = started.elapsed();
        let outs = run.join().unwrap();
        eprintln!(
            "leader {leader} killed {killed:?} into a run of {:?}",
            started.elapsed()
        );
        assert!(
            killed + Duration::from_millis(500) < started.elapsed(),
            "the run ended before the leader was gone: it proves nothing"
        );
        outs
    });
    assert_all_rebooted(&outs);
    assert_eq!(interleavings(&f, t), Vec::<String>::new());
    assert_eq!(
        f.changes(t, &["pdu37", "pdu38", "pdu39", "pdu40"]).len(),
        240
    );
    let new_leader = etcd.member(&["leader"]);
    assert!(!new_leader.is_empty());
    // Each host notes the leader beside its local locks and asks it first: after one more
    // call each, now that the new leader is elected, every note names it (whether that
    // call or one of the run's found the old leader gone). A proxy of the caller's
    // environment is not used (etcd is reached directly, or the call would fail:
    // on_unreachable = "fail"); NO_PROXY is emptied, as it would exempt 127.0.0.1.
    let proxy = [
        ("http_proxy", "http://127.0.0.1:9"),
        ("HTTP_PROXY", "http://127.0.0.1:9"),
        ("ALL_PROXY", "http://127.0.0.1:9"),
        ("NO_PROXY", ""),
        ("no_proxy", ""),
    ];
    for h in 0..4 {
        // "on": the outlets stay as the reboots left them, for the next test's reboots.
        let out = finish(hosts.spawn_with(h, PDUS[0], 20 + h, "on", "", &proxy));
        assert_eq!(out.code, 0, "host{h}: {}{}", out.stdout, out.stderr);
    }
    let url = etcd.get(&format!("ETCD_{}_CLIENT", new_leader.to_uppercase()));
    for h in 0..4 {
        let note = sb.path(&format!("host{h}/etcd-leader"));
        let noted = std::fs::read_to_string(&note).unwrap_or_default();
        assert_eq!(
            noted.split_whitespace().nth(2),
            Some(url),
            "host{h} noted {noted:?}, but {new_leader} leads"
        );
    }
}

#[test]
fn with_every_member_stopped_the_call_does_what_on_unreachable_says_in_time() {
    let _turn = turn();
    let f = fleet();
    let sb = Sandbox::new("etcd-down");
    let etcd = Etcd::start(&sb.path("etcd"));
    etcd.stop();
    let connect = 2.0;
    for (policy, code) in [("local", 0), ("fail", 1)] {
        let hosts = Hosts::new(
            &sb,
            &f,
            Some(&etcd.site(&format!(
                "connect_timeout = {connect}\non_unreachable = \"{policy}\""
            ))),
        );
        let t = Instant::now();
        let out = finish(hosts.spawn(0, 39, 21, "on", ""));
        let took = t.elapsed();
        assert!(
            took < Duration::from_secs_f64(connect + 1.0),
            "{policy}: {took:?}"
        );
        assert_eq!(out.code, code, "{policy}: {out:?}");
        let lines = out.stderr_lines();
        match policy {
            "local" => {
                assert_eq!(out.stdout, "Success: Already ON\n", "{out:?}");
                assert!(
                    lines
                        .iter()
                        .any(|l| l.contains("WARNING: etcd cannot be reached (")
                            && l.contains(
                                "is locked on this host only (on_unreachable = \"local\")"
                            )),
                    "{out:?}"
                );
            }
            _ => {
                assert_eq!(lines.len(), 1, "{out:?}");
                assert!(
                    lines[0].contains("Failed: etcd cannot be reached (")
                        && lines[0].contains("on_unreachable = \"fail\""),
                    "{out:?}"
                );
            }
        }
    }
    // A member that takes connections and never answers: the connect timeout bounds the
    // wait all the same.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let site = format!(
        "[locks]\nbackend = \"etcd\"\nendpoints = [\"http://{}\"]\nconnect_timeout = 1\non_unreachable = \"fail\"\n",
        silent.local_addr().unwrap()
    );
    let hosts = Hosts::new(&sb, &f, Some(&site));
    let t = Instant::now();
    let out = finish(hosts.spawn(0, 39, 21, "on", ""));
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("Failed: etcd cannot be reached ("),
        "{out:?}"
    );
}

#[test]
fn over_tls_with_a_client_certificate_and_refused_without_the_right_one() {
    let _turn = turn();
    let f = fleet();
    let sb = Sandbox::new("etcd-tls");
    let etcd = Etcd::start_tls(&sb.path("etcd"));
    assert!(etcd
        .endpoints
        .iter()
        .all(|e| e.starts_with("https://127.0.0.1:")));
    let tls = |ca: &str, cert: &str, key: &str| {
        format!(
            "ca = \"{}\"\ncertificate = \"{}\"\nkey = \"{}\"\nconnect_timeout = 1\non_unreachable = \"fail\"",
            etcd.get(ca),
            etcd.get(cert),
            etcd.get(key)
        )
    };
    let good = Hosts::new(
        &sb,
        &f,
        Some(&etcd.site(&tls("ETCD_CA", "ETCD_CLIENT_CERT", "ETCD_CLIENT_KEY"))),
    );
    let out = finish(good.spawn(0, 40, 21, "on", "verbose=1"));
    assert_eq!(out.stdout, "Success: Already ON\n", "{out:?}");
    assert!(
        out.stderr
            .contains("and etcd fencebox/lock/snmp:127.0.0.1:"),
        "the call did not take the etcd lock: {out:?}"
    );
    // A client certificate of another CA: etcd ends the session; the call fails, as
    // on_unreachable = "fail" says, with one line.
    let other = Hosts::new(
        &sb,
        &f,
        Some(&etcd.site(&tls(
            "ETCD_CA",
            "ETCD_OTHER_CLIENT_CERT",
            "ETCD_OTHER_CLIENT_KEY",
        ))),
    );
    let out = finish(other.spawn(0, 40, 21, "on", ""));
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stderr_lines().len(), 1, "{out:?}");
    assert!(
        out.stderr
            .contains("Failed: etcd cannot be reached (https://127.0.0.1:"),
        "{out:?}"
    );
    // The members' certificate checked against another CA: refused by this side.
    let wrong_ca = Hosts::new(
        &sb,
        &f,
        Some(&etcd.site(&tls("ETCD_OTHER_CA", "ETCD_CLIENT_CERT", "ETCD_CLIENT_KEY"))),
    );
    let out = finish(wrong_ca.spawn(0, 40, 21, "on", ""));
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("invalid peer certificate: UnknownIssuer"),
        "{out:?}"
    );
    // A key file that is not there: one line naming it.
    let missing = Hosts::new(
        &sb,
        &f,
        Some(&etcd.site(&format!(
            "ca = \"{}\"\ncertificate = \"{}\"\nkey = \"/nonexistent/client-key.pem\"",
            etcd.get("ETCD_CA"),
            etcd.get("ETCD_CLIENT_CERT")
        ))),
    );
    let out = finish(missing.spawn(0, 40, 21, "on", ""));
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stderr_lines().len(), 1, "{out:?}");
    assert!(
        out.stderr
            .contains("cannot read /nonexistent/client-key.pem"),
        "{out:?}"
    );
}

#[test]
fn waiters_on_other_hosts_are_served_in_the_order_they_came() {
    let _turn = turn();
    let f = fleet();
    let sb = Sandbox::new("etcd-fifo");
    let etcd = Etcd::start(&sb.path("etcd"));
    let hosts = Hosts::new(&sb, &f, Some(&etcd.site("ttl = 5")));
    let debug = |name: &str| format!("debug_file={}\nverbose=1", sb.path(name).display());
    let holder = hosts.spawn(
        0,
        39,
        21,
        "reboot",
        &format!("power_wait=2\n{}", debug("h.log")),
    );
    seen(
        &sb.path("h.log"),
        "device session start",
        Duration::from_secs(10),
    )
    .expect("the holder started");
    // Three more hosts join the queue one after another, each seen waiting before the next.
    let waiters: Vec<Child> = (1..=3)
        .map(|h| {
            let log = format!("w{h}.log");
            let child = hosts.spawn(
                h,
                39,
                21 + h,
                "reboot",
                &format!("power_wait=0\n{}", debug(&log)),
            );
            seen(
                &sb.path(&log),
                "across hosts (etcd), in use by",
                Duration::from_secs(10),
            )
            .expect("the waiter did not wait");
            child
        })
        .collect();
    assert_eq!(finish(holder).code, 0);
    let mut starts = Vec::new();
    for (h, w) in (1..=3).zip(waiters) {
        let out = finish(w);
        assert_eq!(out.stdout, "Success: Rebooted\n", "{out:?}");
        let log = std::fs::read_to_string(sb.path(&format!("w{h}.log"))).unwrap();
        starts.push((common::session(&log).0, h));
    }
    starts.sort();
    let order: Vec<u32> = starts.iter().map(|(_, h)| *h).collect();
    assert_eq!(order, [1, 2, 3], "{starts:?}");
}
