//! `fencebox power` and `fencebox inventory` through the real binary, on in-process
//! devices: fence_dummy status files and the scriptable SNMP PDU of
//! tests/common/hostile_snmp.rs, whose request log (with arrival times and communities)
//! shows what was switched, in which order, and by whom.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use common::hostile_snmp::{at, Answer, Hostile, Mib, Req, CONTROL, OFF, ON};
use common::Sandbox;

/// Write an inventory readable by its owner only (so it may hold communities inline).
fn inventory(sb: &Sandbox, name: &str, text: &str) -> PathBuf {
    let path = sb.path(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn power(sb: &Sandbox, inv: &PathBuf, args: &[&str]) -> Output {
    let mut c = sb.command("fencebox");
    c.arg("power").args(args).arg("--inventory").arg(inv);
    c.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The row of `node` in a power table.
fn row<'a>(table: &'a str, node: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(node))
        .unwrap_or_else(|| panic!("no row for {node} in\n{table}"))
}

/// A PDU device of an inventory on a fake agent, with short SNMP timeouts.
fn pdu(name: &str, port: &str, community: &str) -> String {
    format!(
        "[devices.{name}]\nagent = \"fence_apc_snmp\"\nip = \"127.0.0.1\"\nipport = {port}\ncommunity = \"{community}\"\nshell_timeout = 2\npower_timeout = 3\n\n"
    )
}

/// Nodes n1..=n<count>, node i fed by outlet i of each listed PDU.
fn nodes(count: u32, pdus: &[&str]) -> String {
    (1..=count)
        .map(|i| {
            let feeds: Vec<String> = pdus.iter().map(|p| format!("\"{p}:{i}\"")).collect();
            format!("[nodes.n{i}]\nfeeds = [{}]\n\n", feeds.join(", "))
        })
        .collect()
}

/// The SETs a fake agent received: (arrival, outlet, value, community).
fn sets(pdu: &Hostile) -> Vec<(std::time::Instant, u64, i64, String)> {
    pdu.requests()
        .iter()
        .filter(|r| r.kind == snmp2::MessageType::SetRequest)
        .flat_map(|r: &Req| {
            r.oids.iter().zip(&r.set).filter_map(move |(oid, v)| {
                let outlet = oid.strip_prefix(CONTROL)?.first().copied()?;
                Some((r.at, outlet, (*v)?, text(&r.community)))
            })
        })
        .collect()
}

#[test]
fn the_example_inventory_works_on_a_fresh_machine() {
    let sb = Sandbox::new("fleet-example");
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/inventory.toml"
    ))
    .unwrap()
    .replace("/tmp/fencebox-example-", &format!("{}/", sb.dir.display()));
    let inv = inventory(&sb, "inventory.toml", &example);
    let out = power(&sb, &inv, &["status", "all"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    for n in ["node01", "node02", "node03"] {
        assert!(row(&table, n).contains(" off "), "{table}");
    }
    let out = power(&sb, &inv, &["reboot", "@rack1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(
        row(&table, "node01").contains("node01-psu1 on (switched), node01-psu2 on (switched)"),
        "{table}"
    );
    assert!(!table.contains("node03"), "only rack1 was asked:\n{table}");
    for f in ["node01-psu1", "node01-psu2", "node02-psu1", "node02-psu2"] {
        assert_eq!(
            std::fs::read_to_string(sb.path(f)).unwrap().trim(),
            "on",
            "{f}"
        );
    }
    assert!(!sb.path("node03-bmc").exists(), "node03 was not asked");
    let out = power(&sb, &inv, &["off", "node0[1-3]", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["command"], "off");
    assert_eq!(v["ok"], true);
    let states: Vec<&str> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["off", "off", "off"]);
    assert_eq!(v["nodes"][2]["feeds"][0]["device"], "node03-bmc");
    assert_eq!(
        v["nodes"][2]["feeds"][0]["switched"], false,
        "node03 was off already"
    );
    let out = power(&sb, &inv, &["list", "all"]);
    assert!(out.status.success());
    assert!(row(&text(&out.stdout), "node03").contains("node03-bmc"));
    let mut c = sb.command("fencebox");
    let out = c
        .args(["inventory", "check", "--inventory"])
        .arg(&inv)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("7 device(s), 3 node(s)"),
        "{}",
        text(&out.stdout)
    );
}

/// The dual-PSU rule: every feed of every node is off and confirmed before any goes back
/// on, across both PDUs; outlets no selected node maps are never touched.
#[test]
fn a_dual_feed_reboot_confirms_every_feed_off_before_any_on() {
    let sb = Sandbox::new("fleet-dual");
    let (a, b) = (Hostile::honest(&[ON; 8]), Hostile::honest(&[ON; 8]));
    let text_inv = format!(
        "{}{}{}",
        pdu("pdua", &a.port(), "private"),
        pdu("pdub", &b.port(), "private"),
        nodes(6, &["pdua", "pdub"])
    );
    let inv = inventory(&sb, "inv.toml", &text_inv);
    let out = power(&sb, &inv, &["reboot", "n[1-3]"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let table = text(&out.stdout);
    for n in ["n1", "n2", "n3"] {
        assert!(row(&table, n).contains(" on "), "{table}");
    }
    assert!(table.contains("3 of 3 node(s) rebooted"), "{table}");
    let all: Vec<_> = sets(&a).into_iter().chain(sets(&b)).collect();
    let last_off = all
        .iter()
        .filter(|s| s.2 == OFF)
        .map(|s| s.0)
        .max()
        .unwrap();
    let first_on = all.iter().filter(|s| s.2 == ON).map(|s| s.0).min().unwrap();
    assert!(
        last_off < first_on,
        "an outlet went on before every outlet was off: {all:?}"
    );
    for pdu in [&a, &b] {
        let mut switched: Vec<(u64, i64)> = sets(pdu).iter().map(|s| (s.1, s.2)).collect();
        switched.sort();
        assert_eq!(
            switched,
            [(1, ON), (1, OFF), (2, ON), (2, OFF), (3, ON), (3, OFF)]
        );
    }
}

#[test]
fn status_of_many_outlets_is_one_request_per_pdu() {
    let sb = Sandbox::new("fleet-walk");
    let a = Hostile::honest(&[ON, OFF, ON, OFF, ON, OFF, ON, OFF]);
    let inv = inventory(
        &sb,
        "inv.toml",
        &format!(
            "{}{}",
            pdu("pdua", &a.port(), "private"),
            nodes(8, &["pdua"])
        ),
    );
    let out = power(&sb, &inv, &["status", "all", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let states: Vec<&str> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["on", "off", "on", "off", "on", "off", "on", "off"]);
    // One request in all: the eight state cells, not one request per outlet, and with
    // them the sysObjectID that confirms fence_apc_snmp's guessed family.
    let requests = a.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let oids = &requests[0].oids;
    assert_eq!(oids[0], [1, 3, 6, 1, 2, 1, 1, 2, 0], "{requests:?}");
    assert_eq!(oids.len(), 9, "{requests:?}");
    assert!(
        oids[1..]
            .iter()
            .all(|o| o.starts_with(common::hostile_snmp::STATES)),
        "{requests:?}"
    );
}

/// A device whose sysObjectID is not the guessed family's: the states read with it are
/// dropped, and the outlets are read again in the family the device names (APC
/// MasterSwitch: state and command in sPDUOutletCtl), by the same command.
#[test]
fn a_wrong_guess_of_the_family_reads_again_in_the_right_one() {
    use common::hostile_snmp::{Mib, Val};
    let sb = Sandbox::new("fleet-guess");
    let ctl = [1, 3, 6, 1, 4, 1, 318, 1, 1, 4, 4, 2, 1, 3];
    let mut mib = Mib(Default::default());
    mib.0.insert(
        vec![1, 3, 6, 1, 2, 1, 1, 2, 0],
        Val::Oid(vec![1, 3, 6, 1, 4, 1, 318, 1, 3, 4, 2]),
    );
    for (i, st) in [OFF, ON, OFF].iter().enumerate() {
        let mut oid = ctl.to_vec();
        oid.push(i as u64 + 1);
        mib.0.insert(oid, Val::Int(*st));
    }
    let ms = Hostile::start(mib, |req, mib| Some(mib.answer(req)));
    let inv = inventory(
        &sb,
        "inv.toml",
        &format!("{}{}", pdu("ms", &ms.port(), "private"), nodes(3, &["ms"])),
    );
    let out = power(&sb, &inv, &["status", "all", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let states: Vec<&str> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["off", "on", "off"], "{v}");
}

/// A PDU that does not answer fails only the nodes it feeds; the others succeed, the
/// table names the failed ones and why, and the exit code is 1.
#[test]
fn an_unreachable_pdu_fails_only_its_nodes() {
    let sb = Sandbox::new("fleet-unreachable");
    let a = Hostile::honest(&[OFF; 4]);
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead = silent.local_addr().unwrap().port().to_string();
    let text_inv = format!(
        "{}{}[nodes.n1]\nfeeds = [\"pdua:1\", \"dead:1\"]\n\n[nodes.n2]\nfeeds = [\"pdua:2\"]\n",
        pdu("pdua", &a.port(), "private"),
        pdu("dead", &dead, "private")
    );
    let inv = inventory(&sb, "inv.toml", &text_inv);
    let out = power(&sb, &inv, &["on", "all"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let table = text(&out.stdout);
    assert!(row(&table, "n1").contains("FAILED"), "{table}");
    assert!(row(&table, "n1").contains("dead:1"), "{table}");
    assert!(row(&table, "n2").contains(" on "), "{table}");
    assert!(row(&table, "n2").contains(" ok "), "{table}");
    assert!(table.contains("1 of 2 node(s) on, 1 FAILED"), "{table}");
    // n1 is on through its other feed: a node is on when any feed is.
    assert!(row(&table, "n1").starts_with("n1    on "), "{table}");
}

/// A relay that accepts the off and stays on: the node is not off, and a reboot switches
/// nothing back on (its other feed stays off: the node was not fenced).
#[test]
fn a_feed_that_stays_on_fails_its_node_and_the_reboot_turns_nothing_on() {
    let sb = Sandbox::new("fleet-stuck");
    let a = Hostile::honest(&[ON; 4]);
    let stuck = Hostile::start(Mib::apc_rpdu(&[ON; 4]), |req, mib| {
        let ignores = req.kind == snmp2::MessageType::SetRequest
            && req.oids.iter().any(|o| *o == at(CONTROL, 2));
        if ignores {
            // Accept the SET; carry out all of it but outlet 2's part.
            let keep: Vec<bool> = req.oids.iter().map(|o| *o != at(CONTROL, 2)).collect();
            let mut rest = req.clone();
            rest.oids = req
                .oids
                .iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(o, _)| o.clone())
                .collect();
            rest.set = req
                .set
                .iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(v, _)| *v)
                .collect();
            if !rest.oids.is_empty() {
                mib.answer(&rest);
            }
            return Some(Answer {
                varbinds: req
                    .oids
                    .iter()
                    .zip(&req.set)
                    .map(|(o, v)| (o.clone(), common::hostile_snmp::Val::Int(v.unwrap_or(0))))
                    .collect(),
                ..Answer::default()
            });
        }
        Some(mib.answer(req))
    });
    let text_inv = format!(
        "{}{}{}",
        pdu("pdua", &a.port(), "private"),
        pdu("pdub", &stuck.port(), "private"),
        nodes(2, &["pdua", "pdub"])
    );
    let inv = inventory(&sb, "inv.toml", &text_inv);
    let out = power(&sb, &inv, &["reboot", "all", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["nodes"][0]["ok"], true, "{v}");
    let n2 = &v["nodes"][1];
    assert_eq!(n2["ok"], false);
    assert_eq!(n2["state"], "on");
    let reason = n2["reason"].as_str().unwrap();
    assert!(reason.contains("pdub:2: asked off, still on"), "{reason}");
    assert!(reason.contains("nothing was switched back on"), "{reason}");
    // n2's good feed went off and stayed off; n1's came back.
    let a_sets: Vec<(u64, i64)> = sets(&a).iter().map(|s| (s.1, s.2)).collect();
    assert!(
        a_sets.contains(&(2, OFF)) && !a_sets.contains(&(2, ON)),
        "{a_sets:?}"
    );
    assert!(
        a_sets.contains(&(1, OFF)) && a_sets.contains(&(1, ON)),
        "{a_sets:?}"
    );
}

/// Two fleet commands and single agents at once over the same PDUs: all succeed, nobody
/// deadlocks, and each caller's switching of a PDU is one uninterrupted run (told apart
/// by the community each one uses).
#[test]
fn overlapping_commands_and_agents_take_turns() {
    let sb = Sandbox::new("fleet-overlap");
    let (a, b) = (Hostile::honest(&[ON; 6]), Hostile::honest(&[ON; 6]));
    let inv_for = |c: &str| {
        inventory(
            &sb,
            &format!("{c}.toml"),
            &format!(
                "{}{}{}",
                pdu("pdua", &a.port(), c),
                pdu("pdub", &b.port(), c),
                nodes(6, &["pdua", "pdub"])
            ),
        )
    };
    let (one, two) = (inv_for("first"), inv_for("second"));
    let spawn_power = |inv: &PathBuf, nodes: &str| {
        let mut c = sb.command("fencebox");
        c.args(["power", "reboot", nodes, "--inventory"]).arg(inv);
        c.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    let p1 = spawn_power(&one, "all");
    let p2 = spawn_power(&two, "n[4-6],n1");
    let agent = |port: String, plug: &str, community: &str| {
        let mut c = sb.command("fence_apc_snmp");
        c.args([
            "-a",
            "127.0.0.1",
            "-u",
            &port,
            "-c",
            community,
            "-n",
            plug,
            "-o",
            "reboot",
        ]);
        c.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    let p3 = agent(a.port(), "5", "third");
    let p4 = agent(b.port(), "2", "fourth");
    for (who, p) in [("first", p1), ("second", p2), ("third", p3), ("fourth", p4)] {
        let out = wait_bounded(p, Duration::from_secs(60));
        assert!(
            out.status.success(),
            "{who}: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    for pdu in [&a, &b] {
        let s = sets(pdu);
        let callers: std::collections::BTreeSet<&str> = s.iter().map(|x| x.3.as_str()).collect();
        for c in &callers {
            let mine: Vec<usize> = s
                .iter()
                .enumerate()
                .filter(|(_, x)| x.3 == *c)
                .map(|(i, _)| i)
                .collect();
            let (first, last) = (mine[0], mine[mine.len() - 1]);
            assert_eq!(
                last - first + 1,
                mine.len(),
                "{c}'s run on a PDU was interrupted: {s:?}"
            );
        }
    }
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

/// Bad input: exit 1 and one line on stderr saying what is wrong; nothing on stdout.
#[test]
fn bad_power_input_is_one_line_and_exit_1() {
    let sb = Sandbox::new("fleet-bad");
    let inv = inventory(
        &sb,
        "inv.toml",
        "[devices.d]\nagent = \"fence_dummy\"\n\n[nodes.n1]\nfeeds = [\"d\"]\n",
    );
    let broken = inventory(&sb, "broken.toml", "[nodes.n1]\nfeeds = [\"nope:1\"]\n");
    let missing = sb.path("missing.toml");
    let cases: &[(&[&str], &PathBuf, &str)] = &[
        (&["dance", "all"], &inv, "'dance' is not a power action"),
        (&["status", "n2"], &inv, "not in the inventory: n2"),
        (&["status", "n[1-"], &inv, "does not close"),
        (
            &["status", "@rack9"],
            &inv,
            "no node of the inventory is in group 'rack9'",
        ),
        (
            &["status", "all", "--fanout", "0"],
            &inv,
            "--fanout is a number",
        ),
        (
            &["status", "all", "--colour"],
            &inv,
            "unexpected argument '--colour'",
        ),
        (&["status"], &inv, "required"),
        (
            &["status", "all"],
            &broken,
            "broken.toml:2: nodes.n1.feeds: no device called nope",
        ),
        (&["status", "all"], &missing, "cannot read the inventory"),
    ];
    for (args, inv, says) in cases {
        let out = power(&sb, inv, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// fence_chain as Pacemaker calls it (stdin, the node as the plug): a dual-PSU node is
/// rebooted through both PDUs, both outlets off before either is on; other outlets stay.
#[test]
fn fence_chain_reboots_a_dual_psu_node_through_both_pdus() {
    let sb = Sandbox::new("fleet-chain");
    let (a, b) = (Hostile::honest(&[ON; 4]), Hostile::honest(&[ON; 4]));
    let inv = inventory(
        &sb,
        "inv.toml",
        &format!(
            "{}{}{}",
            pdu("pdua", &a.port(), "private"),
            pdu("pdub", &b.port(), "private"),
            nodes(4, &["pdua", "pdub"])
        ),
    );
    let stdin = |action: &str, node: &str| {
        format!(
            "action={action}\nport={node}\nnodename={node}\ninventory={}\n",
            inv.display()
        )
    };
    let out = sb.run("fence_chain", &stdin("reboot", "n3"));
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("Success: Rebooted"), "{out:?}");
    let all: Vec<_> = sets(&a).into_iter().chain(sets(&b)).collect();
    let outlets: std::collections::BTreeSet<u64> = all.iter().map(|s| s.1).collect();
    assert_eq!(outlets, [3].into(), "only n3's outlets: {all:?}");
    let last_off = all
        .iter()
        .filter(|s| s.2 == OFF)
        .map(|s| s.0)
        .max()
        .unwrap();
    let first_on = all.iter().filter(|s| s.2 == ON).map(|s| s.0).min().unwrap();
    assert!(last_off < first_on, "{all:?}");
    assert_eq!(all.len(), 4, "{all:?}");

    let out = sb.run("fence_chain", &stdin("off", "n2"));
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("Success: Powered OFF"), "{out:?}");
    let out = sb.run("fence_chain", &stdin("status", "n2"));
    assert_eq!(out.code, 2, "status of an off node is exit 2: {out:?}");
    let out = sb.run("fence_chain", &stdin("status", "n1"));
    assert_eq!(out.code, 0, "{out:?}");
    let out = sb.run("fence_chain", &stdin("list-status", ""));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "n1,n1,on\nn2,n2,off\nn3,n3,on\nn4,n4,on\n");
    let out = sb.run("fence_chain", &stdin("monitor", ""));
    assert_eq!(out.code, 0, "{out:?}");
    let out = sb.run("fence_chain", &stdin("off", "n9"));
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("n9 is not a node of the inventory"),
        "{out:?}"
    );
}

/// A node that cannot be confirmed off is not fenced: exit 1, nothing switched back on.
/// monitor fails when any device does not answer.
#[test]
fn fence_chain_fails_when_a_feed_is_not_confirmed_off() {
    let sb = Sandbox::new("fleet-chain-fail");
    let a = Hostile::honest(&[ON; 2]);
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead = silent.local_addr().unwrap().port().to_string();
    let inv = inventory(
        &sb,
        "inv.toml",
        &format!(
            "{}{}{}",
            pdu("pdua", &a.port(), "private"),
            pdu("dead", &dead, "private"),
            nodes(1, &["pdua", "dead"])
        ),
    );
    let out = sb.run(
        "fence_chain",
        &format!("action=reboot\nport=n1\ninventory={}\n", inv.display()),
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(!out.stdout.contains("Success"), "{out:?}");
    assert!(out.stderr.contains("n1: dead:1"), "{out:?}");
    let a_sets: Vec<(u64, i64)> = sets(&a).iter().map(|s| (s.1, s.2)).collect();
    assert_eq!(
        a_sets,
        [(1, OFF)],
        "the good feed went off and was not switched back on"
    );
    let out = sb.run(
        "fence_chain",
        &format!("action=monitor\ninventory={}\n", inv.display()),
    );
    assert_eq!(out.code, 1, "{out:?}");
}

/// `fencebox chain check` finds a planted single point of failure: both feeds of n1 on
/// one PDU, both PDUs of n2 behind one UPS; n3's feeds share nothing.
#[test]
fn chain_check_finds_single_points_of_failure() {
    let sb = Sandbox::new("fleet-spof");
    let dev = |name: &str, parent: &str| {
        format!("[devices.{name}]\nagent = \"fence_dummy\"\nstatus_file = \"{}\"\nparent = \"{parent}\"\n\n", sb.path(name).display())
    };
    let site = [
        dev("ups1", "mains"),
        dev("ups2", "mains"),
        "[devices.pdu1]\nagent = \"fence_apc_snmp\"\nip = \"127.0.0.1\"\nparent = \"ups1\"\n\n".into(),
        "[devices.pdu2]\nagent = \"fence_apc_snmp\"\nip = \"127.0.0.2\"\nparent = \"ups1\"\n\n".into(),
        "[devices.pdu3]\nagent = \"fence_apc_snmp\"\nip = \"127.0.0.3\"\nparent = \"ups2\"\n\n".into(),
        "[nodes.n1]\nfeeds = [\"pdu1:1\", \"pdu1:2\"]\n[nodes.n2]\nfeeds = [\"pdu1:3\", \"pdu2:3\"]\n[nodes.n3]\nfeeds = [\"pdu2:4\", \"pdu3:4\"]\n".into(),
    ]
    .concat();
    let inv = inventory(&sb, "inv.toml", &site);
    let mut c = sb.command("fencebox");
    let out = c
        .args(["chain", "check", "--json", "--inventory"])
        .arg(&inv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let risks: Vec<(String, String)> = v["risks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["node"].as_str().unwrap().into(),
                r["text"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(risks.len(), 2, "{risks:?}");
    assert_eq!(risks[0].0, "n1");
    assert!(
        risks[0].1.contains("goes through pdu1 and ups1"),
        "{risks:?}"
    );
    assert_eq!(risks[1].0, "n2");
    assert!(risks[1].1.contains("goes through ups1"), "{risks:?}");
    let mut c = sb.command("fencebox");
    let out = c
        .args(["chain", "n3", "--offline", "--inventory"])
        .arg(&inv)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text_of(&out));
    assert_eq!(
        text(&out.stdout),
        "n3\n  psu1 ← pdu2:4 ← ups1 ← mains\n  psu2 ← pdu3:4 ← ups2 ← mains\n"
    );
}

fn text_of(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

fn set_requests(pdu: &Hostile) -> Vec<usize> {
    pdu.requests()
        .iter()
        .filter(|r| r.kind == snmp2::MessageType::SetRequest)
        .map(|r| r.oids.len())
        .collect()
}

/// Several outlets of one PDU go off in one SET; an agent that refuses a SET of several
/// objects gets one per outlet instead, and the command still succeeds.
#[test]
fn outlets_of_one_pdu_switch_in_one_set_unless_the_agent_refuses_it() {
    let sb = Sandbox::new("fleet-batch");
    let a = Hostile::honest(&[ON; 6]);
    let picky = Hostile::start(Mib::apc_rpdu(&[ON; 6]), |req, mib| {
        if req.kind == snmp2::MessageType::SetRequest && req.oids.len() > 1 {
            return Some(Answer {
                error_status: 1, // tooBig
                varbinds: req
                    .oids
                    .iter()
                    .map(|o| (o.clone(), common::hostile_snmp::Val::Int(0)))
                    .collect(),
                ..Answer::default()
            });
        }
        Some(mib.answer(req))
    });
    let site = format!(
        "{}{}{}",
        pdu("pdua", &a.port(), "private"),
        pdu("pdub", &picky.port(), "private"),
        nodes(4, &["pdua", "pdub"])
    );
    let inv = inventory(&sb, "inv.toml", &site);
    let out = power(&sb, &inv, &["off", "all"]);
    assert!(out.status.success(), "{}", text_of(&out));
    assert_eq!(set_requests(&a), [4], "one SET of four outlets");
    assert_eq!(
        set_requests(&picky),
        [4, 1, 1, 1, 1],
        "refused together, then one by one"
    );
    let out = power(&sb, &inv, &["status", "all", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["state"] == "off"),
        "{v}"
    );
}

/// `inventory check --live` asks every device for every plug the inventory names: a plug
/// the PDU lacks is a warning (exit 0), a device that does not answer fails the check.
#[test]
fn a_live_inventory_check_warns_of_plugs_the_device_lacks() {
    let sb = Sandbox::new("fleet-check-live");
    let a = Hostile::honest(&[ON; 4]);
    let site = format!(
        "{}[devices.ups]\nagent = \"fence_dummy\"\nstatus_file = \"{}\"\n\n[nodes.n1]\nfeeds = [\"pdua:1\", \"pdua:9\"]\n\n[nodes.n2]\nfeeds = [\"ups\"]\n",
        pdu("pdua", &a.port(), "private"),
        sb.path("ups").display()
    );
    let inv = inventory(&sb, "inv.toml", &site);
    let check = |inv: &PathBuf| {
        let mut c = sb.command("fencebox");
        c.args(["inventory", "check", "--live", "--inventory"])
            .arg(inv)
            .output()
            .unwrap()
    };
    let out = check(&inv);
    assert!(out.status.success(), "{}", text_of(&out));
    let said = text(&out.stdout);
    assert!(
        said.contains("warning: pdua has no plug 9 (node n1 names it)"),
        "{said}"
    );
    assert!(
        said.contains("3 plug(s) asked of 2 device(s): 1 missing, every device answered"),
        "{said}"
    );
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead = silent.local_addr().unwrap().port().to_string();
    let broken = inventory(
        &sb,
        "broken.toml",
        &format!(
            "{}[nodes.n1]\nfeeds = [\"dead:1\"]\n",
            pdu("dead", &dead, "private")
        ),
    );
    let out = check(&broken);
    assert_eq!(out.status.code(), Some(1), "{}", text_of(&out));
    assert!(
        text(&out.stdout).contains("FAILED: dead:1 could not be asked (node n1)"),
        "{}",
        text_of(&out)
    );
}

/// `fencebox inventory import`: printed, secrets become *_file entries (so the text is
/// a valid inventory even in a file others can read) and no secret value is printed;
/// with --output, the file is its owner's alone and keeps them.
#[test]
fn imports_print_an_inventory_without_secrets_or_write_a_private_one() {
    let sb = Sandbox::new("fleet-import");
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/import");
    let cib = std::fs::read_to_string(format!("{fixtures}/cib.xml")).unwrap();
    let secrets: Vec<String> = cib
        .split("name=\"password\" value=\"")
        .chain(cib.split("name=\"community\" value=\""))
        .skip(1)
        .filter_map(|s| s.split('"').next().map(String::from))
        .filter(|s| !s.is_empty() && !s.starts_with("lrm://"))
        .collect();
    assert!(!secrets.is_empty(), "the fixture has secrets to hide");
    for (source, file) in [("cib", "cib.xml"), ("pdudaemon", "pdudaemon.conf")] {
        let mut c = sb.command("fencebox");
        let out = c
            .args(["inventory", "import", source, &format!("{fixtures}/{file}")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{source}: {}", text_of(&out));
        for s in &secrets {
            assert!(
                !text_of(&out).contains(s.as_str()),
                "{source} printed a secret"
            );
        }
        let printed = sb.path(&format!("{source}.toml"));
        std::fs::write(&printed, &out.stdout).unwrap();
        std::fs::set_permissions(&printed, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut c = sb.command("fencebox");
        let check = c
            .args(["inventory", "check", "--inventory"])
            .arg(&printed)
            .output()
            .unwrap();
        assert!(check.status.success(), "{source}: {}", text_of(&check));
    }
    let written = sb.path("written.toml");
    let mut c = sb.command("fencebox");
    let out = c
        .args([
            "inventory",
            "import",
            "cib",
            &format!("{fixtures}/cib.xml"),
            "--output",
        ])
        .arg(&written)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text_of(&out));
    let mode = std::fs::metadata(&written).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let mut c = sb.command("fencebox");
    let out = c
        .args(["power", "list", "all", "--inventory"])
        .arg(&written)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text_of(&out));
}

/// Under Pacemaker (which turns an agent's own timeouts off), fence_chain's devices keep
/// theirs: a feed that never comes back on ends the reboot as fenced, not as a call that
/// Pacemaker has to kill. A plug list naming no node is never a success.
#[test]
fn fence_chain_under_pacemaker_ends_when_a_feed_never_comes_back() {
    let sb = Sandbox::new("fleet-chain-pcmk");
    let stuck_on = Hostile::start(Mib::apc_rpdu(&[ON; 2]), |req, mib| {
        let switches_on = req.kind == snmp2::MessageType::SetRequest && req.set.contains(&Some(ON));
        if switches_on {
            return Some(Answer {
                varbinds: req
                    .oids
                    .iter()
                    .zip(&req.set)
                    .map(|(o, v)| (o.clone(), common::hostile_snmp::Val::Int(v.unwrap_or(0))))
                    .collect(),
                ..Answer::default()
            });
        }
        Some(mib.answer(req))
    });
    let inv = inventory(
        &sb,
        "inv.toml",
        &format!(
            "{}{}",
            pdu("pdua", &stuck_on.port(), "private"),
            nodes(1, &["pdua"])
        ),
    );
    let t = std::time::Instant::now();
    let mut c = sb.command("fence_chain");
    c.env("PCMK_service", "pacemaker-fenced")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("action=reboot\nport=n1\ninventory={}\n", inv.display()).as_bytes())
        .unwrap();
    let out = wait_bounded(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    assert!(
        text(&out.stdout).contains("Success: Rebooted"),
        "{}",
        text_of(&out)
    );
    assert!(
        text(&out.stderr).contains("fenced, but not back on"),
        "{}",
        text_of(&out)
    );
    assert!(t.elapsed() < Duration::from_secs(25), "{:?}", t.elapsed());
    for plug in [",", ""] {
        let out = sb.run(
            "fence_chain",
            &format!("action=off\nport={plug}\ninventory={}\n", inv.display()),
        );
        assert_eq!(out.code, 1, "{out:?}");
        assert!(!out.stdout.contains("Success"), "{out:?}");
    }
}

/// Two outlets with one name (both PSUs of web01 on one PDU): a plug given by that name
/// is refused, never resolved to the first of them (the other would stay on).
#[test]
fn an_outlet_name_two_outlets_share_is_refused() {
    let sb = Sandbox::new("fleet-dup-names");
    let mut mib = Mib::apc_rpdu(&[ON; 4]);
    for n in [2, 3] {
        mib.0.insert(
            at(common::hostile_snmp::NAMES, n),
            common::hostile_snmp::Val::Str(b"web01".to_vec()),
        );
    }
    let pdu = Hostile::start(mib, |req, mib| Some(mib.answer(req)));
    let out = sb.run(
        "fence_apc_snmp",
        &format!(
            "action=off\nip=127.0.0.1\nipport={}\ncommunity=private\nplug=web01\n",
            pdu.port()
        ),
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("2 outlets are named 'web01'"),
        "{out:?}"
    );
    assert!(set_requests(&pdu).is_empty(), "nothing switched");
}

/// An inventory others can write is refused (it decides what is switched and which
/// password scripts run, as root under Pacemaker).
#[test]
fn an_inventory_others_can_write_is_refused() {
    let sb = Sandbox::new("fleet-writable");
    let inv = inventory(
        &sb,
        "inv.toml",
        "[devices.d]\nagent = \"fence_dummy\"\n\n[nodes.n1]\nfeeds = [\"d\"]\n",
    );
    for mode in [0o666, 0o620] {
        std::fs::set_permissions(&inv, std::fs::Permissions::from_mode(mode)).unwrap();
        let out = power(&sb, &inv, &["status", "all"]);
        assert_eq!(out.status.code(), Some(1), "{mode:o}");
        assert!(
            text(&out.stderr).contains("others could change this inventory"),
            "{}",
            text_of(&out)
        );
    }
    std::fs::set_permissions(&inv, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(power(&sb, &inv, &["status", "all"]).status.success());
}

/// A device whose sysObjectID names none of the agent's families: every outlet of the
/// command fails, also those asked after the first failure (a failed detection is never
/// taken for a settled family), and nothing is switched.
#[test]
fn a_failed_detection_fails_every_outlet_and_switches_nothing() {
    use common::hostile_snmp::{Mib, Val};
    let sb = Sandbox::new("fleet-unknown");
    let mut mib = Mib::apc_rpdu(&[ON, ON]);
    mib.0.insert(
        vec![1, 3, 6, 1, 2, 1, 1, 2, 0],
        Val::Oid(vec![1, 3, 6, 1, 4, 1, 99999, 9]),
    );
    let dev = Hostile::start(mib, |req, mib| Some(mib.answer(req)));
    let text_inv = format!(
        "[devices.odd]\nagent = \"fence_eaton_snmp\"\nip = \"127.0.0.1\"\nipport = {}\ncommunity = \"private\"\nshell_timeout = 2\npower_timeout = 3\n\n\
         [nodes.n1]\nfeeds = [\"odd:Outlet 1\"]\n\n[nodes.n2]\nfeeds = [\"odd:Outlet 2\"]\n",
        dev.port()
    );
    let inv = inventory(&sb, "inv.toml", &text_inv);
    let out = power(&sb, &inv, &["off", "all", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for n in v["nodes"].as_array().unwrap() {
        assert_eq!(n["ok"], false, "{v}");
        let reason = n["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("unknown device"), "{v}");
    }
    assert!(
        sets(&dev).is_empty(),
        "nothing switched: {:?}",
        dev.requests()
    );
}
