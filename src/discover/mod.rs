//! `fencebox discover`: a scan of addresses for fencing devices, as NUT's nut-scanner
//! does for UPSes: SNMP PDUs (recognised by the same family detection fence_pdu uses),
//! BMCs, upsd, and the SSH and telnet servers of device shells. Every (address,
//! protocol) pair is one probe; probes run in parallel, at most `fanout` at a time, so a
//! silent address costs one timeout per protocol whatever the size of the range. What is
//! found becomes a table, JSON, inventory entries, `pcs stonith create` lines, or
//! nut-scanner's own formats (docs/discover.md).

pub mod command;
pub mod output;
pub mod probe;
pub mod suggest;
pub mod targets;

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::contract::agents::Registry;
use probe::{Found, Probes};

/// The protocols a scan may probe, in the order findings are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Snmp,
    Ipmi,
    Nut,
    Ssh,
    Telnet,
}

impl Protocol {
    pub const ALL: [Protocol; 5] = [
        Protocol::Snmp,
        Protocol::Ipmi,
        Protocol::Nut,
        Protocol::Ssh,
        Protocol::Telnet,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Snmp => "snmp",
            Protocol::Ipmi => "ipmi",
            Protocol::Nut => "nut",
            Protocol::Ssh => "ssh",
            Protocol::Telnet => "telnet",
        }
    }

    pub fn parse(word: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.name() == word)
    }
}

/// One thing found: where, by which protocol, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub address: IpAddr,
    pub protocol: Protocol,
    pub port: u16,
    pub found: Found,
}

/// A scan's result.
#[derive(Debug, Clone)]
pub struct Scan {
    pub scanned: usize,
    pub findings: Vec<Finding>,
    /// Addresses where no probe heard anything.
    pub silent: Vec<IpAddr>,
    pub elapsed: Duration,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub fanout: usize,
    pub protocols: Vec<Protocol>,
    pub probes: Probes,
    pub progress: bool,
}

pub const DEFAULT_FANOUT: usize = 256;

impl Options {
    pub fn progress_default() -> bool {
        std::io::stderr().is_terminal()
    }
}

/// Probe every address with every protocol, `fanout` probes at a time.
pub fn scan(targets: &[IpAddr], opts: &Options, registry: &Registry) -> Scan {
    let started = Instant::now();
    let work: Vec<(IpAddr, Protocol)> = targets
        .iter()
        .flat_map(|a| opts.protocols.iter().map(move |p| (*a, *p)))
        .collect();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let found = Mutex::new(Vec::new());
    let workers = opts.fanout.clamp(1, work.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(address, protocol)) = work.get(i) else {
                    break;
                };
                if let Some(f) = probe_one(address, protocol, &opts.probes, registry) {
                    found.lock().unwrap_or_else(|p| p.into_inner()).push(f);
                }
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if opts.progress && (n.is_multiple_of(16) || n == work.len()) {
                    eprint!("\r\x1b[Kfencebox discover: {n}/{} probes", work.len());
                }
            });
        }
    });
    if opts.progress {
        eprint!("\r\x1b[K");
    }
    let mut findings = found.into_inner().unwrap_or_else(|p| p.into_inner());
    findings.sort_by_key(|f| (f.address, f.protocol));
    let heard: BTreeSet<IpAddr> = findings.iter().map(|f| f.address).collect();
    Scan {
        scanned: targets.len(),
        silent: targets
            .iter()
            .filter(|a| !heard.contains(a))
            .copied()
            .collect(),
        findings,
        elapsed: started.elapsed(),
    }
}

fn probe_one(
    address: IpAddr,
    protocol: Protocol,
    p: &Probes,
    registry: &Registry,
) -> Option<Finding> {
    let (found, port) = match protocol {
        Protocol::Snmp => (probe::snmp(p, address, registry), p.snmp_port),
        Protocol::Ipmi => (probe::ipmi(p, address), p.ipmi_port),
        Protocol::Nut => (probe::nut(p, address), p.nut_port),
        Protocol::Ssh => (probe::ssh(p, address), p.ssh_port),
        Protocol::Telnet => (probe::telnet(p, address), p.telnet_port),
    };
    Some(Finding {
        address,
        protocol,
        port,
        found: found?,
    })
}
