//! fence_nut against upsd stand-ins in the test process (no NUT needed): an upsd that
//! drips, goes silent or never ends a command (tests/common/hostile_upsd.rs), a listener
//! that never accepts, a port nothing listens on.

mod common;
use common::hostile_upsd::{run_capped, HostileUpsd, Hostility, Unaccepting};
use common::{Out, Sandbox};
use std::net::TcpListener;
use std::time::{Duration, Instant};

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

#[test]
fn upsd_not_running() {
    let sb = Sandbox::new("nut-down");
    let free = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port().to_string();
    drop(free);
    let started = Instant::now();
    let out = sb.run_args("fence_nut", &args(&port, &["-n", "1", "-o", "off"]));
    fails_with(&out, "cannot connect to upsd", "not running");
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// fence_nut against `port` with these limits; a call still running after 20 s is
/// killed, so a call that hangs fails the test instead of hanging it.
fn limited(sb: &Sandbox, port: u16, limits: &[&str], rest: &[&str]) -> (Out, Duration) {
    let port = port.to_string();
    let a = args(&port, &[limits, rest].concat());
    run_capped(sb, "fence_nut", &a, Duration::from_secs(20))
}

/// The whole call must end well within its limits (margins for a loaded machine).
fn ends_within(took: Duration, bound: u64, out: &Out, what: &str) {
    assert!(
        took < Duration::from_secs(bound),
        "{what}: took {took:?}, more than {bound} s: {out:?}"
    );
}

/// A reply trickling in a byte every 200 ms is cut at the exchange's deadline (the
/// login's, or the command's), not kept alive by every byte.
#[test]
fn slow_drip_ends_at_the_deadline() {
    let sb = Sandbox::new("nut-drip");
    let limits = ["--login-timeout", "1", "--shell-timeout", "1"];
    for (from, option) in [("USERNAME", "login_timeout"), ("GET", "shell_timeout")] {
        let upsd = HostileUpsd::start(Hostility::DripFrom(from));
        let (out, took) = limited(&sb, upsd.port, &limits, &["-n", "1", "-o", "status"]);
        ends_within(took, 3, &out, from);
        fails_with(&out, &format!("within 1 s ({option})"), from);
    }
}

/// After upsd falls silent the call ends at that one shell_timeout: no LOGOUT is sent
/// on the abandoned connection, so there is no second wait.
#[test]
fn silent_upsd_costs_one_timeout_and_no_logout() {
    let sb = Sandbox::new("nut-silent");
    let upsd = HostileUpsd::start(Hostility::SilentFrom("GET"));
    let limits = ["--login-timeout", "1", "--shell-timeout", "3"];
    let (out, took) = limited(&sb, upsd.port, &limits, &["-n", "1", "-o", "status"]);
    ends_within(took, 5, &out, "silent");
    fails_with(&out, "within 3 s (shell_timeout)", "silent");
    let got = upsd.received_after(1);
    assert!(got.iter().any(|l| l.starts_with("GET VAR")), "{got:?}");
    assert!(!got.iter().any(|l| l == "LOGOUT"), "LOGOUT sent: {got:?}");
}

/// A done call does not wait a whole shell_timeout for upsd's goodbye.
#[test]
fn unanswered_logout_is_not_waited_for() {
    let sb = Sandbox::new("nut-logout");
    let upsd = HostileUpsd::start(Hostility::SilentFrom("LOGOUT"));
    let limits = ["--login-timeout", "1", "--shell-timeout", "6"];
    let (out, took) = limited(&sb, upsd.port, &limits, &["-n", "1", "-o", "status"]);
    ends_within(took, 4, &out, "logout");
    expect(&out, 0, "Status: ON\n", "status");
    assert!(upsd.received_after(1).contains(&"LOGOUT".to_string()));
}

/// A tracked command stuck at PENDING uses up power_timeout once: then the outlet's
/// state decides, and it has not changed, so the call fails saying so (no second,
/// full state poll).
#[test]
fn stuck_tracking_ends_at_power_timeout() {
    let sb = Sandbox::new("nut-pending");
    let upsd = HostileUpsd::start(Hostility::StuckPending);
    let limits = [
        "--login-timeout",
        "1",
        "--shell-timeout",
        "1",
        "--power-timeout",
        "4",
    ];
    let (out, took) = limited(&sb, upsd.port, &limits, &["-n", "1", "-o", "off"]);
    ends_within(took, 7, &out, "off");
    fails_with(&out, "as pending after 4 s (power_timeout)", "off");
    assert!(out.stderr.contains("still reads on"), "{out:?}");
}

/// Connecting is part of the login: bounded by login_timeout, not by shell_timeout.
#[test]
fn connect_is_bounded_by_login_timeout() {
    let sb = Sandbox::new("nut-connect");
    let port = Unaccepting::new();
    let limits = ["--login-timeout", "1", "--shell-timeout", "5"];
    let (out, took) = limited(&sb, port.port, &limits, &["-n", "1", "-o", "status"]);
    ends_within(took, 3, &out, "connect");
    fails_with(&out, "within 1 s (login_timeout)", "connect");
}

/// The honest stand-in: the actions switch its outlets, each confirmed by a read.
#[test]
fn every_action_on_an_honest_upsd() {
    let sb = Sandbox::new("nut-honest");
    let upsd = HostileUpsd::start(Hostility::Honest);
    let port = upsd.port.to_string();
    let act = |plug: &str, action: &str| {
        let (out, _) = run_capped(
            &sb,
            "fence_nut",
            &args(&port, &["-n", plug, "--power-wait", "0", "-o", action]),
            Duration::from_secs(20),
        );
        out
    };
    expect(&act("1", "status"), 0, "Status: ON\n", "status");
    expect(&act("1", "off"), 0, "Success: Powered OFF\n", "off");
    assert_eq!(*upsd.outlets.lock().unwrap(), [false, true]);
    expect(&act("1", "status"), 2, "Status: OFF\n", "status after off");
    expect(&act("1", "reboot"), 0, "Success: Rebooted\n", "reboot");
    expect(&act("2", "off"), 0, "Success: Powered OFF\n", "off 2");
    assert_eq!(*upsd.outlets.lock().unwrap(), [true, false]);
    let list = act("1", "list-status");
    expect(&list, 0, "1,Outlet 1,on\n2,Outlet 2,off\n", "list-status");
}

/// A password upsd refuses is one clear error, switches nothing, and never reaches the
/// log, even at the highest verbosity.
#[test]
fn a_refused_password_switches_nothing_and_is_not_logged() {
    let sb = Sandbox::new("nut-denied");
    let upsd = HostileUpsd::start(Hostility::HonestBehind("Right-pw-7c1"));
    let port = upsd.port.to_string();
    let base = [
        "-a",
        "127.0.0.1",
        "-u",
        &port,
        "-l",
        "admin",
        "-p",
        "Wrong-pw-3e9",
        "--ups-name",
        "ups",
        "-n",
        "1",
        "-o",
        "off",
        "--verbose-level",
        "3",
    ];
    let (out, _) = run_capped(&sb, "fence_nut", &base, Duration::from_secs(20));
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "", "{out:?}");
    assert!(
        out.stderr.contains("ACCESS-DENIED") || out.stderr.contains("denied"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("Wrong-pw-3e9"), "{out:?}");
    assert_eq!(
        *upsd.outlets.lock().unwrap(),
        [true, true],
        "nothing switched"
    );
}
