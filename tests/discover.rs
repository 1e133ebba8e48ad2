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

/// The planted set (tests/peers/discover/start.sh) and its manifest.
struct Planted {
    snmp_port: String,
    ipmi_port: String,
    secret: String,
    /// (address, protocol, family or "bmc", outlets, community)
    devices: Vec<(String, String, String, Option<usize>, String)>,
}

fn planted() -> Planted {
    let state = std::env::var("PEERS_STATE").unwrap_or_else(|_| "/tmp/fencebox-test-peers".into());
    let file = format!("{state}/discover.env");
    let env = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!(
            "the planted discovery set is not running ({file}: {e}); start it with \
             tests/peers/discover/start.sh (tests/run-all.sh does it for the whole suite)"
        )
    });
    let get = |k: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} missing in {file}"))
            .to_string()
    };
    let manifest = std::fs::read_to_string(get("DISCOVER_MANIFEST")).expect("the manifest");
    let devices = manifest
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[0].to_string(),
                f[1].to_string(),
                f[2].to_string(),
                f[3].parse().ok(),
                f[4].to_string(),
            )
        })
        .collect();
    Planted {
        snmp_port: get("DISCOVER_SNMP_PORT"),
        ipmi_port: get("DISCOVER_IPMI_PORT"),
        secret: get("DISCOVER_SECRET_COMMUNITY"),
        devices,
    }
}

/// A scan of two /24 networks and upsd's address finds every planted device with its
/// family and outlet count, and nothing else; PDUs behind another community are reported
/// as refusing the communities tried, everything else as silent. Given that community
/// too, they are found; the inventory made of the scan reads, and `fencebox power status
/// all` works on it (every PDU outlet, every BMC, every upsd outlet).
#[test]
fn a_scan_finds_the_planted_set_and_nothing_else() {
    let p = planted();
    let n = common::nut();
    let sb = Sandbox::new("discover");
    let password = sb.path("ipmi.pw");
    std::fs::write(&password, "password\n").unwrap();
    let nut_port = n.port.to_string();
    let scan = |communities: &str, extra: &[&str]| {
        let mut args = vec![
            "discover",
            "127.0.7.0/24",
            "127.0.8.0/24",
            "127.0.0.1",
            "--snmp-port",
            &p.snmp_port,
            "--ipmi-port",
            &p.ipmi_port,
            "--nut-port",
            &nut_port,
            "--protocols",
            "snmp,ipmi,nut",
            "-c",
            communities,
            "--timeout",
            "1",
        ];
        args.extend_from_slice(extra);
        fencebox(&sb, &args)
    };
    let out = scan("public", &["--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["scanned"], 254 * 2 + 1);
    let found = v["found"].as_array().unwrap();
    for (addr, proto, family, outlets, community) in &p.devices {
        let hits: Vec<&serde_json::Value> = found
            .iter()
            .filter(|f| f["address"] == addr.as_str())
            .collect();
        assert_eq!(hits.len(), 1, "{addr}: {hits:?}");
        let f = hits[0];
        assert_eq!(f["protocol"], proto.as_str(), "{addr}: {f}");
        match (proto.as_str(), community == &p.secret) {
            ("snmp", false) => {
                assert_eq!(f["family"], family.as_str(), "{addr}: {f}");
                assert_eq!(
                    f["outlets"].as_array().unwrap().len(),
                    outlets.unwrap(),
                    "{addr}: {f}"
                );
                assert_eq!(
                    f["community"], "REDACTED",
                    "redacted without --show-secrets"
                );
            }
            ("snmp", true) => assert_eq!(f["kind"], "snmp-refused", "{addr}: {f}"),
            _ => {
                assert_eq!(f["kind"], "bmc", "{addr}: {f}");
                assert_eq!(f["presence_pong"], true, "an RMCP presence pong: {f}");
                assert_eq!(f["ipmi2"], true, "{addr}: {f}");
            }
        }
    }
    // Nothing else but upsd on 127.0.0.1.
    let planted: std::collections::BTreeSet<&str> =
        p.devices.iter().map(|d| d.0.as_str()).collect();
    let others: Vec<&serde_json::Value> = found
        .iter()
        .filter(|f| !planted.contains(f["address"].as_str().unwrap()))
        .collect();
    assert_eq!(others.len(), 1, "{others:?}");
    assert_eq!(others[0]["kind"], "upsd");
    assert!(others[0]["ups"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["name"] == "dummy"));
    assert_eq!(
        v["silent"].as_array().unwrap().len(),
        254 * 2 + 1 - p.devices.len() - 1,
        "every other address silent"
    );

    // A BMC with its login: Get Device ID and the chassis state.
    let out = fencebox(
        &sb,
        &[
            "discover",
            "127.0.8.10",
            "--protocols",
            "ipmi",
            "--ipmi-port",
            &p.ipmi_port,
            "--ipmi-user",
            "admin",
            "--ipmi-password-file",
            password.to_str().unwrap(),
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let bmc = &v["found"][0];
    assert_eq!(bmc["chassis"], "on", "{v}");
    assert!(
        bmc["device"]
            .as_str()
            .is_some_and(|d| d.contains("IPMI 2.0")),
        "{v}"
    );
    // (The password is the word "password" here, which is also an authentication type's
    // name in the answer; tests/secrets.rs keeps secrets out of output in general.)

    // With the other community too, and the BMCs' login: the inventory of everything.
    let communities = format!("public,{}", p.secret);
    let inv = sb.path("found.toml");
    let out = scan(
        &communities,
        &[
            "--inventory",
            "-o",
            inv.to_str().unwrap(),
            "--ipmi-user",
            "admin",
            "--ipmi-password-file",
            password.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&inv).unwrap();
    assert!(
        written.contains(&format!("community = \"{}\"", p.secret)),
        "kept in the private file"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&inv).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let status = fencebox(
        &sb,
        &[
            "power",
            "status",
            "all",
            "--inventory",
            inv.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(
        status.status.success(),
        "{}\n{}",
        text(&status.stdout),
        text(&status.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let nodes = s["nodes"].as_array().unwrap();
    let outlets: usize = p.devices.iter().filter_map(|d| d.3).sum();
    let bmcs = p.devices.iter().filter(|d| d.1 == "ipmi").count();
    assert!(
        nodes.len() >= outlets + bmcs,
        "{} nodes for {outlets} outlets and {bmcs} BMCs",
        nodes.len()
    );
    assert!(
        nodes
            .iter()
            .all(|n| n["state"] == "on" || n["state"] == "off"),
        "{s}"
    );

    // Printed (not written), the community is a *_file path, never its value.
    let out = scan(&communities, &["--inventory"]);
    let printed = text(&out.stdout);
    assert!(
        !printed.contains(&p.secret) && !text(&out.stderr).contains(&p.secret),
        "{printed}"
    );
    assert!(printed.contains("community_file = "), "{printed}");
}

/// SSH and telnet servers: OpenSSH's banner, and the first words of the emulated devices
/// (tests/peers/emulators) recognised as the devices their agents drive.
#[test]
fn shells_are_recognised_by_their_banners_and_prompts() {
    let peers = common::shell::ShellPeers::load();
    let sb = Sandbox::new("discover-shells");
    let scan = |proto: &str, port: &str| {
        let flag = format!("--{proto}-port");
        let out = fencebox(
            &sb,
            &[
                "discover",
                "127.0.0.1",
                "--protocols",
                proto,
                &flag,
                port,
                "--json",
            ],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["found"][0].clone()
    };
    let ssh = scan("ssh", peers.get("FB_SSH_PORT_MAIN"));
    assert!(
        ssh["banner"]
            .as_str()
            .unwrap()
            .starts_with("SSH-2.0-OpenSSH"),
        "{ssh}"
    );
    for (device, agent) in [
        ("APC_AOS2", "fence_apc"),
        ("DELLIBM_DRAC5", "fence_drac5"),
        ("DELLIBM_IDRAC", "fence_drac5"),
        ("WTI_NPS", "fence_wti"),
        ("WTI_IPS", "fence_wti"),
    ] {
        let f = scan("telnet", peers.get(&format!("FB_EMU_{device}_TELNET_PORT")));
        assert_eq!(f["kind"], "telnet", "{device}: {f}");
        assert_eq!(f["agent"], agent, "{device}: {f}");
    }
}

/// nut-scanner's formats: -P lines and -N sections for the planted PDUs, with the
/// community redacted unless asked for.
#[test]
fn nut_scanner_formats() {
    let p = planted();
    let sb = Sandbox::new("discover-nut-formats");
    let scan = |format: &str, extra: &[&str]| {
        let mut args = vec![
            "discover",
            "127.0.7.10-12",
            "--protocols",
            "snmp",
            "--snmp-port",
            &p.snmp_port,
            "--nut-scanner",
            format,
        ];
        args.extend_from_slice(extra);
        let out = fencebox(&sb, &args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let parsable = scan("P", &[]);
    assert_eq!(parsable.lines().count(), 3, "{parsable}");
    assert!(
        parsable.lines().any(|l| l
            .starts_with("SNMP:driver=\"snmp-ups\",port=\"127.0.7.10\",desc=\"")
            && l.ends_with(",mibs=\"auto\",community=\"REDACTED\"")),
        "{parsable}"
    );
    let sections = scan("N", &["--show-secrets"]);
    assert!(
        sections.starts_with("[nutdev-snmp1]\n\tdriver = \"snmp-ups\"\n\tport = \"127.0.7.10\"\n"),
        "{sections}"
    );
    assert!(
        sections.contains("[nutdev-snmp3]\n") && sections.contains("\tcommunity = \"public\"\n"),
        "{sections}"
    );
}

/// SNMPv3 with a user's credentials (from files, never the command line): the
/// simulator's Raritan PX2 behind its own v3 instance is found and named.
#[test]
fn snmpv3_with_credentials_finds_a_pdu() {
    let s = sims();
    let sb = Sandbox::new("discover-v3");
    let auth = sb.path("auth");
    let privacy = sb.path("priv");
    std::fs::write(&auth, "authpass123\n").unwrap();
    std::fs::write(&privacy, "privpass123\n").unwrap();
    let port = s.v3("raritan").to_string();
    let scan = |output: &[&str]| {
        let mut args = vec![
            "discover",
            "127.0.0.1",
            "--protocols",
            "snmp",
            "--snmp-port",
            &port,
            "--snmp-user",
            "fenceuser",
            "--snmp-auth-password-file",
            auth.to_str().unwrap(),
            "--snmp-priv-password-file",
            privacy.to_str().unwrap(),
        ];
        args.extend_from_slice(output);
        let out = fencebox(&sb, &args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let v: serde_json::Value = serde_json::from_str(&scan(&["--json"])).unwrap();
    let f = &v["found"][0];
    assert_eq!(f["family"], "raritan-px2", "{v}");
    assert_eq!(f["version"], "3", "{v}");
    assert_eq!(f["community"], serde_json::Value::Null, "{v}");
    assert_eq!(f["outlets"].as_array().unwrap().len(), 24, "{v}");
    // Its inventory entry carries the v3 login that worked (SHA/AES), so fence_pdu reads
    // every outlet through it.
    let inv = sb.path("v3.toml");
    scan(&["--inventory", "-o", inv.to_str().unwrap()]);
    let status = fencebox(
        &sb,
        &[
            "power",
            "status",
            "all",
            "--inventory",
            inv.to_str().unwrap(),
        ],
    );
    assert!(
        status.status.success(),
        "{}\n{}",
        text(&status.stdout),
        text(&status.stderr)
    );
    assert!(
        text(&status.stdout).contains("24 of 24 node(s) read"),
        "{}",
        text(&status.stdout)
    );
    // Printed as pcs lines, the passwords are redacted.
    let pcs = scan(&["--pcs"]);
    assert!(
        pcs.contains("password=REDACTED")
            && !pcs.contains("authpass123")
            && !pcs.contains("privpass123"),
        "{pcs}"
    );
}
