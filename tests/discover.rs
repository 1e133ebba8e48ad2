//! `fencebox discover` and `fencebox families suggest` against real peers: a planted set
//! of simulated PDUs (one snmpsim answering on many loopback addresses, each its own
//! device) and ipmi_sim BMCs (tests/peers/discover), upsd (tests/peers/nut); and a family
//! proposed from the snmpwalk of a simulator that then fences it.

mod common;

use std::process::Output;

use common::{sims, Sandbox};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn fencebox(sb: &Sandbox, args: &[&str]) -> Output {
    sb.command("fencebox").args(args).output().unwrap()
}

/// net-snmp's snmpwalk of a simulated device, as a user would send it.
fn walk(port: u16, community: &str) -> String {
    let out = std::process::Command::new("snmpwalk")
        .args(["-On", "-v2c", "-c", community])
        .arg(format!("127.0.0.1:{port}"))
        .arg(".1.3.6.1")
        .output()
        .expect("snmpwalk (Debian's snmp) must be installed");
    assert!(out.status.success(), "snmpwalk: {}", text(&out.stderr));
    text(&out.stdout)
}

/// The family proposed from a simulator's walk fences it: off, status, on, with the
/// simulator's own record showing the commands. Two shapes: APC's Rack PDU (state and
/// command in two tables) and the MasterSwitch (one column for both).
#[test]
fn a_suggested_family_fences_the_device_it_was_walked_from() {
    let s = sims();
    for (community, enterprise) in [
        ("private", "318"),
        ("apc-ms", "318"),
        ("cyberpower", "3808"),
    ] {
        let sb = Sandbox::new("suggest");
        let dump = sb.path("device.walk");
        std::fs::write(&dump, walk(s.port, community)).unwrap();
        let out = fencebox(&sb, &["families", "suggest", dump.to_str().unwrap()]);
        assert!(out.status.success(), "{community}: {}", text(&out.stderr));
        let family = text(&out.stdout);
        assert!(family.contains("GUESS"), "{family}");
        std::fs::write(sb.path("agents.d").join("suggested.toml"), &family).unwrap();
        let name = format!("suggested-{enterprise}");
        let port = s.port.to_string();
        let plug = "7";
        let run = |action: &str| {
            sb.run_args(
                "fence_pdu",
                &[
                    "-a",
                    "127.0.0.1",
                    "-u",
                    &port,
                    "-c",
                    community,
                    "--family",
                    &name,
                    "-n",
                    plug,
                    "-o",
                    action,
                ],
            )
        };
        let off = run("off");
        assert_eq!(
            (off.code, off.stdout.as_str()),
            (0, "Success: Powered OFF\n"),
            "{community}: {off:?}\n{family}"
        );
        let st = run("status");
        assert_eq!(
            (st.code, st.stdout.as_str()),
            (2, "Status: OFF\n"),
            "{community}: {st:?}"
        );
        let on = run("on");
        assert_eq!(
            (on.code, on.stdout.as_str()),
            (0, "Success: Powered ON\n"),
            "{community}: {on:?}"
        );
    }
}

#[test]
fn suggest_refuses_what_is_not_a_walk() {
    let sb = Sandbox::new("suggest-bad");
    let bad = sb.path("bad.walk");
    std::fs::write(&bad, "hello\n").unwrap();
    let out = fencebox(&sb, &["families", "suggest", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("snmpwalk -On"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stderr).lines().count(),
        1,
        "{}",
        text(&out.stderr)
    );
}
