//! fence_ipmilan and its aliases against real BMC simulators: OpenIPMI's ipmi_sim (IPMI
//! 1.5 with MD5, straight password and none; RMCP+ suites 0-3; IPv4 and IPv6) and a BMC
//! on pyghmi's IPMI server (RMCP+ suite 3). Each test starts its own BMC. Faults are
//! injected by a UDP proxy between the agent and a real BMC that drops, truncates,
//! corrupts, replays or re-addresses the BMC's answers.

mod common;
use common::bmc::Bmc;
use common::{Out, Sandbox};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn run(sb: &Sandbox, agent: &str, bmc_port: &str, args: &[&str]) -> Out {
    let base = [
        "-a",
        "127.0.0.1",
        "-u",
        bmc_port,
        "-l",
        "admin",
        "-p",
        "password",
        "--power-wait=0",
    ];
    sb.run_args(agent, &[&base[..], args].concat())
}

fn expect(out: &Out, code: i32, stdout: &str, what: &str) {
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (code, stdout),
        "{what}: {out:?}"
    );
}

/// Every action through one ipmi_sim in one session mode (`mode`: agent arguments).
fn every_action(mode: &[&str]) {
    let sb = Sandbox::new("ipmi-actions");
    let bmc = Bmc::ipmi_sim(&sb, "127.0.0.1");
    let port = bmc.port_arg();
    let act = |action: &[&str]| run(&sb, "fence_ipmilan", &port, &[mode, action].concat());
    let what = |a: &str| format!("{mode:?} {a}");

    expect(&act(&["-o", "status"]), 0, "Status: ON\n", &what("status"));
    expect(&act(&["-o", "monitor"]), 0, "", &what("monitor"));
    expect(
        &act(&["-o", "off"]),
        0,
        "Success: Powered OFF\n",
        &what("off"),
    );
    assert!(!bmc.power_on(), "{mode:?}: the BMC switched off");
    expect(
        &act(&["-o", "status"]),
        2,
        "Status: OFF\n",
        &what("status off"),
    );
    expect(
        &act(&["-o", "off"]),
        0,
        "Success: Already OFF\n",
        &what("off again"),
    );
    expect(&act(&["-o", "on"]), 0, "Success: Powered ON\n", &what("on"));
    assert!(bmc.power_on());
    bmc.clear();
    expect(
        &act(&["-o", "reboot"]),
        0,
        "Success: Rebooted\n",
        &what("reboot"),
    );
    assert_eq!(bmc.changes(), ["set power 0", "set power 1"], "{mode:?}");
    bmc.clear();
    expect(
        &act(&["-o", "reboot", "-m", "cycle"]),
        0,
        "Success: Rebooted\n",
        &what("reboot cycle"),
    );
    // ipmi_sim carries out a power cycle as off, then on about a second later.
    let until = Instant::now() + Duration::from_secs(5);
    while bmc.changes().len() < 2 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        bmc.changes(),
        ["set power 0", "set power 1"],
        "{mode:?} cycle"
    );
    // ipmi_sim has no diagnostic interrupt: a clear refusal, never a success.
    let diag = act(&["-o", "diag"]);
    assert_eq!(diag.code, 1, "{diag:?}");
    assert!(diag.stdout.is_empty(), "{diag:?}");
    assert!(
        diag.stderr
            .contains("does not support the diagnostic interrupt"),
        "{diag:?}"
    );
}

#[test]
fn lanplus_cipher_suite_0() {
    every_action(&["-P", "-C", "0"]);
}

#[test]
fn lanplus_cipher_suite_1() {
    every_action(&["-P", "-C", "1"]);
}

#[test]
fn lanplus_cipher_suite_2() {
    every_action(&["-P", "-C", "2"]);
}

#[test]
fn lanplus_cipher_suite_3() {
    every_action(&["-P", "-C", "3"]);
}

#[test]
fn ipmi15_md5() {
    every_action(&["-A", "md5"]);
}

#[test]
fn ipmi15_straight_password() {
    every_action(&["-A", "password"]);
}

#[test]
fn ipmi15_auth_none() {
    every_action(&["-A", "none"]);
}

#[test]
fn options_on_stdin_and_aliases() {
    let sb = Sandbox::new("ipmi-stdin");
    let bmc = Bmc::ipmi_sim(&sb, "127.0.0.1");
    let input = format!(
        "action=status\nip=127.0.0.1\nipport={}\nusername=admin\npassword=password\nlanplus=1\ncipher=3\n",
        bmc.port
    );
    let out = sb.run_raw("fence_ipmilan", input.as_bytes());
    expect(&out, 0, "Status: ON\n", "stdin");
    // The aliases that default to lanplus reach the BMC over RMCP+ without lanplus=1.
    for alias in [
        "fence_ilo3",
        "fence_ilo4",
        "fence_ilo5",
        "fence_ipmilanplus",
    ] {
        let out = run(
            &sb,
            alias,
            &bmc.port_arg(),
            &["-C", "3", "-o", "status", "-vv"],
        );
        expect(&out, 0, "Status: ON\n", alias);
        assert!(
            out.stderr.contains("IPMI 2.0 (lanplus)"),
            "{alias}: {out:?}"
        );
    }
    for alias in ["fence_idrac", "fence_imm"] {
        let out = run(&sb, alias, &bmc.port_arg(), &["-o", "status", "-vv"]);
        expect(&out, 0, "Status: ON\n", alias);
        assert!(out.stderr.contains("IPMI 1.5 (lan)"), "{alias}: {out:?}");
    }
    // port_as_ip: the plug is the BMC's address.
    let out = sb.run_args(
        "fence_ipmilan",
        &[
            "--port-as-ip",
            "-n",
            "127.0.0.1",
            "-u",
            &bmc.port_arg(),
            "-l",
            "admin",
            "-p",
            "password",
            "-P",
            "-C",
            "3",
            "-o",
            "status",
        ],
    );
    expect(&out, 0, "Status: ON\n", "port_as_ip");
}

#[test]
fn pyghmi_bmc_every_action_and_negotiation() {
    let sb = Sandbox::new("ipmi-pyghmi");
    let bmc = Bmc::pyghmi(&sb);
    let port = bmc.port_arg();
    let act = |args: &[&str]| run(&sb, "fence_ipmilan", &port, &[&["-P"][..], args].concat());
    // No cipher given: 17 is refused (pyghmi answers with suite 3's algorithms), 3 is used.
    let out = act(&["-o", "status", "-vv"]);
    expect(&out, 0, "Status: ON\n", "negotiated status");
    assert!(out.stderr.contains("cipher suite 17 refused"), "{out:?}");
    assert!(out.stderr.contains("IPMI 2.0: cipher suite 3"), "{out:?}");
    expect(
        &act(&["-C", "3", "-o", "off"]),
        0,
        "Success: Powered OFF\n",
        "off",
    );
    expect(
        &act(&["-C", "3", "-o", "status"]),
        2,
        "Status: OFF\n",
        "status",
    );
    expect(
        &act(&["-C", "3", "-o", "on"]),
        0,
        "Success: Powered ON\n",
        "on",
    );
    bmc.clear();
    expect(&act(&["-o", "reboot"]), 0, "Success: Rebooted\n", "reboot");
    assert_eq!(bmc.changes(), ["power off", "power on"]);
    bmc.clear();
    expect(
        &act(&["-m", "cycle", "-o", "reboot"]),
        0,
        "Success: Rebooted\n",
        "cycle",
    );
    assert_eq!(bmc.changes(), ["power cycle"]);
    bmc.clear();
    expect(&act(&["-o", "diag"]), 0, "Success: Rebooted\n", "diag");
    assert_eq!(bmc.changes(), ["diag"]);
    // Suite 1 is not one pyghmi offers: a clear refusal.
    let out = act(&["-C", "1", "-o", "status"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("cipher suite 1"), "{out:?}");
}

#[test]
fn ipv6() {
    let sb = Sandbox::new("ipmi-v6");
    let bmc = Bmc::ipmi_sim(&sb, "::1");
    let port = bmc.port_arg();
    for addr in ["::1", "[::1]"] {
        let args = [
            "-a",
            addr,
            "-u",
            &port,
            "-l",
            "admin",
            "-p",
            "password",
            "-P",
            "-C",
            "3",
            "--power-wait=0",
        ];
        let out = sb.run_args("fence_ipmilan", &[&args[..], &["-o", "off"]].concat());
        expect(&out, 0, "Success: Powered OFF\n", addr);
        assert!(!bmc.power_on());
        let out = sb.run_args("fence_ipmilan", &[&args[..], &["-o", "on"]].concat());
        expect(&out, 0, "Success: Powered ON\n", addr);
        assert!(bmc.power_on());
    }
}

#[test]
fn negotiation_without_cipher_does_not_stall() {
    // ipmi_sim ignores Get Channel Cipher Suites (ipmitool waits ~10 s for it). fencebox
    // asks for suites by Open Session, strongest first: 17 is refused, 3 is taken.
    let sb = Sandbox::new("ipmi-negotiate");
    let bmc = Bmc::ipmi_sim(&sb, "127.0.0.1");
    let started = Instant::now();
    let out = run(
        &sb,
        "fence_ipmilan",
        &bmc.port_arg(),
        &["-P", "-o", "status", "-vv"],
    );
    expect(&out, 0, "Status: ON\n", "negotiated");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(out.stderr.contains("cipher suite 17 refused"), "{out:?}");
    assert!(out.stderr.contains("IPMI 2.0: cipher suite 3"), "{out:?}");
    // Asked for explicitly, an unsupported suite is a clear error.
    let out = run(
        &sb,
        "fence_ipmilan",
        &bmc.port_arg(),
        &["-P", "-C", "17", "-o", "status"],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("refused the cipher suite"), "{out:?}");
    let out = run(
        &sb,
        "fence_ipmilan",
        &bmc.port_arg(),
        &["-P", "-C", "4", "-o", "status"],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("cipher must be an IPMI cipher suite"),
        "{out:?}"
    );
}

/// Wrong password, unknown user, insufficient privilege: exit 1, fast, and the message
/// names the cause (not a timeout).
#[test]
fn login_failures_are_clear_and_fast() {
    let sb = Sandbox::new("ipmi-login");
    let bmc = Bmc::ipmi_sim(&sb, "127.0.0.1");
    let port = bmc.port_arg();
    let cases: &[(&[&str], &str)] = &[
        (
            &["-l", "admin", "-p", "badpass", "-P", "-C", "3"],
            "authentication failed",
        ),
        (
            &["-l", "admin", "-p", "badpass", "-P"],
            "authentication failed",
        ),
        (
            &["-l", "admin", "-p", "badpass", "-A", "md5"],
            "authentication failed",
        ),
        (
            &["-l", "nosuchuser", "-p", "badpass", "-P", "-C", "3"],
            "does not know the user",
        ),
        (&["-l", "operator", "-p", "oppass"], "correct privileges"),
    ];
    for (args, says) in cases {
        let started = Instant::now();
        let full = [&["-a", "127.0.0.1", "-u", &port, "-o", "status"][..], args].concat();
        let out = sb.run_args("fence_ipmilan", &full);
        let took = started.elapsed();
        assert_eq!(out.code, 1, "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
        assert!(out.stderr.contains(says), "{args:?}: {out:?}");
        assert!(!out.stderr.contains("timed out"), "{args:?}: {out:?}");
        assert!(took < Duration::from_secs(3), "{args:?} took {took:?}");
    }
    // The operator account works at its own level.
    let out = sb.run_args(
        "fence_ipmilan",
        &[
            "-a",
            "127.0.0.1",
            "-u",
            &port,
            "-l",
            "operator",
            "-p",
            "oppass",
            "-L",
            "operator",
            "-o",
            "status",
        ],
    );
    expect(&out, 0, "Status: ON\n", "operator");
}

#[test]
fn unreachable_bmc_is_bounded_by_the_timeouts() {
    let sb = Sandbox::new("ipmi-unreachable");
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap(); // bound, never answers
    let port = silent.local_addr().unwrap().port().to_string();
    for mode in [&["-P", "-C", "3"][..], &[][..]] {
        let started = Instant::now();
        let out = run(
            &sb,
            "fence_ipmilan",
            &port,
            &[mode, &["-o", "off", "--ipmitool-timeout=0.5"]].concat(),
        );
        let took = started.elapsed();
        assert_eq!(out.code, 1, "{out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        assert!(out.stderr.contains("Connection timed out"), "{out:?}");
        // Three tries of 0.5 s.
        assert!(
            took >= Duration::from_millis(1400) && took < Duration::from_secs(4),
            "{took:?}"
        );
    }
}

/// What the proxy does to the BMC's answers.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Fault {
    /// Pass everything, and send a garbage datagram before each answer.
    Garbage,
    /// Pass everything, and send every in-session answer twice.
    Duplicate,
    /// In-session answers: replace each by the first one seen (a replay).
    Replay,
    /// In-session answers: cut to half their length.
    Truncate,
    /// In-session answers: flip one bit of the payload.
    Corrupt,
    /// In-session answers: change the session id.
    WrongSession,
}

/// A UDP proxy in front of a BMC; returns its port. It stops with the flag.
fn proxy(bmc_port: u16, fault: Fault, stop: Arc<AtomicBool>) -> u16 {
    let front = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = front.local_addr().unwrap().port();
    let back = UdpSocket::bind("127.0.0.1:0").unwrap();
    back.connect(("127.0.0.1", bmc_port)).unwrap();
    front
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    back.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
    let (f2, b2, c2, s2) = (
        front.try_clone().unwrap(),
        back.try_clone().unwrap(),
        client.clone(),
        stop.clone(),
    );
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while !s2.load(Ordering::Relaxed) {
            if let Ok((n, from)) = f2.recv_from(&mut buf) {
                *c2.lock().unwrap() = Some(from);
                let _ = b2.send(&buf[..n]);
            }
        }
    });
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let mut first: Option<Vec<u8>> = None;
        while !stop.load(Ordering::Relaxed) {
            let Ok(n) = back.recv(&mut buf) else { continue };
            let Some(to) = *client.lock().unwrap() else {
                continue;
            };
            let mut d = buf[..n].to_vec();
            // In-session RMCP+ answers carry a non-zero session id at bytes 6..10.
            let in_session = d.len() > 16 && d[4] == 0x06 && d[6..10] != [0, 0, 0, 0];
            match fault {
                Fault::Garbage => {
                    let _ = front.send_to(&[0x06, 0x00, 0xff, 0x07, 0x06, 0xc0, 1, 2, 3], to);
                    let _ = front.send_to(b"garbage", to);
                }
                Fault::Duplicate if in_session => {
                    let _ = front.send_to(&d, to);
                }
                Fault::Replay if in_session => {
                    d = first.get_or_insert_with(|| d.clone()).clone();
                }
                Fault::Truncate if in_session => d.truncate(n / 2),
                Fault::Corrupt if in_session => d[20] ^= 0x01,
                Fault::WrongSession if in_session => d[6] ^= 0xff,
                _ => {}
            }
            let _ = front.send_to(&d, to);
        }
    });
    port
}

#[test]
fn faults_between_bmc_and_agent() {
    let sb = Sandbox::new("ipmi-faults");
    let bmc = Bmc::ipmi_sim(&sb, "127.0.0.1");
    for (fault, survives) in [
        (Fault::Garbage, true),
        (Fault::Duplicate, true),
        (Fault::Replay, false),
        (Fault::Truncate, false),
        (Fault::Corrupt, false),
        (Fault::WrongSession, false),
    ] {
        let stop = Arc::new(AtomicBool::new(false));
        let port = proxy(bmc.port, fault, stop.clone()).to_string();
        let args = [
            "-P",
            "-C",
            "3",
            "-o",
            "off",
            "--ipmitool-timeout=0.3",
            "-vvv",
        ];
        let out = run(&sb, "fence_ipmilan", &port, &args);
        stop.store(true, Ordering::Relaxed);
        if survives {
            expect(&out, 0, "Success: Powered OFF\n", &format!("{fault:?}"));
            assert!(
                out.stderr.contains("IPMI: ignored a datagram"),
                "{fault:?}: {out:?}"
            );
            bmc.set_power(true);
        } else {
            assert_eq!(out.code, 1, "{fault:?}: {out:?}");
            assert!(out.stdout.is_empty(), "{fault:?}: {out:?}");
            assert!(out.stderr.contains("timed out"), "{fault:?}: {out:?}");
            assert!(!out.stderr.contains("panicked"), "{fault:?}: {out:?}");
            assert!(
                bmc.power_on(),
                "{fault:?}: no command may have reached the BMC"
            );
        }
    }
}

/// Concurrent reboots through one BMC never overlap their sessions; through two BMCs
/// they run side by side.
#[test]
fn concurrent_reboots_are_serialised_per_bmc() {
    let sb = Sandbox::new("ipmi-locks");
    let bmcs = [
        Bmc::ipmi_sim(&sb, "127.0.0.1"),
        Bmc::ipmi_sim(&sb, "127.0.0.1"),
    ];
    let mut children = Vec::new();
    let mut logs = [Vec::new(), Vec::new()];
    for i in 0..8 {
        let b = &bmcs[i % 2];
        let log = sb.path(&format!("reboot-{i}.log"));
        let port = b.port_arg();
        let debug = format!("--debug-file={}", log.display());
        children.push(sb.spawn_args(
            "fence_ipmilan",
            &[
                "-a",
                "127.0.0.1",
                "-u",
                &port,
                "-l",
                "admin",
                "-p",
                "password",
                "-P",
                "-C",
                "3",
                "--power-wait=0",
                "-o",
                "reboot",
                &debug,
            ],
        ));
        logs[i % 2].push(log);
    }
    common::expect_all(children, 0, "Success: Rebooted\n");
    for l in &logs {
        common::assert_sessions_disjoint(l);
    }
    for b in &bmcs {
        let changes = b.changes();
        assert_eq!(changes.len(), 8, "{changes:?}");
        for pair in changes.chunks(2) {
            assert_eq!(pair, ["set power 0", "set power 1"], "{changes:?}");
        }
    }
    // Calls on different BMCs did overlap in time (they do not share a lock).
    let spans = |ls: &Vec<std::path::PathBuf>| -> Vec<(String, String)> {
        ls.iter()
            .map(|p| common::session(&std::fs::read_to_string(p).unwrap()))
            .collect()
    };
    let (a, b) = (spans(&logs[0]), spans(&logs[1]));
    assert!(
        a.iter().any(|x| b.iter().any(|y| x.0 < y.1 && y.0 < x.1)),
        "no call on one BMC overlapped a call on the other: {a:?} {b:?}"
    );
}

#[test]
fn bad_options_are_one_clear_line() {
    let sb = Sandbox::new("ipmi-bad");
    let cases: &[(&[&str], &str)] = &[
        (&["-C", "x"], "cipher must be"),
        (&["--hexadecimal-kg", "abc"], "hexadecimal_kg"),
        (&["--hexadecimal-kg", "zz"], "hexadecimal_kg"),
        (&["--ipmitool-timeout", "soon"], "ipmitool_timeout"),
        (&["--target", "0x83"], "target"),
        (&["--target", "0x1ff"], "target"),
        (&["-l", "a-user-name-longer-than-16"], "at most 16 bytes"),
    ];
    for (args, says) in cases {
        let full = [&["-a", "127.0.0.1", "-u", "9", "-o", "status"][..], args].concat();
        let out = sb.run_args("fence_ipmilan", &full);
        assert_eq!(out.code, 1, "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{args:?}: {out:?}");
        assert!(lines[0].contains(says), "{args:?}: {out:?}");
    }
}

/// target: chassis commands bridged through the BMC (Send Message) to the satellite
/// controller at 0x82, over RMCP+ and IPMI 1.5; the BMC's own chassis is not touched.
#[test]
fn bridging_to_a_target_controller() {
    let sb = Sandbox::new("ipmi-bridge");
    let bmc = Bmc::ipmi_sim(&sb, "127.0.0.1");
    let port = bmc.port_arg();
    for mode in [&["-P", "-C", "3"][..], &["-A", "md5"][..]] {
        let act = |rest: &[&str]| {
            run(
                &sb,
                "fence_ipmilan",
                &port,
                &[mode, &["--target", "0x82"], rest].concat(),
            )
        };
        expect(&act(&["-o", "status"]), 0, "Status: ON\n", "status");
        expect(&act(&["-o", "off"]), 0, "Success: Powered OFF\n", "off");
        assert!(
            !bmc.satellite_on() && bmc.power_on(),
            "{mode:?}: only 0x82 is off"
        );
        expect(&act(&["-o", "status"]), 2, "Status: OFF\n", "status off");
        expect(&act(&["-o", "on"]), 0, "Success: Powered ON\n", "on");
        expect(&act(&["-o", "reboot"]), 0, "Success: Rebooted\n", "reboot");
        assert!(bmc.satellite_on() && bmc.power_on());
    }
    // No controller at 0x84: the BMC's refusal, not a timeout.
    let out = run(
        &sb,
        "fence_ipmilan",
        &port,
        &["-P", "-C", "3", "--target", "0x84", "-o", "off"],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(
        out.stderr
            .contains("could not pass the request on to IPMB address 0x84"),
        "{out:?}"
    );
    assert!(bmc.power_on() && bmc.satellite_on());
}
