//! The HP shell agents against the emulated devices of tests/peers/emulators (ilo.py,
//! hpblade.py; devices hp-* in devices.conf) over telnet, where the emulator does the
//! device's own login, and over OpenSSH (the device account's ForceCommand), and
//! fence_ilo_ssh against fakenos (an SSH server that is not OpenSSH). Debian's Python
//! agents on the same emulator with the same stdin are the reference: same exit code and
//! stdout for every action, except where docs/compatibility.md says fencebox differs.

mod common;
use common::shell::{expect, hold, set, ShellPeers, Via};
use common::{debian_agent, Sandbox};
use std::time::{Duration, Instant};

/// stdin reaching `device` over `via`, as both fencebox and fence-agents read it: telnet
/// is the default transport of these agents, ssh=1 for ssh.
fn conn(p: &ShellPeers, device: &str, via: Via) -> String {
    p.emulator_stdin("127.0.0.1", device, via)
}

/// For each (state before, action): fencebox and Debian's agent from the same state give
/// the same exit code and stdout.
fn same_as_debian(sb: &Sandbox, agent: &str, b: &str, setter: &str, cases: &[(&str, &str)]) {
    for (before, action) in cases {
        let stdin = format!("{b}action={action}\n");
        set(sb, agent, setter, before);
        let theirs = debian_agent(agent, &stdin);
        set(sb, agent, setter, before);
        let mine = sb.run(agent, &stdin);
        assert_eq!(
            (mine.code, mine.stdout.as_str()),
            (theirs.code, theirs.stdout.as_str()),
            "{agent} {action} from {before}\n--- fencebox\n{mine:?}\n--- fence-agents\n{theirs:?}"
        );
    }
}

/// A wrong password: refused within a second, saying so, nothing on stdout.
fn wrong_password_fails_at_once(sb: &Sandbox, agent: &str, b: &str, p: &ShellPeers) {
    let stdin = b.replace(p.password(), "not-the-password") + "action=status\n";
    let started = Instant::now();
    let out = sb.run(agent, &stdin);
    let took = started.elapsed();
    assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:?}");
    assert!(
        out.stderr
            .contains("Unable to connect/login to fencing device"),
        "{out:?}"
    );
    assert!(took < Duration::from_secs(1), "{agent}: took {took:?}");
}

// ------------------------------------------------------------------ fence_ilo_ssh

const CLP_CASES: &[(&str, &str)] = &[
    ("on", "status"),
    ("off", "status"),
    ("on", "off"),
    ("off", "off"),
    ("off", "on"),
    ("on", "on"),
    ("on", "reboot"),
    ("off", "reboot"),
    ("on", "monitor"),
    ("off", "list"),
    ("on", "list-status"),
];

#[test]
fn ilo_ssh_every_action_over_telnet_and_ssh() {
    let _g = hold("hp-ilo5");
    let p = ShellPeers::load();
    let sb = Sandbox::new("hp-ilo-actions");
    for agent in ["fence_ilo_ssh", "fence_ilo5_ssh"] {
        for via in [Via::Telnet, Via::Ssh] {
            let b = format!("{}power_wait=0\n", conn(&p, "hp-ilo5", via));
            let run = |a: &str| sb.run(agent, &format!("{b}action={a}\n"));
            let w = format!("{agent} {via:?}");
            set(&sb, agent, &b, "on");
            expect(&run("status"), 0, "Status: ON\n", &w);
            expect(&run("off"), 0, "Success: Powered OFF\n", &w);
            expect(&run("status"), 2, "Status: OFF\n", &w);
            expect(&run("off"), 0, "Success: Already OFF\n", &w);
            expect(&run("on"), 0, "Success: Powered ON\n", &w);
            expect(&run("on"), 0, "Success: Already ON\n", &w);
            expect(&run("reboot"), 0, "Success: Rebooted\n", &w);
            expect(&run("status"), 0, "Status: ON\n", &w);
            expect(&run("reboot\nmethod=cycle"), 0, "Success: Rebooted\n", &w);
            expect(&run("monitor"), 0, "", &w);
            let notice = "NOTICE: List option is not working on this device yet\n";
            expect(&run("list"), 0, notice, &w);
            expect(&run("list-status"), 0, notice, &w);
            // No plugs: a plug without port_as_ip is ignored, as fence-agents does.
            expect(&run("status\nplug=7"), 0, "Status: ON\n", &w);
            wrong_password_fails_at_once(&sb, agent, &b, &p);
        }
    }
}

#[test]
fn ilo3_and_ilo4_aliases_and_a_key_login() {
    let _g3 = hold("hp-ilo3");
    let p = ShellPeers::load();
    let sb = Sandbox::new("hp-ilo-alias");
    for via in [Via::Telnet, Via::Ssh] {
        let b = format!("{}power_wait=0\n", conn(&p, "hp-ilo3", via));
        let run = |a: &str| sb.run("fence_ilo3_ssh", &format!("{b}action={a}\n"));
        expect(&run("off"), 0, "Success: Powered OFF\n", "ilo3");
        expect(&run("status"), 2, "Status: OFF\n", "ilo3");
        expect(&run("on"), 0, "Success: Powered ON\n", "ilo3");
    }
    let key = format!(
        "ip=127.0.0.1\nipport={}\nusername={}\nidentity_file={}\nssh=1\nssh_options={}\naction=status\n",
        p.get("FB_SSH_PORT_MAIN"),
        p.get("FB_EMU_HP_ILO3_USER"),
        p.get("FB_SSH_KEY"),
        p.strict_ssh_options("")
    );
    expect(
        &sb.run("fence_ilo4_ssh", &key),
        0,
        "Status: ON\n",
        "key login",
    );
}

#[test]
fn ilo_ssh_answers_as_debians_fence_ilo_ssh() {
    let _g = hold("hp-ilo4");
    let p = ShellPeers::load();
    let sb = Sandbox::new("hp-ilo-diff");
    for via in [Via::Telnet, Via::Ssh] {
        let c = conn(&p, "hp-ilo4", via);
        let b = format!("{c}power_wait=1\n");
        let setter = format!("{c}power_wait=0\n");
        let mut cases = CLP_CASES.to_vec();
        cases.extend([
            ("on", "reboot\nmethod=cycle"),
            ("off", "reboot\nmethod=cycle"),
        ]);
        cases.push(("on", "status\nplug=7"));
        same_as_debian(&sb, "fence_ilo_ssh", &b, &setter, &cases);
        // A wrong password: both fail with nothing on stdout.
        let wrong = b.replace(p.password(), "not-the-password");
        same_as_debian(&sb, "fence_ilo_ssh", &wrong, &setter, &[("on", "status")]);
    }
}

#[test]
fn ilo_ssh_against_fakenos_a_server_that_is_not_openssh() {
    let _g = hold("fakenos");
    let p = ShellPeers::load();
    let sb = Sandbox::new("hp-fakenos");
    let c = format!(
        "ip=127.0.0.1\nipport={}\nusername={}\npassword={}\nssh=1\nssh_options={}\n",
        p.get("FB_FAKENOS_PORT"),
        p.get("FB_SSH_USER"),
        p.password(),
        p.strict_ssh_options("")
    );
    let b = format!("{c}power_wait=0\n");
    let run = |a: &str| sb.run("fence_ilo_ssh", &format!("{b}action={a}\n"));
    set(&sb, "fence_ilo_ssh", &b, "on");
    expect(&run("status"), 0, "Status: ON\n", "fakenos");
    expect(&run("off"), 0, "Success: Powered OFF\n", "fakenos");
    expect(&run("status"), 2, "Status: OFF\n", "fakenos");
    expect(&run("on"), 0, "Success: Powered ON\n", "fakenos");
    expect(&run("reboot"), 0, "Success: Rebooted\n", "fakenos");
    expect(
        &run("reboot\nmethod=cycle"),
        0,
        "Success: Rebooted\n",
        "fakenos",
    );
    expect(&run("monitor"), 0, "", "fakenos");
    wrong_password_fails_at_once(&sb, "fence_ilo_ssh", &b, &p);
    let cases = [
        ("on", "status"),
        ("off", "status"),
        ("on", "off"),
        ("off", "on"),
        ("on", "reboot"),
    ];
    same_as_debian(
        &sb,
        "fence_ilo_ssh",
        &format!("{c}power_wait=1\n"),
        &b,
        &cases,
    );
    set(&sb, "fence_ilo_ssh", &b, "on");
}

// ------------------------------------------------------------------ fence_ilo_mp

#[test]
fn ilo_mp_every_action_and_as_debian_over_telnet_and_ssh() {
    let _g = hold("hp-mp");
    let p = ShellPeers::load();
    let sb = Sandbox::new("hp-mp");
    let agent = "fence_ilo_mp";
    for via in [Via::Telnet, Via::Ssh] {
        let c = conn(&p, "hp-mp", via);
        let b = format!("{c}power_wait=0\n");
        let run = |a: &str| sb.run(agent, &format!("{b}action={a}\n"));
        let w = format!("{agent} {via:?}");
        set(&sb, agent, &b, "on");
        expect(&run("status"), 0, "Status: ON\n", &w);
        expect(&run("off"), 0, "Success: Powered OFF\n", &w);
        expect(&run("status"), 2, "Status: OFF\n", &w);
        expect(&run("off"), 0, "Success: Already OFF\n", &w);
        expect(&run("on"), 0, "Success: Powered ON\n", &w);
        expect(&run("reboot"), 0, "Success: Rebooted\n", &w);
        expect(&run("status"), 0, "Status: ON\n", &w);
        expect(&run("monitor"), 0, "", &w);
        expect(
            &run("list"),
            0,
            "NOTICE: List option is not working on this device yet\n",
            &w,
        );
        wrong_password_fails_at_once(&sb, agent, &b, &p);
        same_as_debian(&sb, agent, &format!("{c}power_wait=1\n"), &b, CLP_CASES);
    }
    let wrong = conn(&p, "hp-mp", Via::Telnet).replace(p.password(), "not-the-password");
    same_as_debian(
        &sb,
        agent,
        &wrong,
        &conn(&p, "hp-mp", Via::Telnet),
        &[("on", "status")],
    );
}

// ------------------------------------------------------------------ fence_ilo_moonshot

#[test]
fn ilo_moonshot_every_action_and_as_debian() {
    let _g = hold("hp-moonshot");
    let p = ShellPeers::load();
    let sb = Sandbox::new("hp-moonshot");
    let agent = "fence_ilo_moonshot";
    // ssh is its default: no ssh line.
    let c: String = conn(&p, "hp-moonshot", Via::Ssh)
        .lines()
        .filter(|l| !l.starts_with("ssh="))
        .map(|l| format!("{l}\n"))
        .collect();
    let node = |n: &str| format!("{c}plug={n}\n");
    let run = |n: &str, a: &str| sb.run(agent, &format!("{}action={a}\n", node(n)));
    set(&sb, agent, &node("c1n1"), "on");
    set(&sb, agent, &node("c2n1"), "off");
    expect(&run("c1n1", "status"), 0, "Status: ON\n", "c1n1");
    expect(&run("c2n1", "status"), 2, "Status: OFF\n", "c2n1");
    expect(&run("c1n1", "off"), 0, "Success: Powered OFF\n", "c1n1");
    expect(&run("c1n1", "off"), 0, "Success: Already OFF\n", "c1n1");
    expect(&run("c1n1", "on"), 0, "Success: Powered ON\n", "c1n1");
    expect(&run("c1n1", "reboot"), 0, "Success: Rebooted\n", "c1n1");
    expect(&run("c1n1", "monitor"), 0, "", "monitor");
    let list = sb.run(agent, &format!("{c}action=list\n"));
    expect(&list, 0, "c1n1,\nc2n1,\nc3n1,\nc4n1,\nc5n1,\n", "list");
    let out = sb.run(agent, &format!("{c}action=list-status\n"));
    assert!(out.stdout.lines().any(|l| l == "c2n1,,off"), "{out:?}");
    assert!(out.stdout.lines().any(|l| l == "c1n1,,on"), "{out:?}");
    // A node the chassis does not have.
    let out = run("c9n1", "status");
    expect(&out, 1, "", "c9n1");
    assert!(out.stderr.contains("c9n1"), "{out:?}");
    expect(&run("c9n1", "off"), 1, "", "off c9n1");
    // A plug that is no node id never reaches a command line.
    let out = run("c1n1 c2n1", "off");
    expect(&out, 1, "", "two nodes in one plug");
    assert!(out.stderr.contains("cCARTRIDGEnNODE"), "{out:?}");
    wrong_password_fails_at_once(&sb, agent, &node("c1n1"), &p);

    let cases = [
        ("on", "status"),
        ("off", "status"),
        ("on", "off"),
        ("off", "off"),
        ("off", "on"),
        ("on", "on"),
        ("on", "reboot"),
        ("off", "reboot"),
        ("on", "monitor"),
        ("off", "list"),
        ("on", "list-status"),
    ];
    same_as_debian(&sb, agent, &node("c1n1"), &node("c1n1"), &cases);
    same_as_debian(
        &sb,
        agent,
        &node("c9n1"),
        &node("c1n1"),
        &[("on", "status")],
    );
    let wrong = node("c1n1").replace(p.password(), "not-the-password");
    same_as_debian(&sb, agent, &wrong, &node("c1n1"), &[("on", "status")]);
    set(&sb, agent, &node("c1n1"), "on");
}

// ------------------------------------------------------------------ fence_hpblade

#[test]
fn hpblade_every_action_over_telnet_and_ssh() {
    let _g = hold("hp-c7000");
    let p = ShellPeers::load();
    let sb = Sandbox::new("hp-blade");
    let agent = "fence_hpblade";
    for via in [Via::Telnet, Via::Ssh] {
        let c = conn(&p, "hp-c7000", via);
        let bay = |n: &str| format!("{c}plug={n}\n");
        let run = |n: &str, a: &str| sb.run(agent, &format!("{}action={a}\n", bay(n)));
        let w = format!("{via:?}");
        set(&sb, agent, &bay("1"), "on");
        set(&sb, agent, &bay("2"), "off");
        expect(&run("1", "status"), 0, "Status: ON\n", &w);
        expect(&run("2", "status"), 2, "Status: OFF\n", &w);
        expect(&run("1", "off"), 0, "Success: Powered OFF\n", &w);
        expect(&run("1", "off"), 0, "Success: Already OFF\n", &w);
        expect(&run("1", "on"), 0, "Success: Powered ON\n", &w);
        expect(&run("1", "on"), 0, "Success: Already ON\n", &w);
        expect(&run("1", "reboot"), 0, "Success: Rebooted\n", &w);
        expect(&run("1", "monitor"), 0, "", &w);
        // The degraded blade is read and listed like any other.
        expect(&run("6", "status"), 0, "Status: ON\n", &w);
        let out = sb.run(agent, &format!("{c}action=list-status\n"));
        expect(
            &out,
            0,
            "1,node1.example.net,on\n2,node2.example.net,off\n3,node3.example.net,on\n\
             5,ProLiant BL460c Gen8,off\n6,node6.example.net,on\n7,node7.example.net,off\n",
            &w,
        );
        // An empty bay and a bay the enclosure does not have.
        for n in ["4", "17"] {
            let out = run(n, "status");
            expect(&out, 1, "", n);
            assert!(out.stderr.contains("plug not found"), "{out:?}");
            expect(&run(n, "off"), 1, "", n);
            expect(
                &sb.run(
                    agent,
                    &format!("{}action=status\nmissing_as_off=1\n", bay(n)),
                ),
                2,
                "Status: OFF\n",
                n,
            );
        }
        // missing_as_off=0 is off (fence-agents reads it as on).
        let out = sb.run(
            agent,
            &format!("{}action=status\nmissing_as_off=0\n", bay("4")),
        );
        expect(&out, 1, "", "missing_as_off=0");
        // A plug that is no bay number never reaches a command line.
        let out = run("1 force; poweroff server 2", "off");
        expect(&out, 1, "", "not a bay");
        assert!(out.stderr.contains("bay number"), "{out:?}");
        wrong_password_fails_at_once(&sb, agent, &bay("1"), &p);
    }
}

#[test]
fn hpblade_answers_as_debians_fence_hpblade() {
    let _g = hold("hp-c7000");
    let p = ShellPeers::load();
    let sb = Sandbox::new("hp-blade-diff");
    let agent = "fence_hpblade";
    for via in [Via::Telnet, Via::Ssh] {
        let c = conn(&p, "hp-c7000", via);
        let bay = |n: &str| format!("{c}plug={n}\n");
        let cases = [
            ("on", "status"),
            ("off", "status"),
            ("on", "off"),
            ("off", "off"),
            ("off", "on"),
            ("on", "on"),
            ("on", "reboot"),
            ("off", "reboot"),
            ("on", "monitor"),
        ];
        same_as_debian(&sb, agent, &bay("3"), &bay("3"), &cases);
        for n in ["4", "17"] {
            same_as_debian(
                &sb,
                agent,
                &bay(n),
                &bay("3"),
                &[("on", "status"), ("on", "off")],
            );
            let off = format!("{}missing_as_off=1\n", bay(n));
            same_as_debian(&sb, agent, &off, &bay("3"), &[("on", "status")]);
        }
        // list and list-status: fence-agents lists only blades whose health is OK and
        // cuts a name at its first space; fencebox lists every blade with its whole name.
        // Without those two differences the lists are equal.
        for action in ["list", "list-status"] {
            let stdin = format!("{c}action={action}\n");
            let theirs = debian_agent(agent, &stdin);
            let mine = sb.run(agent, &stdin);
            assert_eq!((mine.code, theirs.code), (0, 0), "{mine:?}\n{theirs:?}");
            let ids: Vec<&str> = theirs
                .stdout
                .lines()
                .filter_map(|l| l.split(',').next())
                .collect();
            let cut: Vec<String> = mine
                .stdout
                .lines()
                .filter(|l| ids.contains(&l.split(',').next().unwrap_or_default()))
                .map(|l| {
                    let mut f: Vec<String> = l.split(',').map(String::from).collect();
                    if let Some(alias) = f.get_mut(1) {
                        *alias = alias.split(' ').next().unwrap_or_default().to_string();
                    }
                    f.join(",")
                })
                .collect();
            assert_eq!(cut, theirs.stdout.lines().collect::<Vec<_>>(), "{action}");
            assert!(mine
                .stdout
                .lines()
                .any(|l| l.starts_with("6,node6.example.net")));
            assert!(mine
                .stdout
                .lines()
                .any(|l| l.starts_with("5,ProLiant BL460c Gen8")));
        }
    }
    let wrong = conn(&p, "hp-c7000", Via::Telnet).replace(p.password(), "not-the-password");
    same_as_debian(
        &sb,
        agent,
        &format!("{wrong}plug=1\n"),
        &format!("{}plug=1\n", conn(&p, "hp-c7000", Via::Telnet)),
        &[("on", "status")],
    );
}

#[test]
fn hpblade_c3000_as_debian() {
    let _g = hold("hp-c3000");
    let p = ShellPeers::load();
    let sb = Sandbox::new("hp-blade-c3000");
    let agent = "fence_hpblade";
    let c = conn(&p, "hp-c3000", Via::Telnet);
    let bay = format!("{c}plug=3\n");
    same_as_debian(
        &sb,
        agent,
        &bay,
        &bay,
        &[
            ("on", "off"),
            ("off", "on"),
            ("on", "list"),
            ("on", "list-status"),
        ],
    );
    expect(
        &sb.run(agent, &format!("{c}plug=5\naction=status\n")),
        1,
        "",
        "an empty bay of a c3000",
    );
}

#[test]
fn hpblade_superdome_partitions_over_telnet_and_ssh_and_as_debian() {
    let _g = hold("hp-superdome");
    let p = ShellPeers::load();
    let sb = Sandbox::new("hp-blade-sdx");
    let agent = "fence_hpblade";
    for via in [Via::Telnet, Via::Ssh] {
        let c = conn(&p, "hp-superdome", via);
        let par = |n: &str| format!("{c}plug={n}\n");
        let run = |n: &str, a: &str| sb.run(agent, &format!("{}action={a}\n", par(n)));
        let w = format!("superdome {via:?}");
        set(&sb, agent, &par("3"), "on");
        set(&sb, agent, &par("2"), "off");
        expect(&run("3", "status"), 0, "Status: ON\n", &w);
        expect(&run("2", "status"), 2, "Status: OFF\n", &w);
        expect(&run("3", "off"), 0, "Success: Powered OFF\n", &w);
        expect(&run("3", "off"), 0, "Success: Already OFF\n", &w);
        expect(&run("3", "on"), 0, "Success: Powered ON\n", &w);
        expect(&run("3", "reboot"), 0, "Success: Rebooted\n", &w);
        expect(&run("3", "monitor"), 0, "", &w);
        expect(
            &sb.run(agent, &format!("{c}action=list-status\n")),
            0,
            "1,sdxpar1,on\n2,sdxpar2,off\n3,sdxpar3,on\n",
            &w,
        );
        let out = run("9", "status");
        expect(&out, 1, "", &w);
        assert!(out.stderr.contains("plug not found"), "{out:?}");
        expect(&run("9", "off"), 1, "", &w);
        wrong_password_fails_at_once(&sb, agent, &par("3"), &p);

        let cases = [
            ("on", "status"),
            ("off", "status"),
            ("on", "off"),
            ("off", "off"),
            ("off", "on"),
            ("on", "on"),
            ("on", "reboot"),
            ("off", "reboot"),
            ("on", "monitor"),
            ("on", "list"),
        ];
        same_as_debian(&sb, agent, &par("3"), &par("3"), &cases);
        same_as_debian(
            &sb,
            agent,
            &par("9"),
            &par("3"),
            &[("on", "status"), ("on", "off")],
        );
        // list-status: fence-agents prints the partition state, which is never on or
        // off, so every partition shows as UNKNOWN; fencebox reads ACTIVE and DOWN.
        let stdin = format!("{c}action=list-status\n");
        let theirs = debian_agent(agent, &stdin);
        let mine = sb.run(agent, &stdin);
        let unknown: String = mine
            .stdout
            .lines()
            .map(|l| format!("{},UNKNOWN\n", l.rsplit_once(',').map_or(l, |(a, _)| a)))
            .collect();
        assert_eq!(
            (mine.code, unknown.as_str()),
            (theirs.code, theirs.stdout.as_str()),
            "{mine:?}\n{theirs:?}"
        );
    }
}
