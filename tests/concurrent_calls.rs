//! Many fencing calls inside one process (as fleet commands and the power service will
//! run them): each call has its own context, so calls on one device are serialised by the
//! device lock, calls on different devices run side by side, and each call's log holds
//! its own lines only, its own secrets scrubbed.
//!
//! The hermetic test runs over in-process fakes of every backend (an SNMP PDU, a BMC, an
//! upsd) and dummy devices; the interop one over the real simulators (snmpsim, ipmi_sim,
//! pyghmi, upsd).

mod common;
#[path = "fakes/bmc.rs"]
mod fake_bmc;

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Barrier};

use common::{stamped, Sandbox};
use fencebox::contract::agents::Registry;
use fencebox::engine::outcome::Outcome;
use fencebox::engine::run::in_process;
use fencebox::runtime::call::Cancel;
use fencebox::runtime::env::Env;

const CALLS: usize = 200;

/// One device of a run: how a call reaches it, and what keeps its fake running.
struct Device {
    agent: &'static str,
    /// Stdin lines addressing the device and logging in (secrets included).
    address: String,
    /// A text every log of a call on this device holds and no other call's log does.
    mark: String,
    /// Secrets of this device that no log may show (the secret itself, not a word such
    /// as "password" that log lines contain anyway).
    secrets: Vec<String>,
    /// Only status calls (a device other tests switch at the same time).
    read_only: bool,
    _running: Box<dyn Any>,
}

impl Device {
    fn network(agent: &'static str, port: u16, login: &str, secrets: &[&str]) -> Device {
        Device {
            agent,
            address: format!("ip=127.0.0.1\nipport={port}\n{login}"),
            mark: format!("127.0.0.1:{port}"),
            secrets: secrets.iter().map(|s| s.to_string()).collect(),
            read_only: false,
            _running: Box::new(()),
        }
    }

    fn keep(mut self, running: impl Any) -> Device {
        self._running = Box::new(running);
        self
    }

    fn dummy(sb: &Sandbox, n: usize) -> Device {
        let file = sb.path(&format!("device-{n}.status"));
        std::fs::write(&file, "on").unwrap();
        Device {
            agent: "fence_dummy",
            address: format!("status_file={}\n", file.display()),
            mark: format!("device-{n}.status"),
            secrets: Vec::new(),
            read_only: false,
            _running: Box::new(()),
        }
    }
}

/// Call `i`'s stdin on its device: the first call on each device switches it off and
/// holds it for a second (power_wait), so that calls on different devices overlap in
/// time; the rest are a mix of status, on, off and reboot.
fn request(devices: &[Device], i: usize) -> (usize, String, bool) {
    let d = i % devices.len();
    let dev = &devices[d];
    let action = match i / devices.len() {
        _ if dev.read_only => "status",
        0 => "off\npower_wait=1",
        n if n % 4 == 1 => "status",
        n if n % 4 == 2 => "on\npower_wait=0",
        n if n % 4 == 3 => "reboot\npower_wait=0",
        _ => "off\npower_wait=0",
    };
    let stdin = format!("action={action}\n{}verbose=1\n", dev.address);
    (d, stdin, action == "status")
}

fn run_calls(sb: &Sandbox, devices: &[Device]) {
    let env = Arc::new(Env {
        lock_dir: sb.path("locks"),
        ..Env::default()
    });
    // Loaded once, as a long-running process does, and shared by every call.
    let registry = Arc::new(Registry::load(&env.agents_dir));
    let start = Arc::new(Barrier::new(CALLS));
    let handles: Vec<_> = (0..CALLS)
        .map(|i| {
            let (_, stdin, _) = request(devices, i);
            let agent = devices[i % devices.len()].agent;
            let (env, start) = (Arc::clone(&env), Arc::clone(&start));
            let registry = Arc::clone(&registry);
            std::thread::spawn(move || {
                start.wait();
                let (result, log) = in_process(&registry, agent, &stdin, &env, Cancel::default());
                (result, log.lines())
            })
        })
        .collect();
    // Per device: (start, end, read-only) of each call's session.
    let mut sessions: BTreeMap<usize, Vec<(String, String, bool)>> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for (i, h) in handles.into_iter().enumerate() {
        let (result, lines) = h.join().expect("no call panics");
        let (d, _, read_only) = request(devices, i);
        let log = lines.concat();
        let report = result.unwrap_or_else(|e| panic!("call {i} failed: {e:?}\n{log}"));
        assert!(
            !matches!(
                report.outcome,
                Outcome::Validated | Outcome::ListUnsupported
            ),
            "call {i}: {report:?}"
        );
        assert_own_log(devices, d, i, &log);
        // One call identity per log, different from every other call's.
        let named: BTreeSet<&str> = log
            .split(", pid ")
            .skip(1)
            .filter_map(|rest| rest.split(',').next())
            .collect();
        assert_eq!(named.len(), 1, "call {i}'s log names {named:?}:\n{log}");
        assert!(ids.insert(named.into_iter().next().unwrap().to_string()));
        let s = stamped(&log, "device session start");
        let e = stamped(&log, "device session end");
        assert_eq!((s.len(), e.len()), (1, 1), "call {i}: one session:\n{log}");
        sessions
            .entry(d)
            .or_default()
            .push((s[0].clone(), e[0].clone(), read_only));
    }
    assert_serialised_per_device(devices, &sessions);
    assert_devices_overlap(devices.len(), &sessions);
}

/// A call's log names its own device, no other, and no secret of any device.
fn assert_own_log(devices: &[Device], d: usize, i: usize, log: &str) {
    assert!(
        log.contains(&devices[d].mark),
        "call {i} never named its device {}:\n{log}",
        devices[d].mark
    );
    for (o, other) in devices.iter().enumerate().filter(|(o, _)| *o != d) {
        assert!(
            !log.contains(&other.mark),
            "call {i} on device {d} logged device {o} ({}):\n{log}",
            other.mark
        );
    }
    for secret in devices.iter().flat_map(|dev| &dev.secrets) {
        assert!(
            !log.contains(secret.as_str()),
            "call {i} logged a secret:\n{log}"
        );
    }
}

/// Read-only calls may share a device (every backend here allows concurrent readers);
/// every other session has the device to itself.
fn assert_serialised_per_device(
    devices: &[Device],
    sessions: &BTreeMap<usize, Vec<(String, String, bool)>>,
) {
    for (device, list) in sessions {
        let mut list = list.clone();
        list.sort();
        assert_eq!(list.len(), CALLS / devices.len(), "device {device}");
        for (n, a) in list.iter().enumerate() {
            for b in &list[n + 1..] {
                let overlap = a.0 < b.1 && b.0 < a.1;
                assert!(
                    !overlap || (a.2 && b.2),
                    "device {device}: calls overlapped: {a:?} {b:?}"
                );
            }
        }
    }
}

/// Calls on different devices ran side by side (the one-second first calls at least).
fn assert_devices_overlap(count: usize, sessions: &BTreeMap<usize, Vec<(String, String, bool)>>) {
    let all: Vec<(usize, &(String, String, bool))> = sessions
        .iter()
        .flat_map(|(d, l)| l.iter().map(move |s| (*d, s)))
        .collect();
    let overlapping = all
        .iter()
        .flat_map(|a| all.iter().map(move |b| (a, b)))
        .filter(|((da, a), (db, b))| da < db && a.0 < b.1 && b.0 < a.1)
        .count();
    assert!(
        overlapping >= count - 1,
        "calls on different devices hardly overlapped in time ({overlapping} pairs)"
    );
}

#[test]
fn two_hundred_calls_over_eight_fake_devices_in_one_process() {
    use common::hostile_snmp::Hostile;
    use common::hostile_upsd::{HostileUpsd, Hostility};
    use fake_bmc::{BmcConfig, FakeBmc};

    let sb = Sandbox::new("concurrent");
    let snmp = |n: usize| {
        let community = format!("Cm7y-{n}-private");
        let pdu = Hostile::honest_for(&[1, 1], &community);
        let login = format!("community={community}\nsnmp_version=2c\nplug=1\n");
        Device::network("fence_apc_snmp", pdu.port, &login, &[&community]).keep(pdu)
    };
    let bmc = |n: usize| {
        let password = format!("Bmc-{n}-9d2e4f");
        let fake = FakeBmc::start(BmcConfig {
            password: password.clone(),
            ..BmcConfig::default()
        });
        let login = format!("username=admin\npassword={password}\nlanplus=1\n");
        Device::network("fence_ipmilan", fake.port(), &login, &[&password]).keep(fake)
    };
    let upsd = |n: usize| {
        let upsd = HostileUpsd::start(Hostility::Honest);
        let password = format!("Ups-{n}-51c0de");
        let login = format!("username=admin\npassword={password}\nups_name=ups{n}\nplug=1\n");
        Device::network("fence_nut", upsd.port, &login, &[&password]).keep(upsd)
    };
    let devices = vec![
        Device::dummy(&sb, 0),
        Device::dummy(&sb, 1),
        snmp(2),
        snmp(3),
        bmc(4),
        bmc(5),
        upsd(6),
        upsd(7),
    ];
    run_calls(&sb, &devices);
}

#[cfg(feature = "interop")]
#[test]
fn two_hundred_calls_over_eight_simulated_devices_in_one_process() {
    use common::bmc::Bmc;

    let sb = Sandbox::new("concurrent-sims");
    let sims = common::sims();
    let nut = common::nut();
    // apc-rpdu2's outlets 17 and 18 are switched by no other test; v2c on the main
    // snmpsim and v3 on the device's own instance are two devices (two addresses).
    let v2c = Device::network(
        "fence_apc_snmp",
        sims.port,
        "community=apc-rpdu2\nsnmp_version=2c\nplug=17\n",
        &[],
    );
    let v3_login = "snmp_version=3\nsnmp_sec_level=authPriv\nusername=fenceuser\npassword=authpass123\nsnmp_auth_prot=SHA\nsnmp_priv_prot=AES\nsnmp_priv_passwd=privpass123\nplug=18\n";
    let v3 = Device::network(
        "fence_apc_snmp",
        sims.v3("apc-rpdu2"),
        v3_login,
        &["authpass123", "privpass123"],
    );
    let ipmi = |bmc: Bmc| {
        let login = "username=admin\npassword=password\nlanplus=1\n";
        Device::network("fence_ipmilan", bmc.port, login, &[]).keep(bmc)
    };
    // upsd's outlets all belong to tests/nut.rs; here it is read only.
    let mut upsd = Device::network(
        "fence_nut",
        nut.port,
        "username=admin\npassword=adminpass\nups_name=baytech\nplug=3\n",
        &["adminpass"],
    );
    upsd.read_only = true;
    let devices = vec![
        Device::dummy(&sb, 0),
        Device::dummy(&sb, 1),
        v2c,
        v3,
        ipmi(Bmc::ipmi_sim(&sb, "127.0.0.1")),
        ipmi(Bmc::ipmi_sim(&sb, "127.0.0.1")),
        ipmi(Bmc::pyghmi(&sb)),
        upsd,
    ];
    run_calls(&sb, &devices);
}
