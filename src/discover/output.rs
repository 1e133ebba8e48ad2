//! A scan as a table, JSON, inventory entries (the fleet inventory's own import builder
//! checks and writes them), `pcs stonith create` lines, and nut-scanner's `-P` and `-N`
//! formats. Communities and passwords are redacted unless the caller asks for them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{json, Value as Json};

use crate::contract::agents::Registry;
use crate::discover::probe::{Banner, Found, IpmiFound, SnmpFound, UpsFound};
use crate::discover::{Finding, Scan};
use crate::fleet::import::{self, Builder, Given, NodeOut, Secrets};
use crate::fleet::inventory::Feed;
use crate::snmp::client::Version;

/// What stands in for a secret that is not shown.
pub const REDACTED: &str = "REDACTED";

fn secret(value: &str, show: bool) -> String {
    if show {
        value.to_string()
    } else {
        REDACTED.to_string()
    }
}

fn version_name(v: Version) -> &'static str {
    match v {
        Version::V1 => "1",
        Version::V2c => "2c",
        Version::V3 => "3",
    }
}

/// One line of what was found.
fn what(f: &Finding, show: bool) -> (String, String) {
    match &f.found {
        Found::Snmp(s) => {
            let kind = match &s.family {
                Some(fam) => format!("SNMP PDU {fam}"),
                None => "SNMP agent".to_string(),
            };
            let mut detail = Vec::new();
            if s.family.is_some() {
                detail.push(format!("{} outlets", s.outlets.len()));
            } else {
                detail.push(format!("sysObjectID {} (no family)", s.sys_object_id));
            }
            match &s.community {
                Some(c) => detail.push(format!(
                    "v{} community {}",
                    version_name(s.version),
                    secret(c, show)
                )),
                None => detail.push("SNMPv3".into()),
            }
            if !s.name.is_empty() {
                detail.push(format!("sysName {}", s.name));
            }
            if !s.descr.is_empty() {
                detail.push(format!("\"{}\"", s.descr));
            }
            (kind, detail.join("; "))
        }
        Found::SnmpRefused => (
            "SNMP agent".into(),
            "answers none of the communities tried (wrong community?)".into(),
        ),
        Found::Ipmi(i) => {
            let mut detail = vec![if i.ipmi2 { "IPMI 2.0" } else { "IPMI 1.5" }.to_string()];
            if !i.auth.is_empty() {
                detail.push(format!("1.5 auth {}", i.auth.join(", ")));
            }
            if let Some(d) = &i.device {
                detail.push(d.clone());
            }
            match &i.chassis {
                Some(Ok(on)) => detail.push(format!("chassis {}", if *on { "on" } else { "off" })),
                Some(Err(e)) => detail.push(format!("login failed: {e}")),
                None => {}
            }
            ("IPMI BMC".into(), detail.join("; "))
        }
        Found::Nut(upses) => {
            let list: Vec<String> = upses
                .iter()
                .map(|u| {
                    format!(
                        "{} ({} outlets, {} switchable)",
                        u.name,
                        u.outlets.len(),
                        u.switchable.len()
                    )
                })
                .collect();
            ("upsd".into(), list.join("; "))
        }
        Found::Ssh(b) => ("SSH server".into(), banner_text(b)),
        Found::Telnet(b) => ("telnet server".into(), banner_text(b)),
    }
}

fn banner_text(b: &Banner) -> String {
    let shown: String = b.text.chars().take(60).collect();
    match b.agent {
        Some((agent, what)) => format!("{what} ({agent}): \"{shown}\""),
        None => format!("\"{shown}\""),
    }
}

/// A table: one line per finding, then a summary.
pub fn table(scan: &Scan, show: bool) -> String {
    let rows: Vec<(String, String, String)> = scan
        .findings
        .iter()
        .map(|f| {
            let (kind, detail) = what(f, show);
            (format!("{}:{}", bracket(f), f.port), kind, detail)
        })
        .collect();
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(7).max(7);
    let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(5).max(5);
    let mut out = String::new();
    if !rows.is_empty() {
        let _ = writeln!(out, "{:w0$}  {:w1$}  DETAIL", "ADDRESS", "FOUND");
        for (a, k, d) in &rows {
            let _ = writeln!(out, "{a:w0$}  {k:w1$}  {d}");
        }
    }
    let _ = writeln!(out, "{}", summary(scan));
    out
}

fn bracket(f: &Finding) -> String {
    match f.address {
        std::net::IpAddr::V6(a) => format!("[{a}]"),
        a => a.to_string(),
    }
}

pub fn summary(scan: &Scan) -> String {
    let count = |p: fn(&Found) -> bool| scan.findings.iter().filter(|f| p(&f.found)).count();
    let pdus = count(|f| matches!(f, Found::Snmp(s) if s.family.is_some()));
    let agents = count(|f| matches!(f, Found::Snmp(s) if s.family.is_none()));
    let refused = count(|f| matches!(f, Found::SnmpRefused));
    let bmcs = count(|f| matches!(f, Found::Ipmi(_)));
    let upsd = count(|f| matches!(f, Found::Nut(_)));
    let shells = count(|f| matches!(f, Found::Ssh(_) | Found::Telnet(_)));
    format!(
        "{} address(es) scanned in {:.1} s: {pdus} SNMP PDU(s), {agents} other SNMP agent(s), {bmcs} BMC(s), {upsd} upsd, {shells} SSH/telnet server(s); {refused} SNMP agent(s) refused every community; {} address(es) silent",
        scan.scanned,
        scan.elapsed.as_secs_f64(),
        scan.silent.len()
    )
}

fn found_json(f: &Found, show: bool) -> Json {
    match f {
        Found::Snmp(s) => json!({
            "kind": if s.family.is_some() { "pdu" } else { "snmp" },
            "family": s.family,
            "version": version_name(s.version),
            "community": s.community.as_ref().map(|c| secret(c, show)),
            "sys_object_id": s.sys_object_id,
            "sys_descr": s.descr,
            "sys_name": s.name,
            "outlets": s.outlets.iter().map(|(id, name)| json!({"outlet": id, "name": name})).collect::<Vec<_>>(),
        }),
        Found::SnmpRefused => json!({"kind": "snmp-refused"}),
        Found::Ipmi(IpmiFound {
            pong,
            ipmi2,
            auth,
            chassis,
            device,
        }) => json!({
            "kind": "bmc",
            "presence_pong": pong,
            "device": device,
            "ipmi2": ipmi2,
            "auth": auth,
            "chassis": match chassis {
                Some(Ok(true)) => json!("on"),
                Some(Ok(false)) => json!("off"),
                Some(Err(e)) => json!({"error": e}),
                None => Json::Null,
            },
        }),
        Found::Nut(upses) => json!({
            "kind": "upsd",
            "ups": upses.iter().map(|u| json!({
                "name": u.name, "description": u.description,
                "outlets": u.outlets, "switchable": u.switchable,
            })).collect::<Vec<_>>(),
        }),
        Found::Ssh(b) => json!({"kind": "ssh", "banner": b.text, "agent": b.agent.map(|a| a.0)}),
        Found::Telnet(b) => {
            json!({"kind": "telnet", "banner": b.text, "agent": b.agent.map(|a| a.0)})
        }
    }
}

pub fn json(scan: &Scan, show: bool) -> String {
    let found: Vec<Json> = scan
        .findings
        .iter()
        .map(|f| {
            let mut v = found_json(&f.found, show);
            if let Some(o) = v.as_object_mut() {
                o.insert("address".into(), json!(f.address.to_string()));
                o.insert("protocol".into(), json!(f.protocol.name()));
                o.insert("port".into(), json!(f.port));
            }
            v
        })
        .collect();
    let doc = json!({
        "scanned": scan.scanned,
        "seconds": (scan.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        "found": found,
        "silent": scan.silent.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

/// A device name from what the device calls itself, else its kind and address.
fn device_name(kind: &str, f: &Finding, own: &str) -> String {
    let own = import::inventory_name(own);
    if !own.is_empty() && own != "device" && own.len() <= 63 {
        own
    } else {
        import::inventory_name(&format!("{kind}-{}", f.address))
    }
}

/// The options of the device a finding becomes: (agent, options, nodes as (name, plug)).
struct Entry {
    name: String,
    agent: &'static str,
    options: Vec<(String, Given)>,
    /// Plugs, each a node of its own (named after the outlet where it has a name).
    plugs: Vec<(String, String)>,
    /// A BMC: one node fenced by it.
    bmc: bool,
}

/// The credentials a scan was given, for the entries of what it found with them.
#[derive(Clone, Copy, Default)]
pub struct Creds<'a> {
    pub ipmi: Option<&'a (String, crate::ipmi::crypto::Secret)>,
    pub v3: Option<&'a crate::snmp::client::V3Params>,
}

/// The SNMPv3 options of an entry, as fence_pdu takes them (the scan used SHA and AES).
fn v3_options(v3: &crate::snmp::client::V3Params) -> Vec<(String, Given)> {
    use crate::snmp::client::SecLevel;
    let level = match v3.level {
        SecLevel::NoAuthNoPriv => "noAuthNoPriv",
        SecLevel::AuthNoPriv => "authNoPriv",
        SecLevel::AuthPriv => "authPriv",
    };
    let mut o = vec![
        ("username".to_string(), Given::Text(v3.user.clone())),
        ("snmp_sec_level".into(), Given::Text(level.into())),
    ];
    if v3.level != SecLevel::NoAuthNoPriv {
        o.push(("snmp_auth_prot".into(), Given::Text("SHA".into())));
        o.push(("password".into(), Given::Text(v3.auth_password.clone())));
    }
    if v3.level == SecLevel::AuthPriv {
        o.push(("snmp_priv_prot".into(), Given::Text("AES".into())));
        o.push((
            "snmp_priv_passwd".into(),
            Given::Text(v3.priv_password.clone()),
        ));
    }
    o
}

fn entries(scan: &Scan, creds: Creds) -> Vec<Entry> {
    let mut out = Vec::new();
    for f in &scan.findings {
        let mut options = vec![("ip".to_string(), Given::Text(f.address.to_string()))];
        match &f.found {
            Found::Snmp(SnmpFound {
                family: Some(family),
                community,
                version,
                name,
                outlets,
                ..
            }) => {
                if f.port != 161 {
                    options.push(("ipport".into(), Given::Number(i64::from(f.port))));
                }
                options.push((
                    "snmp_version".into(),
                    Given::Text(version_name(*version).into()),
                ));
                match (community, creds.v3) {
                    (Some(c), _) => options.push(("community".into(), Given::Text(c.clone()))),
                    (None, Some(v3)) => options.extend(v3_options(v3)),
                    (None, None) => {}
                }
                options.push(("family".into(), Given::Text(family.clone())));
                out.push(Entry {
                    name: device_name("pdu", f, name),
                    agent: "fence_pdu",
                    options,
                    plugs: outlets.clone(),
                    bmc: false,
                });
            }
            Found::Ipmi(i) => {
                if f.port != 623 {
                    options.push(("ipport".into(), Given::Number(i64::from(f.port))));
                }
                if i.ipmi2 {
                    options.push(("lanplus".into(), Given::Flag(true)));
                }
                // The login that worked in the scan, so the entry can be used at once.
                // It logged in at operator level, which fence_ipmilan must ask for too.
                if let (Some((user, password)), Some(Ok(_))) = (creds.ipmi, &i.chassis) {
                    options.push(("username".into(), Given::Text(user.clone())));
                    options.push((
                        "password".into(),
                        Given::Text(String::from_utf8_lossy(password).into_owned()),
                    ));
                    options.push(("privlvl".into(), Given::Text("operator".into())));
                }
                out.push(Entry {
                    name: device_name("bmc", f, ""),
                    agent: "fence_ipmilan",
                    options,
                    plugs: Vec::new(),
                    bmc: true,
                });
            }
            Found::Nut(upses) => {
                for UpsFound {
                    name, switchable, ..
                } in upses
                {
                    let mut options = options.clone();
                    if f.port != 3493 {
                        options.push(("ipport".into(), Given::Number(i64::from(f.port))));
                    }
                    options.push(("ups_name".into(), Given::Text(name.clone())));
                    out.push(Entry {
                        name: device_name("ups", f, &format!("{name}-{}", f.address)),
                        agent: "fence_nut",
                        options,
                        plugs: switchable
                            .iter()
                            .map(|n| (n.to_string(), String::new()))
                            .collect(),
                        bmc: false,
                    });
                }
            }
            _ => {}
        }
    }
    // Two devices calling themselves the same get their addresses added.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for e in &out {
        *seen.entry(e.name.clone()).or_default() += 1;
    }
    for e in &mut out {
        if seen.get(&e.name).is_some_and(|n| *n > 1) {
            let ip = e
                .options
                .first()
                .map(|(_, v)| match v {
                    Given::Text(t) => t.clone(),
                    _ => String::new(),
                })
                .unwrap_or_default();
            e.name = import::inventory_name(&format!("{}-{ip}", e.name));
        }
    }
    out
}

/// Inventory entries: every PDU, BMC and UPS found, and a node for each outlet (named
/// after the outlet where it has a usable name) and each BMC, so that `fencebox power
/// status all` reads the lot. Secrets inline only with `show`; else as `*_file` paths.
pub fn inventory(
    scan: &Scan,
    registry: &Registry,
    show: bool,
    creds: Creds,
) -> Result<(String, Vec<String>), String> {
    let secrets = if show {
        Secrets::Inline
    } else {
        Secrets::Files
    };
    let mut b = Builder::new(registry, secrets);
    let mut node_names: BTreeMap<String, usize> = BTreeMap::new();
    let entries = entries(scan, creds);
    for e in &entries {
        for (_, outlet_name) in &e.plugs {
            *node_names.entry(outlet_name.clone()).or_default() += 1;
        }
    }
    for e in entries {
        let agent = b.agent(e.agent)?;
        let origin = format!("{} at {}", e.agent, e.name);
        let name = b.device_name(&e.name, &origin);
        b.device(&name, &agent, &origin, &e.options);
        if e.bmc {
            b.node(
                &format!("{name}-node"),
                &origin,
                NodeOut {
                    bmc: Some(Feed {
                        device: name.clone(),
                        plug: String::new(),
                    }),
                    ..NodeOut::default()
                },
            );
        }
        for (plug, outlet_name) in &e.plugs {
            // An outlet's own name, when it is a usable name no other outlet has.
            let own = import::inventory_name(outlet_name);
            let node = if !outlet_name.is_empty()
                && own == *outlet_name
                && node_names.get(outlet_name) == Some(&1)
                && !outlet_name.starts_with("Outlet")
            {
                own
            } else {
                import::inventory_name(&format!("{name}-{plug}"))
            };
            b.node(
                &node,
                &origin,
                NodeOut {
                    feeds: vec![Feed {
                        device: name.clone(),
                        plug: plug.clone(),
                    }],
                    ..NodeOut::default()
                },
            );
        }
    }
    let imported = b.finish(&format!(
        "Found by fencebox discover ({} address(es) scanned); one node per outlet and BMC.",
        scan.scanned
    ))?;
    Ok((imported.toml, imported.notes))
}

/// A shell word: quoted when it holds anything but safe characters.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.,:/=@%+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// `pcs stonith create` lines, the nodes left as placeholders in `pcmk_host_map`
/// (NODE-<plug>) for the administrator to fill in.
pub fn pcs(scan: &Scan, show: bool, creds: Creds) -> String {
    let mut out = String::new();
    for e in entries(scan, creds) {
        let mut words = vec![
            "pcs".to_string(),
            "stonith".into(),
            "create".into(),
            e.name.clone(),
            e.agent.into(),
        ];
        for (k, v) in &e.options {
            let text = match v {
                Given::Text(t) => t.clone(),
                Given::Number(n) => n.to_string(),
                Given::Flag(b) => (if *b { "1" } else { "0" }).to_string(),
                Given::InFile(p) => p.display().to_string(),
            };
            let text = if matches!(k.as_str(), "community" | "password" | "snmp_priv_passwd") {
                secret(&text, show)
            } else {
                text
            };
            words.push(shell_word(&format!("{k}={text}")));
        }
        if e.bmc {
            words.push("username=ADMIN".into());
            words.push(format!("password={REDACTED}"));
            words.push("pcmk_host_list=NODE".into());
        } else if !e.plugs.is_empty() {
            let map: Vec<String> = e
                .plugs
                .iter()
                .map(|(p, _)| format!("NODE-{}:{p}", p.replace(['.', ':'], "-")))
                .collect();
            words.push(shell_word(&format!("pcmk_host_map={}", map.join(";"))));
        }
        let _ = writeln!(out, "{}", words.join(" "));
    }
    out
}

/// nut-scanner's `-P` (one line per device) and `-N` (ups.conf sections) formats: an SNMP
/// PDU for snmp-ups (its MIB left to the driver's detection), a BMC for nut-ipmipsu, a
/// UPS behind upsd for dummy-ups as a repeater.
pub fn nut_scanner(scan: &Scan, show: bool, sections: bool) -> String {
    let mut devices: Vec<(&'static str, Vec<(String, String)>)> = Vec::new();
    for f in &scan.findings {
        match &f.found {
            Found::Snmp(s) if s.family.is_some() => {
                let mut o = vec![
                    ("driver".into(), "snmp-ups".into()),
                    ("port".into(), f.address.to_string()),
                    ("desc".into(), s.descr.clone()),
                    ("mibs".into(), "auto".into()),
                ];
                if let Some(c) = &s.community {
                    o.push(("community".into(), secret(c, show)));
                }
                if s.version == Version::V1 {
                    o.push(("snmp_version".into(), "v1".into()));
                }
                devices.push(("snmp", o));
            }
            Found::Ipmi(_) => devices.push((
                "ipmi",
                vec![
                    ("driver".into(), "nut-ipmipsu".into()),
                    ("port".into(), f.address.to_string()),
                ],
            )),
            Found::Nut(upses) => {
                for u in upses {
                    let port = if f.port == 3493 {
                        format!("{}@{}", u.name, f.address)
                    } else {
                        format!("{}@{}:{}", u.name, f.address, f.port)
                    };
                    devices.push((
                        "nut",
                        vec![
                            ("driver".into(), "dummy-ups".into()),
                            ("port".into(), port),
                            ("desc".into(), u.description.clone()),
                        ],
                    ));
                }
            }
            _ => {}
        }
    }
    let quote = |v: &str| {
        v.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
            .replace('\r', "\\r")
    };
    let mut out = String::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (bus, options) in devices {
        if sections {
            let n = counts.entry(bus).or_default();
            *n += 1;
            let _ = writeln!(out, "[nutdev-{bus}{n}]");
            for (k, v) in &options {
                let _ = writeln!(out, "\t{k} = \"{}\"", quote(v));
            }
        } else {
            let fields: Vec<String> = options
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", quote(v)))
                .collect();
            let _ = writeln!(out, "{}:{}", bus.to_uppercase(), fields.join(","));
        }
    }
    out
}
