//! One probe of one address: an SNMP agent (sysObjectID, sysDescr, sysName, then the
//! family fence_pdu would pick and its outlets), a BMC (Get Channel Authentication
//! Capabilities, which needs no credentials; with credentials its chassis state), upsd
//! (its UPSes and their outlets), and the banners of SSH and telnet servers. A probe that
//! hears nothing gives None: the address is silent for that protocol.

use std::io::Read;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::contract::agents::Registry;
use crate::ipmi::link::Link;
use crate::ipmi::{chassis, lan15, lanplus, Privilege};
use crate::nut::client::{Client as NutClient, Limits};
use crate::runtime::clock::RealClock;
use crate::snmp::client::{Client, Config, SecLevel, SnmpError, V3Params, Value, Version};
use crate::snmp::family::Family;
use crate::snmp::oid::format_oid;

const SYS_DESCR: [u64; 9] = [1, 3, 6, 1, 2, 1, 1, 1, 0];
const SYS_OBJECT_ID: [u64; 9] = [1, 3, 6, 1, 2, 1, 1, 2, 0];
const SYS_NAME: [u64; 9] = [1, 3, 6, 1, 2, 1, 1, 5, 0];

/// What one probe found at an address.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// An SNMP agent that answered.
    Snmp(SnmpFound),
    /// An SNMP agent that answered none of the communities tried (it answered an SNMPv3
    /// engine discovery, which needs none).
    SnmpRefused,
    Ipmi(IpmiFound),
    Nut(Vec<UpsFound>),
    /// A banner or first prompt, and the agent it looks like, if any.
    Ssh(Banner),
    Telnet(Banner),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SnmpFound {
    /// The community that answered (None: SNMPv3 with the given user).
    pub community: Option<String>,
    pub version: Version,
    pub sys_object_id: String,
    pub descr: String,
    pub name: String,
    /// The family fence_pdu picks for it, if any.
    pub family: Option<String>,
    /// Its outlets (ids as `list` prints them) and their names, when the family is known.
    pub outlets: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IpmiFound {
    /// It answered an RMCP presence ping (and said it speaks IPMI).
    pub pong: bool,
    /// It speaks IPMI 2.0 (RMCP+).
    pub ipmi2: bool,
    /// IPMI 1.5 authentication types it enables.
    pub auth: Vec<&'static str>,
    /// With credentials: whether the chassis is on, or why the login failed.
    pub chassis: Option<Result<bool, String>>,
    /// With credentials: what Get Device ID says (firmware, IPMI version, manufacturer).
    pub device: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UpsFound {
    pub name: String,
    pub description: String,
    /// Outlet numbers, and which of them upsd says can be switched.
    pub outlets: Vec<u32>,
    pub switchable: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Banner {
    pub text: String,
    /// The agent that drives such a device, and what it is.
    pub agent: Option<(&'static str, &'static str)>,
}

/// How the probes run: credentials, ports, the wait for each answer. No `Debug`: it
/// holds communities and passwords.
#[derive(Clone)]
pub struct Probes {
    pub timeout: Duration,
    pub communities: Vec<String>,
    /// V1 or V2c for the communities.
    pub snmp_version: Version,
    pub v3: Option<V3Params>,
    pub ipmi_login: Option<(String, crate::ipmi::crypto::Secret)>,
    pub snmp_port: u16,
    pub ipmi_port: u16,
    pub nut_port: u16,
    pub ssh_port: u16,
    pub telnet_port: u16,
}

fn snmp_config(p: &Probes, addr: IpAddr, version: Version, community: &str) -> Config {
    Config {
        host: addr.to_string(),
        port: p.snmp_port,
        version,
        community: community.to_string(),
        v3: None,
        timeout: p.timeout,
        tries: 1,
    }
}

/// How one SNMP probe asks: a community (by its place in the list), or the SNMPv3 user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SnmpAsk {
    Community(usize),
    V3,
}

/// sysObjectID, sysDescr and sysName of an SNMP agent asked one way; then the family and
/// its outlets. Each community is its own probe, so that several cost one timeout, not
/// one each, at a silent address.
pub fn snmp(p: &Probes, addr: IpAddr, ask: SnmpAsk, registry: &Registry) -> Option<Found> {
    let target = SocketAddr::new(addr, p.snmp_port);
    let (cfg, community) = match ask {
        SnmpAsk::Community(i) => {
            let c = p.communities.get(i)?;
            (snmp_config(p, addr, p.snmp_version, c), Some(c.clone()))
        }
        SnmpAsk::V3 => {
            let mut cfg = snmp_config(p, addr, Version::V3, "");
            cfg.v3 = Some(p.v3.clone()?);
            (cfg, None)
        }
    };
    let version = cfg.version;
    // An SNMPv3 agent that refuses the user still answered: it is there.
    let refused = |e: &SnmpError| {
        (ask == SnmpAsk::V3 && !matches!(e, SnmpError::Timeout(_) | SnmpError::Unreachable(_)))
            .then_some(Found::SnmpRefused)
    };
    let mut client = match Client::connect(cfg, target, RealClock::shared_now()) {
        Ok(c) => c,
        Err(e) => return refused(&e),
    };
    let asked = [
        SYS_OBJECT_ID.to_vec(),
        SYS_DESCR.to_vec(),
        SYS_NAME.to_vec(),
    ];
    let values = match client.get_many(&asked) {
        Ok(v) => v,
        // v1: one missing object (sysName) refuses the whole request.
        Err(SnmpError::NoSuchObject(_)) | Err(SnmpError::Answer(_)) => {
            vec![client.get(&SYS_OBJECT_ID).ok()?]
        }
        Err(e) => return refused(&e),
    };
    let text = |i: usize| {
        values
            .get(i)
            .filter(|v| !v.is_missing())
            .map(|v| clean(&v.text()))
            .unwrap_or_default()
    };
    let oid = match values.first() {
        Some(Value::Oid(o)) => o.clone(),
        _ => Vec::new(),
    };
    let family = match registry.families().detect_ranked(None, &oid) {
        Ok(ranked) if !oid.is_empty() => {
            crate::snmp::identify::first_confirmed(&mut client, ranked)
                .ok()
                .flatten()
        }
        _ => None,
    };
    let outlets = family
        .as_ref()
        .map(|f| outlets(&mut client, f))
        .unwrap_or_default();
    Some(Found::Snmp(SnmpFound {
        community,
        version,
        sys_object_id: if oid.is_empty() {
            text(0)
        } else {
            format_oid(&oid)
        },
        descr: text(1),
        name: text(2),
        family: family.map(|f| f.name.to_string()),
        outlets,
    }))
}

/// Whether an SNMP agent is there at all: an SNMPv3 engine discovery needs no
/// credentials, and any answer (a report) says one is. Run beside the community probes;
/// it tells an agent that refuses them from a silent address.
pub fn snmp_agent_present(p: &Probes, addr: IpAddr) -> bool {
    let mut cfg = snmp_config(p, addr, Version::V3, "");
    cfg.v3 = Some(V3Params {
        user: "fencebox-discover".into(),
        level: SecLevel::NoAuthNoPriv,
        auth_protocol: snmp2::v3::AuthProtocol::Sha1,
        auth_password: String::new(),
        priv_protocol: snmp2::v3::Cipher::Aes128,
        priv_password: String::new(),
        key_extension: None,
        context: String::new(),
    });
    let target = SocketAddr::new(addr, p.snmp_port);
    !matches!(
        Client::connect(cfg, target, RealClock::shared_now()),
        Err(SnmpError::Timeout(_) | SnmpError::Unreachable(_))
    )
}

/// The outlets of a family's device: its status column's rows, named by its names
/// column where it has one (as the family writes names). A family that packs a unit's
/// outlets into one value is listed by its names only.
fn outlets(client: &mut Client, f: &Family) -> Vec<(String, String)> {
    let mut columns = vec![f.status.oid.clone()];
    if let Some(n) = &f.names {
        columns.push(n.oid.clone());
    }
    let Ok(walked) = client.walk_columns(&columns) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = Vec::new();
    if let Some(states) = walked.first().filter(|_| !f.packed) {
        for (oid, _) in states {
            if let Some(row) = oid
                .get(f.status.oid.len()..)
                .and_then(|s| f.status.row.parse_suffix(s))
            {
                out.push((f.plug_id(&row), String::new()));
            }
        }
    }
    if let (Some(names), Some(n)) = (walked.get(1), &f.names) {
        for (oid, v) in names {
            let Some(row) = oid.get(n.oid.len()..).and_then(|s| n.row.parse_suffix(s)) else {
                continue;
            };
            let id = f.plug_id(&row);
            let name = clean(&f.outlet_name(&v.text()));
            match out.iter_mut().find(|o| o.0 == id) {
                Some(o) => o.1 = name,
                None => out.push((id, name)),
            }
        }
    }
    out
}

/// Text a device sent, fit to print: control characters (line breaks, terminal escapes)
/// shown escaped, so no device can forge an output line or drive the terminal.
fn clean(text: &str) -> String {
    crate::runtime::log::escape_controls(text.trim()).into_owned()
}

/// An RMCP presence ping and Get Channel Authentication Capabilities (no credentials
/// needed); with credentials, a session, Get Device ID and the chassis state.
pub fn ipmi(p: &Probes, addr: IpAddr) -> Option<Found> {
    let peer = SocketAddr::new(addr, p.ipmi_port);
    let clock = RealClock::shared_now();
    let mut link = Link::open(peer, p.timeout, 1, clock.clone()).ok()?;
    let caps = match lan15::capabilities(&mut link, true, Privilege::Administrator) {
        Ok(c) => c,
        // An IPMI 1.5 BMC refuses the request for IPMI 2.0 data: ask it plainly.
        Err(crate::ipmi::IpmiError::Completion { .. }) => {
            lan15::capabilities(&mut link, false, Privilege::Administrator).ok()?
        }
        Err(_) => return None,
    };
    // Asked once the BMC has answered, so a silent address costs one timeout, not two.
    let pong = crate::ipmi::asf::presence_ping(&mut link).is_ok_and(|p| p.ipmi);
    let auth = [
        (0, "none"),
        (1, "md2"),
        (2, "md5"),
        (4, "password"),
        (5, "oem"),
    ]
    .iter()
    .filter(|(bit, _)| caps.types & (1 << bit) != 0)
    .map(|(_, n)| *n)
    .collect();
    let mut device = None;
    let chassis = p.ipmi_login.as_ref().map(|(user, password)| {
        let cfg = crate::ipmi::Config {
            user: user.clone(),
            password: password.clone(),
            kg: None,
            privilege: Privilege::Operator,
            lanplus: caps.ipmi2,
            cipher: None,
            auth: None,
            timeout: p.timeout,
            tries: 1,
            target: None,
        };
        let link = Link::open(peer, p.timeout, 1, clock.clone()).map_err(|e| e.to_string())?;
        let session = if caps.ipmi2 {
            lanplus::connect(link, &cfg)
        } else {
            lan15::connect(link, &cfg)
        };
        let mut session = session.map_err(|e| e.to_string())?;
        device = crate::ipmi::identity::device_id(&mut session)
            .ok()
            .map(|d| {
                format!(
                    "firmware {}, IPMI {}, manufacturer {}, product {:#06x}",
                    d.firmware, d.ipmi_version, d.manufacturer, d.product
                )
            });
        let on = chassis::power_is_on(&mut session).map_err(|e| e.to_string());
        session.close();
        on
    });
    Some(Found::Ipmi(IpmiFound {
        pong,
        ipmi2: caps.ipmi2,
        auth,
        chassis,
        device,
    }))
}

/// upsd's UPSes (LIST UPS) and, for each, its outlets (LIST VAR).
pub fn nut(p: &Probes, addr: IpAddr) -> Option<Found> {
    let limits = Limits {
        login: p.timeout,
        command: p.timeout,
    };
    let target = SocketAddr::new(addr, p.nut_port);
    let mut client = NutClient::connect(&[target], limits, RealClock::shared_now()).ok()?;
    client.logged_in();
    let listed = client.list("UPS", "listing the UPSes").ok()?;
    let mut upses = Vec::new();
    for row in listed {
        let Ok([_, name, description]) = <[String; 3]>::try_from(row) else {
            continue;
        };
        let vars = crate::device::nut::variables_of(
            client
                .list(
                    &format!("VAR {}", crate::nut::proto::quote(&name)),
                    "listing the variables",
                )
                .unwrap_or_default(),
        );
        // outlet.0 is the whole unit, not an outlet.
        let outlets: Vec<u32> = crate::device::nut::outlets_of(&vars)
            .into_iter()
            .map(|(n, _, _)| n)
            .filter(|n| *n != 0)
            .collect();
        let switchable = outlets
            .iter()
            .filter(|n| {
                vars.get(&format!("outlet.{n}.switchable"))
                    .is_some_and(|v| matches!(v.trim(), "yes" | "1" | "true"))
            })
            .copied()
            .collect();
        upses.push(UpsFound {
            name: clean(&name),
            description: clean(&description),
            outlets,
            switchable,
        });
    }
    client.logout();
    Some(Found::Nut(upses))
}

/// What SSH servers of fencing devices announce, and the agent that drives them.
const SSH_BANNERS: &[(&str, &str, &str)] = &[
    ("mpSSH", "fence_ilo_ssh", "HPE iLO"),
    ("cryptlib", "fence_apc", "APC network management card"),
];

/// What telnet servers of fencing devices print first, and the agent that drives them.
const TELNET_PROMPTS: &[(&str, &str, &str)] = &[
    ("User Name :", "fence_apc", "APC network management card"),
    (
        "American Power Conversion",
        "fence_apc",
        "APC network management card",
    ),
    ("Remote Access Controller", "fence_drac5", "Dell DRAC/iDRAC"),
    ("iDRAC", "fence_drac5", "Dell iDRAC"),
    ("Western Telematic", "fence_wti", "WTI power switch"),
    ("Network Power Switch", "fence_wti", "WTI power switch"),
    ("Internet Power Switch", "fence_wti", "WTI power switch"),
    ("Remote Power Control", "fence_wti", "WTI power switch"),
    ("Integrated Lights-Out", "fence_ilo_ssh", "HPE iLO"),
];

fn recognise(
    text: &str,
    table: &[(&str, &'static str, &'static str)],
) -> Option<(&'static str, &'static str)> {
    table
        .iter()
        .find(|(needle, _, _)| text.contains(needle))
        .map(|(_, agent, what)| (*agent, *what))
}

/// The first bytes a TCP server sends, within the timeout.
fn first_words(
    addr: SocketAddr,
    timeout: Duration,
    enough: impl Fn(&[u8]) -> bool,
) -> Option<Vec<u8>> {
    let mut tcp = TcpStream::connect_timeout(&addr, timeout).ok()?;
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while got.len() < 2048 && !enough(&got) {
        let left = timeout
            .checked_sub(started.elapsed())
            .filter(|d| !d.is_zero())?;
        tcp.set_read_timeout(Some(left)).ok()?;
        match tcp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(_) => break,
        }
    }
    Some(got)
}

/// Printable text of what a server sent: telnet commands (IAC ...) and control bytes
/// left out, lines joined with " | ".
fn printable(bytes: &[u8]) -> String {
    let mut text = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == 255 {
            // IAC: WILL/WONT/DO/DONT take an option byte; other commands stand alone.
            let cmd = bytes.get(i + 1).copied().unwrap_or(0);
            i += if (251..=254).contains(&cmd) { 3 } else { 2 };
            continue;
        }
        text.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&text)
        .lines()
        .map(|l| l.chars().filter(|c| !c.is_control()).collect::<String>())
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

pub fn ssh(p: &Probes, addr: IpAddr) -> Option<Found> {
    let got = first_words(SocketAddr::new(addr, p.ssh_port), p.timeout, |b| {
        b.contains(&b'\n')
    })?;
    let text = printable(&got);
    if !text.starts_with("SSH-") {
        return None;
    }
    Some(Found::Ssh(Banner {
        agent: recognise(&text, SSH_BANNERS),
        text,
    }))
}

pub fn telnet(p: &Probes, addr: IpAddr) -> Option<Found> {
    // A login prompt ends without a line break: read until the timeout, or a prompt's colon.
    let got = first_words(SocketAddr::new(addr, p.telnet_port), p.timeout, |b| {
        printable(b).trim_end().ends_with(':')
    })?;
    let text = printable(&got);
    if text.is_empty() {
        return None;
    }
    Some(Found::Telnet(Banner {
        agent: recognise(&text, TELNET_PROMPTS),
        text,
    }))
}
