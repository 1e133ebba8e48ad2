//! The switched-PDU shell agents (fence_wti, fence_raritan_px3, fence_cdu,
//! fence_cyberpower_ssh, fence_raritan, fence_netio, fence_eaton_ssh) against the device
//! emulators of tests/peers/emulators (served over telnet and SSH by
//! tests/peers/ssh/start.sh, see devices.conf), and Debian's Python agents on the same
//! emulator with the same stdin as the reference.
//!
//! Tests run in parallel and a device's state is shared by all its sessions: every test
//! works on plugs of its own (see the plug numbers), so no test sees another's switching.
//! Where fencebox deliberately differs from Debian's agent (docs/compatibility.md), the
//! differential tests compare what upstream gets right.

mod common;
use common::shell::{expect, same, ShellPeers, Via, EVERY_ACTION};
use common::{Out, Sandbox};
use std::time::{Duration, Instant};

/// stdin lines reaching emulated device `dev` over `via`, as its account.
fn base(p: &ShellPeers, dev: &str, via: Via) -> String {
    match via {
        Via::Telnet => p.telnet_stdin("127.0.0.1", dev),
        Via::Ssh => p.emulator_ssh_stdin("127.0.0.1", dev, "FB_SSH_PORT_MAIN"),
    }
}

/// The same without ssh=0: for an agent without the ssh option, and for Debian's agents,
/// which take ssh=0 for ssh=1 (docs/compatibility.md).
fn base_telnet_only(p: &ShellPeers, dev: &str) -> String {
    p.emulator_stdin("127.0.0.1", dev, Via::Telnet)
}

fn run(sb: &Sandbox, agent: &str, stdin: &str) -> Out {
    sb.run(agent, stdin)
}

/// Every action on `plug` (whose alias in the list is `alias`, None: not checked): status,
/// on, off (each from both states), reboot, list, list-status, monitor; the plug is left
/// on.
fn every_action(agent: &str, b: &str, plug: &str, alias: Option<&str>, list: bool) {
    let sb = Sandbox::new(&format!("{agent}-actions"));
    let b = format!("{b}plug={plug}\npower_wait=0\n");
    let act = |a: &str| run(&sb, agent, &format!("{b}action={a}\n"));
    let out = act("off");
    assert_eq!(out.code, 0, "off: {out:?}");
    expect(&act("status"), 2, "Status: OFF\n", "status when off");
    expect(&act("off"), 0, "Success: Already OFF\n", "off when off");
    expect(&act("on"), 0, "Success: Powered ON\n", "on");
    expect(&act("status"), 0, "Status: ON\n", "status when on");
    expect(&act("on"), 0, "Success: Already ON\n", "on when on");
    expect(&act("off"), 0, "Success: Powered OFF\n", "off");
    expect(&act("reboot"), 0, "Success: Rebooted\n", "reboot from off");
    expect(&act("status"), 0, "Status: ON\n", "status after reboot");
    expect(&act("reboot"), 0, "Success: Rebooted\n", "reboot from on");
    expect(
        &act("status"),
        0,
        "Status: ON\n",
        "status after the second reboot",
    );
    expect(&act("monitor"), 0, "", "monitor");
    if list {
        let out = act("list");
        assert_eq!(out.code, 0, "list: {out:?}");
        if let Some(alias) = alias {
            let row = format!("{plug},{alias}");
            assert!(out.stdout.lines().any(|l| l == row), "list: {out:?}");
            let out = act("list-status");
            assert_eq!(out.code, 0, "list-status: {out:?}");
            let row = format!("{plug},{alias},on");
            assert!(out.stdout.lines().any(|l| l == row), "list-status: {out:?}");
        }
    }
}

/// An unknown plug fails, saying so; a wrong password fails within 2 s, saying so.
fn unknown_plug_and_wrong_password(agent: &str, b: &str, p: &ShellPeers, unknown: &str) {
    let sb = Sandbox::new(&format!("{agent}-errors"));
    let out = run(&sb, agent, &format!("{b}plug={unknown}\naction=status\n"));
    assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:?}");
    assert!(
        out.stderr.contains("plug not found") && out.stderr.contains(unknown),
        "{out:?}"
    );
    let wrong = b.replace(p.password(), "not-the-password");
    let started = Instant::now();
    let out = run(&sb, agent, &format!("{wrong}plug=1\naction=off\n"));
    let took = started.elapsed();
    assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:?}");
    assert!(
        out.stderr
            .contains("Unable to connect/login to fencing device"),
        "{out:?}"
    );
    assert!(took < Duration::from_secs(2), "took {took:?}: {out:?}");
}

/// Debian's agent and fencebox on the same device with the same stdin: for each
/// (state before, action), the exit code and stdout after `theirs` is applied to Debian's
/// stdout (identity where upstream is right).
fn differential(
    agent: &str,
    b: &str,
    cases: &[(&str, &str)],
    theirs_fixed: &dyn Fn(&str, &str) -> String,
) {
    let sb = Sandbox::new(&format!("{agent}-diff"));
    common::shell::differential(&sb, agent, b, cases, &same, theirs_fixed);
}

// ---------------------------------------------------------------------------------------
// fence_wti

#[test]
fn wti_every_action_over_telnet() {
    let p = ShellPeers::load();
    every_action(
        "fence_wti",
        &base(&p, "wti-nps", Via::Telnet),
        "3",
        Some("db1"),
        true,
    );
}

#[test]
fn wti_every_action_over_ssh() {
    let p = ShellPeers::load();
    every_action(
        "fence_wti",
        &base(&p, "wti-nps", Via::Ssh),
        "5",
        Some("nas1"),
        true,
    );
}

#[test]
fn wti_without_password_and_with_user_name() {
    let p = ShellPeers::load();
    // An IPS-800 without a System Password: straight to the prompt.
    every_action(
        "fence_wti",
        &base(&p, "wti-ips", Via::Telnet),
        "4",
        Some("db2"),
        true,
    );
    // A VMR asks for a user name and a password.
    every_action(
        "fence_wti",
        &base(&p, "wti-vmr", Via::Telnet),
        "6",
        Some("nas2"),
        true,
    );
}

/// A prompt outside the default list, given as one string: one pattern (upstream takes
/// it character by character over telnet and its login fails).
#[test]
fn wti_command_prompt_as_one_string() {
    let p = ShellPeers::load();
    for via in [Via::Telnet, Via::Ssh] {
        let b = format!("{}command_prompt=RPC>\n", base(&p, "wti-rpc", via));
        every_action("fence_wti", &b, "7", Some("spare7"), true);
    }
}

#[test]
fn wti_unknown_plug_and_wrong_password() {
    let p = ShellPeers::load();
    for via in [Via::Telnet, Via::Ssh] {
        let b = base(&p, "wti-vmr", via);
        let sb = Sandbox::new("wti-unknown");
        let out = run(&sb, "fence_wti", &format!("{b}plug=9\naction=status\n"));
        assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:?}");
        assert!(out.stderr.contains("plug not found"), "{out:?}");
    }
    unknown_plug_and_wrong_password("fence_wti", &base(&p, "wti-nps", Via::Telnet), &p, "9");
    unknown_plug_and_wrong_password("fence_wti", &base(&p, "wti-vmr", Via::Telnet), &p, "12");
}

#[test]
fn wti_is_debians_fence_wti() {
    let p = ShellPeers::load();
    // Upstream takes ssh=0 for ssh=1: telnet is the default, left unsaid.
    let b = format!("{}plug=1\n", base_telnet_only(&p, "wti-nps"));
    differential("fence_wti", &b, EVERY_ACTION, &same);
    let b = format!("{}plug=2\n", base(&p, "wti-nps", Via::Ssh));
    differential("fence_wti", &b, &EVERY_ACTION[..8], &same);
}

// ---------------------------------------------------------------------------------------
// fence_raritan_px3

#[test]
fn px3_every_action_over_telnet() {
    let p = ShellPeers::load();
    every_action(
        "fence_raritan_px3",
        &base(&p, "px3", Via::Telnet),
        "3",
        Some("db1"),
        true,
    );
}

#[test]
fn px3_every_action_over_ssh() {
    let p = ShellPeers::load();
    // An outlet without a name: "Outlet 6:".
    every_action(
        "fence_raritan_px3",
        &base(&p, "px3", Via::Ssh),
        "6",
        Some(""),
        true,
    );
}

#[test]
fn px3_unknown_plug_and_wrong_password() {
    let p = ShellPeers::load();
    unknown_plug_and_wrong_password("fence_raritan_px3", &base(&p, "px3", Via::Telnet), &p, "9");
    let sb = Sandbox::new("px3-unknown-ssh");
    let b = base(&p, "px3", Via::Ssh);
    let out = run(
        &sb,
        "fence_raritan_px3",
        &format!("{b}plug=12\naction=status\n"),
    );
    assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:?}");
    assert!(out.stderr.contains("plug not found"), "{out:?}");
}

/// Upstream never reads the state again after switching (it times out though the outlet
/// switched) and prints YYYYY/XXXXXXXX: only what does not switch is compared.
#[test]
fn px3_is_debians_fence_raritan_px3_where_it_works() {
    let p = ShellPeers::load();
    let b = format!("{}plug=1\n", base_telnet_only(&p, "px3"));
    let cases = [
        ("on", "status"),
        ("off", "status"),
        ("off", "off"),
        ("on", "on"),
        ("on", "list"),
        ("off", "list-status"),
        ("on", "monitor"),
    ];
    // Upstream prints the states as the PDU writes them ("On").
    let fixed = |action: &str, s: &str| {
        if action == "list-status" {
            s.replace(",On\n", ",on\n").replace(",Off\n", ",off\n")
        } else {
            s.to_string()
        }
    };
    differential("fence_raritan_px3", &b, &cases, &fixed);
}

// ---------------------------------------------------------------------------------------
// fence_cdu

#[test]
fn cdu_every_action_over_telnet_on_every_firmware() {
    let p = ShellPeers::load();
    let b = base_telnet_only(&p, "cdu-v7");
    every_action("fence_cdu", &b, "db-1", None, true);
    every_action("fence_cdu", &b, ".A5", Some("nas1"), true);
    let b = base_telnet_only(&p, "cdu-v6");
    every_action("fence_cdu", &b, ".A6", Some("nas2"), true);
    let b = base_telnet_only(&p, "cdu-v8");
    every_action("fence_cdu", &b, "AA3", Some("db-1"), true);
    every_action("fence_cdu", &b, "spare", None, false);
}

#[test]
fn cdu_unknown_plug_and_wrong_password() {
    let p = ShellPeers::load();
    for dev in ["cdu-v6", "cdu-v8"] {
        unknown_plug_and_wrong_password("fence_cdu", &base_telnet_only(&p, dev), &p, "nosuch");
    }
}

/// Upstream prints every outlet name on stdout at each status read and cannot list:
/// compared are the exit code and its result line, for outlet names (all it takes).
#[test]
fn cdu_is_debians_fence_cdu_where_it_works() {
    let p = ShellPeers::load();
    for dev in ["cdu-v7", "cdu-v8"] {
        let b = format!("{}plug=web2\n", base_telnet_only(&p, dev));
        let names = [
            "web1",
            "web2",
            "db-1",
            "db-2",
            "nas1",
            "nas2",
            "spare",
            "TowerA_Outlet8",
        ];
        let fixed = |_: &str, s: &str| {
            s.lines()
                .filter(|l| !names.contains(l))
                .map(|l| format!("{l}\n"))
                .collect::<String>()
        };
        differential("fence_cdu", &b, &EVERY_ACTION[..8], &fixed);
    }
}

// ---------------------------------------------------------------------------------------
// fence_cyberpower_ssh

#[test]
fn cyberpower_every_action_over_ssh() {
    let p = ShellPeers::load();
    every_action(
        "fence_cyberpower_ssh",
        &base(&p, "cyberpower", Via::Ssh),
        "3",
        Some("db1"),
        true,
    );
}

#[test]
fn cyberpower_every_action_over_telnet() {
    let p = ShellPeers::load();
    every_action(
        "fence_cyberpower_ssh",
        &base(&p, "cyberpower", Via::Telnet),
        "5",
        Some("nas1"),
        true,
    );
}

#[test]
fn cyberpower_unknown_plug_and_wrong_password() {
    let p = ShellPeers::load();
    for via in [Via::Ssh, Via::Telnet] {
        unknown_plug_and_wrong_password(
            "fence_cyberpower_ssh",
            &base(&p, "cyberpower", via),
            &p,
            "9",
        );
    }
}

/// Upstream keeps the padding of the name column in list aliases and prints states as
/// the ePDU writes them ("On"): compared after trimming and lower-casing those.
#[test]
fn cyberpower_is_debians_fence_cyberpower_ssh() {
    let p = ShellPeers::load();
    let b = format!("{}plug=1\n", base(&p, "cyberpower", Via::Ssh));
    let fixed = |action: &str, s: &str| {
        if !action.starts_with("list") {
            return s.to_string();
        }
        s.lines()
            .map(|l| {
                let f: Vec<String> = l.split(',').map(|x| x.trim().to_string()).collect();
                let mut line = f.join(",");
                if action == "list-status" {
                    line = line.replace(",On", ",on").replace(",Off", ",off");
                }
                format!("{line}\n")
            })
            .collect()
    };
    differential("fence_cyberpower_ssh", &b, EVERY_ACTION, &fixed);
}

// ---------------------------------------------------------------------------------------
// fence_raritan

#[test]
fn raritan_every_action_over_telnet() {
    let p = ShellPeers::load();
    let b = base_telnet_only(&p, "raritan");
    every_action("fence_raritan", &b, "3", None, true);
    // The list names the outlet targets (no states in that listing).
    let sb = Sandbox::new("raritan-list");
    let out = run(&sb, "fence_raritan", &format!("{b}action=list\n"));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.lines().count(), 8, "{out:?}");
    assert!(out.stdout.lines().any(|l| l == "3,"), "{out:?}");
}

#[test]
fn raritan_unknown_plug_and_wrong_password() {
    let p = ShellPeers::load();
    unknown_plug_and_wrong_password("fence_raritan", &base_telnet_only(&p, "raritan"), &p, "9");
}

#[test]
fn raritan_is_debians_fence_raritan() {
    let p = ShellPeers::load();
    let b = format!("{}plug=1\n", base_telnet_only(&p, "raritan"));
    let cases: Vec<(&str, &str)> = EVERY_ACTION[..8]
        .iter()
        .copied()
        .chain([("on", "monitor")])
        .collect();
    differential("fence_raritan", &b, &cases, &same);
}

// ---------------------------------------------------------------------------------------
// fence_netio

#[test]
fn netio_every_action() {
    let p = ShellPeers::load();
    every_action(
        "fence_netio",
        &base_telnet_only(&p, "netio"),
        "3",
        None,
        false,
    );
}

/// The password goes inside a command line (KSHELL's login): the transcript shows it as a
/// secret.
#[test]
fn netio_password_never_logged() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("netio-secrets");
    let debug = sb.path("debug.log");
    let stdin = format!(
        "{}plug=2\naction=status\nverbose_level=3\ndebug_file={}\n",
        base_telnet_only(&p, "netio"),
        debug.display()
    );
    let out = run(&sb, "fence_netio", &stdin);
    assert!(out.code == 0 || out.code == 2, "{out:?}");
    let log = std::fs::read_to_string(&debug).unwrap();
    assert!(
        log.contains("shell: sent \"port 2\""),
        "no transcript: {log}"
    );
    for text in [&out.stderr, &log] {
        assert!(
            !text.contains(p.password()),
            "the password was logged:\n{text}"
        );
    }
}

#[test]
fn netio_unknown_plug_and_wrong_password() {
    let p = ShellPeers::load();
    unknown_plug_and_wrong_password("fence_netio", &base_telnet_only(&p, "netio"), &p, "9");
}

#[test]
fn netio_is_debians_fence_netio() {
    let p = ShellPeers::load();
    let b = format!("{}plug=1\n", base_telnet_only(&p, "netio"));
    differential("fence_netio", &b, EVERY_ACTION, &same);
}

// ---------------------------------------------------------------------------------------
// fence_eaton_ssh (not in Debian's 4.12.1: no differential test)

#[test]
fn eaton_every_action_over_ssh_and_telnet() {
    let p = ShellPeers::load();
    every_action(
        "fence_eaton_ssh",
        &base(&p, "eaton", Via::Ssh),
        "3",
        None,
        false,
    );
    every_action(
        "fence_eaton_ssh",
        &base(&p, "eaton", Via::Telnet),
        "5",
        None,
        false,
    );
}

#[test]
fn eaton_unknown_plug_and_wrong_password() {
    let p = ShellPeers::load();
    unknown_plug_and_wrong_password("fence_eaton_ssh", &base(&p, "eaton", Via::Telnet), &p, "12");
    let b = base(&p, "eaton", Via::Ssh);
    let sb = Sandbox::new("eaton-ssh-errors");
    let out = run(
        &sb,
        "fence_eaton_ssh",
        &format!("{b}plug=12\naction=status\n"),
    );
    assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:?}");
    assert!(out.stderr.contains("plug not found"), "{out:?}");
    let wrong = b.replace(p.password(), "not-the-password");
    let out = run(
        &sb,
        "fence_eaton_ssh",
        &format!("{wrong}plug=1\naction=status\n"),
    );
    assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:?}");
    assert!(
        out.stderr
            .contains("Unable to connect/login to fencing device"),
        "{out:?}"
    );
}
