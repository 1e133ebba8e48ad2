//! Differential tests: Debian's Python fence-agents and fencebox on the same simulated
//! device with the same stdin must give the same exit code and stdout. Before each run
//! the outlet is put into the same state. Where the outputs differ on purpose (see
//! docs/compatibility.md), the comparison says so explicitly below.

mod common;
#[path = "fakes/bmc.rs"]
mod fake_bmc;
use common::{sims, Out, Sandbox};

/// What is compared of `list` output: fence-agents reads net-snmp's end-of-view message
/// as the last outlet's value (upstream bug, docs/compatibility.md), so those lines are
/// left out; for some agents only the ids are compared.
#[derive(Clone, Copy, PartialEq)]
enum ListCompare {
    Lines,
    IdsOnly,
    Unquoted,
}

fn normalise_list(text: &str, how: ListCompare) -> Vec<String> {
    text.lines()
        .filter(|l| !l.contains("No more variables left"))
        .map(|l| match how {
            ListCompare::Lines => l.to_string(),
            ListCompare::IdsOnly => l.split(',').next().unwrap_or_default().to_string(),
            ListCompare::Unquoted => l.replace('"', ""),
        })
        .collect()
}

fn python(agent: &str, stdin: &str) -> Out {
    common::debian_agent(agent, stdin)
}

/// Put the outlet into `state` with fencebox itself, and check it got there.
fn set_state(sb: &Sandbox, agent: &str, base: &str, state: &str) {
    let out = sb.run(agent, &format!("{base}action={state}\n"));
    assert_eq!(out.code, 0, "setting {state}: {out:?}");
}

fn compare(agent: &str, device: &str, plug: &str, how: ListCompare) {
    let s = sims();
    let sb = Sandbox::new("differential");
    let base = format!(
        "ip=127.0.0.1\nipport={}\ncommunity={device}\nsnmp_version=2c\nplug={plug}\npower_wait=0\nnodename=node1\n",
        s.port
    );
    let fabric = agent == "fence_ifmib" || agent == "fence_cisco_mds";
    // (state before, action)
    let mut steps = vec![
        ("on", "status"),
        ("off", "status"),
        ("on", "off"),
        ("off", "off"),
        ("off", "on"),
        ("on", "on"),
    ];
    if !fabric {
        steps.extend([("on", "reboot"), ("off", "reboot")]);
    }
    for (before, action) in steps {
        let stdin = format!("{base}action={action}\n");
        set_state(&sb, agent, &base, before);
        let theirs = python(agent, &stdin);
        set_state(&sb, agent, &base, before);
        let ours = sb.run(agent, &stdin);
        assert_eq!(
            (ours.code, ours.stdout.as_str()),
            (theirs.code, theirs.stdout.as_str()),
            "{agent} {device} {action} from {before}\n--- fencebox\n{ours:?}\n--- fence-agents\n{theirs:?}"
        );
    }
    let stdin = format!("{base}action=list\n");
    let (theirs, ours) = (python(agent, &stdin), sb.run(agent, &stdin));
    assert_eq!(ours.code, theirs.code, "{agent} list: {ours:?} {theirs:?}");
    let (t, o) = (
        normalise_list(&theirs.stdout, how),
        normalise_list(&ours.stdout, how),
    );
    assert!(
        !t.is_empty(),
        "{agent} {device}: fence-agents listed nothing: {theirs:?}"
    );
    // Outlets fence-agents printed with net-snmp's end-of-view text are real outlets that
    // fencebox lists properly; fence_eaton_snmp also counts that line as one more outlet of
    // a Switched ePDU.
    let garbled = theirs
        .stdout
        .lines()
        .filter(|l| l.contains("No more variables left"))
        .count();
    let phantom = usize::from(device == "eaton-sw");
    assert_eq!(
        o.len() + phantom,
        t.len() + garbled,
        "{agent} {device} list lengths\n--- fencebox\n{ours:?}\n--- fence-agents\n{theirs:?}"
    );
    let n = o.len().min(t.len());
    assert_eq!(
        o[..n],
        t[..n],
        "{agent} {device} list\n--- fencebox\n{ours:?}\n--- fence-agents\n{theirs:?}"
    );
}

macro_rules! differential {
    ($name:ident, $agent:expr, $device:expr, $plug:expr, $how:expr) => {
        #[test]
        fn $name() {
            compare($agent, $device, $plug, $how);
        }
    };
}

differential!(
    apc_rpdu,
    "fence_apc_snmp",
    "private",
    "6",
    ListCompare::Lines
);
differential!(
    apc_masterswitch,
    "fence_apc_snmp",
    "apc-ms",
    "6",
    ListCompare::Lines
);
differential!(
    apc_rpdu_fw6,
    "fence_apc_snmp",
    "apc-rpdu2",
    "6",
    ListCompare::Lines
);
differential!(
    apc_masterswitch_plus,
    "fence_apc_snmp",
    "apc-msp",
    "1:6",
    ListCompare::Lines
);
differential!(
    tripplite,
    "fence_tripplite_snmp",
    "tripplite",
    "6",
    ListCompare::Lines
);
differential!(
    eaton_managed,
    "fence_eaton_snmp",
    "eaton-ma",
    "6",
    ListCompare::IdsOnly
);
differential!(
    eaton_switched,
    "fence_eaton_snmp",
    "eaton-sw",
    "6",
    ListCompare::IdsOnly
);
differential!(
    ibmblade,
    "fence_ibmblade",
    "ibmblade",
    "6",
    ListCompare::Lines
);
differential!(ipdu, "fence_ipdu", "ipdu", "6", ListCompare::Lines);
differential!(
    emerson,
    "fence_emerson",
    "emerson",
    "1.1.6",
    ListCompare::Unquoted
);
differential!(
    intelmodular,
    "fence_intelmodular",
    "intelmodular",
    "6",
    ListCompare::Lines
);
differential!(ifmib, "fence_ifmib", "ifmib", "6", ListCompare::Lines);
differential!(lindy, "fence_lindypdu", "lindy", "6", ListCompare::Lines);

/// A name instead of a number resolves to the same outlet in both.
#[test]
fn plug_by_name() {
    compare("fence_apc_snmp", "private", "Outlet 8", ListCompare::Lines);
}

/// A wrong community: both fail with exit 1 and print nothing on stdout.
#[test]
fn wrong_community() {
    let s = sims();
    let sb = Sandbox::new("differential-community");
    let stdin = format!(
        "ip=127.0.0.1\nipport={}\ncommunity=nobody-home\nplug=1\naction=status\n",
        s.port
    );
    let (theirs, ours) = (
        python("fence_apc_snmp", &stdin),
        sb.run("fence_apc_snmp", &stdin),
    );
    assert_eq!(
        (ours.code, ours.stdout.as_str()),
        (theirs.code, theirs.stdout.as_str()),
        "{ours:?} {theirs:?}"
    );
    assert_eq!(ours.code, 1);
}

differential!(
    cisco_mds,
    "fence_cisco_mds",
    "cisco-mds",
    "fc1/6",
    ListCompare::Lines
);

/// fence_ipmilan (Debian's runs ipmitool) and fencebox's on one ipmi_sim, cipher suite 3,
/// IPMI 1.5 and bridged to a controller behind the BMC (target): status, on, off, reboot
/// from both states, monitor, and a wrong password.
#[test]
fn ipmilan_against_ipmi_sim() {
    let sb = Sandbox::new("differential-ipmi");
    let bmc = common::bmc::Bmc::ipmi_sim(&sb, "127.0.0.1");
    // (options, bridged to the satellite controller at 0x82)
    for (mode, bridged) in [
        ("lanplus=1\ncipher=3\n", false),
        ("auth=md5\n", false),
        ("lanplus=1\ncipher=3\ntarget=0x82\n", true),
    ] {
        let set = |on: bool| {
            if bridged {
                bmc.set_satellite_power(on)
            } else {
                bmc.set_power(on)
            }
        };
        let is_on = || {
            if bridged {
                bmc.satellite_on()
            } else {
                bmc.power_on()
            }
        };
        let base = format!(
            "ip=127.0.0.1\nipport={}\nusername=admin\npassword=password\npower_wait=0\n{mode}",
            bmc.port
        );
        let steps = [
            (true, "status"),
            (false, "status"),
            (true, "off"),
            (false, "off"),
            (false, "on"),
            (true, "on"),
            (true, "reboot"),
            (false, "reboot"),
            (true, "monitor"),
        ];
        for (on, action) in steps {
            let stdin = format!("{base}action={action}\n");
            set(on);
            let theirs = python("fence_ipmilan", &stdin);
            let theirs_after = is_on();
            set(on);
            let ours = sb.run_raw("fence_ipmilan", stdin.as_bytes());
            assert_eq!(
                (ours.code, ours.stdout.as_str(), is_on()),
                (theirs.code, theirs.stdout.as_str(), theirs_after),
                "{mode} {action} from {on}\n--- fencebox\n{ours:?}\n--- fence-agents\n{theirs:?}"
            );
        }
    }
    // A wrong password: both fail with exit 1 and print nothing on stdout.
    let stdin = format!(
        "ip=127.0.0.1\nipport={}\nusername=admin\npassword=wrong-one\nlanplus=1\ncipher=3\naction=status\n",
        bmc.port
    );
    let theirs = python("fence_ipmilan", &stdin);
    let ours = sb.run_raw("fence_ipmilan", stdin.as_bytes());
    assert_eq!(
        (ours.code, ours.stdout.as_str()),
        (theirs.code, theirs.stdout.as_str()),
        "wrong password\n{ours:?}\n{theirs:?}"
    );
    assert_eq!(ours.code, 1);
}

/// fence_ipmilan (Debian's runs ipmitool) and fencebox's on the in-process fake BMC of
/// the hermetic tests: RMCP+ suites 17 (no free simulator has it) and 8, and IPMI 1.5
/// MD5. This also keeps the fake honest: an independent client must work with it.
#[test]
fn ipmilan_against_the_fake_bmc() {
    let sb = Sandbox::new("differential-fake-bmc");
    let bmc = fake_bmc::FakeBmc::new();
    for mode in [
        "lanplus=1\ncipher=17\n",
        "lanplus=1\ncipher=8\n",
        "auth=md5\n",
    ] {
        let base = format!(
            "ip=127.0.0.1\nipport={}\nusername=admin\npassword=password\npower_wait=0\n{mode}",
            bmc.port()
        );
        let steps = [
            (true, "status"),
            (false, "status"),
            (true, "off"),
            (false, "on"),
            (true, "reboot"),
        ];
        for (on, action) in steps {
            let stdin = format!("{base}action={action}\n");
            bmc.set_power(on);
            bmc.clear();
            let theirs = python("fence_ipmilan", &stdin);
            let theirs_after = (bmc.power_on(), bmc.commands());
            bmc.set_power(on);
            bmc.clear();
            let ours = sb.run_raw("fence_ipmilan", stdin.as_bytes());
            assert_eq!(
                (
                    ours.code,
                    ours.stdout.as_str(),
                    (bmc.power_on(), bmc.commands())
                ),
                (theirs.code, theirs.stdout.as_str(), theirs_after),
                "{mode} {action} from {on}\n--- fencebox\n{ours:?}\n--- fence-agents\n{theirs:?}"
            );
        }
    }
}
