//! PDUDaemon's pdudaemon.conf (JSON) into an inventory.
//!
//! `pdus` is keyed by the PDU's host name (also its address) with a `driver` and the
//! driver's settings; `aliases` names an outlet (`hostname`, `port`). PDUs whose driver
//! speaks a protocol a fencebox agent speaks become devices (APC telnet consoles:
//! fence_apc; the generic SNMP drivers: fence_apc_snmp for the PowerNet MIB, fence_pdu
//! with the family whose control column the OID is; CyberPower's SNMP driver; Netio's
//! KSHELL: fence_netio); aliases become nodes with one feed each. Everything else is noted.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{feed, Builder, Given, Imported, NodeOut, Secrets};
use crate::contract::agents::Registry;

/// Import the pdudaemon.conf `text`.
pub fn import(text: &str, registry: &Registry, secrets: Secrets) -> Result<Imported, String> {
    let conf: Value = serde_json::from_str(text)
        .map_err(|e| format!("not a PDUDaemon configuration: not JSON ({e})"))?;
    let pdus = conf
        .get("pdus")
        .and_then(Value::as_object)
        .ok_or("not a PDUDaemon configuration: it has no \"pdus\" object")?;
    let aliases = match conf.get("aliases") {
        None | Some(Value::Null) => None,
        Some(Value::Object(a)) => Some(a),
        Some(_) => {
            return Err("not a PDUDaemon configuration: \"aliases\" is not an object".into())
        }
    };
    let mut b = Builder::new(registry, secrets);
    let mut devices: BTreeMap<&str, String> = BTreeMap::new();
    let mut left_out: BTreeMap<&str, String> = BTreeMap::new();
    for (host, settings) in pdus {
        let origin = format!("pdus.{host}");
        let Some(settings) = settings.as_object() else {
            b.note(format!("{origin}: not an object of settings; left out"));
            left_out.insert(host, "its settings are not an object".into());
            continue;
        };
        match device(&mut b, registry, host, settings) {
            Ok(name) => {
                devices.insert(host, name);
            }
            Err(why) => {
                b.note(format!("{origin}: {why}; left out"));
                left_out.insert(host, why);
            }
        }
    }
    let mut used: BTreeMap<&str, bool> = devices.keys().map(|h| (*h, false)).collect();
    for (alias, target) in aliases.into_iter().flatten() {
        let origin = format!("aliases.{alias}");
        let host = target.get("hostname").and_then(Value::as_str);
        // An outlet is a name or number without spaces around it or inside.
        let port = target
            .get("port")
            .and_then(as_text)
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty() && !p.contains(char::is_whitespace) && !p.contains(':'));
        let (Some(host), Some(port)) = (host, port) else {
            b.note(format!("{origin}: needs a hostname and a port; left out"));
            continue;
        };
        match (devices.get(host), left_out.get(host)) {
            (Some(device), _) => {
                used.insert(host, true);
                b.node(
                    alias,
                    &origin,
                    NodeOut {
                        feeds: vec![feed(device, &port)],
                        ..NodeOut::default()
                    },
                );
            }
            (None, Some(_)) => b.note(format!(
                "{origin}: outlet {port} of pdus.{host}, which is left out; left out"
            )),
            (None, None) => b.note(format!(
                "{origin}: names pdus.{host}, which the configuration does not have; left out"
            )),
        }
    }
    for (host, _) in used.into_iter().filter(|(_, u)| !u) {
        b.note(format!(
            "pdus.{host}: no alias names an outlet of it (PDUDaemon is also driven by host name and port); give its nodes feeds = [\"{}:N\"] by hand",
            devices[host]
        ));
    }
    b.finish(
        "fencebox inventory imported from PDUDaemon's pdudaemon.conf.\n\
         Check it with 'fencebox inventory check' and read the notes the import printed.",
    )
}

/// A JSON string or number as text.
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The APC drivers that work the network management card's console over telnet.
const APC_CONSOLE: &[&str] = &[
    "apc7900", "apc7920", "apc7921", "apc7932", "apc7952", "apc8959", "apc9210", "apc9218",
    "ap9218", "ap9606", "apc9606",
];

/// Settings PDUDaemon itself reads for every PDU.
const RUNNER_SETTINGS: &[&str] = &["driver", "retries", "retrydelay"];

/// Add the device for PDU `host`; its inventory name, or why it cannot be one.
fn device(
    b: &mut Builder,
    registry: &Registry,
    host: &str,
    settings: &Map<String, Value>,
) -> Result<String, String> {
    let driver = settings
        .get("driver")
        .and_then(Value::as_str)
        .ok_or("it names no driver")?;
    let lower = driver.to_ascii_lowercase();
    let get = |k: &str| settings.get(k).and_then(as_text);
    let mut read: Vec<&str> = RUNNER_SETTINGS.to_vec();
    let mut options: Vec<(String, Given)> = vec![("ip".into(), Given::Text(host.into()))];
    // The console drivers log in with these unless told otherwise.
    let console = |default_user: &str, read: &mut Vec<&str>, options: &mut Vec<(String, Given)>| {
        read.extend(["username", "password", "telnetport"]);
        options.push((
            "username".into(),
            Given::Text(get("username").unwrap_or_else(|| default_user.into())),
        ));
        options.push((
            "password".into(),
            Given::Text(get("password").unwrap_or_else(|| default_user.into())),
        ));
        if let Some(p) = settings.get("telnetport").and_then(Value::as_i64) {
            options.push(("ipport".into(), Given::Number(p)));
        }
    };
    let agent = match lower.as_str() {
        d if APC_CONSOLE.contains(&d) => {
            console("apc", &mut read, &mut options);
            "fence_apc"
        }
        "netio4" => {
            console("admin", &mut read, &mut options);
            "fence_netio"
        }
        // Writes ePDUOutletControlOutletCommand with SNMPv1 and the community "private".
        "cyberpower81001" => {
            options.extend([
                ("family".into(), Given::Text("cyberpower-epdu".into())),
                ("snmp_version".into(), Given::Text("1".into())),
                ("community".into(), Given::Text("private".into())),
            ]);
            "fence_pdu"
        }
        "snmpv1" | "snmpv3" => snmp(registry, &lower, settings, &mut read, &mut options)?,
        _ => return Err(format!("driver {driver} has no fencebox agent")),
    };
    let mut unread: Vec<&str> = settings
        .keys()
        .map(String::as_str)
        .filter(|k| !read.contains(k))
        .collect();
    unread.sort_unstable();
    let origin = format!("pdus.{host} (driver {driver})");
    if !unread.is_empty() {
        b.note(format!(
            "{origin}: {} mean nothing to {agent}; left out",
            unread.join(", ")
        ));
    }
    let agent = b.agent(agent)?;
    let name = b.device_name(host, &origin);
    b.device(&name, &agent, &origin, &options);
    Ok(name)
}

/// The generic SNMP drivers: which agent, and the SNMP options.
fn snmp(
    registry: &Registry,
    driver: &str,
    settings: &Map<String, Value>,
    read: &mut Vec<&str>,
    options: &mut Vec<(String, Given)>,
) -> Result<&'static str, String> {
    let get = |k: &str| settings.get(k).and_then(as_text);
    read.extend([
        "mib",
        "oid",
        "controlpoint",
        "onsetting",
        "offsetting",
        "inside_number",
        "static_ending",
    ]);
    let agent = match (get("mib"), get("oid")) {
        (Some(mib), None) if mib.eq_ignore_ascii_case("PowerNet-MIB") => "fence_apc_snmp",
        (Some(mib), None) => {
            return Err(format!(
                "MIB {mib} is not one fencebox knows by name (it reads no MIB files); describe the PDU in a family file in /etc/fencebox/agents.d"
            ))
        }
        (None, Some(oid)) => {
            let family = family_of(registry, &oid)?;
            options.push(("family".into(), Given::Text(family)));
            "fence_pdu"
        }
        _ => return Err("it needs one of mib and oid (PDUDaemon refuses it too)".into()),
    };
    if driver == "snmpv1" {
        read.push("community");
        let community = get("community").ok_or("no community (PDUDaemon refuses it too)")?;
        // The driver hands pysnmp a CommunityData without a model, which is SNMPv2c.
        options.push(("snmp_version".into(), Given::Text("2c".into())));
        options.push(("community".into(), Given::Text(community)));
        return Ok(agent);
    }
    read.extend([
        "username",
        "authpassphrase",
        "privpassphrase",
        "auth_protocol",
        "priv_protocol",
    ]);
    let user = get("username").ok_or("no username (PDUDaemon refuses it too)")?;
    options.push(("snmp_version".into(), Given::Text("3".into())));
    options.push(("username".into(), Given::Text(user)));
    // pysnmp's defaults: MD5 with an authentication key, DES with a privacy key.
    let auth = match (get("authpassphrase"), get("auth_protocol")) {
        (Some(key), p) => {
            auth_protocol(p.as_deref().unwrap_or("usmHMACMD5AuthProtocol"))?.map(|prot| (key, prot))
        }
        (None, _) => None,
    };
    let privacy = match (&auth, get("privpassphrase"), get("priv_protocol")) {
        (Some(_), Some(key), p) => {
            priv_protocol(p.as_deref().unwrap_or("usmDESPrivProtocol"))?.map(|prot| (key, prot))
        }
        _ => None,
    };
    let level = match (&auth, &privacy) {
        (Some(_), Some(_)) => "authPriv",
        (Some(_), None) => "authNoPriv",
        _ => "noAuthNoPriv",
    };
    options.push(("snmp_sec_level".into(), Given::Text(level.into())));
    if let Some((key, prot)) = auth {
        options.push(("snmp_auth_prot".into(), Given::Text(prot.into())));
        options.push(("password".into(), Given::Text(key)));
    }
    if let Some((key, prot)) = privacy {
        options.push(("snmp_priv_prot".into(), Given::Text(prot.into())));
        options.push(("snmp_priv_passwd".into(), Given::Text(key)));
    }
    Ok(agent)
}

/// pysnmp's authentication protocols (old and new names); None: no authentication.
fn auth_protocol(name: &str) -> Result<Option<&'static str>, String> {
    Ok(Some(match name {
        "usmNoAuthProtocol" | "USM_AUTH_NONE" => return Ok(None),
        "usmHMACMD5AuthProtocol" | "USM_AUTH_HMAC96_MD5" => "MD5",
        "usmHMACSHAAuthProtocol" | "USM_AUTH_HMAC96_SHA" => "SHA",
        "usmHMAC128SHA224AuthProtocol" | "USM_AUTH_HMAC128_SHA224" => "SHA224",
        "usmHMAC192SHA256AuthProtocol" | "USM_AUTH_HMAC192_SHA256" => "SHA256",
        "usmHMAC256SHA384AuthProtocol" | "USM_AUTH_HMAC256_SHA384" => "SHA384",
        "usmHMAC384SHA512AuthProtocol" | "USM_AUTH_HMAC384_SHA512" => "SHA512",
        other => {
            return Err(format!(
                "authentication protocol {other} is not one fencebox has"
            ))
        }
    }))
}

/// pysnmp's privacy protocols; None: no privacy. pysnmp's plain AES-192/256 localise the
/// key as Cisco does (net-snmp's and fencebox's AES192C/AES256C); its "Blumenthal" ones
/// are the draft's (AES192/AES256).
fn priv_protocol(name: &str) -> Result<Option<&'static str>, String> {
    Ok(Some(match name {
        "usmNoPrivProtocol" | "USM_PRIV_NONE" => return Ok(None),
        "usmDESPrivProtocol" | "USM_PRIV_CBC56_DES" => "DES",
        "usmAesCfb128Protocol" | "USM_PRIV_CFB128_AES" => "AES",
        "usmAesCfb192Protocol" | "USM_PRIV_CFB192_AES" => "AES192C",
        "usmAesCfb256Protocol" | "USM_PRIV_CFB256_AES" => "AES256C",
        "usmAesBlumenthalCfb192Protocol" | "USM_PRIV_CFB192_AES_BLUMENTHAL" => "AES192",
        "usmAesBlumenthalCfb256Protocol" | "USM_PRIV_CFB256_AES_BLUMENTHAL" => "AES256",
        other => return Err(format!("privacy protocol {other} is not one fencebox has")),
    }))
}

/// The SNMP family whose outlet control column is `oid` with its `*` (the outlet) off.
fn family_of(registry: &Registry, oid: &str) -> Result<String, String> {
    let column: Option<Vec<u64>> = oid
        .trim()
        .trim_start_matches('.')
        .split_once(".*")
        .map_or(oid.trim().trim_start_matches('.'), |(base, _)| base)
        .split('.')
        .map(|arc| arc.parse().ok())
        .collect();
    let families = registry.families().all()?;
    column
        .and_then(|c| {
            families
                .iter()
                .find(|f| f.control_on.oid == c || f.control_off.oid == c)
        })
        .map(|f| f.name.clone())
        .ok_or_else(|| {
            format!(
                "OID {oid} is the outlet control of no SNMP family fencebox knows; describe the device in a family file in /etc/fencebox/agents.d"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn run(text: &str, secrets: Secrets) -> (Imported, crate::fleet::inventory::Inventory) {
        let imported = import(text, &registry(), secrets).unwrap_or_else(|e| panic!("{e}"));
        let inv = reads_back(&imported, secrets);
        (imported, inv)
    }

    /// A small lab in our own words: two APC PDUs (console and SNMP), an SNMPv3 one by
    /// OID, a CyberPower, and boards on their outlets.
    const LAB: &str = r#"{
        "daemon": {"hostname": "0.0.0.0", "port": 16421, "listener": "http"},
        "pdus": {
            "pdu-a.lab": {"driver": "apc7952", "telnetport": 5023, "username": "lab", "password": "console-secret", "retries": 3},
            "pdu-b.lab": {"driver": "snmpv1", "community": "v2-secret", "mib": "PowerNet-MIB", "controlpoint": "sPDUOutletCtl", "onsetting": 1, "offsetting": 2},
            "pdu-c.lab": {"driver": "snmpv3", "username": "fence", "authpassphrase": "auth-secret", "privpassphrase": "priv-secret",
                          "auth_protocol": "usmHMACSHAAuthProtocol", "priv_protocol": "usmAesCfb128Protocol",
                          "oid": ".1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.*", "onsetting": 1, "offsetting": 2},
            "pdu-d.lab": {"driver": "cyberpower81001"},
            "strip.lab": {"driver": "tasmota", "ip": "10.0.0.9"},
            "poe.lab": {"driver": "snmpv1", "community": "private", "oid": ".1.3.6.1.2.1.105.1.1.1.3.1.*", "onsetting": 1, "offsetting": 2}
        },
        "aliases": {
            "board1": {"hostname": "pdu-a.lab", "port": 1},
            "board2": {"hostname": "pdu-b.lab", "port": "2"},
            "board3": {"hostname": "pdu-c.lab", "port": 3},
            "board4": {"hostname": "strip.lab", "port": 1},
            "board5": {"hostname": "nowhere.lab", "port": 1},
            "board6": {"hostname": "pdu-a.lab", "port": 1},
            "board7": {"hostname": "pdu-a.lab", "port": " "}
        }
    }"#;

    #[test]
    fn a_lab_of_apc_and_snmp_pdus() {
        let (imported, inv) = run(LAB, Secrets::Files);
        hides(
            &imported,
            &["console-secret", "v2-secret", "auth-secret", "priv-secret"],
        );
        assert_eq!(inv.devices["pdu-a.lab"].agent.name, "fence_apc");
        assert_eq!(option(&inv, "pdu-a.lab", "ipport").as_deref(), Some("5023"));
        assert_eq!(option(&inv, "pdu-a.lab", "login").as_deref(), Some("lab"));
        assert_eq!(inv.devices["pdu-b.lab"].agent.name, "fence_apc_snmp");
        assert_eq!(
            option(&inv, "pdu-b.lab", "snmp_version").as_deref(),
            Some("2c")
        );
        assert_eq!(inv.devices["pdu-c.lab"].agent.name, "fence_pdu");
        assert_eq!(
            option(&inv, "pdu-c.lab", "family").as_deref(),
            Some("apc-rpdu")
        );
        assert_eq!(
            option(&inv, "pdu-c.lab", "snmp_sec_level").as_deref(),
            Some("authPriv")
        );
        assert_eq!(
            option(&inv, "pdu-c.lab", "snmp_auth_prot").as_deref(),
            Some("SHA")
        );
        assert_eq!(
            option(&inv, "pdu-c.lab", "snmp_priv_prot").as_deref(),
            Some("AES")
        );
        assert_eq!(
            option(&inv, "pdu-c.lab", "snmp_priv_passwd").as_deref(),
            Some("file:/etc/fencebox/secrets/pdu-c.lab-snmp_priv_passwd")
        );
        assert_eq!(
            option(&inv, "pdu-d.lab", "family").as_deref(),
            Some("cyberpower-epdu")
        );
        assert_eq!(feeds(&inv, "board2"), ["pdu-b.lab:2"]);
        assert_eq!(feeds(&inv, "board3"), ["pdu-c.lab:3"]);
        // One outlet named by two aliases powers neither.
        assert!(inv.node("board1").is_none() && inv.node("board6").is_none());
        let n = imported.notes.join("\n");
        for wanted in [
            "pdus.strip.lab: driver tasmota has no fencebox agent",
            "pdus.poe.lab: OID .1.3.6.1.2.1.105.1.1.1.3.1.* is the outlet control of no SNMP family",
            "aliases.board4: outlet 1 of pdus.strip.lab, which is left out",
            "aliases.board5: names pdus.nowhere.lab, which the configuration does not have",
            "pdu-a.lab:1 powers board1, board6",
            "pdus.pdu-d.lab: no alias names an outlet of it",
        ] {
            assert!(n.contains(wanted), "{wanted}:\n{n}");
        }
        let (imported, inv) = run(LAB, Secrets::Inline);
        assert!(imported.toml.contains("console-secret"));
        assert_eq!(
            option(&inv, "pdu-c.lab", "passwd").as_deref(),
            Some("auth-secret")
        );
    }

    /// PDUDaemon's own example (share/pdudaemon.conf of pdudaemon 1.1.1, GPL-2.0-or-later;
    /// see tests/fixtures/import/README.md).
    #[test]
    fn pdudaemons_example_configuration() {
        let text = include_str!("../../../tests/fixtures/import/pdudaemon.conf");
        let (imported, inv) = run(text, Secrets::Files);
        hides(
            &imported,
            &[
                "pdudaemonauthpassphrase",
                "pdudaemonprivpassphrase",
                "\"ubnt\"",
            ],
        );
        for (pdu, agent) in [
            ("apc9210", "fence_apc"),
            ("apc7952", "fence_apc"),
            ("apc8959", "fence_apc"),
            ("apc7952-retries", "fence_apc"),
            ("apc-snmpv3-withauth", "fence_apc_snmp"),
            ("apc-snmpv3-noauth", "fence_apc_snmp"),
            ("apc-snmpv1-private", "fence_apc_snmp"),
        ] {
            assert_eq!(inv.devices[pdu].agent.name, agent, "{pdu}");
        }
        assert_eq!(
            option(&inv, "apc-snmpv3-withauth", "snmp_auth_prot").as_deref(),
            Some("MD5")
        );
        assert_eq!(
            option(&inv, "apc-snmpv3-withauth", "snmp_priv_prot").as_deref(),
            Some("DES")
        );
        assert_eq!(
            option(&inv, "apc-snmpv3-noauth", "snmp_sec_level").as_deref(),
            Some("noAuthNoPriv")
        );
        assert_eq!(inv.devices.len(), 7);
        // Both aliases are on command-line "PDUs".
        assert!(inv.nodes.is_empty());
        let n = imported.notes.join("\n");
        for wanted in [
            "pdus.test: driver localcmdline has no fencebox agent",
            "pdus.cbs350-poe-switch: OID",
            "pdus.servertechpro2: driver servertechpro2 has no fencebox agent",
            "aliases.aliastesthttp01: outlet 1 of pdus.httpalias, which is left out",
            "pdus.ubntmfi3port: driver ubntmfi3port has no fencebox agent",
        ] {
            assert!(n.contains(wanted), "{wanted}:\n{n}");
        }
        // PDUDaemon's own retry settings are its business, not a leftover.
        assert!(!n.contains("retries mean nothing"), "{n}");
    }

    #[test]
    fn broken_input_is_one_line() {
        for (text, wanted) in [
            ("", "not JSON"),
            ("{\"pdus\": [1]}", "no \"pdus\" object"),
            (
                "{\"pdus\": {}, \"aliases\": 3}",
                "\"aliases\" is not an object",
            ),
            ("<cib/>", "not JSON"),
        ] {
            let e = import(text, &registry(), Secrets::Files)
                .err()
                .unwrap_or_else(|| panic!("{text}: accepted"));
            assert!(e.contains(wanted), "{text}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }
}
