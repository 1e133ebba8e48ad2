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
use probe::{Found, Probes, SnmpAsk};

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

/// No `Debug`: the probes hold communities and passwords.
#[derive(Clone)]
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

/// One probe of a scan: SNMP is asked once per community (and SNMPv3 user), beside a
/// credential-less check that an agent is there at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Snmp(SnmpAsk),
    SnmpPresence,
    Other(Protocol),
}

fn steps(opts: &Options) -> Vec<Step> {
    let mut out = Vec::new();
    for p in &opts.protocols {
        match p {
            Protocol::Snmp => {
                let n = opts.probes.communities.len();
                out.extend((0..n).map(|i| Step::Snmp(SnmpAsk::Community(i))));
                if opts.probes.v3.is_some() {
                    out.push(Step::Snmp(SnmpAsk::V3));
                } else if n > 0 {
                    out.push(Step::SnmpPresence);
                }
            }
            other => out.push(Step::Other(*other)),
        }
    }
    out
}

/// What one probe heard.
enum Heard {
    Found(Finding, Option<SnmpAsk>),
    SnmpAgent(IpAddr, u16),
}

/// Probe every address with every protocol, `fanout` probes at a time.
pub fn scan(targets: &[IpAddr], opts: &Options, registry: &Registry) -> Scan {
    let started = Instant::now();
    let plan = steps(opts);
    let work: Vec<(IpAddr, Step)> = targets
        .iter()
        .flat_map(|a| plan.iter().map(move |s| (*a, *s)))
        .collect();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let heard = Mutex::new(Vec::new());
    let workers = opts.fanout.clamp(1, work.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(address, step)) = work.get(i) else {
                    break;
                };
                if let Some(h) = probe_one(address, step, &opts.probes, registry) {
                    heard.lock().unwrap_or_else(|p| p.into_inner()).push(h);
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
    let findings = settle(heard.into_inner().unwrap_or_else(|p| p.into_inner()));
    let answered: BTreeSet<IpAddr> = findings.iter().map(|f| f.address).collect();
    Scan {
        scanned: targets.len(),
        silent: targets
            .iter()
            .filter(|a| !answered.contains(a))
            .copied()
            .collect(),
        findings,
        elapsed: started.elapsed(),
    }
}

/// One finding per address and protocol: of several SNMP answers, the one asked first
/// (the communities in the order given, then SNMPv3); an SNMP agent that answered none,
/// as refusing them.
fn settle(heard: Vec<Heard>) -> Vec<Finding> {
    let mut snmp: std::collections::BTreeMap<IpAddr, (SnmpAsk, Finding)> = Default::default();
    let mut agents = BTreeSet::new();
    let mut findings = Vec::new();
    for h in heard {
        match h {
            Heard::Found(f, Some(ask)) => {
                let keep = snmp.get(&f.address).is_none_or(|(a, _)| ask < *a);
                if keep {
                    snmp.insert(f.address, (ask, f));
                }
            }
            Heard::Found(f, None) => findings.push(f),
            Heard::SnmpAgent(a, port) => {
                agents.insert((a, port));
            }
        }
    }
    for (a, port) in agents.into_iter().filter(|(a, _)| !snmp.contains_key(a)) {
        findings.push(Finding {
            address: a,
            protocol: Protocol::Snmp,
            port,
            found: Found::SnmpRefused,
        });
    }
    findings.extend(snmp.into_values().map(|(_, f)| f));
    findings.sort_by_key(|f| (f.address, f.protocol));
    findings
}

fn probe_one(address: IpAddr, step: Step, p: &Probes, registry: &Registry) -> Option<Heard> {
    let finding = |protocol, port, found: Option<Found>| {
        found.map(|found| Finding {
            address,
            protocol,
            port,
            found,
        })
    };
    Some(match step {
        Step::Snmp(ask) => Heard::Found(
            finding(
                Protocol::Snmp,
                p.snmp_port,
                probe::snmp(p, address, ask, registry),
            )?,
            Some(ask),
        ),
        Step::SnmpPresence => {
            if !probe::snmp_agent_present(p, address) {
                return None;
            }
            Heard::SnmpAgent(address, p.snmp_port)
        }
        Step::Other(protocol) => {
            let (found, port) = match protocol {
                Protocol::Snmp => (None, p.snmp_port),
                Protocol::Ipmi => (probe::ipmi(p, address), p.ipmi_port),
                Protocol::Nut => (probe::nut(p, address), p.nut_port),
                Protocol::Ssh => (probe::ssh(p, address), p.ssh_port),
                Protocol::Telnet => (probe::telnet(p, address), p.telnet_port),
            };
            Heard::Found(finding(protocol, port, found)?, None)
        }
    })
}
