//! `fencebox power` and fence_chain on the fleet peer (tests/peers/fleet): 42 APC rack
//! PDUs of 24 outlets in one snmpsim (the community picks the PDU) and 64 ipmi_sim BMCs.
//! snmpsim's own change log (every accepted outlet command, timestamped) shows what was
//! switched and in which order; the BMCs' power files show their chassis. Each test uses
//! PDUs and BMCs of its own, so the tests run in parallel.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use common::fleet::fleet;
use common::Sandbox;

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn inventory(sb: &Sandbox, text: &str) -> PathBuf {
    let path = sb.path("inventory.toml");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn power(sb: &Sandbox, inv: &PathBuf, args: &[&str]) -> Output {
    let mut c = sb.command("fencebox");
    c.arg("power")
        .args(args)
        .arg("--inventory")
        .arg(inv)
        .output()
        .unwrap()
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Nodes `prefix``first..=last`, fed by the same outlet of each listed PDU.
fn nodes(prefix: &str, outlets: std::ops::RangeInclusive<u32>, pdus: &[u32]) -> String {
    outlets
        .map(|o| {
            let feeds: Vec<String> = pdus.iter().map(|p| format!("\"pdu{p:02}:{o}\"")).collect();
            format!("[nodes.{prefix}{o:02}]\nfeeds = [{}]\n\n", feeds.join(", "))
        })
        .collect()
}

/// Dual-PSU nodes on pdu01/pdu02: every off of the reboot lands before any on, in
/// snmpsim's own log; outlets no selected node maps are neither switched nor changed.
#[test]
fn a_dual_psu_reboot_on_snmpsim_is_every_off_then_every_on() {
    let f = fleet();
    let sb = Sandbox::new("fleet-peer-dual");
    let inv = inventory(
        &sb,
        &format!("{}{}{}", f.pdu(1), f.pdu(2), nodes("d", 1..=24, &[1, 2])),
    );
    let before = (f.states(1, 9..=24), f.states(2, 9..=24));
    let t = now();
    let out = power(&sb, &inv, &["reboot", "d[01-08]"]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(
        said(&out).contains("8 of 8 node(s) rebooted"),
        "{}",
        said(&out)
    );
    let log = f.changes(t, &["pdu01", "pdu02"]);
    let commands: Vec<u32> = log.iter().map(|c| c.2).collect();
    assert_eq!(commands, [vec![2; 16], vec![1; 16]].concat(), "{log:?}");
    assert!(
        log.iter().all(|c| (1..=8).contains(&c.1)),
        "only the selected outlets: {log:?}"
    );
    assert_eq!(
        (f.states(1, 9..=24), f.states(2, 9..=24)),
        before,
        "unmapped outlets unchanged"
    );
    assert_eq!(f.states(1, 1..=8), vec![1; 8]);
}

/// Single-feed nodes: off, status, on, each confirmed by the simulator.
#[test]
fn single_feed_nodes_go_off_and_on() {
    let f = fleet();
    let sb = Sandbox::new("fleet-peer-single");
    let inv = inventory(&sb, &format!("{}{}", f.pdu(3), nodes("s", 1..=6, &[3])));
    let out = power(&sb, &inv, &["off", "s[01-03]"]);
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(f.states(3, 1..=6), [2, 2, 2, 1, 1, 1]);
    let out = power(&sb, &inv, &["status", "all", "--json"]);
    assert!(out.status.success(), "{}", said(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let states: Vec<&str> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["off", "off", "off", "on", "on", "on"]);
    let out = power(&sb, &inv, &["on", "all"]);
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(f.states(3, 1..=6), vec![1; 6]);
}

/// Nodes powered through their BMC only: status, off, on, reboot on ipmi_sim.
#[test]
fn bmc_nodes_on_ipmi_sim() {
    let f = fleet();
    let sb = Sandbox::new("fleet-peer-bmc");
    let site: String = (1..=4)
        .map(|n| format!("{}[nodes.b{n:02}]\nbmc = \"bmc{n:02}\"\n\n", f.bmc(n)))
        .collect();
    let inv = inventory(&sb, &site);
    let out = power(&sb, &inv, &["off", "b01,b02"]);
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(
        (f.chassis(1), f.chassis(2), f.chassis(3)),
        ("0".into(), "0".into(), "1".into())
    );
    let out = power(&sb, &inv, &["status", "all"]);
    let table = said(&out);
    assert!(out.status.success(), "{table}");
    assert!(
        table.contains("b01   off") && table.contains("b03   on"),
        "{table}"
    );
    let out = power(&sb, &inv, &["reboot", "all"]);
    assert!(out.status.success(), "{}", said(&out));
    assert!((1..=4).all(|n| f.chassis(n) == "1"));
    let log = std::fs::read_to_string(format!("{}/bmc03/chassis.log", f.get("FLEET_BMC_DIR")))
        .unwrap_or_default();
    assert!(!log.is_empty(), "bmc03 saw the reboot");
}

/// A PDU that never answers (a community snmpsim does not serve) fails only its nodes.
#[test]
fn an_unreachable_pdu_fails_only_its_nodes() {
    let f = fleet();
    let sb = Sandbox::new("fleet-peer-unreachable");
    let dead = f.pdu(6).replace(
        "pdu06\"\n",
        "nobody-serves-this\"\nshell_timeout = 1\nretry_on = 0\n",
    );
    let site = format!(
        "{}{dead}[nodes.u01]\nfeeds = [\"pdu05:1\", \"pdu06:1\"]\n\n[nodes.u02]\nfeeds = [\"pdu05:2\"]\n\n[nodes.u03]\nfeeds = [\"pdu05:3\"]\n",
        f.pdu(5)
    );
    let inv = inventory(&sb, &site);
    let out = power(&sb, &inv, &["off", "all"]);
    let table = said(&out);
    assert_eq!(out.status.code(), Some(1), "{table}");
    assert!(table.contains("2 of 3 node(s) off, 1 FAILED"), "{table}");
    let row = table.lines().find(|l| l.starts_with("u01")).unwrap();
    assert!(row.contains("FAILED") && row.contains("pdu06:1"), "{row}");
    assert_eq!(f.states(5, 1..=3), [2, 2, 2], "pdu05 did its part");
    let out = power(&sb, &inv, &["on", "u02,u03"]);
    assert!(out.status.success(), "{}", said(&out));
    let mut c = sb.command("fencebox");
    c.args(["power", "on", "u01", "--inventory"]).arg(&inv);
    let _ = c.output();
    assert_eq!(f.states(5, 1..=3), [1, 1, 1]);
}

/// Two power commands and two agents at once over pdu07 and pdu08: all succeed, nobody
/// deadlocks, and each one's switching of pdu07 is one uninterrupted run (the change
/// log splits into off-then-on runs of whole commands).
#[test]
fn overlapping_commands_and_agents_on_snmpsim_take_turns() {
    let f = fleet();
    let sb = Sandbox::new("fleet-peer-overlap");
    let inv = inventory(
        &sb,
        &format!("{}{}{}", f.pdu(7), f.pdu(8), nodes("o", 1..=6, &[7, 8])),
    );
    let t = now();
    let spawn = |args: &[&str]| {
        let mut c = sb.command("fencebox");
        c.args(args).arg("--inventory").arg(&inv);
        c.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    let agent = |plug: &str| {
        let mut c = sb.command("fence_apc_snmp");
        c.args([
            "-a",
            "127.0.0.1",
            "-u",
            f.get("FLEET_SNMP_PORT"),
            "-c",
            "pdu07",
            "-n",
            plug,
            "-o",
            "reboot",
        ]);
        c.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    let children = vec![
        spawn(&["power", "reboot", "o[01-04]"]),
        spawn(&["power", "reboot", "o[03-06]"]),
        agent("5"),
        agent("2"),
    ];
    for child in children {
        let out = wait_bounded(child, Duration::from_secs(120));
        assert!(out.status.success(), "{}", said(&out));
    }
    // pdu07's log: runs of offs then ons; each run's offs and ons name the same outlets.
    let log = f.changes(t, &["pdu07"]);
    let mut runs: Vec<(Vec<u32>, Vec<u32>)> = Vec::new();
    for (_, outlet, cmd) in &log {
        match (cmd, runs.last_mut()) {
            (2, Some((_, ons))) if ons.is_empty() => runs.last_mut().unwrap().0.push(*outlet),
            (2, _) => runs.push((vec![*outlet], Vec::new())),
            (1, Some((_, ons))) => ons.push(*outlet),
            _ => panic!("unexpected command in {log:?}"),
        }
    }
    let mut sizes: Vec<usize> = Vec::new();
    for (offs, ons) in &mut runs {
        offs.sort();
        ons.sort();
        assert_eq!(offs, ons, "a run was interrupted: {log:?}");
        sizes.push(offs.len());
    }
    sizes.sort();
    assert_eq!(
        sizes,
        [1, 1, 4, 4],
        "two commands of four outlets, two agents of one: {log:?}"
    );
}

fn wait_bounded(mut child: std::process::Child, limit: Duration) -> Output {
    let t = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            panic!("still running after {limit:?}: a deadlock?");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// fence_chain as Pacemaker runs it, on a dual-PSU node of pdu09/pdu10.
#[test]
fn fence_chain_on_snmpsim() {
    let f = fleet();
    let sb = Sandbox::new("fleet-peer-chain");
    let inv = inventory(
        &sb,
        &format!("{}{}{}", f.pdu(9), f.pdu(10), nodes("c", 1..=4, &[9, 10])),
    );
    let t = now();
    let out = sb.run(
        "fence_chain",
        &format!(
            "action=reboot\nport=c03\nnodename=c03\ninventory={}\n",
            inv.display()
        ),
    );
    assert_eq!(out.code, 0, "{out:?}");
    let log = f.changes(t, &["pdu09", "pdu10"]);
    assert_eq!(
        log.iter().map(|c| (c.1, c.2)).collect::<Vec<_>>(),
        [(3, 2), (3, 2), (3, 1), (3, 1)],
        "{log:?}"
    );
    let out = sb.run(
        "fence_chain",
        &format!("action=list-status\ninventory={}\n", inv.display()),
    );
    assert_eq!(
        out.stdout, "c01,c01,on\nc02,c02,on\nc03,c03,on\nc04,c04,on\n",
        "{out:?}"
    );
}

/// `fencebox chain check --live` reads the BMC's power-supply sensors (ipmi_sim with two
/// PSU sensors, PS2 reporting "failure detected"): a node on two PDU feeds whose BMC
/// reports a failed supply has lost its redundancy.
#[test]
fn chain_check_reads_a_failed_psu_from_the_bmc() {
    let f = fleet();
    let sb = Sandbox::new("fleet-peer-psu");
    let sensors = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/ipmi/psu-sensors.emu"
    ))
    .unwrap();
    let bmc = common::bmc::Bmc::ipmi_sim_with(&sb, "127.0.0.1", &sensors);
    let site = format!(
        "{}{}[devices.bmc]\nagent = \"fence_ipmilan\"\nip = \"127.0.0.1\"\nipport = {}\nusername = \"admin\"\npassword = \"password\"\nlanplus = true\n\n[nodes.p01]\nfeeds = [\"pdu11:1\", \"pdu12:1\"]\nbmc = \"bmc\"\n",
        f.pdu(11),
        f.pdu(12),
        bmc.port
    );
    let inv = inventory(&sb, &site);
    let mut c = sb.command("fencebox");
    let out = c
        .args(["chain", "check", "--live", "--inventory"])
        .arg(&inv)
        .output()
        .unwrap();
    let text = said(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("psu-failed") && text.contains("'PS2 Status': failure detected"),
        "{text}"
    );
    assert!(!text.contains("PS1 Status"), "PS1 is fine: {text}");
    let mut c = sb.command("fencebox");
    let out = c
        .args(["chain", "p01", "--inventory"])
        .arg(&inv)
        .output()
        .unwrap();
    let tree = said(&out);
    assert!(
        tree.contains("bmc  bmc [PS1 Status: ok; PS2 Status: failure detected]"),
        "{tree}"
    );
    assert!(!tree.contains("password"), "{tree}");
}
