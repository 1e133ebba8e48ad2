//! `fencebox stats` against the real peers: every metered SNMP family on snmpsim (its raw
//! values read with net-snmp's snmpget and scaled by this file's own table, written from
//! the vendors' MIBs), upsd's variables (NUT's dummy-ups), selection by inventory node,
//! and the Prometheus text parsed by the Python prometheus_client parser from PyPI.
//! DCMI (a BMC's power) is in tests/hermetic_ipmi.rs: no free BMC implements it.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};

use common::{nut, sims, Sandbox};
use serde_json::Value;

/// How a raw value becomes amperes, watts or watt-hours.
#[derive(Clone, Copy)]
enum Scale {
    Times(f64),
    /// Divided by ten to the power this object holds.
    Digits(&'static str),
}

/// One metered object of outlet 3 or of the input, and its scale.
type Object = Option<(&'static str, Scale)>;

struct Metered {
    community: &'static str,
    /// Outlet 3 as the device's list names it.
    outlet: &'static str,
    current: Object,
    power: Object,
    energy: Object,
    input_current: Object,
    input_power: Object,
    input_energy: Object,
}

const E: &str = "1.3.6.1.4.1.";

/// The metered objects of each simulated family, from the vendors' MIBs.
fn families() -> Vec<Metered> {
    use Scale::*;
    let t = |o: &'static str, s: f64| Some((o, Times(s)));
    let d = |o: &'static str, digits: &'static str| Some((o, Digits(digits)));
    vec![
        // PowerNet-MIB: rPDUOutletStatusLoad, rPDULoadStatusLoad (0.1 A), device watts;
        // outlet 3's rPDU2 metered entry is row 103 (its Number column says 3).
        Metered {
            community: "private",
            outlet: "3",
            current: t("318.1.1.12.3.5.1.1.7.3", 0.1),
            power: t("318.1.1.26.9.4.3.1.7.103", 1.0),
            energy: t("318.1.1.26.9.4.3.1.11.103", 100.0),
            input_current: t("318.1.1.12.2.3.1.1.2.1", 0.1),
            input_power: t("318.1.1.12.1.16.0", 1.0),
            input_energy: None,
        },
        // PDU2-MIB: sensor values by type (1 current, 5 power, 8 energy), own digits.
        Metered {
            community: "raritan",
            outlet: "3",
            current: d("13742.6.5.4.3.1.4.1.3.1", "13742.6.3.5.4.1.7.1.3.1"),
            power: d("13742.6.5.4.3.1.4.1.3.5", "13742.6.3.5.4.1.7.1.3.5"),
            energy: d("13742.6.5.4.3.1.4.1.3.8", "13742.6.3.5.4.1.7.1.3.8"),
            input_current: d("13742.6.5.2.3.1.4.1.1.1", "13742.6.3.3.4.1.7.1.1.1"),
            input_power: d("13742.6.5.2.3.1.4.1.1.5", "13742.6.3.3.4.1.7.1.1.5"),
            input_energy: d("13742.6.5.2.3.1.4.1.1.8", "13742.6.3.3.4.1.7.1.1.8"),
        },
        // Sentry3-MIB: 0.01 A, W, Wh; infeed 0.01 A, tower W and kWh.
        Metered {
            community: "sentry3",
            outlet: "1.1.3",
            current: t("1718.3.2.3.1.7.1.1.3", 0.01),
            power: t("1718.3.2.3.1.14.1.1.3", 1.0),
            energy: t("1718.3.2.3.1.18.1.1.3", 1.0),
            input_current: t("1718.3.2.2.1.7.1.1", 0.01),
            input_power: t("1718.3.2.1.1.11.1", 1.0),
            input_energy: t("1718.3.2.1.1.14.1", 1000.0),
        },
        // Sentry4-MIB: 0.01 A, W, Wh; input cord W and 0.1 kWh.
        Metered {
            community: "sentry4",
            outlet: "1.1.3",
            current: t("1718.4.1.8.3.1.3.1.1.3", 0.01),
            power: t("1718.4.1.8.3.1.7.1.1.3", 1.0),
            energy: t("1718.4.1.8.3.1.14.1.1.3", 1.0),
            input_current: None,
            input_power: t("1718.4.1.3.3.1.3.1.1", 1.0),
            input_energy: t("1718.4.1.3.3.1.10.1.1", 100.0),
        },
        // EATON-EPDU-MIB: mA, W, Wh; input totals W, Wh.
        Metered {
            community: "eaton-g3",
            outlet: "3",
            current: t("534.6.6.7.6.4.1.3.1.3", 0.001),
            power: t("534.6.6.7.6.5.1.3.1.3", 1.0),
            energy: t("534.6.6.7.6.5.1.4.1.3", 1.0),
            input_current: None,
            input_power: t("534.6.6.7.3.5.1.4.1.1", 1.0),
            input_energy: t("534.6.6.7.3.5.1.5.1.1", 1.0),
        },
        // EATON-EPDU-MA-MIB: 0-based rows; mA, W.
        Metered {
            community: "eaton-ma",
            outlet: "3",
            current: t("534.6.6.6.1.2.2.1.4.2", 0.001),
            power: t("534.6.6.6.1.2.2.1.7.2", 1.0),
            energy: None,
            input_current: None,
            input_power: None,
            input_energy: None,
        },
        // CPS-MIB: 0.1 A, W, 0.1 kWh; load row 1 the same.
        Metered {
            community: "cyberpower",
            outlet: "3",
            current: t("3808.1.1.3.3.5.1.1.7.3", 0.1),
            power: t("3808.1.1.3.3.5.1.1.8.3", 1.0),
            energy: t("3808.1.1.3.3.5.1.1.13.3", 100.0),
            input_current: t("3808.1.1.3.2.3.1.1.2.1", 0.1),
            input_power: t("3808.1.1.3.2.3.1.1.7.1", 1.0),
            input_energy: t("3808.1.1.3.2.3.1.1.10.1", 100.0),
        },
        // VERTIV-V5-MIB: 0.01 A, W, Wh; PDU totals W, Wh.
        Metered {
            community: "geist",
            outlet: "3",
            current: t("21239.5.2.3.6.1.8.3", 0.01),
            power: t("21239.5.2.3.6.1.12.3", 1.0),
            energy: t("21239.5.2.3.6.1.15.3", 1.0),
            input_current: None,
            input_power: t("21239.5.2.3.1.1.9.1", 1.0),
            input_energy: t("21239.5.2.3.1.1.12.1", 1.0),
        },
        // TRIPPLITE-PRODUCTS (LX): 0.01 A, W; input phase 0.01 A, output W.
        Metered {
            community: "tripplite-lx",
            outlet: "3",
            current: t("850.1.1.3.2.3.3.1.1.8.1.3", 0.01),
            power: t("850.1.1.3.2.3.3.1.1.9.1.3", 1.0),
            energy: None,
            input_current: t("850.1.1.3.2.3.1.2.1.7.1.1", 0.01),
            input_power: t("850.1.1.3.2.3.2.1.1.8.1.1", 1.0),
            input_energy: None,
        },
        // LIEBERT-GP-PDU-MIB receptacles: 0.01 A, W, 0.1 kWh.
        Metered {
            community: "emerson",
            outlet: "1.1.3",
            current: t("476.1.42.3.8.50.20.1.61.1.1.3", 0.01),
            power: t("476.1.42.3.8.50.20.1.65.1.1.3", 1.0),
            energy: t("476.1.42.3.8.50.20.1.85.1.1.3", 100.0),
            input_current: None,
            input_power: None,
            input_energy: None,
        },
    ]
}

/// A raw value as net-snmp's snmpget reads it from the simulator.
fn snmpget(port: u16, community: &str, oid: &str) -> f64 {
    let out = Command::new("snmpget")
        .args([
            "-m", "", "-v2c", "-c", community, "-Oqv", "-t", "2", "-r", "1",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .arg(format!("{E}{oid}"))
        .output()
        .expect("snmpget (Debian's snmp) must be installed");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    text.parse()
        .unwrap_or_else(|_| panic!("snmpget {community} {oid}: '{text}'"))
}

fn expected(port: u16, community: &str, object: Object) -> Option<f64> {
    let (oid, scale) = object?;
    let raw = snmpget(port, community, oid);
    Some(match scale {
        Scale::Times(f) => raw * f,
        Scale::Digits(d) => raw / 10f64.powf(snmpget(port, community, d)),
    })
}

fn stats(sb: &Sandbox, args: &[&str], stdin: &str) -> Output {
    let mut cmd = sb.command("fencebox");
    cmd.arg("stats").args(args);
    common::feed(&mut cmd, stdin.as_bytes())
        .wait_with_output()
        .unwrap()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn close(got: Option<f64>, want: Option<f64>, what: &str) {
    match (got, want) {
        (Some(g), Some(w)) => assert!(
            (g - w).abs() <= 1e-6 * w.abs().max(1.0),
            "{what}: reported {g}, the simulator holds {w}"
        ),
        (None, None) => {}
        _ => panic!("{what}: reported {got:?}, the simulator holds {want:?}"),
    }
}

#[test]
fn every_metered_family_reads_as_the_simulator_holds_it() {
    let s = sims();
    let sb = Sandbox::new("stats-families");
    for f in families() {
        let stdin = format!(
            "ip=127.0.0.1\nipport={}\ncommunity={}\nsnmp_version=2c\n",
            s.port, f.community
        );
        let out = stats(&sb, &["--agent", "fence_pdu", "--json"], &stdin);
        assert!(out.status.success(), "{}: {out:?}", f.community);
        let v = json_of(&out);
        let dev = &v["devices"][0];
        assert_eq!(dev["ok"], true, "{}: {dev}", f.community);
        assert_eq!(dev["kind"], "pdu", "{}", f.community);
        let outlets = dev["outlets"].as_array().unwrap();
        assert_eq!(outlets.len(), 24, "{}: every outlet listed", f.community);
        let o = outlets
            .iter()
            .find(|o| o["outlet"] == f.outlet)
            .unwrap_or_else(|| panic!("{}: no outlet {} in {dev}", f.community, f.outlet));
        assert_eq!(o["state"], "on", "{}", f.community);
        let num = |v: &Value, k: &str| v.get(k).and_then(Value::as_f64);
        let c = f.community;
        let want = |obj| expected(s.port, c, obj);
        close(
            num(o, "current_amperes"),
            want(f.current),
            &format!("{c} current"),
        );
        close(num(o, "power_watts"), want(f.power), &format!("{c} power"));
        close(
            num(o, "energy_watt_hours"),
            want(f.energy),
            &format!("{c} energy"),
        );
        let input = &dev["input"];
        close(
            num(input, "current_amperes"),
            want(f.input_current),
            &format!("{c} input current"),
        );
        close(
            num(input, "power_watts"),
            want(f.input_power),
            &format!("{c} input power"),
        );
        close(
            num(input, "energy_watt_hours"),
            want(f.input_energy),
            &format!("{c} input energy"),
        );
    }
}

fn inventory(sb: &Sandbox, text: &str) -> String {
    let path = sb.path("inventory.toml");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path.display().to_string()
}

/// A node's stats are the outlets that feed it (and nothing else of its PDUs); upsd's
/// variables come through in NUT's own names; a device that does not answer fails the
/// command (exit 1) with its reason, the others still read.
#[test]
fn nodes_read_their_feeds_and_upsd_its_variables() {
    let s = sims();
    let n = nut();
    let sb = Sandbox::new("stats-nodes");
    let inv = inventory(
        &sb,
        &format!(
            r#"
[devices.pdu1]
agent = "fence_pdu"
ip = "127.0.0.1"
ipport = "{port}"
community = "sentry4"
snmp_version = "2c"

[devices.pdu2]
agent = "fence_pdu"
ip = "127.0.0.1"
ipport = "{port}"
community = "raritan"
snmp_version = "2c"

[devices.epdu]
agent = "fence_nut"
ip = "127.0.0.1"
ipport = "{nut}"
ups_name = "dummy"
username = "monuser"
password = "monpass"

[nodes.web1]
feeds = ["pdu1:1.1.5", "pdu2:5"]

[nodes.web2]
feeds = ["epdu:1"]
"#,
            port = s.port,
            nut = n.port
        ),
    );
    let out = stats(&sb, &["web1", "-i", &inv], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        text,
        "[pdu1]\ninput.realpower: 4567\nexperimental.input.energy: 123400\noutlet.count: 1\n\
         outlet.1.1.5.desc: Outlet 5\noutlet.1.1.5.status: on\noutlet.1.1.5.current: 0.35\n\
         outlet.1.1.5.realpower: 205\nexperimental.outlet.1.1.5.energy: 6005\n\n\
         [pdu2]\ninput.current: 9.87\ninput.realpower: 2109.5\nexperimental.input.energy: 7654321\n\
         outlet.count: 1\noutlet.5.desc: Outlet 5\noutlet.5.status: on\noutlet.5.current: 1.005\n\
         outlet.5.realpower: 50.5\nexperimental.outlet.5.energy: 20005\n"
    );

    // upsd: the UPS block, the input and outlet 1's current and power.
    let out = stats(&sb, &["epdu", "-i", &inv], "");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{out:?}");
    for line in [
        "ups.load: 23",
        "ups.realpower: 180",
        "battery.charge: 97",
        "input.current: 3.9",
        "input.realpower: 845",
        "outlet.1.desc: web1 psu",
        "outlet.1.current: 0.42",
        "outlet.1.realpower: 96",
        "outlet.2.status: off",
    ] {
        assert!(text.lines().any(|l| l == line), "no '{line}' in:\n{text}");
    }

    // A silent device: exit 1, its reason, the others still read.
    let silent = inventory(
        &sb,
        &format!(
            "[devices.gone]\nagent = \"fence_pdu\"\nip = \"127.0.0.1\"\nipport = \"9\"\ncommunity = \"x\"\n\
             snmp_version = \"2c\"\npower_timeout = \"1\"\nshell_timeout = \"1\"\nretry_on = \"1\"\n\
             [devices.pdu1]\nagent = \"fence_pdu\"\nip = \"127.0.0.1\"\nipport = \"{}\"\ncommunity = \"geist\"\nsnmp_version = \"2c\"\n",
            s.port
        ),
    );
    let out = stats(&sb, &["all", "-i", &silent, "--json"], "");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v = json_of(&out);
    assert_eq!(v["devices"][0]["device"], "gone");
    assert_eq!(v["devices"][0]["ok"], false);
    assert!(v["devices"][0]["error"]
        .as_str()
        .is_some_and(|e| !e.is_empty()));
    assert_eq!(v["devices"][1]["ok"], true);
}

/// The Prometheus text of a PDU and a UPS, parsed by prometheus_client's own parser
/// (PyPI): names, types, labels and values in base units.
#[test]
fn prometheus_text_parses_with_a_real_parser() {
    let s = sims();
    let n = nut();
    let sb = Sandbox::new("stats-prometheus");
    let inv = inventory(
        &sb,
        &format!(
            "[devices.pdu1]\nagent = \"fence_pdu\"\nip = \"127.0.0.1\"\nipport = \"{}\"\ncommunity = \"raritan\"\nsnmp_version = \"2c\"\n\
             [devices.ups1]\nagent = \"fence_nut\"\nip = \"127.0.0.1\"\nipport = \"{}\"\nups_name = \"dummy\"\nusername = \"monuser\"\npassword = \"monpass\"\n",
            s.port, n.port
        ),
    );
    let out = stats(&sb, &["all", "-i", &inv, "--prometheus"], "");
    assert!(out.status.success(), "{out:?}");
    let python = std::env::var("FENCEBOX_PROMETHEUS_PYTHON").unwrap_or_else(|_| {
        panic!(
            "FENCEBOX_PROMETHEUS_PYTHON is not set: tests/run-all.sh makes a venv with \
             prometheus-client and sets it (or: python3 -m venv V && V/bin/pip install prometheus-client)"
        )
    });
    // Every sample as "name{sorted labels} value" after the parser's reading.
    let script = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        print(f"{fam.type} {s.name}{{{labels}}} {s.value!r}")
"#;
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&out.stdout).unwrap();
    let parsed = child.wait_with_output().unwrap();
    assert!(
        parsed.status.success(),
        "the parser refused the text: {}\n{}",
        String::from_utf8_lossy(&parsed.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let samples = String::from_utf8_lossy(&parsed.stdout).to_string();
    for line in [
        "gauge fencebox_stats_up{device=pdu1} 1.0",
        "gauge fencebox_stats_up{device=ups1} 1.0",
        "gauge fencebox_outlet_on{device=pdu1,name=Outlet 5,outlet=5} 1.0",
        "gauge fencebox_outlet_current_amperes{device=pdu1,name=Outlet 5,outlet=5} 1.005",
        "gauge fencebox_outlet_power_watts{device=pdu1,name=Outlet 5,outlet=5} 50.5",
        // 20005 Wh in joules.
        "counter fencebox_outlet_energy_joules_total{device=pdu1,name=Outlet 5,outlet=5} 72018000.0",
        "gauge fencebox_input_power_watts{device=pdu1} 2109.5",
        "counter fencebox_input_energy_joules_total{device=pdu1} 27555555600.0",
        "gauge fencebox_ups_load_ratio{device=ups1} 0.23",
        "gauge fencebox_ups_battery_charge_ratio{device=ups1} 0.97",
        "gauge fencebox_ups_on_battery{device=ups1} 0.0",
        "gauge fencebox_outlet_current_amperes{device=ups1,name=web1 psu,outlet=1} 0.42",
        "gauge fencebox_input_power_watts{device=ups1} 845.0",
    ] {
        assert!(
            samples.lines().any(|l| l == line),
            "no '{line}' among the parsed samples:\n{samples}"
        );
    }
}
