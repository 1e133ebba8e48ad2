//! The Dell and IBM shell agents (fence_drac5, fence_bladecenter, fence_lpar, fence_rsa,
//! fence_drac, fence_rsb) against the device emulators of tests/peers/emulators (served over
//! telnet and ssh by tests/peers/ssh/start.sh, devices dellibm-* in devices.conf), and
//! Debian's Python agents on the same emulators with the same stdin as the reference.

mod common;
use common::shell::{expect, hold, same, set, ShellPeers, Via, EVERY_ACTION};
use common::{Out, Sandbox};
use std::time::{Duration, Instant};

const HOST: &str = "127.0.0.1";
const MANAGED: &str = "Server-8286-42A-SN2178A4V";

/// stdin reaching emulated device `dev` over `via`, then `extra` lines.
fn base(p: &ShellPeers, dev: &str, via: Via, extra: &str) -> String {
    format!("{}{extra}", p.emulator_stdin(HOST, dev, via))
}

fn run(sb: &Sandbox, agent: &str, stdin: &str, action: &str) -> Out {
    sb.run(agent, &format!("{stdin}action={action}\n"))
}

/// status, off, on, already on, reboot and monitor, then a wrong password.
fn power_cycle(sb: &Sandbox, agent: &str, stdin: &str) {
    set(sb, agent, stdin, "off");
    expect(
        &run(sb, agent, stdin, "status"),
        2,
        "Status: OFF\n",
        "status",
    );
    expect(
        &run(sb, agent, stdin, "off"),
        0,
        "Success: Already OFF\n",
        "off",
    );
    expect(
        &run(sb, agent, stdin, "on"),
        0,
        "Success: Powered ON\n",
        "on",
    );
    expect(
        &run(sb, agent, stdin, "status"),
        0,
        "Status: ON\n",
        "status",
    );
    expect(
        &run(sb, agent, stdin, "on"),
        0,
        "Success: Already ON\n",
        "on",
    );
    expect(
        &run(sb, agent, stdin, "off"),
        0,
        "Success: Powered OFF\n",
        "off",
    );
    expect(
        &run(sb, agent, stdin, "reboot"),
        0,
        "Success: Rebooted\n",
        "reboot",
    );
    expect(
        &run(sb, agent, stdin, "status"),
        0,
        "Status: ON\n",
        "after reboot",
    );
    expect(&run(sb, agent, stdin, "monitor"), 0, "", "monitor");
}

/// A wrong password is refused at once (not after a timeout), saying so.
fn wrong_password(sb: &Sandbox, p: &ShellPeers, agent: &str, stdin: &str) {
    let stdin = stdin.replace(p.password(), "not-the-password");
    let started = Instant::now();
    let out = run(sb, agent, &stdin, "status");
    let took = started.elapsed();
    assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:?}");
    assert!(
        out.stderr
            .contains("Unable to connect/login to fencing device"),
        "{out:?}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

/// Debian's agent and fencebox from the same state with the same stdin, for every action:
/// the same exit code and stdout, after `adjust` (where fencebox deliberately differs; see
/// docs/compatibility.md).
fn differential(sb: &Sandbox, agent: &str, stdin: &str, adjust: &dyn Fn(&str, &str) -> String) {
    common::shell::differential(sb, agent, stdin, EVERY_ACTION, adjust, adjust);
}

// --- fence_drac5 -------------------------------------------------------------------------

#[test]
fn drac5_over_telnet_and_ssh() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("dellibm-drac5");
    let _g = hold("dellibm-drac5");
    for via in [Via::Telnet, Via::Ssh] {
        // A DRAC 5 has one server: a plug (Pacemaker passes the node name) is not used.
        let b = base(&p, "dellibm-drac5", via, "power_wait=0\nplug=node1\n");
        power_cycle(&sb, "fence_drac5", &b);
        // Nothing to list on a DRAC 5.
        expect(&run(&sb, "fence_drac5", &b, "list"), 0, "", "list");
        expect(
            &run(&sb, "fence_drac5", &b, "list-status"),
            0,
            "",
            "list-status",
        );
        wrong_password(&sb, &p, "fence_drac5", &b);
    }
}

#[test]
fn drac5_on_an_idrac_with_its_smclp_prompt() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("dellibm-idrac");
    let _g = hold("dellibm-idrac");
    let b = base(
        &p,
        "dellibm-idrac",
        Via::Ssh,
        "power_wait=0\ncommand_prompt=/admin1->\n",
    );
    power_cycle(&sb, "fence_drac5", &b);
}

#[test]
fn drac5_on_a_cmc_over_telnet_and_ssh() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("dellibm-cmc");
    let _g = hold("dellibm-cmc");
    for via in [Via::Telnet, Via::Ssh] {
        let b = base(&p, "dellibm-cmc", via, "power_wait=0\n");
        power_cycle(&sb, "fence_drac5", &format!("{b}plug=server-3\n"));
        // Module names in any case, as the list prints them.
        set(&sb, "fence_drac5", &format!("{b}plug=server-2\n"), "off");
        expect(
            &run(&sb, "fence_drac5", &format!("{b}plug=Server-2\n"), "status"),
            2,
            "Status: OFF\n",
            "Server-2",
        );
        let list = run(&sb, "fence_drac5", &b, "list-status");
        assert_eq!(list.code, 0, "{list:?}");
        let rows: Vec<&str> = list.stdout.lines().collect();
        for row in [
            "Chassis,,on",
            "Server-2,,off",
            "Server-3,,on",
            "Server-5,,on",
        ] {
            assert!(rows.contains(&row), "{row}: {list:?}");
        }
        assert!(
            !list.stdout.contains("Server-6") && !list.stdout.contains("PS-1"),
            "empty slots and modules without a power state are not plugs: {list:?}"
        );
        // An empty slot, a module the CMC does not know, no plug at all.
        for plug in ["server-9", "blade-1"] {
            let out = run(&sb, "fence_drac5", &format!("{b}plug={plug}\n"), "status");
            assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{plug}: {out:?}");
            assert!(out.stderr.contains("plug not found"), "{plug}: {out:?}");
        }
        let out = run(&sb, "fence_drac5", &b, "status");
        assert_eq!(out.code, 1, "{out:?}");
        assert!(out.stderr.contains("module name"), "{out:?}");
        wrong_password(&sb, &p, "fence_drac5", &format!("{b}plug=server-1\n"));
    }
}

#[test]
fn drac5_on_a_drac_mc() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("dellibm-dracmc");
    let _g = hold("dellibm-dracmc");
    let b = base(&p, "dellibm-dracmc", Via::Telnet, "power_wait=0\n");
    power_cycle(&sb, "fence_drac5", &format!("{b}plug=server-3\n"));
    for plug in ["server-2", "server-4"] {
        set(&sb, "fence_drac5", &format!("{b}plug={plug}\n"), "off");
    }
    expect(
        &run(&sb, "fence_drac5", &b, "list-status"),
        0,
        "chassis,,on\nswitch-1,,on\nserver-1,,on\nserver-2,,off\nserver-3,,on\nserver-4,,off\n",
        "list-status",
    );
    for plug in ["server-7", "server-99"] {
        let out = run(&sb, "fence_drac5", &format!("{b}plug={plug}\n"), "status");
        assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{plug}: {out:?}");
        assert!(out.stderr.contains("plug not found"), "{plug}: {out:?}");
    }
    wrong_password(&sb, &p, "fence_drac5", &format!("{b}plug=server-1\n"));
}

#[test]
fn drac5_drac_version_overrides_the_banner() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("dellibm-drac5-version");
    {
        let _g = hold("dellibm-drac5");
        // Told it is a CMC, fencebox sends -m: the DRAC 5 refuses, and that is an error.
        let b = base(&p, "dellibm-drac5", Via::Telnet, "plug=server-1\n");
        let out = run(
            &sb,
            "fence_drac5",
            &format!("{b}drac_version=DRAC CMC\n"),
            "status",
        );
        assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:?}");
        let out = run(
            &sb,
            "fence_drac5",
            &format!("{b}drac_version=DRAC 5\n"),
            "status",
        );
        assert_eq!(out.code, 0, "{out:?}");
    }
    let _g = hold("dellibm-cmc");
    let b = base(&p, "dellibm-cmc", Via::Telnet, "plug=server-1\n");
    let out = run(
        &sb,
        "fence_drac5",
        &format!("{b}drac_version=DRAC 5\n"),
        "status",
    );
    assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:?}");
    let out = run(
        &sb,
        "fence_drac5",
        &format!("{b}drac_version=drac cmc\n"),
        "status",
    );
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn drac5_answers_as_debians_fence_drac5() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("dellibm-drac5-diff");
    {
        let _g = hold("dellibm-drac5");
        let b = base(&p, "dellibm-drac5", Via::Telnet, "power_wait=0\n");
        // fence-agents prints N/A for a DRAC 5's list; fencebox lists nothing.
        differential(&sb, "fence_drac5", &b, &|action, out| match action {
            "list" | "list-status" | "monitor" => String::new(),
            _ => out.to_string(),
        });
    }
    // fence-agents prints the CMC's and DRAC/MC's states as they print them (ON/OFF).
    let lower = |action: &str, out: &str| match action {
        "list-status" => out.to_lowercase(),
        _ => out.to_string(),
    };
    {
        let _g = hold("dellibm-cmc");
        let b = base(
            &p,
            "dellibm-cmc",
            Via::Telnet,
            "power_wait=0\nplug=server-2\n",
        );
        differential(&sb, "fence_drac5", &b, &lower);
    }
    let _g = hold("dellibm-dracmc");
    let b = base(
        &p,
        "dellibm-dracmc",
        Via::Telnet,
        "power_wait=0\nplug=server-2\n",
    );
    differential(&sb, "fence_drac5", &b, &lower);
}

// --- fence_bladecenter -------------------------------------------------------------------

#[test]
fn bladecenter_over_telnet_and_ssh() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("dellibm-amm");
    let _g = hold("dellibm-amm");
    for via in [Via::Telnet, Via::Ssh] {
        let b = base(&p, "dellibm-amm", via, "power_wait=0\n");
        power_cycle(&sb, "fence_bladecenter", &format!("{b}plug=3\n"));
        expect(
            &run(&sb, "fence_bladecenter", &b, "list"),
            0,
            "1,web01\n2,db01\n3,app03\n5,test05\n7,ci07\n",
            "list",
        );
        // Empty and unknown bays.
        for plug in ["4", "20"] {
            let s = format!("{b}plug={plug}\n");
            let out = run(&sb, "fence_bladecenter", &s, "status");
            assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{plug}: {out:?}");
            assert!(out.stderr.contains("plug not found"), "{plug}: {out:?}");
            let out = run(
                &sb,
                "fence_bladecenter",
                &format!("{s}missing_as_off=1\n"),
                "status",
            );
            expect(&out, 2, "Status: OFF\n", "missing_as_off");
        }
        let out = run(&sb, "fence_bladecenter", &format!("{b}plug=x\n"), "status");
        assert_eq!(out.code, 1, "{out:?}");
        wrong_password(&sb, &p, "fence_bladecenter", &format!("{b}plug=1\n"));
    }
}

#[test]
fn bladecenter_answers_as_debians_fence_bladecenter() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("dellibm-amm-diff");
    let _g = hold("dellibm-amm");
    let b = base(&p, "dellibm-amm", Via::Telnet, "power_wait=0\nplug=5\n");
    differential(&sb, "fence_bladecenter", &b, &same);
}

// --- fence_lpar --------------------------------------------------------------------------

#[test]
fn lpar_on_hmc4_hmc3_and_ivm() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("dellibm-lpar");
    for (dev, version) in [
        ("dellibm-hmc4", "4"),
        ("dellibm-hmc3", "3"),
        ("dellibm-ivm", "ivm"),
    ] {
        let _g = hold(dev);
        let b = base(
            &p,
            dev,
            Via::Ssh,
            &format!("power_wait=0\nmanaged={MANAGED}\nhmc_version={version}\n"),
        );
        power_cycle(&sb, "fence_lpar", &format!("{b}plug=rhel-db\n"));
        expect(
            &run(&sb, "fence_lpar", &format!("{b}plug=sles-test\n"), "status"),
            0,
            "Status: ON\n",
            "Open Firmware",
        );
        let list = run(&sb, "fence_lpar", &b, "list");
        expect(
            &list,
            0,
            "vios1,\naix-prod,\nrhel-db,\nsles-test,\naix-dev,\n",
            version,
        );
        let out = run(
            &sb,
            "fence_lpar",
            &format!("{b}plug=no-such-lpar\n"),
            "status",
        );
        assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:?}");
        assert!(out.stderr.contains("plug not found"), "{out:?}");
        let out = run(
            &sb,
            "fence_lpar",
            &b.replace(MANAGED, "no-such-system"),
            "list",
        );
        assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:?}");
        wrong_password(&sb, &p, "fence_lpar", &format!("{b}plug=vios1\n"));
    }
}

#[test]
fn lpar_answers_as_debians_fence_lpar() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("dellibm-lpar-diff");
    let _g = hold("dellibm-hmc4");
    let b = base(
        &p,
        "dellibm-hmc4",
        Via::Ssh,
        &format!("power_wait=0\nmanaged={MANAGED}\nplug=rhel-db\n"),
    );
    differential(&sb, "fence_lpar", &b, &same);
}

// --- fence_rsa, fence_drac, fence_rsb: one server, no plug ---------------------------------

#[test]
fn rsa_over_telnet_and_ssh() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("dellibm-rsa");
    let _g = hold("dellibm-rsa");
    for via in [Via::Telnet, Via::Ssh] {
        let b = base(&p, "dellibm-rsa", via, "power_wait=0\n");
        power_cycle(&sb, "fence_rsa", &b);
        expect(
            &run(&sb, "fence_rsa", &b, "list"),
            0,
            "NOTICE: List option is not working on this device yet\n",
            "list",
        );
        wrong_password(&sb, &p, "fence_rsa", &b);
    }
}

#[test]
fn rsa_answers_as_debians_fence_rsa() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("dellibm-rsa-diff");
    let _g = hold("dellibm-rsa");
    let b = base(&p, "dellibm-rsa", Via::Telnet, "power_wait=0\n");
    differential(&sb, "fence_rsa", &b, &same);
}

#[test]
fn drac_over_telnet() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("dellibm-drac4");
    let _g = hold("dellibm-drac4");
    let b = base(&p, "dellibm-drac4", Via::Telnet, "power_wait=0\n");
    power_cycle(&sb, "fence_drac", &b);
    expect(
        &run(&sb, "fence_drac", &b, "list"),
        0,
        "NOTICE: List option is not working on this device yet\n",
        "list",
    );
    wrong_password(&sb, &p, "fence_drac", &b);
}

#[test]
fn drac_answers_as_debians_fence_drac() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("dellibm-drac4-diff");
    let _g = hold("dellibm-drac4");
    let b = base(&p, "dellibm-drac4", Via::Telnet, "power_wait=0\n");
    differential(&sb, "fence_drac", &b, &same);
}

#[test]
fn rsb_over_telnet_and_ssh() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("dellibm-rsb");
    let _g = hold("dellibm-rsb");
    for via in [Via::Telnet, Via::Ssh] {
        let b = base(&p, "dellibm-rsb", via, "power_wait=0\n");
        power_cycle(&sb, "fence_rsb", &b);
        expect(
            &run(&sb, "fence_rsb", &b, "list"),
            0,
            "NOTICE: List option is not working on this device yet\n",
            "list",
        );
        wrong_password(&sb, &p, "fence_rsb", &b);
    }
}

#[test]
fn rsb_answers_as_debians_fence_rsb() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("dellibm-rsb-diff");
    let _g = hold("dellibm-rsb");
    let b = base(&p, "dellibm-rsb", Via::Telnet, "power_wait=0\n");
    differential(&sb, "fence_rsb", &b, &same);
}
