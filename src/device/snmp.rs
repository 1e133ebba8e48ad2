//! SNMP PDUs: one backend for every family. The family (chosen by sysObjectID, or fixed
//! by the agent) says where outlets live; this module turns plugs into rows, reads and
//! writes them, and insists on answers that mean something: a missing outlet is an
//! error, never "off".

use std::collections::HashMap;
use std::time::Duration;

use snmp2::v3;

use crate::contract::agents;
use crate::contract::error::{FenceError, Result};
use crate::contract::option_set::Agent;
use crate::contract::settings::Settings;
use crate::device::{self, Capabilities, CycleKind, Device, Outlet, PowerState};
use crate::runtime::clock::SharedClock;
use crate::runtime::env::Env;
use crate::runtime::lock::DeviceIdentity;
use crate::snmp::client::{
    resolve, resolve_all, Client, Config, SecLevel, SetValue, SnmpError, V3Params, Value, Version,
};
use crate::snmp::family::{Family, Row};
use crate::snmp::oid::format_oid;

const SYS_OBJECT_ID: [u64; 9] = [1, 3, 6, 1, 2, 1, 1, 2, 0];

pub struct SnmpDevice {
    cfg: Config,
    catalog: agents::FamilyCatalog,
    /// The families this call may use (None: any).
    allowed: Option<Vec<&'static str>>,
    fallback: Option<&'static str>,
    detect: bool,
    switch: Option<u64>,
    /// The site directory, named when no family matches.
    site_dir: std::path::PathBuf,
    /// The device's addresses, resolved once for both the lock and the connection.
    addrs: std::cell::OnceCell<Option<Vec<std::net::SocketAddr>>>,
}

/// The one place SNMP failures become fence-agents' messages.
impl From<SnmpError> for FenceError {
    fn from(e: SnmpError) -> Self {
        match e {
            SnmpError::Unreachable(m) => FenceError::ConnectionLost(m),
            SnmpError::Denied(m) => FenceError::LoginDenied(m),
            SnmpError::Answer(m) => FenceError::Device(m),
            SnmpError::NoSuchObject(m) => FenceError::PlugNotFound(m),
            SnmpError::Timeout(m) => FenceError::TimedOut(m),
        }
    }
}

fn usage(msg: String) -> FenceError {
    FenceError::Usage(msg)
}

/// The SNMP settings of a call, from the validated options.
pub fn config(settings: &Settings) -> Result<Config> {
    let (host, port) = super::address(settings, 161)?;
    let user = settings.get("login").map(str::to_string);
    let version =
        match settings.get("snmp_version") {
            Some("1") => Version::V1,
            Some("2c") => Version::V2c,
            Some("3") => Version::V3,
            Some(other) => {
                return Err(usage(format!(
                    "Failed: snmp_version must be 1, 2c or 3, not '{other}'"
                )))
            }
            None if user.is_some() => Version::V3,
            None if settings.get("community").is_some() => Version::V2c,
            None => return Err(usage(
                "Failed: set snmp_version (1, 2c or 3) and a community (v1, v2c) or username (v3)"
                    .into(),
            )),
        };
    let community = settings.get("community").unwrap_or_default().to_string();
    if version != Version::V3 && community.is_empty() {
        return Err(usage(
            "Failed: SNMP v1 and v2c need a community (community=...)".into(),
        ));
    }
    let v3 = if version == Version::V3 {
        let user =
            user.ok_or_else(|| usage("Failed: SNMPv3 needs a user name (username=...)".into()))?;
        let auth_password = settings.get("passwd").unwrap_or_default().to_string();
        let priv_password = settings
            .get("snmp_priv_passwd")
            .unwrap_or_default()
            .to_string();
        let level = match settings.get("snmp_sec_level") {
            Some("noAuthNoPriv") => SecLevel::NoAuthNoPriv,
            Some("authNoPriv") => SecLevel::AuthNoPriv,
            Some("authPriv") => SecLevel::AuthPriv,
            _ if !auth_password.is_empty() && !priv_password.is_empty() => SecLevel::AuthPriv,
            _ if !auth_password.is_empty() => SecLevel::AuthNoPriv,
            _ => SecLevel::NoAuthNoPriv,
        };
        if level != SecLevel::NoAuthNoPriv && auth_password.len() < 8 {
            return Err(usage(
                "Failed: SNMPv3 authentication needs a password of at least 8 characters (password=...)".into(),
            ));
        }
        if level == SecLevel::AuthPriv && priv_password.len() < 8 {
            return Err(usage(
                "Failed: SNMPv3 authPriv needs a privacy password of at least 8 characters (snmp_priv_passwd=...)".into(),
            ));
        }
        let auth_protocol = match settings.get("snmp_auth_prot").unwrap_or("MD5") {
            "SHA" => v3::AuthProtocol::Sha1,
            "SHA224" => v3::AuthProtocol::Sha224,
            "SHA256" => v3::AuthProtocol::Sha256,
            "SHA384" => v3::AuthProtocol::Sha384,
            "SHA512" => v3::AuthProtocol::Sha512,
            _ => v3::AuthProtocol::Md5,
        };
        let priv_name = settings.get("snmp_priv_prot").unwrap_or("DES");
        let key_extension = match priv_name {
            "AES192" | "AES256" => Some(v3::KeyExtension::Blumenthal),
            "AES192C" | "AES256C" => Some(v3::KeyExtension::Reeder),
            _ => None,
        };
        let priv_protocol = match priv_name {
            "AES" | "AES128" => v3::Cipher::Aes128,
            "AES192" | "AES192C" => v3::Cipher::Aes192,
            "AES256" | "AES256C" => v3::Cipher::Aes256,
            _ => v3::Cipher::Des,
        };
        Some(V3Params {
            user,
            level,
            auth_protocol,
            auth_password,
            priv_protocol,
            priv_password,
            key_extension,
            context: String::new(),
        })
    } else {
        None
    };
    // One second per try, as net-snmp; as many tries as shell_timeout has seconds, so
    // one request never outlives it (5 when Pacemaker owns the timeouts).
    let tries = match settings.shell_timeout {
        Some(t) => u32::try_from(t.as_secs()).unwrap_or(u32::MAX).max(1),
        None if settings.timeouts_disabled => 5,
        None => 3,
    };
    Ok(Config {
        host,
        port,
        version,
        community,
        v3,
        timeout: Duration::from_secs(1),
        tries,
    })
}

impl SnmpDevice {
    pub fn new(agent: &Agent, settings: &Settings, env: &Env) -> Result<Self> {
        let spec = agent.def.snmp.clone().ok_or_else(|| {
            FenceError::Local(format!(
                "Failed: agent {} has no [snmp] section in its file",
                agent.name
            ))
        })?;
        let catalog = agents::FamilyCatalog::load(&env.agents_dir)
            .map_err(|e| FenceError::Local(format!("Failed: {e}")))?;
        let known = |name: &str| -> Result<()> {
            if catalog.names().contains(&name) {
                Ok(())
            } else {
                Err(FenceError::Local(format!(
                    "Failed: agent {} names unknown family '{name}'",
                    agent.name
                )))
            }
        };
        let mut allowed: Option<Vec<&'static str>> = if spec.families == ["*"] {
            None
        } else {
            spec.families.iter().try_for_each(|n| known(n))?;
            Some(spec.families.clone())
        };
        let mut fallback = spec.fallback;
        if let Some(f) = fallback {
            known(f)?;
        }
        let mut detect = spec.detect;
        if let Some(name) = settings.get("family").filter(|f| !f.is_empty()) {
            // The administrator knows better than the sysObjectID.
            let name: &'static str = catalog
                .names()
                .into_iter()
                .find(|n| *n == name)
                .ok_or_else(|| {
                    usage(format!(
                        "Failed: family '{name}' is not known; use one of: {}",
                        catalog.names().join(", ")
                    ))
                })?;
            allowed = Some(vec![name]);
            fallback = None;
            detect = false;
        }
        let switch = match settings.get("switch") {
            None => None,
            Some(s) => Some(s.trim().parse().map_err(|_| {
                usage(format!(
                    "Failed: switch must be the number of a daisy-chained unit, not '{s}'"
                ))
            })?),
        };
        Ok(SnmpDevice {
            cfg: config(settings)?,
            catalog,
            allowed,
            fallback,
            detect,
            switch,
            site_dir: env.agents_dir.clone(),
            addrs: std::cell::OnceCell::new(),
        })
    }
}

/// Say "plug 7" where the client could only say which OID was missing.
fn name_plug(e: SnmpError, plug: &str) -> FenceError {
    match e {
        SnmpError::NoSuchObject(_) => FenceError::PlugNotFound(plug.to_string()),
        other => other.into(),
    }
}

fn name_text(v: &Value, family: &Family) -> String {
    let t = v.text();
    let t = if family.unquote_names {
        t.trim_matches('"')
    } else {
        t.as_str()
    };
    match family.name_first_field {
        true => t.split(',').next().unwrap_or_default().trim().to_string(),
        false => t.to_string(),
    }
}

/// The fields of a packed value ("1,1,0,1": outlet N is field N).
fn packed_fields(v: &Value) -> Vec<String> {
    v.text()
        .trim_matches('"')
        .split(',')
        .map(|f| f.trim().to_string())
        .collect()
}

/// The field index of an outlet in a packed value.
fn packed_index(row: &Row, plug: &str) -> Result<usize> {
    row.plug
        .last()
        .and_then(|n| usize::try_from(*n).ok())
        .and_then(|n| n.checked_sub(1))
        .ok_or_else(|| FenceError::PlugNotFound(plug.to_string()))
}

impl SnmpDevice {
    fn addrs(&self) -> Option<&[std::net::SocketAddr]> {
        self.addrs
            .get_or_init(|| resolve_all(&self.cfg.host, self.cfg.port).ok())
            .as_deref()
    }
}

impl Device for SnmpDevice {
    type Session<'d> = SnmpSession;

    fn identity(&self) -> DeviceIdentity {
        match self.addrs() {
            Some(addrs) => DeviceIdentity::for_addrs("snmp", addrs, self.cfg.port),
            // Unresolvable: connect reports it; the lock still needs a name.
            None => DeviceIdentity::network("snmp", &self.cfg.host, self.cfg.port),
        }
    }

    fn concurrent_reads(&self) -> bool {
        true
    }

    fn connect(&mut self, clock: &SharedClock) -> Result<SnmpSession> {
        log_debug!(
            1,
            "device contact: SNMP {:?} {}:{}",
            self.cfg.version,
            self.cfg.host,
            self.cfg.port
        );
        let target = match self.addrs() {
            Some(addrs) => addrs[0],
            None => resolve(&self.cfg.host, self.cfg.port)?, // for its error message
        };
        let mut client = Client::connect(self.cfg.clone(), target, clock.clone())?;
        let local = |e: String| FenceError::Local(format!("Failed: {e}"));
        let first = self.allowed.as_ref().and_then(|a| a.first().copied());
        let family = match (self.detect, first) {
            (false, Some(name)) => self.catalog.by_name(name).map_err(local)?,
            _ => {
                let v = client.get(&SYS_OBJECT_ID)?;
                let Value::Oid(oid) = &v else {
                    return Err(FenceError::Device(format!(
                        "the device answered sysObjectID with {v:?}; is this an SNMP PDU?"
                    )));
                };
                let found = self
                    .catalog
                    .detect(self.allowed.as_deref(), oid)
                    .map_err(local)?;
                match (found, self.fallback) {
                    (Some(f), _) => Some(f),
                    (None, Some(name)) => self.catalog.by_name(name).map_err(local)?,
                    (None, None) => {
                        return Err(FenceError::Device(format!(
                            "unknown device: sysObjectID {} matches no family this agent knows; describe it in a family file in {} (see docs/families.md), or pick a family with family=NAME (fencebox families lists them)",
                            format_oid(oid),
                            self.site_dir.display()
                        )))
                    }
                }
            }
        };
        let family =
            family.ok_or_else(|| FenceError::Local("Failed: agent has no SNMP family".into()))?;
        log_debug!(1, "SNMP family {} ({})", family.name, family.description);
        Ok(SnmpSession {
            client,
            family,
            switch: self.switch,
        })
    }
}

/// A plug as the device addresses it: its row, and the text it was given as (for
/// messages).
#[derive(Debug, Clone)]
pub struct SnmpPlug {
    given: String,
    row: Row,
}

/// A device whose family is known, with its client.
pub struct SnmpSession {
    client: Client,
    family: Family,
    switch: Option<u64>,
}

impl SnmpSession {
    /// The row of a plug: `S:P`, a number, a dotted id, or an outlet name.
    fn row(&mut self, plug: &str) -> Result<Row> {
        let default_switch = self.switch.unwrap_or(1);
        let (client, family) = (&mut self.client, &self.family);
        let numbers =
            |s: &str| -> Option<Vec<u64>> { s.split('.').map(|p| p.parse().ok()).collect() };
        if let Some(form) = &family.plug_form {
            // Such devices name their ports one way only (fence-agents' wording).
            let path = crate::snmp::family::parse_plug_form(form, plug).ok_or_else(|| {
                FenceError::Usage(format!(
                    "Failed: Mangled port number: plug '{plug}' must look like {}",
                    form.replace("{}", "N")
                ))
            })?;
            let row = Row {
                switch: default_switch,
                plug: path,
            };
            return Ok(row);
        }
        let row = if let Some((s, p)) = plug
            .split_once(':')
            .and_then(|(s, p)| Some((s.trim().parse().ok()?, p.trim().parse().ok()?)))
        {
            Row {
                switch: s,
                plug: vec![p],
            }
        } else if let Ok(n) = plug.trim().parse::<u64>() {
            Row {
                switch: default_switch,
                plug: vec![n],
            }
        } else if let Some(path) = numbers(plug.trim()).filter(|_| family.status.row.is_path()) {
            Row {
                switch: default_switch,
                plug: path,
            }
        } else {
            let names = family.names.clone().ok_or_else(|| {
                FenceError::Usage(format!(
                    "Failed: plug '{plug}' is not an outlet number, and family {} has no outlet names to look it up in",
                    family.name
                ))
            })?;
            let walked = client.walk(&names.oid)?;
            walked
                .iter()
                .find(|(_, v)| name_text(v, family) == plug)
                .and_then(|(oid, _)| names.row.parse_suffix(&oid[names.oid.len()..]))
                .ok_or_else(|| {
                    FenceError::PlugNotFound(format!("{plug} (no outlet has that name)"))
                })?
        };
        log_debug!(
            2,
            "plug '{plug}' is row switch {} outlet {:?}",
            row.switch,
            row.plug
        );
        Ok(row)
    }

    fn state(family: &Family, plug: &str, v: &Value) -> Result<PowerState> {
        if v.is_missing() {
            return Err(FenceError::PlugNotFound(format!("{plug} ({v:?})")));
        }
        let n = match v {
            Value::Int(n) => Some(*n),
            Value::Str(_) => v.text().trim().trim_matches('"').parse().ok(),
            _ => None,
        };
        match n.and_then(|n| family.state_of(n)) {
            Some(true) => Ok(PowerState::On),
            Some(false) => Ok(PowerState::Off),
            None => Err(FenceError::Status(format!(
                "outlet {plug} reports {}, which family {} does not know as on ({:?}) or off ({:?})",
                v.text(),
                family.name,
                family.on,
                family.off
            ))),
        }
    }
}

impl device::Session for SnmpSession {
    type Plug = SnmpPlug;

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            list: true,
            cycle: self.family.cycle.is_some(),
            diag: false,
        }
    }

    fn plug(&mut self, given: &str) -> Result<SnmpPlug> {
        Ok(SnmpPlug {
            row: self.row(given)?,
            given: given.to_string(),
        })
    }

    fn status(&mut self, p: &SnmpPlug) -> Result<PowerState> {
        let (plug, row) = (p.given.as_str(), &p.row);
        let (client, family) = (&mut self.client, &self.family);
        let oid = family
            .status
            .oid_for(row)
            .ok_or_else(|| FenceError::PlugNotFound(plug.to_string()))?;
        let v = client.get(&oid).map_err(|e| name_plug(e, plug))?;
        if family.packed {
            let field = packed_fields(&v)
                .get(packed_index(row, plug)?)
                .cloned()
                .ok_or_else(|| FenceError::PlugNotFound(plug.to_string()))?;
            return Self::state(family, plug, &Value::Str(field.into_bytes()));
        }
        Self::state(family, plug, &v)
    }

    fn set_power(&mut self, p: &SnmpPlug, state: PowerState) -> Result<()> {
        let (plug, row) = (p.given.as_str(), &p.row);
        let (client, family) = (&mut self.client, &self.family);
        let (column, value) = match state {
            PowerState::On => (&family.control_on, family.set_on),
            PowerState::Off => (&family.control_off, family.set_off),
        };
        let oid = column
            .oid_for(row)
            .ok_or_else(|| FenceError::PlugNotFound(plug.to_string()))?;
        if family.packed {
            // Read, change this outlet's field, write the whole unit back.
            let mut fields = packed_fields(&client.get(&oid).map_err(|e| name_plug(e, plug))?);
            let i = packed_index(row, plug)?;
            let field = fields
                .get_mut(i)
                .ok_or_else(|| FenceError::PlugNotFound(plug.to_string()))?;
            *field = value.to_string();
            return client
                .set(&oid, &SetValue::Str(fields.join(",")))
                .map_err(|e| name_plug(e, plug));
        }
        client
            .set(&oid, &SetValue::Int(value))
            .map_err(|e| name_plug(e, plug))
    }

    fn list(&mut self, with_state: bool) -> Result<Vec<Outlet>> {
        let (client, family) = (&mut self.client, self.family.clone());
        let mut outlets = Vec::new();
        match &family.names {
            Some(names) => {
                // One walk of every column that shares the names' rows.
                let mut columns = vec![names.oid.clone()];
                let status_at = (with_state && family.status_walks_with_names()).then(|| {
                    columns.push(family.status.oid.clone());
                    columns.len() - 1
                });
                let alias_at = family.alias.as_ref().map(|a| {
                    columns.push(a.oid.clone());
                    columns.len() - 1
                });
                let walked = client.walk_columns(&columns)?;
                let by_row = |i: Option<usize>, base: usize| -> HashMap<Vec<u64>, Value> {
                    i.and_then(|i| walked.get(i))
                        .map(|c| {
                            c.iter()
                                .map(|(o, v)| (o[base..].to_vec(), v.clone()))
                                .collect()
                        })
                        .unwrap_or_default()
                };
                let states = by_row(status_at, family.status.oid.len());
                let mut packed: HashMap<u64, Vec<String>> = HashMap::new();
                let aliases = by_row(alias_at, family.alias.as_ref().map_or(0, |a| a.oid.len()));
                for (oid, v) in &walked[0] {
                    let suffix = &oid[names.oid.len()..];
                    let Some(row) = names.row.parse_suffix(suffix) else {
                        continue;
                    };
                    let name = name_text(v, &family);
                    // With a plug form, only names written in it are plugs (fc1/3, not mgmt0).
                    let form_row = match &family.plug_form {
                        Some(form) => match crate::snmp::family::parse_plug_form(form, &name) {
                            Some(path) => Some(Row {
                                switch: row.switch,
                                plug: path,
                            }),
                            None => continue,
                        },
                        None => None,
                    };
                    let (id, alias) = if family.list_ids_are_names {
                        (
                            name,
                            aliases
                                .get(suffix)
                                .map(|a| name_text(a, &family))
                                .unwrap_or_default(),
                        )
                    } else {
                        (family.plug_id(&row), name)
                    };
                    let state = if with_state && family.packed {
                        // One read per unit gives every outlet's state.
                        let fields = match packed.entry(row.switch) {
                            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                            std::collections::hash_map::Entry::Vacant(e) => {
                                e.insert(match family.status.oid_for(&row) {
                                    Some(oid) => packed_fields(&client.get(&oid)?),
                                    None => Vec::new(),
                                })
                            }
                        };
                        packed_index(&row, &id)
                            .ok()
                            .and_then(|i| fields.get(i).cloned())
                            .and_then(|f| {
                                Self::state(&family, &id, &Value::Str(f.into_bytes())).ok()
                            })
                    } else if let (true, Some(r)) = (with_state, &form_row) {
                        // The state lives in another table: one read per port.
                        match family.status.oid_for(r) {
                            Some(oid) => Self::state(&family, &id, &client.get(&oid)?).ok(),
                            None => None,
                        }
                    } else {
                        states
                            .get(suffix)
                            .and_then(|s| Self::state(&family, &id, s).ok())
                    };
                    outlets.push(Outlet { id, alias, state });
                }
            }
            None => {
                for (oid, v) in client.walk(&family.status.oid)? {
                    let Some(row) = family
                        .status
                        .row
                        .parse_suffix(&oid[family.status.oid.len()..])
                    else {
                        continue;
                    };
                    let id = family.plug_id(&row);
                    let state = Self::state(&family, &id, &v).ok();
                    outlets.push(Outlet {
                        id,
                        alias: String::new(),
                        state,
                    });
                }
            }
        }
        Ok(outlets)
    }

    fn cycle(&mut self, p: &SnmpPlug, _kind: CycleKind) -> Result<bool> {
        let (plug, row) = (p.given.as_str(), &p.row);
        let (client, family) = (&mut self.client, &self.family);
        let value = family
            .cycle
            .ok_or_else(|| FenceError::Local("Failed: internal error: no cycle command".into()))?;
        let oid = family
            .control_cycle
            .as_ref()
            .unwrap_or(&family.control_on)
            .oid_for(row)
            .ok_or_else(|| FenceError::PlugNotFound(plug.to_string()))?;
        client
            .set(&oid, &SetValue::Int(value))
            .map_err(|e| name_plug(e, plug))?;
        Ok(true)
    }

    fn close(self) {}
}
