//! Many fencing calls inside one process (as fleet commands and the power service will
//! run them): each call has its own context, so calls on one device are serialised by the
//! device lock, calls on different devices run side by side, and each call's log holds
//! its own lines only.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Barrier};

use common::{stamped, Sandbox};
use fencebox::engine::outcome::Outcome;
use fencebox::engine::run::in_process;
use fencebox::runtime::call::Cancel;
use fencebox::runtime::env::Env;

const DEVICES: usize = 8;
const CALLS: usize = 200;

/// Call `i`'s device and stdin: the first call on each device switches it off and holds
/// it for a second (power_wait), so that calls on different devices overlap in time; the
/// rest are a mix of status, on, off and reboot.
fn request(sb: &Sandbox, i: usize) -> (usize, String) {
    let device = i % DEVICES;
    let file = sb.path(&format!("device-{device}.status"));
    let action = match i / DEVICES {
        0 => "off\npower_wait=1",
        n if n % 4 == 1 => "status",
        n if n % 4 == 2 => "on",
        n if n % 4 == 3 => "reboot",
        _ => "off",
    };
    let stdin = format!(
        "action={action}\nstatus_file={}\nverbose=1\n",
        file.display()
    );
    (device, stdin)
}

#[test]
fn two_hundred_calls_over_eight_devices_in_one_process() {
    let sb = Sandbox::new("concurrent");
    for d in 0..DEVICES {
        std::fs::write(sb.path(&format!("device-{d}.status")), "on").unwrap();
    }
    let env = Arc::new(Env {
        lock_dir: sb.path("locks"),
        ..Env::default()
    });
    let start = Arc::new(Barrier::new(CALLS));
    let handles: Vec<_> = (0..CALLS)
        .map(|i| {
            let (device, stdin) = request(&sb, i);
            let (env, start) = (Arc::clone(&env), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                let (result, log) = in_process("fence_dummy", &stdin, &env, Cancel::default());
                (i, device, result, log.lines())
            })
        })
        .collect();
    // Per device: (start, end, read-only) of each call's session.
    let mut sessions: BTreeMap<usize, Vec<(String, String, bool)>> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for h in handles {
        let (i, device, result, lines) = h.join().expect("no call panics");
        let read_only = request(&sb, i).1.starts_with("action=status");
        let report = result.unwrap_or_else(|e| panic!("call {i} failed: {e:?}\n{lines:?}"));
        assert!(
            !matches!(
                report.outcome,
                Outcome::Validated | Outcome::ListUnsupported
            ),
            "call {i}: {report:?}"
        );
        let log = lines.concat();
        // Its own device only.
        let own = format!("device-{device}.status");
        for other in (0..DEVICES).filter(|d| *d != device) {
            let theirs = format!("device-{other}.status");
            assert!(!log.contains(&theirs), "call {i} logged {theirs}:\n{log}");
        }
        assert!(
            log.contains(&own),
            "call {i} never named its device:\n{log}"
        );
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
            .entry(device)
            .or_default()
            .push((s[0].clone(), e[0].clone(), read_only));
    }
    for (device, mut list) in sessions.clone() {
        list.sort();
        assert_eq!(list.len(), CALLS / DEVICES);
        // Status calls share the lock (the dummy allows concurrent readers); every other
        // session has the device to itself.
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
    // Calls on different devices ran side by side (the one-second first calls at least).
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
        overlapping >= DEVICES - 1,
        "calls on different devices hardly overlapped in time ({overlapping} pairs)"
    );
}
