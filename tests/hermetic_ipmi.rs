//! fence_ipmilan through the real binary against the in-process fake BMC
//! (tests/fakes/bmc.rs): every action over RMCP+ suites 0, 3 and 17 and the negotiated
//! suite, over IPMI 1.5 with MD5, straight password and none; login failures; a stuck
//! relay; lost and late answers. Needs no external peer: each test starts its own BMC
//! on 127.0.0.1. The interop tier (ipmi_sim, pyghmi) is tests/ipmi.rs.

mod common;
#[path = "fakes/bmc.rs"]
mod fake_bmc;

use common::{Out, Sandbox};
use fake_bmc::{BmcConfig, FakeBmc};
use std::time::{Duration, Instant};

const NOTICE: &str = "NOTICE: List option is not working on this device yet\n";

fn run(sb: &Sandbox, bmc: &FakeBmc, args: &[&str]) -> Out {
    let port = bmc.port_arg();
    let base = [
        "-a",
        "127.0.0.1",
        "-u",
        &port,
        "-l",
        "admin",
        "-p",
        "password",
        "--power-wait=0",
    ];
    sb.run_args("fence_ipmilan", &[&base[..], args].concat())
}

fn expect(out: &Out, code: i32, stdout: &str, what: &str) {
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (code, stdout),
        "{what}: {out:?}"
    );
}

/// A failure: exit 1, nothing on stdout, `says` on stderr, never a success line.
fn expect_failure(out: &Out, says: &str, what: &str) {
    assert_eq!(out.code, 1, "{what}: {out:?}");
    assert!(out.stdout.is_empty(), "{what}: {out:?}");
    assert!(out.stderr.contains(says), "{what}: {out:?}");
    assert!(!out.stderr.contains("Success"), "{what}: {out:?}");
    assert!(!out.stderr.contains("panicked"), "{what}: {out:?}");
}

/// Every action through a fresh BMC in one session mode; `session` is the event the BMC
/// records when the session is made (which proves the mode really used).
fn every_action(mode: &[&str], session: &str) {
    let sb = Sandbox::new("hermetic-ipmi");
    let bmc = FakeBmc::new();
    let act = |action: &[&str]| run(&sb, &bmc, &[mode, action].concat());
    let what = |a: &str| format!("{mode:?} {a}");

    expect(&act(&["-o", "status"]), 0, "Status: ON\n", &what("status"));
    expect(&act(&["-o", "monitor"]), 0, "", &what("monitor"));
    // fence_ipmilan has no plugs: list answers fence-agents' notice.
    expect(&act(&["-o", "list"]), 0, NOTICE, &what("list"));
    expect(
        &act(&["-o", "list-status"]),
        0,
        NOTICE,
        &what("list-status"),
    );
    assert!(bmc.commands().is_empty(), "{mode:?}: {:?}", bmc.commands());

    expect(
        &act(&["-o", "off"]),
        0,
        "Success: Powered OFF\n",
        &what("off"),
    );
    assert!(!bmc.power_on(), "{mode:?}: the BMC switched off");
    assert_eq!(bmc.commands(), ["power down"], "{mode:?}");
    expect(
        &act(&["-o", "status"]),
        2,
        "Status: OFF\n",
        &what("status off"),
    );
    expect(&act(&["-o", "monitor"]), 0, "", &what("monitor off"));
    expect(
        &act(&["-o", "off"]),
        0,
        "Success: Already OFF\n",
        &what("off again"),
    );
    assert_eq!(
        bmc.commands(),
        ["power down"],
        "{mode:?}: no second command"
    );
    expect(&act(&["-o", "on"]), 0, "Success: Powered ON\n", &what("on"));
    assert!(bmc.power_on(), "{mode:?}");
    expect(
        &act(&["-o", "on"]),
        0,
        "Success: Already ON\n",
        &what("on again"),
    );

    bmc.clear();
    expect(
        &act(&["-o", "reboot"]),
        0,
        "Success: Rebooted\n",
        &what("reboot"),
    );
    assert_eq!(bmc.commands(), ["power down", "power up"], "{mode:?}");
    assert!(bmc.power_on(), "{mode:?}");
    bmc.clear();
    expect(
        &act(&["-o", "reboot", "-m", "cycle"]),
        0,
        "Success: Rebooted\n",
        &what("reboot cycle"),
    );
    assert_eq!(bmc.commands(), ["power cycle"], "{mode:?}");
    bmc.clear();
    expect(
        &act(&["-o", "diag"]),
        0,
        "Success: Rebooted\n",
        &what("diag"),
    );
    assert_eq!(bmc.commands(), ["diag"], "{mode:?}");
    // A machine that is off cannot be cycled: the BMC's refusal, never a success.
    bmc.set_power(false);
    let out = act(&["-o", "reboot", "-m", "cycle"]);
    expect_failure(
        &out,
        "a cycle needs the machine on",
        &what("cycle while off"),
    );

    // Every call made its session in the expected mode and closed it.
    let events = bmc.events();
    let made = events.iter().filter(|e| e.as_str() == session).count();
    let closed = events.iter().filter(|e| e.ends_with("closed")).count();
    assert_eq!((made, closed), (14, 14), "{mode:?}: {events:?}");
}

#[test]
fn lanplus_cipher_suite_3() {
    every_action(&["-P", "-C", "3"], "lanplus session: suite 3");
}

#[test]
fn lanplus_cipher_suite_17() {
    every_action(&["-P", "-C", "17"], "lanplus session: suite 17");
}

/// Without cipher=, the strongest suite the BMC accepts is used: 17.
#[test]
fn lanplus_negotiated_suite_is_17() {
    every_action(&["-P"], "lanplus session: suite 17");
}

#[test]
fn lanplus_cipher_suite_0() {
    every_action(&["-P", "-C", "0"], "lanplus session: suite 0");
}

#[test]
fn ipmi15_md5() {
    every_action(&["-A", "md5"], "lan session: auth md5");
}

#[test]
fn ipmi15_straight_password() {
    every_action(&["-A", "password"], "lan session: auth password");
}

#[test]
fn ipmi15_auth_none() {
    every_action(&["-A", "none"], "lan session: auth none");
}

/// Without auth=, IPMI 1.5 picks the strongest type the BMC enables: MD5.
#[test]
fn ipmi15_default_auth_is_md5() {
    let sb = Sandbox::new("hermetic-ipmi-auth");
    let bmc = FakeBmc::new();
    expect(
        &run(&sb, &bmc, &["-o", "status"]),
        0,
        "Status: ON\n",
        "status",
    );
    assert!(
        bmc.events().contains(&"lan session: auth md5".to_string()),
        "{:?}",
        bmc.events()
    );
}

/// The other suites fencebox and the fake share (SHA-1, HMAC-MD5 and SHA-256 families):
/// a session, a status read and a switch off, each.
#[test]
fn lanplus_other_suites() {
    let sb = Sandbox::new("hermetic-ipmi-suites");
    let bmc = FakeBmc::new();
    for id in ["1", "2", "6", "7", "8", "15", "16"] {
        bmc.set_power(true);
        let mode = ["-P", "-C", id];
        let out = run(&sb, &bmc, &[&mode[..], &["-o", "status"]].concat());
        expect(&out, 0, "Status: ON\n", &format!("suite {id} status"));
        let out = run(&sb, &bmc, &[&mode[..], &["-o", "off"]].concat());
        expect(
            &out,
            0,
            "Success: Powered OFF\n",
            &format!("suite {id} off"),
        );
        assert!(!bmc.power_on(), "suite {id}");
        let session = format!("lanplus session: suite {id}");
        assert!(bmc.events().contains(&session), "{:?}", bmc.events());
    }
}

/// A BMC that refuses suite 17: negotiation falls back to 3, and both sides show it;
/// asked for explicitly, a refused suite is a clear error.
#[test]
fn negotiation_falls_back_to_what_the_bmc_accepts() {
    let sb = Sandbox::new("hermetic-ipmi-negotiate");
    let bmc = FakeBmc::start(BmcConfig {
        suites: vec![0, 1, 2, 3],
        ..Default::default()
    });
    let out = run(&sb, &bmc, &["-P", "-o", "status", "-vv"]);
    expect(&out, 0, "Status: ON\n", "negotiated");
    assert!(out.stderr.contains("cipher suite 17 refused"), "{out:?}");
    assert!(out.stderr.contains("IPMI 2.0: cipher suite 3"), "{out:?}");
    let events = bmc.events();
    assert!(
        events.contains(&"open session: refused algorithms 3/4/1".to_string()),
        "{events:?}"
    );
    assert!(
        events.contains(&"lanplus session: suite 3".to_string()),
        "{events:?}"
    );

    let out = run(&sb, &bmc, &["-P", "-C", "17", "-o", "status"]);
    expect_failure(&out, "refused the cipher suite", "cipher 17");

    // A BMC with suite 0 only: no suite fencebox negotiates (it never picks 0 on its
    // own), and the error lists what the BMC offers.
    let bare = FakeBmc::start(BmcConfig {
        suites: vec![0],
        ..Default::default()
    });
    let out = run(&sb, &bare, &["-P", "-o", "off"]);
    expect_failure(&out, "accepts none of the cipher suites", "suite 0 only");
    assert!(out.stderr.contains("it lists [0]"), "{out:?}");
    assert!(bare.power_on() && bare.commands().is_empty());
}

/// A wrong password fails fast with a message that names the cause, in every session
/// mode, and no command reaches the BMC.
#[test]
fn wrong_password_is_a_clear_and_bounded_failure() {
    let sb = Sandbox::new("hermetic-ipmi-password");
    let bmc = FakeBmc::new();
    let port = bmc.port_arg();
    let modes: &[(&[&str], &str)] = &[
        (&["-P", "-C", "3"], "does not match the password"),
        (&["-P", "-C", "17"], "does not match the password"),
        (&["-P"], "does not match the password"),
        (&["-A", "md5"], "ignored the signed Activate Session"),
        (&["-A", "password"], "ignored the signed Activate Session"),
    ];
    for (mode, says) in modes {
        let started = Instant::now();
        let base = [
            "-a",
            "127.0.0.1",
            "-u",
            &port,
            "-l",
            "admin",
            "-p",
            "wrong",
            "-o",
            "off",
        ];
        let out = sb.run_args("fence_ipmilan", &[&base[..], mode].concat());
        let took = started.elapsed();
        expect_failure(&out, "authentication failed", &format!("{mode:?}"));
        assert!(out.stderr.contains(says), "{mode:?}: {out:?}");
        assert!(!out.stderr.contains("timed out"), "{mode:?}: {out:?}");
        assert!(took < Duration::from_secs(3), "{mode:?} took {took:?}");
    }
    assert!(bmc.power_on() && bmc.commands().is_empty());
    // IPMI 1.5: the BMC itself saw the bad codes and stayed silent.
    let silent = bmc
        .events()
        .iter()
        .filter(|e| e.starts_with("activate: authentication code"))
        .count();
    assert!(silent >= 2, "{:?}", bmc.events());
}

#[test]
fn unknown_user_is_named() {
    let sb = Sandbox::new("hermetic-ipmi-user");
    let bmc = FakeBmc::new();
    let port = bmc.port_arg();
    for mode in [&["-P", "-C", "17"][..], &["-A", "md5"][..]] {
        let base = [
            "-a",
            "127.0.0.1",
            "-u",
            &port,
            "-l",
            "nobody",
            "-p",
            "password",
            "-o",
            "off",
        ];
        let out = sb.run_args("fence_ipmilan", &[&base[..], mode].concat());
        expect_failure(
            &out,
            "does not know the user 'nobody'",
            &format!("{mode:?}"),
        );
    }
    assert!(bmc.power_on() && bmc.commands().is_empty());
}

/// A user whose BMC account stops at operator: asking for administrator is refused,
/// operator works.
#[test]
fn privilege_limits_are_honoured() {
    let sb = Sandbox::new("hermetic-ipmi-privilege");
    let bmc = FakeBmc::start(BmcConfig {
        max_privilege: fake_bmc::OPERATOR,
        ..Default::default()
    });
    for mode in [&["-P", "-C", "3"][..], &["-A", "md5"][..]] {
        let out = run(&sb, &bmc, &[mode, &["-o", "off"]].concat());
        expect_failure(&out, "privilege", &format!("{mode:?} administrator"));
        assert!(bmc.power_on());
        let out = run(
            &sb,
            &bmc,
            &[mode, &["-L", "operator", "-o", "off"]].concat(),
        );
        expect(
            &out,
            0,
            "Success: Powered OFF\n",
            &format!("{mode:?} operator"),
        );
        bmc.set_power(true);
    }
}

/// The BMC key: with hexadecimal_kg the SIK is keyed by it; a wrong key is reported
/// as such.
#[test]
fn bmc_key_kg() {
    let sb = Sandbox::new("hermetic-ipmi-kg");
    let kg = "00112233445566778899aabbccddeeff01020304";
    let bmc = FakeBmc::start(BmcConfig {
        kg: Some(
            (0..20)
                .map(|i| u8::from_str_radix(&kg[2 * i..2 * i + 2], 16).unwrap())
                .collect(),
        ),
        ..Default::default()
    });
    let key = format!("--hexadecimal-kg={kg}");
    for suite in ["3", "17"] {
        let out = run(&sb, &bmc, &["-P", "-C", suite, &key, "-o", "status"]);
        expect(
            &out,
            0,
            "Status: ON\n",
            &format!("suite {suite} with the key"),
        );
        let out = run(&sb, &bmc, &["-P", "-C", suite, "-o", "status"]);
        expect_failure(
            &out,
            "check hexadecimal_kg",
            &format!("suite {suite} without"),
        );
    }
}

/// A stuck relay: the BMC acknowledges Chassis Control but the power stays on. off and
/// reboot must fail with fence-agents' timeout message, never report success.
#[test]
fn stuck_relay_never_reports_success() {
    let sb = Sandbox::new("hermetic-ipmi-stuck");
    let bmc = FakeBmc::new();
    bmc.set_ignore_power(true);
    let quick = ["--power-timeout=1", "--stonith-status-sleep=0"];
    for mode in [&["-P", "-C", "17"][..], &["-A", "md5"][..]] {
        for action in ["off", "reboot"] {
            bmc.clear();
            let started = Instant::now();
            let out = run(&sb, &bmc, &[mode, &quick, &["-o", action]].concat());
            let what = format!("{mode:?} {action}");
            expect_failure(&out, "Failed: Timed out waiting to power OFF", &what);
            assert!(started.elapsed() < Duration::from_secs(5), "{what}");
            assert_eq!(bmc.commands(), ["power down"], "{what}: no power up");
            assert!(bmc.power_on(), "{what}");
        }
    }
    // The same for on, from off.
    bmc.set_power(false);
    let out = run(
        &sb,
        &bmc,
        &[&["-P", "-C", "3"][..], &quick, &["-o", "on"]].concat(),
    );
    expect_failure(&out, "Failed: Timed out waiting to power ON", "on");
    assert!(!bmc.power_on());
}

/// A lost first datagram is sent again and the call succeeds.
#[test]
fn a_dropped_first_datagram_is_retried() {
    let sb = Sandbox::new("hermetic-ipmi-drop");
    let bmc = FakeBmc::new();
    for mode in [&["-P", "-C", "17"][..], &["-A", "md5"][..]] {
        bmc.drop_next(1);
        let before = bmc.dropped();
        let started = Instant::now();
        let args = [mode, &["--ipmitool-timeout=0.3", "-vv", "-o", "off"]].concat();
        let out = run(&sb, &bmc, &args);
        expect(&out, 0, "Success: Powered OFF\n", &format!("{mode:?}"));
        assert_eq!(bmc.dropped(), before + 1, "{mode:?}");
        assert!(out.stderr.contains("sending it again"), "{mode:?}: {out:?}");
        assert!(started.elapsed() < Duration::from_secs(3), "{mode:?}");
        bmc.set_power(true);
    }
}

/// Answers later than ipmitool_timeout but within it are fine; a BMC slower than every
/// try is a timeout within tries x ipmitool_timeout, not a hang.
#[test]
fn late_answers() {
    let sb = Sandbox::new("hermetic-ipmi-delay");
    let bmc = FakeBmc::new();
    bmc.set_delay(Duration::from_millis(100));
    let out = run(&sb, &bmc, &["-P", "--ipmitool-timeout=1", "-o", "off"]);
    expect(&out, 0, "Success: Powered OFF\n", "slow BMC");
    bmc.set_delay(Duration::from_millis(1500));
    let started = Instant::now();
    let out = run(&sb, &bmc, &["-P", "--ipmitool-timeout=0.2", "-o", "on"]);
    let took = started.elapsed();
    expect_failure(&out, "Connection timed out", "too slow a BMC");
    assert!(
        took >= Duration::from_millis(550) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert!(!bmc.power_on());
}

/// `fencebox stats` of BMCs: a BMC with DCMI gives the machine's power (the gauge named
/// as ipmi_exporter names it), a BMC without DCMI meters nothing and is no failure, and a
/// BMC that refuses the login fails the command with its reason. ipmi_sim has no DCMI,
/// so this is the fake BMC (tests/fakes/bmc.rs), whose answer follows the DCMI 1.5
/// specification's bytes.
#[test]
fn stats_reads_a_bmcs_power_through_dcmi() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new("ipmi-stats");
    let metered = FakeBmc::start(BmcConfig {
        dcmi_watts: Some(350),
        ..BmcConfig::default()
    });
    let plain = FakeBmc::start(BmcConfig::default());
    let locked = FakeBmc::start(BmcConfig {
        password: "other".into(),
        ..BmcConfig::default()
    });
    let device = |name: &str, bmc: &FakeBmc| {
        format!(
            "[devices.{name}]\nagent = \"fence_ipmilan\"\nip = \"127.0.0.1\"\nipport = \"{}\"\n\
             username = \"admin\"\npassword = \"password\"\nlanplus = \"1\"\n",
            bmc.port()
        )
    };
    let inv = sb.path("inventory.toml");
    std::fs::write(
        &inv,
        [
            device("bmc1", &metered),
            device("bmc2", &plain),
            device("bmc3", &locked),
        ]
        .concat(),
    )
    .unwrap();
    std::fs::set_permissions(&inv, std::fs::Permissions::from_mode(0o600)).unwrap();
    let stats = |args: &[&str]| {
        sb.command("fencebox")
            .arg("stats")
            .args(args)
            .arg("--inventory")
            .arg(&inv)
            .output()
            .unwrap()
    };
    let out = stats(&["bmc1,bmc2", "--prometheus"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        text,
        "# HELP fencebox_stats_up Whether the device answered the last read (1) or not (0).\n\
         # TYPE fencebox_stats_up gauge\n\
         fencebox_stats_up{device=\"bmc1\"} 1\n\
         fencebox_stats_up{device=\"bmc2\"} 1\n\
         # HELP fencebox_dcmi_power_consumption_watts The machine's power consumption as its BMC reports it (DCMI Get Power Reading).\n\
         # TYPE fencebox_dcmi_power_consumption_watts gauge\n\
         fencebox_dcmi_power_consumption_watts{device=\"bmc1\"} 350\n"
    );
    let out = stats(&["bmc1,bmc2"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "[bmc1]\ninput.realpower: 350\n\n[bmc2]\nnote: the device meters nothing\n"
    );
    // A refused login: exit 1, the reason, and never the password.
    let out = stats(&["all", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["devices"][2]["device"], "bmc3");
    assert_eq!(v["devices"][2]["ok"], false);
    assert!(
        v["devices"][2]["error"]
            .as_str()
            .is_some_and(|e| e.to_lowercase().contains("password") || e.contains("uthent")),
        "{text}"
    );
    assert!(!text.contains("\"password\""), "{text}");
}
