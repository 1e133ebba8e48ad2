//! fence_apc against the APC emulator (tests/peers/emulators/apc.py, served by
//! tests/peers/ssh/start.sh over telnet and through sshd): every firmware kind (AOS 2.x and
//! 3.x menus as administrator and as outlet user, a MasterSwitch plus chain, the apc> command
//! line of v6 and v10+), over telnet (its default) and SSH, and Debian's fence_apc on the same
//! device with the same stdin as the reference.
//!
//! Devices apc-diff-* serve only the differential tests, the others only the functional
//! ones, so that no test switches an outlet another one is listing.

mod common;
use common::shell::{ShellPeers, Via, EVERY_ACTION};
use common::{debian_agent, Out, Sandbox};
use std::time::{Duration, Instant};

const HOST: &str = "127.0.0.1";

fn ours(sb: &Sandbox, stdin: &str) -> Out {
    sb.run("fence_apc", stdin)
}

/// The connection lines; telnet by leaving ssh out (fence_apc's default transport: Debian's
/// fence_apc takes "ssh=0" as ssh on, docs/compatibility.md).
fn connect(p: &ShellPeers, device: &str, via: Via) -> String {
    p.emulator_stdin(HOST, device, via)
}

/// fencebox and Debian's fence_apc on `device` with the same stdin, from the same state, for
/// every action; `extra` holds the plug (and the switch).
fn differential(device: &str, via: Via, plug: &str, extra: &str, unknown: &str) {
    let p = ShellPeers::load();
    let sb = Sandbox::new(&format!("{device}-diff"));
    let conn = format!("{}{extra}power_wait=0\n", connect(&p, device, via));
    let b = format!("{conn}plug={plug}\n");
    let set = |state: &str| common::shell::set(&sb, "fence_apc", &b, state);
    // list-status: fence_apc prints the state as the device wrote it (ON, On); fencebox
    // prints on/off for every agent (docs/compatibility.md).
    let case_of_states = |action: &str, stdout: &str| {
        if action == "list-status" {
            stdout.to_lowercase()
        } else {
            stdout.to_string()
        }
    };
    common::shell::differential(
        &sb,
        "fence_apc",
        &b,
        EVERY_ACTION,
        &case_of_states,
        &case_of_states,
    );
    // An outlet the device does not have: both fail, nothing on stdout.
    let stdin = format!("{conn}plug={unknown}\naction=status\n");
    let theirs = debian_agent("fence_apc", &stdin);
    let mine = ours(&sb, &stdin);
    assert_eq!(
        (mine.code, mine.stdout.as_str()),
        (theirs.code, theirs.stdout.as_str()),
        "{device}: an unknown outlet\n--- fencebox\n{mine:?}\n--- fence-agents\n{theirs:?}"
    );
    assert_eq!(mine.code, 1, "{mine:?}");
    // And the outlet really is where the last action left it.
    set("off");
    let out = ours(&sb, &format!("{b}action=status\n"));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (2, "Status: OFF\n"),
        "{out:?}"
    );
    set("on");
}

#[test]
fn differential_aos2_menu_administrator_over_telnet() {
    differential("apc-diff-aos2", Via::Telnet, "3", "", "99");
}

#[test]
fn differential_aos3_menu_outlet_user_over_telnet() {
    differential("apc-diff-aos3u", Via::Telnet, "3", "", "99");
}

#[test]
fn differential_masterswitch_plus_chain_unit_2_over_telnet() {
    differential("apc-diff-msp", Via::Telnet, "2:3", "switch=2\n", "2:99");
}

#[test]
fn differential_command_line_over_telnet() {
    differential("apc-diff-cli", Via::Telnet, "3", "", "99");
}

#[test]
fn differential_aos3_menu_over_ssh() {
    differential("apc-diff-ssh", Via::Ssh, "3", "", "99");
}

/// Every action of fencebox on one device: status, on, off, reboot, list, list-status,
/// monitor and an unknown outlet.
fn every_action(device: &str, via: Via, plug: &str, extra: &str, outlets: usize) {
    let p = ShellPeers::load();
    let sb = Sandbox::new(&format!("{device}-{}", via as u8));
    let b = format!("{}{extra}power_wait=0\n", connect(&p, device, via));
    let run = |action: &str, plug: &str| ours(&sb, &format!("{b}plug={plug}\naction={action}\n"));
    let expect = |out: Out, code: i32, stdout: &str, what: &str| {
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (code, stdout),
            "{device} {what}: {out:?}"
        );
    };
    expect(run("off", plug), 0, "Success: Powered OFF\n", "off");
    expect(run("status", plug), 2, "Status: OFF\n", "status off");
    expect(run("off", plug), 0, "Success: Already OFF\n", "off again");
    expect(run("on", plug), 0, "Success: Powered ON\n", "on");
    expect(run("status", plug), 0, "Status: ON\n", "status on");
    expect(run("reboot", plug), 0, "Success: Rebooted\n", "reboot");
    expect(
        run("status", plug),
        0,
        "Status: ON\n",
        "status after reboot",
    );
    // Outlet 3 starts off, 1 on (apc.py); the others are not switched by this test.
    expect(run("status", "1"), 0, "Status: ON\n", "outlet 1");
    let unknown = match plug.split_once(':') {
        Some((unit, _)) => format!("{unit}:99"),
        None => "99".into(),
    };
    let out = run("status", &unknown);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (1, ""),
        "{device}: {out:?}"
    );
    assert!(out.stderr.contains("plug not found"), "{device}: {out:?}");
    let out = run("list", "");
    assert_eq!(out.code, 0, "{device}: {out:?}");
    assert_eq!(out.stdout.lines().count(), outlets, "{device}: {out:?}");
    assert!(out.stdout.starts_with("1,web-01\n"), "{device}: {out:?}");
    assert!(
        out.stdout.contains("\n5,core switch\n"),
        "{device}: {out:?}"
    );
    let out = run("list-status", "");
    assert_eq!(out.code, 0, "{device}: {out:?}");
    assert!(out.stdout.starts_with("1,web-01,on\n"), "{device}: {out:?}");
    assert!(
        out.stdout.contains("\n6,spare 6,off\n"),
        "{device}: {out:?}"
    );
    expect(run("monitor", ""), 0, "", "monitor");
}

#[test]
fn aos2_administrator() {
    every_action("apc-aos2", Via::Telnet, "4", "", 8);
    every_action("apc-aos2", Via::Ssh, "4", "", 8);
}

#[test]
fn aos2_outlet_user() {
    every_action("apc-aos2-user", Via::Telnet, "4", "", 8);
    every_action("apc-aos2-user", Via::Ssh, "4", "", 8);
}

#[test]
fn aos3_administrator() {
    every_action("apc-aos3", Via::Telnet, "4", "", 8);
    every_action("apc-aos3", Via::Ssh, "4", "", 8);
}

#[test]
fn aos3_outlet_user() {
    every_action("apc-aos3-user", Via::Telnet, "4", "", 8);
    every_action("apc-aos3-user", Via::Ssh, "4", "", 8);
}

#[test]
fn aos3_with_24_outlets_past_the_page_pause() {
    every_action("apc-aos3-24", Via::Telnet, "20", "", 24);
    every_action("apc-aos3-24", Via::Ssh, "20", "", 24);
}

#[test]
fn masterswitch_plus_chain_by_switch_colon_outlet_and_by_the_switch_option() {
    every_action("apc-msp", Via::Telnet, "2:4", "switch=2\n", 8);
    every_action("apc-msp", Via::Ssh, "2:4", "switch=2\n", 8);
    // Unit 1 is another outlet 4: a plug names its unit.
    let p = ShellPeers::load();
    let sb = Sandbox::new("apc-msp-units");
    let b = connect(&p, "apc-msp", Via::Telnet);
    let out = ours(&sb, &format!("{b}plug=1:4\naction=off\n"));
    assert_eq!(out.code, 0, "{out:?}");
    let out = ours(&sb, &format!("{b}plug=4\nswitch=1\naction=status\n"));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (2, "Status: OFF\n"),
        "{out:?}"
    );
    let out = ours(&sb, &format!("{b}plug=2:4\naction=status\n"));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Status: ON\n"),
        "{out:?}"
    );
    let out = ours(&sb, &format!("{b}plug=1:4\naction=on\n"));
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn a_chain_of_two_units_needs_the_switch_a_single_unit_does_not() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("apc-msp-switch");
    for via in [Via::Telnet, Via::Ssh] {
        let b = connect(&p, "apc-msp", via);
        let out = ours(&sb, &format!("{b}plug=4\naction=status\n"));
        assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:?}");
        assert!(
            out.stderr
                .contains("You have to enter physical switch number"),
            "{out:?}"
        );
    }
    every_action("apc-msp-1", Via::Telnet, "4", "", 8);
    every_action("apc-msp-1", Via::Ssh, "4", "", 8);
}

#[test]
fn command_line_v6() {
    every_action("apc-cli", Via::Telnet, "4", "", 8);
    every_action("apc-cli", Via::Ssh, "4", "", 8);
}

/// AOS v10.2.1 and an NMC3's v2.5.0.8: the command line, which Debian's fence_apc takes for
/// the menu firmware by the last digit of the major version (it times out); fencebox knows
/// it by its apc> prompt.
#[test]
fn command_line_v10_and_nmc3_are_recognised() {
    every_action("apc-cli10", Via::Telnet, "4", "", 8);
    every_action("apc-cli10", Via::Ssh, "4", "", 8);
    every_action("apc-nmc3", Via::Telnet, "4", "", 8);
    let p = ShellPeers::load();
    let stdin = format!(
        "{}plug=1\naction=status\n",
        connect(&p, "apc-nmc3", Via::Telnet)
    );
    let theirs = debian_agent("fence_apc", &stdin);
    assert_eq!((theirs.code, theirs.stdout.as_str()), (1, ""), "{theirs:?}");
}

#[test]
fn a_wrong_password_fails_at_once_saying_so() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("apc-wrong");
    for device in ["apc-aos3", "apc-cli"] {
        for via in [Via::Telnet, Via::Ssh] {
            let stdin = connect(&p, device, via).replace(p.password(), "not-the-password")
                + "plug=1\naction=off\n";
            let started = Instant::now();
            let out = ours(&sb, &stdin);
            let took = started.elapsed();
            assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:?}");
            assert!(
                out.stderr
                    .contains("Unable to connect/login to fencing device"),
                "{out:?}"
            );
            assert!(took < Duration::from_secs(1), "{device}: took {took:?}");
        }
    }
}

/// Over the legacy-algorithm sshd, and without ssh_options: fence_apc's default "-1 -c
/// blowfish" (SSH protocol 1) is not applied; fencebox negotiates what the sshd offers.
#[test]
fn ssh_with_the_default_ssh_options_and_the_legacy_sshd() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("apc-legacy");
    let known_hosts = sb.path("known_hosts");
    let kh = known_hosts.to_str().unwrap();
    for (device, port) in [
        ("apc-aos3", "FB_SSH_PORT_LEGACY"),
        ("apc-cli", "FB_SSH_PORT_LEGACY"),
        ("apc-aos2", "FB_SSH_PORT_MAIN"),
    ] {
        let user = p.get(&format!(
            "FB_EMU_{}_USER",
            device.to_uppercase().replace('-', "_")
        ));
        let stdin = format!(
            "ip={HOST}\nipport={}\nusername={user}\npassword={}\nssh=1\nplug=1\naction=status\n",
            p.get(port),
            p.password()
        );
        let out = sb.run_env("fence_apc", &stdin, &[("FENCEBOX_KNOWN_HOSTS", kh)]);
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "Status: ON\n"),
            "{device} {port}: {out:?}"
        );
    }
}

#[test]
fn a_plug_that_is_no_outlet_number_is_refused_before_connecting() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("apc-form");
    let out = ours(
        &sb,
        &format!(
            "{}plug=web-01\naction=status\n",
            connect(&p, "apc-aos3", Via::Telnet)
        ),
    );
    assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:?}");
    assert!(out.stderr.contains("SWITCH:OUTLET"), "{out:?}");
}

/// "ssh=0" is telnet for fencebox; Debian's fence_apc takes any value of ssh as on and
/// tries SSH on the telnet port (docs/compatibility.md).
#[test]
fn ssh_0_is_telnet() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("apc-ssh0");
    let stdin = format!("{}plug=1\naction=status\n", p.telnet_stdin(HOST, "apc-cli"));
    assert!(stdin.contains("ssh=0\n"));
    let out = ours(&sb, &stdin);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Status: ON\n"),
        "{out:?}"
    );
    let theirs = debian_agent("fence_apc", &stdin);
    assert_eq!((theirs.code, theirs.stdout.as_str()), (1, ""), "{theirs:?}");
}

/// The telnet login types the password; the transcript at verbosity 3 says a secret was
/// sent, never the password itself.
#[test]
fn no_password_in_the_transcript_of_a_telnet_login() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("apc-secrets");
    let debug = sb.path("debug.log");
    let stdin = format!(
        "{}plug=1\naction=status\nverbose_level=3\ndebug_file={}\n",
        connect(&p, "apc-aos2", Via::Telnet),
        debug.display()
    );
    let out = ours(&sb, &stdin);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Status: ON\n"),
        "{out:?}"
    );
    let log = std::fs::read_to_string(&debug).unwrap();
    assert!(log.contains("shell: sent (a secret)"), "{log}");
    assert!(log.contains("Device Manager"), "no transcript: {log}");
    for text in [&out.stderr, &log] {
        assert!(
            !text.contains(p.password()),
            "the password was logged:\n{text}"
        );
    }
}
