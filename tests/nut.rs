//! fence_nut against a real upsd (Debian's NUT 2.8.0) whose snmp-ups driver switches a
//! simulated Baytech PDU in snmpsim (tests/peers/nut), plainly and over STARTTLS. Each
//! test owns its outlets of the 8, so tests run in parallel; dummy-ups provides a UPS
//! without instant commands and an outlet that is not switchable. Faults come from a TCP
//! proxy between fence_nut and upsd; timing faults from an in-process upsd are in
//! tests/hermetic_nut.rs.

mod common;
use common::{nut, Out, Sandbox};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};

fn args<'a>(port: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let base = [
        "-a",
        "127.0.0.1",
        "-u",
        port,
        "-l",
        "admin",
        "-p",
        "adminpass",
        "--ups-name",
        "baytech",
    ];
    [&base[..], rest].concat()
}

fn expect(out: &Out, code: i32, stdout: &str, what: &str) {
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (code, stdout),
        "{what}: {out:?}"
    );
}

fn fails_with(out: &Out, says: &str, what: &str) {
    assert_eq!(out.code, 1, "{what}: {out:?}");
    assert!(out.stdout.is_empty(), "{what}: no output expected: {out:?}");
    assert!(
        out.stderr.contains(says),
        "{what}: expected '{says}': {out:?}"
    );
}

/// Every action on outlet `plug`, with `extra` options (TLS or none).
fn every_action(sb: &Sandbox, port: &str, plug: &str, extra: &[&str]) {
    let run = |rest: &[&str]| sb.run_args("fence_nut", &args(port, &[extra, rest].concat()));
    let p = ["-n", plug];
    // The outlet may be in either state: start from on.
    let _ = run(&[&p[..], &["-o", "on"]].concat());
    expect(
        &run(&[&p[..], &["-o", "status"]].concat()),
        0,
        "Status: ON\n",
        "status on",
    );
    let off = run(&[&p[..], &["-o", "off", "-vv"]].concat());
    expect(&off, 0, "Success: Powered OFF\n", "off");
    assert!(
        off.stderr.contains(&format!("outlet.{plug}.load.off")),
        "{off:?}"
    );
    // The command was tracked to its end, then the state read back.
    assert!(off.stderr.contains("done after"), "tracked: {off:?}");
    assert!(off.stderr.contains("confirmed off"), "{off:?}");
    expect(
        &run(&[&p[..], &["-o", "status"]].concat()),
        2,
        "Status: OFF\n",
        "status off",
    );
    expect(
        &run(&[&p[..], &["-o", "off"]].concat()),
        0,
        "Success: Already OFF\n",
        "off again",
    );
    // The outlet may be in either state: start from on.
    let _ = run(&[&p[..], &["-o", "on"]].concat());
    let reboot = run(&[&p[..], &["-o", "reboot", "-vv"]].concat());
    expect(&reboot, 0, "Success: Rebooted\n", "reboot");
    let (o, n) = (
        reboot.stderr.find(&format!("outlet.{plug}.load.off")),
        reboot.stderr.find(&format!("outlet.{plug}.load.on")),
    );
    assert!(
        o.is_some() && n.is_some() && o < n,
        "off before on: {reboot:?}"
    );
    // No outlet.N.load.cycle on this PDU: method=cycle reboots by off and on.
    let cycle = run(&[&p[..], &["-o", "reboot", "-m", "cycle", "-vv"]].concat());
    expect(&cycle, 0, "Success: Rebooted\n", "cycle");
    assert!(cycle.stderr.contains("no power cycle command"), "{cycle:?}");
    expect(&run(&["-o", "monitor"]), 0, "", "monitor");
    let list = run(&["-o", "list"]);
    assert_eq!(list.code, 0, "{list:?}");
    assert_eq!(list.stdout.lines().count(), 8, "{list:?}");
    assert!(
        list.stdout.contains(&format!("{plug},Outlet {plug}\n")),
        "{list:?}"
    );
    let ls = run(&["-o", "list-status"]);
    assert!(
        ls.stdout.contains(&format!("{plug},Outlet {plug},on\n")),
        "{ls:?}"
    );
}

#[test]
fn every_action_plain() {
    let n = nut();
    let sb = Sandbox::new("nut-plain");
    every_action(&sb, &n.port.to_string(), "2", &[]);
}

#[test]
fn every_action_over_starttls() {
    let n = nut();
    let sb = Sandbox::new("nut-tls");
    let port = n.port.to_string();
    every_action(&sb, &port, "5", &["--ssl", "--ssl-ca-file", &n.ca]);
    // Pinned certificate instead of a CA.
    let out = sb.run_args(
        "fence_nut",
        &args(
            &port,
            &[
                "-n",
                "5",
                "-o",
                "status",
                "--ssl-fingerprint",
                &n.fingerprint,
                "-vv",
            ],
        ),
    );
    expect(&out, 0, "Status: ON\n", "pinned");
    assert!(out.stderr.contains("TLS established"), "{out:?}");
    // Every way a certificate can fail to verify: exit 1, nothing on stdout.
    let bad_pin = "00".repeat(32);
    for (opts, says) in [
        (&["--ssl", "--ssl-ca-file", &n.other_ca][..], "TLS"),
        (&["--ssl"][..], "TLS"),
        (&["--ssl-fingerprint", &bad_pin][..], "not the pinned one"),
        (
            &["--ssl-ca-file", &n.ca, "--ssl-fingerprint", &bad_pin][..],
            "not the pinned one",
        ),
    ] {
        let out = sb.run_args(
            "fence_nut",
            &args(&port, &[&["-n", "5", "-o", "off"][..], opts].concat()),
        );
        fails_with(&out, says, &format!("{opts:?}"));
    }
    // Without verification it works, with a warning.
    let out = sb.run_args(
        "fence_nut",
        &args(&port, &["-n", "5", "-o", "status", "--ssl-insecure"]),
    );
    expect(&out, 0, "Status: ON\n", "insecure");
    assert!(
        out.stderr.contains("without certificate verification"),
        "{out:?}"
    );
}

#[test]
fn plug_forms_and_stdin() {
    let n = nut();
    let sb = Sandbox::new("nut-plugs");
    let port = n.port.to_string();
    for plug in ["3", "baytech:3", "Outlet 3", "baytech:Outlet 3", "outlet 3"] {
        let out = sb.run_args("fence_nut", &args(&port, &["-n", plug, "-o", "status"]));
        expect(&out, 0, "Status: ON\n", plug);
    }
    // The UPS from the plug alone.
    let out = sb.run_args(
        "fence_nut",
        &[
            "-a",
            "127.0.0.1",
            "-u",
            &port,
            "-n",
            "baytech:3",
            "-o",
            "status",
        ],
    );
    expect(&out, 0, "Status: ON\n", "ups from plug");
    let input = format!(
        "action=status\nip=127.0.0.1\nipport={port}\nups_name=baytech\nplug=Outlet 3\nusername=admin\npassword=adminpass\n"
    );
    expect(
        &sb.run_raw("fence_nut", input.as_bytes()),
        0,
        "Status: ON\n",
        "stdin",
    );
}

#[test]
fn refusals_are_clear() {
    let n = nut();
    let sb = Sandbox::new("nut-refusals");
    let port = n.port.to_string();
    let run = |a: &[&str]| sb.run_args("fence_nut", a);
    let base = |user: &'static str, pw: &'static str, ups: &'static str| {
        vec![
            "-a",
            "127.0.0.1",
            "-u",
            &port,
            "-l",
            user,
            "-p",
            pw,
            "--ups-name",
            ups,
        ]
    };
    // (user, password, UPS, plug, action, the message says, what is tried)
    #[rustfmt::skip]
    let cases = [
        ("admin", "wrongpass", "baytech", "6", "off", "access denied", "wrong password"),
        ("nobody", "x", "baytech", "6", "off", "access denied", "unknown user"),
        ("outlet1only", "o1pass", "baytech", "6", "off", "access denied", "user without that command"),
        ("admin", "adminpass", "nosuchups", "1", "status", "no UPS of that name", "unknown UPS"),
        ("admin", "adminpass", "baytech", "99", "status", "plug not found", "unknown outlet"),
        ("admin", "adminpass", "baytech", "99", "off", "plug not found", "unknown outlet, off"),
        ("admin", "adminpass", "baytech", "No Such Outlet", "off", "plug not found", "unknown name"),
        ("admin", "adminpass", "dummy", "3", "off", "does not support this command", "no instant commands"),
        ("admin", "adminpass", "dummy", "4", "off", "cannot be switched", "not switchable"),
    ];
    for (user, pw, ups, plug, action, says, what) in cases {
        let out = run(&[base(user, pw, ups), vec!["-n", plug, "-o", action]].concat());
        fails_with(&out, says, what);
    }
    // The outlet that must not be switched is untouched; outlet 6 is still on.
    let out = run(&[
        base("admin", "adminpass", "dummy"),
        vec!["-n", "4", "-o", "status"],
    ]
    .concat());
    expect(&out, 0, "Status: ON\n", "outlet 4 untouched");
    let out = run(&[
        base("admin", "adminpass", "baytech"),
        vec!["-n", "6", "-o", "status"],
    ]
    .concat());
    expect(&out, 0, "Status: ON\n", "outlet 6 untouched");
    // The restricted user may switch its own outlet.
    let out = run(&[
        base("outlet1only", "o1pass", "baytech"),
        vec!["-n", "1", "-o", "reboot"],
    ]
    .concat());
    expect(&out, 0, "Success: Rebooted\n", "outlet1only on outlet 1");
    // No UPS name at all.
    let out = run(&["-a", "127.0.0.1", "-u", &port, "-n", "3", "-o", "status"]);
    fails_with(&out, "ups_name", "no UPS");
}

/// What the proxy does to the conversation.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Fault {
    /// upsd "goes away" when the INSTCMD arrives: both sides closed, nothing forwarded.
    CloseOnInstcmd,
    /// The client's SET TRACKING ON is garbled, as an upsd without tracking would see it.
    NoTracking,
}

/// A TCP proxy to upsd for one connection at a time; returns its port.
fn proxy(upsd: u16, fault: Fault) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in l.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", upsd)) else {
                return;
            };
            let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut s_in, mut c_out) = (server, client);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = s_in.read(&mut buf) {
                    if n == 0 || c_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = c_out.shutdown(Shutdown::Both);
            });
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = c_in.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let text = String::from_utf8_lossy(&buf[..n]).to_string();
                    let out = match fault {
                        Fault::CloseOnInstcmd if text.contains("INSTCMD") => {
                            let _ = c_in.shutdown(Shutdown::Both);
                            let _ = s_out.shutdown(Shutdown::Both);
                            break;
                        }
                        Fault::NoTracking => text.replace("SET TRACKING ON", "SET TRACKING MAYBE"),
                        _ => text,
                    };
                    if s_out.write_all(out.as_bytes()).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

#[test]
fn upsd_closing_mid_command_is_no_success() {
    let n = nut();
    let sb = Sandbox::new("nut-close");
    let port = proxy(n.port, Fault::CloseOnInstcmd).to_string();
    for action in ["off", "reboot"] {
        let out = sb.run_args("fence_nut", &args(&port, &["-n", "6", "-o", action]));
        fails_with(&out, "closed the connection", action);
    }
    let out = sb.run_args(
        "fence_nut",
        &args(&n.port.to_string(), &["-n", "6", "-o", "status"]),
    );
    expect(&out, 0, "Status: ON\n", "outlet 6 never switched");
}

#[test]
fn without_tracking_the_state_still_decides() {
    let n = nut();
    let sb = Sandbox::new("nut-notrack");
    let port = proxy(n.port, Fault::NoTracking).to_string();
    let off = sb.run_args("fence_nut", &args(&port, &["-n", "4", "-o", "off", "-vv"]));
    expect(&off, 0, "Success: Powered OFF\n", "off");
    assert!(off.stderr.contains("no command tracking"), "{off:?}");
    assert!(off.stderr.contains("confirmed off"), "{off:?}");
    let on = sb.run_args("fence_nut", &args(&port, &["-n", "4", "-o", "on"]));
    expect(&on, 0, "Success: Powered ON\n", "on");
}

/// Two reboots through one UPS never overlap; the password never reaches a log.
#[test]
fn concurrent_reboots_share_the_ups_lock() {
    let n = nut();
    let sb = Sandbox::new("nut-locks");
    let port = n.port.to_string();
    let logs: Vec<_> = (0..2).map(|i| sb.path(&format!("r{i}.log"))).collect();
    let children: Vec<_> = ["7", "8"]
        .iter()
        .zip(&logs)
        .map(|(plug, log)| {
            let d = format!("--debug-file={}", log.display());
            sb.spawn_args(
                "fence_nut",
                &args(&port, &["-n", plug, "-o", "reboot", "-vvv", &d]),
            )
        })
        .collect();
    common::expect_all(children, 0, "Success: Rebooted\n");
    common::assert_sessions_disjoint(&logs);
    for l in &logs {
        let text = std::fs::read_to_string(l).unwrap();
        assert!(text.contains("NUT > PASSWORD [secret]"), "{text}");
        assert!(
            !text.contains("adminpass"),
            "password in the debug log:\n{text}"
        );
    }
}

/// Sets the dummy UPS's ups.status through upsd (dummy-ups takes any SET VAR), and puts
/// it back to OL when dropped, whatever the test did.
struct UpsStatus(u16);

impl UpsStatus {
    fn set(&self, status: &str) {
        let out = std::process::Command::new("upsrw")
            .args([
                "-s",
                &format!("ups.status={status}"),
                "-u",
                "admin",
                "-p",
                "adminpass",
                "-w",
            ])
            .arg(format!("dummy@127.0.0.1:{}", self.0))
            .output()
            .expect("upsrw (nut-client) must be installed");
        assert!(
            out.status.success(),
            "upsrw: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // upsd answers from the driver's copy: wait until it shows the new value.
        for _ in 0..50 {
            let now = std::process::Command::new("upsc")
                .arg(format!("dummy@127.0.0.1:{}", self.0))
                .arg("ups.status")
                .output()
                .unwrap();
            if String::from_utf8_lossy(&now.stdout).trim() == status {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("ups.status of dummy never became {status}");
    }
}

impl Drop for UpsStatus {
    fn drop(&mut self) {
        self.set("OL");
    }
}

/// `fencebox chain check --live` on a real upsd: a node whose other feed is off, so that
/// its only working feed hangs off the UPS, is at risk once the UPS runs on battery.
#[test]
fn chain_check_finds_the_last_working_feed_behind_a_ups_on_battery() {
    use common::hostile_snmp::{Hostile, OFF, ON};
    let n = nut();
    let sb = Sandbox::new("nut-chain");
    let (a, b) = (Hostile::honest(&[ON, ON]), Hostile::honest(&[OFF, ON]));
    let pdu = |name: &str, port: u16, parent: &str| {
        format!("[devices.{name}]\nagent = \"fence_apc_snmp\"\nip = \"127.0.0.1\"\nipport = {port}\ncommunity = \"private\"\nparent = \"{parent}\"\n\n")
    };
    let text = format!(
        "[devices.ups]\nagent = \"fence_nut\"\nip = \"127.0.0.1\"\nipport = {}\nups_name = \"dummy\"\nusername = \"admin\"\npassword = \"adminpass\"\nparent = \"mains\"\n\n{}{}[nodes.n1]\nfeeds = [\"pdua:1\", \"pdub:1\"]\n",
        n.port,
        pdu("pdua", a.port, "ups:1"),
        pdu("pdub", b.port, "mains"),
    );
    let inv = sb.path("inv.toml");
    std::fs::write(&inv, text).unwrap();
    std::fs::set_permissions(&inv, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let check = || {
        let mut c = sb.command("fencebox");
        c.args(["chain", "check", "all", "--live", "--inventory"])
            .arg(&inv);
        c.output().unwrap()
    };
    let status = UpsStatus(n.port);
    let out = check();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "on line, two feeds on two paths: no risk\n{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    status.set("OB");
    let out = check();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("on-battery") && said.contains("(pdua:1) run on battery: ups (OB)"),
        "{said}"
    );
    let mut c = sb.command("fencebox");
    c.args(["chain", "n1", "--inventory"]).arg(&inv);
    let tree = String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned();
    assert!(
        tree.contains("psu1 ← pdua:1 on ← ups:1 on [ups: OB] ← mains"),
        "{tree}"
    );
    assert!(tree.contains("psu2 ← pdub:1 off ← mains"), "{tree}");
    assert!(!tree.contains("adminpass") && !said.contains("adminpass"));
}
