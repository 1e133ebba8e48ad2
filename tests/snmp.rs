//! SNMP agents against snmpsim (a real third-party SNMP agent), started by
//! tests/peers/snmp/start-all.sh: every agent and family through every action over v1,
//! v2c and v3 authPriv, the v3 protocol matrix, IPv6, fence_pdu's detection, refused
//! SETs, concurrency and site family files. Faults from in-process agents are in
//! tests/hermetic_snmp.rs.

mod common;
use common::{sims, Out, Sandbox};
use std::time::{Duration, Instant};

use common::V3;

fn run(sb: &Sandbox, agent: &str, args: &[&str]) -> Out {
    sb.run_args(agent, args)
}

/// Arguments addressing a v3 simulator instance as fenceuser (SHA/AES), with `rest`.
fn v3_at<'a>(port: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    [&["-a", "127.0.0.1", "-u", port][..], rest, V3].concat()
}

/// Arguments addressing the main simulator with a community, then `rest`.
fn at<'a>(port: &'a str, community: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    [&["-a", "127.0.0.1", "-u", port, "-c", community][..], rest].concat()
}

fn expect(out: &Out, code: i32, stdout: &str, what: &str) {
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (code, stdout),
        "{what}: {out:?}"
    );
}

/// One device through every action. `plug(n)` spells outlet n; `id(n)` is its list id.
fn every_action(
    agent: &str,
    device: &str,
    plug: fn(u32) -> String,
    id: fn(u32) -> String,
    alias: fn(u32) -> String,
) {
    let s = sims();
    let sb = Sandbox::new("snmp-actions");
    let fabric = agent == "fence_ifmib" || agent == "fence_cisco_mds";
    let main = s.port.to_string();
    let v3port = s.v3(device).to_string();
    // v1, v2c on the main simulator (the community picks the device), v3 on the device's own
    // instance; each on its own outlet so that parallel tests do not meet.
    let versions: Vec<(&str, Vec<&str>, u32)> = vec![
        (
            "v1",
            vec!["-a", "127.0.0.1", "-u", &main, "-d", "1", "-c", device],
            3,
        ),
        (
            "v2c",
            vec!["-a", "127.0.0.1", "-u", &main, "-d", "2c", "-c", device],
            4,
        ),
        (
            "v3",
            [&["-a", "127.0.0.1", "-u", v3port.as_str()][..], V3].concat(),
            5,
        ),
    ];
    for (v, base, n) in versions {
        let p = plug(n);
        let mut a = base.clone();
        a.extend(["-n", p.as_str(), "--power-wait", "0", "-o"]);
        let with = |action: &'static str| -> Vec<&str> { [a.as_slice(), &[action]].concat() };
        let what = |action: &'static str| format!("{agent} {device} {v} {action}");
        let on = run(&sb, agent, &with("on"));
        assert_eq!(on.code, 0, "{}: {on:?}", what("on"));
        assert!(
            on.stdout == "Success: Powered ON\n" || on.stdout == "Success: Already ON\n",
            "{on:?}"
        );
        for (action, code, stdout) in [
            ("status", 0, "Status: ON\n"),
            ("off", 0, "Success: Powered OFF\n"),
            ("status", 2, "Status: OFF\n"),
            ("off", 0, "Success: Already OFF\n"),
        ] {
            expect(&run(&sb, agent, &with(action)), code, stdout, &what(action));
        }
        // Back on: fabric agents have no reboot.
        let (back, done) = if fabric {
            ("on", "Success: Powered ON\n")
        } else {
            ("reboot", "Success: Rebooted\n")
        };
        for (action, code, stdout) in [(back, 0, done), ("status", 0, "Status: ON\n")] {
            expect(&run(&sb, agent, &with(action)), code, stdout, &what(action));
        }
        let list = run(&sb, agent, &with("list"));
        assert_eq!(list.code, 0, "{}: {list:?}", what("list"));
        let line = format!("{},{}", id(n), alias(n));
        assert!(
            list.stdout.lines().any(|l| l == line),
            "{}: want line {line}: {list:?}",
            what("list")
        );
        let ls = run(&sb, agent, &with("list-status"));
        assert_eq!(ls.code, 0, "{}: {ls:?}", what("list-status"));
        assert!(
            ls.stdout.lines().any(|l| l == format!("{line},on")),
            "{}: {ls:?}",
            what("list-status")
        );
        expect(&run(&sb, agent, &with("monitor")), 0, "", &what("monitor"));
    }
}

fn num(n: u32) -> String {
    n.to_string()
}
fn named(n: u32) -> String {
    format!("Outlet {n}")
}
fn none(_: u32) -> String {
    String::new()
}
fn path(n: u32) -> String {
    format!("1.1.{n}")
}
fn unit2(n: u32) -> String {
    format!("2:{n}")
}

macro_rules! device_test {
    ($name:ident, $agent:expr, $device:expr, $plug:expr, $id:expr, $alias:expr) => {
        #[test]
        fn $name() {
            every_action($agent, $device, $plug, $id, $alias);
        }
    };
}

device_test!(apc_rpdu, "fence_apc_snmp", "private", num, num, named);
device_test!(
    apc_masterswitch,
    "fence_apc_snmp",
    "apc-ms",
    num,
    num,
    named
);
device_test!(apc_rpdu_fw6, "fence_apc_snmp", "apc-rpdu2", num, num, named);
device_test!(
    apc_masterswitch_plus,
    "fence_apc_snmp",
    "apc-msp",
    unit2,
    unit2,
    |n| format!("Unit 2 Outlet {n}")
);
device_test!(
    tripplite,
    "fence_tripplite_snmp",
    "tripplite",
    num,
    num,
    named
);
device_test!(
    eaton_managed,
    "fence_eaton_snmp",
    "eaton-ma",
    num,
    num,
    none
);
device_test!(
    eaton_switched,
    "fence_eaton_snmp",
    "eaton-sw",
    num,
    num,
    none
);
device_test!(ibmblade, "fence_ibmblade", "ibmblade", num, num, none);
device_test!(
    intelmodular,
    "fence_intelmodular",
    "intelmodular",
    num,
    num,
    none
);
device_test!(emerson, "fence_emerson", "emerson", path, path, named);
device_test!(ipdu, "fence_ipdu", "ipdu", num, num, named);
device_test!(
    ifmib,
    "fence_ifmib",
    "ifmib",
    |n| format!("Ethernet1/{n}"),
    |n| format!("Ethernet1/{n}"),
    |n| format!("node{n}")
);
device_test!(
    lindy,
    "fence_lindypdu",
    "lindy",
    num,
    |n| format!("1:{n}"),
    named
);
device_test!(pdu_raritan, "fence_pdu", "raritan", num, num, named);
device_test!(pdu_sentry3, "fence_pdu", "sentry3", path, path, named);
device_test!(pdu_sentry4, "fence_pdu", "sentry4", path, path, named);
device_test!(pdu_eaton_g3, "fence_pdu", "eaton-g3", num, num, named);
device_test!(pdu_cyberpower, "fence_pdu", "cyberpower", num, num, named);
device_test!(pdu_baytech, "fence_pdu", "baytech", num, num, named);
device_test!(
    pdu_apc_rpdu,
    "fence_pdu",
    "private",
    |n| (n + 10).to_string(),
    |n| (n + 10).to_string(),
    |n| format!("Outlet {}", n + 10)
);

#[test]
fn v3_protocol_matrix() {
    let s = sims();
    let sb = Sandbox::new("snmp-v3");
    let port = s.v3("private").to_string();
    // status of outlet 6 as `user` with these security options
    let status = |user: &str, security: &[&str]| -> Out {
        let mut a = vec![
            "-a",
            "127.0.0.1",
            "-u",
            &port,
            "-d",
            "3",
            "-l",
            user,
            "-p",
            "authpass123",
        ];
        a.extend_from_slice(security);
        a.extend(["-n", "6", "-o", "status"]);
        run(&sb, "fence_apc_snmp", &a)
    };
    // (user, auth, priv): every supported auth hash, DES, AES-128/192/256 and both ways of
    // stretching a short key (AES256 Blumenthal, AES256C Reeder).
    for (user, auth, privp) in [
        ("fencemd5", "MD5", "DES"),
        ("fenceuser", "SHA", "AES"),
        ("fencesha224", "SHA224", "AES192"),
        ("fencesha256", "SHA256", "AES256"),
        ("fencesha384", "SHA384", "AES192C"),
        ("fencesha512", "SHA512", "AES256C"),
        ("fenceblmt", "SHA", "AES256"),
        ("fencereeder", "SHA", "AES256C"),
    ] {
        let out = status(user, &["-b", auth, "-B", privp, "-P", "privpass123"]);
        assert_eq!(out.code, 0, "{user} {auth}/{privp}: {out:?}");
    }
    let out = status("fencenopriv", &["-b", "SHA", "-E", "authNoPriv"]);
    assert_eq!(out.code, 0, "authNoPriv: {out:?}");
    // The right key, stretched the wrong way, must fail as an authentication problem.
    let out = status(
        "fenceblmt",
        &["-b", "SHA", "-B", "AES256C", "-P", "privpass123"],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "");
}

#[test]
fn ipv6() {
    let s = sims();
    let sb = Sandbox::new("snmp-v6");
    let port = s.port.to_string();
    for addr in ["[::1]", "::1", "udp6:[::1]"] {
        let out = run(
            &sb,
            "fence_apc_snmp",
            &[
                "-a", addr, "-u", &port, "-c", "apc-ms", "-n", "8", "-o", "status",
            ],
        );
        expect(&out, 0, "Status: ON\n", addr);
    }
    let out = run(
        &sb,
        "fence_apc_snmp",
        &[
            "-a", "[::1]", "-u", &port, "-d", "2c", "-c", "apc-ms", "-n", "8", "-o", "reboot",
        ],
    );
    expect(&out, 0, "Success: Rebooted\n", "reboot over IPv6");
    let out = run(
        &sb,
        "fence_apc_snmp",
        &[
            "-a",
            "[::1]",
            "-u",
            &s.v3("private").to_string(),
            "-n",
            "8",
            "-o",
            "status",
        ]
        .iter()
        .copied()
        .chain(V3.iter().copied())
        .collect::<Vec<_>>(),
    );
    expect(&out, 0, "Status: ON\n", "v3 over IPv6");
}

#[test]
fn fence_pdu_detects_every_family() {
    let s = sims();
    let sb = Sandbox::new("snmp-detect");
    for (device, family) in [
        ("private", "apc-rpdu"),
        ("apc-ms", "apc-masterswitch"),
        ("apc-rpdu2", "apc-rpdu-fw6"),
        ("apc-msp", "apc-masterswitch-plus"),
        ("tripplite", "tripplite"),
        ("eaton-ma", "eaton-managed"),
        ("eaton-sw", "eaton-switched"),
        ("eaton-g3", "eaton-g3"),
        ("ibmblade", "ibm-bladecenter"),
        ("ipdu", "ibm-ipdu"),
        ("emerson", "emerson-mpx"),
        ("intelmodular", "intel-modular"),
        ("raritan", "raritan-px2"),
        ("sentry3", "servertech-sentry3"),
        ("sentry4", "servertech-sentry4"),
        ("cyberpower", "cyberpower-epdu"),
        ("baytech", "baytech-rpc"),
        ("lindy", "lindy-ipower"),
        ("geist", "vertiv-geist-v5"),
    ] {
        // v3 with the device's own instance: no community appears (it would be scrubbed
        // from the log as a secret, family names included).
        let port = s.v3(device).to_string();
        let out = run(&sb, "fence_pdu", &v3_at(&port, &["-o", "list", "-v"]));
        assert_eq!(out.code, 0, "{device}: {out:?}");
        assert!(
            out.stderr.contains(&format!("SNMP family {family} (")),
            "{device} should be {family}: {out:?}"
        );
    }
}

#[test]
fn unknown_sysobjectid_is_refused_clearly() {
    let s = sims();
    let sb = Sandbox::new("snmp-unknown");
    let port = s.v3("ifmib").to_string();
    let out = run(
        &sb,
        "fence_pdu",
        &v3_at(&port, &["-n", "1", "-o", "status"]),
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{out:?}");
    assert!(
        lines[0].contains(".1.3.6.1.4.1.9.1.1") && lines[0].contains("family file"),
        "{out:?}"
    );
    // Naming the family skips the detection.
    let out = run(
        &sb,
        "fence_pdu",
        &v3_at(
            &port,
            &["-n", "Ethernet1/2", "--family", "if-mib", "-o", "status"],
        ),
    );
    expect(&out, 0, "Status: ON\n", "family=if-mib");
}

#[test]
fn a_site_family_file_drives_a_device_fencebox_does_not_know() {
    let s = sims();
    let sb = Sandbox::new("snmp-site");
    std::fs::write(
        sb.path("agents.d/site-switch.toml"),
        r#"
[[family]]
name = "site-switch"
vendor = "Example"
description = "Our lab switch, ports through IF-MIB"
sysobjectid = ["1.3.6.1.4.1.9.1.1"]
status = { column = "1.3.6.1.2.1.2.2.1.7" }
control = { column = "1.3.6.1.2.1.2.2.1.7" }
names = { column = "1.3.6.1.2.1.2.2.1.2" }
on = [1]
off = [2]
set_on = 1
set_off = 2
"#,
    )
    .unwrap();
    let port = s.v3("ifmib").to_string();
    for (action, done) in [
        ("off", "Success: Powered OFF\n"),
        ("on", "Success: Powered ON\n"),
    ] {
        let args = ["-n", "Ethernet1/9", "--power-wait", "0", "-v", "-o", action];
        let out = run(&sb, "fence_pdu", &v3_at(&port, &args));
        assert_eq!((out.code, out.stdout.as_str()), (0, done), "{out:?}");
        assert!(out.stderr.contains("SNMP family site-switch"), "{out:?}");
    }
}

/// Round trips of one call, from the client's own count in the debug log.
fn round_trips(out: &Out) -> usize {
    out.stderr
        .lines()
        .filter_map(|l| {
            l.split(" round trip(s)")
                .next()?
                .rsplit(' ')
                .next()?
                .parse()
                .ok()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn a_24_outlet_pdu_lists_in_at_most_3_round_trips() {
    let s = sims();
    let sb = Sandbox::new("snmp-bulk");
    let port = s.port.to_string();
    for action in ["list", "list-status"] {
        let args = ["-d", "2c", "-o", action, "--verbose-level", "2"];
        let out = run(&sb, "fence_apc_snmp", &at(&port, "private", &args));
        assert_lists_24(&out, 3, action);
    }
}

/// A list of the 24 simulated outlets, done in at most `most` round trips.
fn assert_lists_24(out: &Out, most: usize, what: &str) {
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 24, "{out:?}");
    assert!(lines[23].starts_with("24,Outlet 24"), "{out:?}");
    let n = round_trips(out);
    assert!((1..=most).contains(&n), "{what}: {n} round trips: {out:?}");
}

/// net-snmp's snmpd (a C agent, static APC rPDU tables) as a second responder. Its v1
/// noSuchName names the last missing row of a GET, not the first as snmpsim does: the v1
/// read-ahead must still find the end of the table in a few round trips.
#[test]
fn a_second_responder_net_snmp_snmpd() {
    let s = sims();
    let sb = Sandbox::new("snmp-snmpd");
    let port = s.snmpd.to_string();
    // One GET of sysObjectID, then v1 walks the name and state columns one after the
    // other (list-status: both) in windows of 16 GETNEXTs per request: 24 rows in two.
    for (version, most) in [("1", 3), ("2c", 3)] {
        let call = |rest: &[&str]| {
            let v = [&["-d", version][..], rest].concat();
            run(&sb, "fence_apc_snmp", &at(&port, "private", &v))
        };
        for (action, most) in [("list", most), ("list-status", 2 * most - 1)] {
            let out = call(&["-o", action, "--verbose-level", "2"]);
            assert_lists_24(&out, most, &format!("v{version} {action}"));
        }
        let out = call(&["-n", "7", "-o", "status"]);
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "Status: ON\n"),
            "{out:?}"
        );
        let out = call(&["-n", "25", "-o", "status"]);
        assert_eq!(out.code, 1, "a 25th outlet does not exist: {out:?}");
    }
}

#[test]
fn a_missing_outlet_is_an_error_never_off() {
    let s = sims();
    let sb = Sandbox::new("snmp-missing");
    let port = s.port.to_string();
    for version in ["1", "2c"] {
        for action in ["status", "off", "on", "reboot"] {
            let args = ["-d", version, "-n", "99", "-o", action];
            let out = run(&sb, "fence_apc_snmp", &at(&port, "private", &args));
            assert_eq!(out.code, 1, "v{version} {action}: {out:?}");
            assert_eq!(out.stdout, "", "never Status: OFF or Already OFF: {out:?}");
            assert!(out.stderr.contains("plug not found"), "{out:?}");
        }
    }
    let out = run(
        &sb,
        "fence_apc_snmp",
        &at(&port, "private", &["-n", "No Such Outlet", "-o", "off"]),
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("no outlet has that name"), "{out:?}");
    // An outlet by its name works.
    let out = run(
        &sb,
        "fence_apc_snmp",
        &at(&port, "private", &["-n", "Outlet 7", "-o", "status"]),
    );
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn wrong_credentials_fail_within_the_timeout() {
    let s = sims();
    let sb = Sandbox::new("snmp-creds");
    let port = s.port.to_string();
    let t = Instant::now();
    let out = run(
        &sb,
        "fence_apc_snmp",
        &at(
            &port,
            "wrong-community",
            &["-n", "1", "-o", "status", "--shell-timeout", "2"],
        ),
    );
    let took = t.elapsed();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("timed out"), "{out:?}");
    assert!(
        took < Duration::from_secs(4),
        "bounded by shell_timeout: {took:?}"
    );

    let v3port = s.v3("private").to_string();
    let v3_status = |user: &str, password: &str| {
        let mut args = v3_at(&v3port, &["-n", "1", "-o", "status"]);
        for (flag, value) in [("-l", user), ("-p", password)] {
            let at = args.iter().position(|a| *a == flag).unwrap();
            args[at + 1] = value;
        }
        run(&sb, "fence_apc_snmp", &args)
    };
    let t = Instant::now();
    let out = v3_status("fenceuser", "wrongpass123");
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("authentication"),
        "says authentication, not timeout: {out:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    let out = v3_status("nosuchuser", "authpass123");
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("authentication"), "{out:?}");
}

/// A site family whose command values the device does not accept, or does not act on.
fn family_with(sb: &Sandbox, name: &str, set_off: i64) {
    std::fs::write(
        sb.path(&format!("agents.d/{name}.toml")),
        format!(
            r#"
[[family]]
name = "{name}"
vendor = "Test"
description = "APC rPDU tables with a bad off command"
status = {{ column = "1.3.6.1.4.1.318.1.1.12.3.5.1.1.4" }}
control = {{ column = "1.3.6.1.4.1.318.1.1.12.3.3.1.1.4" }}
on = [1]
off = [2]
set_on = 1
set_off = {set_off}
"#
        ),
    )
    .unwrap();
}

#[test]
fn a_set_the_device_rejects_or_ignores_is_an_error() {
    let s = sims();
    let sb = Sandbox::new("snmp-reject");
    let port = s.port.to_string();
    family_with(&sb, "bad-value", 42);
    family_with(&sb, "no-effect", 7); // 7 = cancel pending command: accepted, nothing happens
    for version in ["1", "2c"] {
        let out = run(
            &sb,
            "fence_pdu",
            &[
                "-a",
                "127.0.0.1",
                "-u",
                &port,
                "-d",
                version,
                "-c",
                "private",
                "-n",
                "2",
                "--family",
                "bad-value",
                "-o",
                "off",
            ],
        );
        assert_eq!(out.code, 1, "{out:?}");
        assert_eq!(out.stdout, "");
        assert!(out.stderr.contains("refused"), "{out:?}");
    }
    let out = run(
        &sb,
        "fence_pdu",
        &at(
            &port,
            "private",
            &[
                "-n",
                "2",
                "--family",
                "no-effect",
                "-o",
                "off",
                "--power-timeout",
                "2",
                "--stonith-status-sleep",
                "0",
            ],
        ),
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("Timed out waiting to power OFF"),
        "{out:?}"
    );
}

#[test]
fn sixteen_concurrent_reboots_on_one_pdu_never_overlap_and_two_pdus_run_in_parallel() {
    let s = sims();
    let sb = Sandbox::new("snmp-lock");
    let port = s.port.to_string();
    let logs: Vec<_> = (9..25).map(|n| sb.path(&format!("call-{n}.log"))).collect();
    let children: Vec<_> = (9..25)
        .zip(&logs)
        .map(|(n, log)| {
            let plug = n.to_string();
            let log = log.to_str().unwrap();
            let args = ["-d", "2c", "-n", &plug, "-o", "reboot", "-D", log];
            sb.spawn_args("fence_apc_snmp", &at(&port, "private", &args))
        })
        .collect();
    common::expect_all(children, 0, "Success: Rebooted\n");
    common::assert_sessions_disjoint(&logs);

    // Two PDUs (two simulator instances): each reboot holds its PDU over 2 x power_wait.
    let other = s.v3("apc-ms").to_string();
    let (la, lb) = (sb.path("a.log"), sb.path("b.log"));
    let spawn = |p: &str, log: &std::path::Path| {
        let args = [
            "-d",
            "2c",
            "-n",
            "12",
            "-o",
            "reboot",
            "--power-wait",
            "1",
            "-D",
            log.to_str().unwrap(),
        ];
        sb.spawn_args("fence_apc_snmp", &at(p, "apc-ms", &args))
    };
    common::expect_all(
        vec![spawn(&port, &la), spawn(&other, &lb)],
        0,
        "Success: Rebooted\n",
    );
    let (sa, ea) = common::session(&std::fs::read_to_string(&la).unwrap());
    let (sb_, eb) = common::session(&std::fs::read_to_string(&lb).unwrap());
    assert!(
        sa < eb && sb_ < ea,
        "two PDUs must not wait for each other: {sa}-{ea} {sb_}-{eb}"
    );
}

device_test!(
    cisco_mds,
    "fence_cisco_mds",
    "cisco-mds",
    |n| format!("fc1/{n}"),
    |n| format!("fc1/{n}"),
    |n| format!("node{n}-hba")
);

#[test]
fn cisco_mds_knows_only_fc_ports() {
    let s = sims();
    let sb = Sandbox::new("snmp-cisco");
    let port = s.port.to_string();
    let base = [
        "-a",
        "127.0.0.1",
        "-u",
        port.as_str(),
        "-d",
        "2c",
        "-c",
        "cisco-mds",
    ];
    let out = run(
        &sb,
        "fence_cisco_mds",
        &[&base[..], &["-o", "list"]].concat(),
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stdout.lines().count(),
        8,
        "the management port is not a plug: {out:?}"
    );
    assert!(!out.stdout.contains("mgmt0"), "{out:?}");
    for plug in ["mgmt0", "3", "fc1", "fc1/x"] {
        let out = run(
            &sb,
            "fence_cisco_mds",
            &[&base[..], &["-n", plug, "-o", "off"]].concat(),
        );
        assert_eq!(out.code, 1, "{plug}: {out:?}");
        assert!(
            out.stderr.contains("Mangled port number"),
            "{plug}: {out:?}"
        );
    }
}

device_test!(pdu_vertiv_geist, "fence_pdu", "geist", num, num, named);

/// A family added from NUT's snmp-ups data (its simulator is reached by community on the
/// main instance; it has no v3 instance of its own): fence_pdu detects it by sysObjectID
/// and switches one outlet over v1 and another over v2c, the state read back each time.
/// `line(n)` is outlet n's line in `list`.
fn nut_family(device: &str, family: &str, line: fn(u32) -> String) {
    let s = sims();
    let sb = Sandbox::new("snmp-nut-family");
    let main = s.port.to_string();
    let list = run(
        &sb,
        "fence_pdu",
        &at(&main, device, &["-d", "2c", "-o", "list", "-v"]),
    );
    assert_eq!(list.code, 0, "{device}: {list:?}");
    assert!(
        list.stderr.contains(&format!("SNMP family {family} (")),
        "{device} should be {family}: {list:?}"
    );
    assert_eq!(list.stdout.lines().count(), 24, "{device}: {list:?}");
    for n in [1, 24] {
        assert!(
            list.stdout.lines().any(|l| l == line(n)),
            "{device}: want line {}: {list:?}",
            line(n)
        );
    }
    for (version, n) in [("1", 3u32), ("2c", 4)] {
        let plug = n.to_string();
        let args = ["-d", version, "-n", &plug, "--power-wait", "0", "-o"];
        let call = |action: &str| {
            let a = [&args[..], &[action]].concat();
            run(&sb, "fence_pdu", &at(&main, device, &a))
        };
        let what = |action: &str| format!("{family} ({device}) v{version} outlet {n} {action}");
        let on = call("on");
        assert_eq!(on.code, 0, "{}: {on:?}", what("on"));
        for (action, code, stdout) in [
            ("status", 0, "Status: ON\n"),
            ("off", 0, "Success: Powered OFF\n"),
            ("status", 2, "Status: OFF\n"),
            ("off", 0, "Success: Already OFF\n"),
            ("on", 0, "Success: Powered ON\n"),
            ("status", 0, "Status: ON\n"),
            ("reboot", 0, "Success: Rebooted\n"),
            ("status", 0, "Status: ON\n"),
        ] {
            expect(&call(action), code, stdout, &what(action));
        }
        let ls = call("list-status");
        assert_eq!(ls.code, 0, "{}: {ls:?}", what("list-status"));
        assert!(
            ls.stdout.lines().any(|l| l == format!("{},on", line(n))),
            "{}: {ls:?}",
            what("list-status")
        );
    }
}

fn outlet_line(n: u32) -> String {
    format!("{n},Outlet {n}")
}

#[test]
fn pdu_hpe_epdu() {
    nut_family("hpe2", "hpe-epdu", outlet_line);
}

#[test]
fn pdu_hpe_pdu3_cis() {
    nut_family("hpe3", "hpe-pdu3-cis", outlet_line);
}

#[test]
fn pdu_eaton_nlogic() {
    nut_family("nlogic", "eaton-nlogic", outlet_line);
}

#[test]
fn pdu_avocent_pm() {
    nut_family("avocent", "avocent-pm", outlet_line);
}

#[test]
fn pdu_raritan_px1() {
    nut_family("raritan1", "raritan-px1", outlet_line);
}

/// One sysObjectID, two numberings of the unit (0 and 1): fence_pdu tries the families in
/// turn by the object each must have (NUT's layered identification), and fences the one
/// the device is.
#[test]
fn pdu_hpe_epdu_unit_1_by_probing() {
    nut_family("hpe2-u1", "hpe-epdu-unit1", outlet_line);
}
