//! SNMP PDUs: one backend for every family. The family (chosen by sysObjectID, or fixed
//! by the agent) says where outlets live; this module turns plugs into rows, reads and
//! writes them, and insists on answers that mean something: a missing outlet is an
//! error, never "off".

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use snmp2::v3;

use crate::contract::agents::{FamilyCatalog, Registry};
/// The most outlets one GET reads or one SET switches: agents bound the objects of a
/// request (a GET that also confirms the family carries the sysObjectID besides).
const MAX_SET_OBJECTS: usize = 24;

use crate::contract::error::{FenceError, Result};
use crate::contract::option_set::Agent;
use crate::contract::settings::Settings;
use crate::device::{self, Capabilities, CycleKind, Device, Outlet, PowerState, Problems};
use crate::runtime::clock::SharedClock;
use crate::runtime::env::Env;
use crate::runtime::lock::DeviceIdentity;
use crate::snmp::client::{
    resolve, resolve_all, Client, Config, SecLevel, SetValue, SnmpError, V3Params, Value, Version,
};
use crate::snmp::family::{Column, Family, Row};
use crate::snmp::oid::format_oid;

const SYS_OBJECT_ID: [u64; 9] = [1, 3, 6, 1, 2, 1, 1, 2, 0];

pub struct SnmpDevice {
    cfg: Config,
    catalog: Arc<FamilyCatalog>,
    /// The families this call may use (None: any).
    allowed: Option<Vec<String>>,
    fallback: Option<String>,
    detect: bool,
    switch: Option<u64>,
    /// The site directory, named when no family matches.
    site_dir: std::path::PathBuf,
    /// The device's addresses, resolved once for both the lock and the connection.
    addrs: std::cell::OnceCell<Option<Vec<std::net::SocketAddr>>>,
    /// The family the first session found: a later session of this device (the second
    /// half of a fleet reboot) does not ask the sysObjectID again.
    found: Option<String>,
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

/// An SNMP agent's options, read and checked (no Debug: it holds the community and
/// passwords).
pub struct SnmpConfig {
    client: Config,
    families: Families,
    switch: Option<u64>,
    site_dir: std::path::PathBuf,
}

/// Which families a call may use, from the agent file and the family option.
struct Families {
    catalog: Arc<FamilyCatalog>,
    /// None: any.
    allowed: Option<Vec<String>>,
    fallback: Option<String>,
    detect: bool,
}

/// Read an SNMP agent's options: every problem at once.
pub fn configure(
    registry: &Registry,
    agent: &Agent,
    settings: &Settings,
    env: &Env,
) -> std::result::Result<SnmpConfig, Vec<FenceError>> {
    let mut problems = Problems::default();
    let families = families(registry, agent, settings, &mut problems);
    let switch = match settings.get("switch") {
        None => Some(None),
        Some(s) => problems.take(s.trim().parse().map(Some).map_err(|_| {
            usage(format!(
                "Failed: switch must be the number of a daisy-chained unit, not '{s}'"
            ))
        })),
    };
    let client = config(settings, &mut problems);
    problems.finish(|| {
        Some(SnmpConfig {
            client: client?,
            families: families?,
            switch: switch?,
            site_dir: env.agents_dir.clone(),
        })
    })
}

/// The families of the agent file, narrowed to one by the family option.
fn families(
    registry: &Registry,
    agent: &Agent,
    settings: &Settings,
    problems: &mut Problems,
) -> Option<Families> {
    let spec = problems.take(agent.def.snmp.clone().ok_or_else(|| {
        FenceError::Local(format!(
            "Failed: agent {} has no [snmp] section in its file",
            agent.name
        ))
    }))?;
    let catalog = Arc::clone(registry.families());
    let names = catalog.names();
    for name in spec
        .families
        .iter()
        .filter(|n| **n != "*")
        .chain(&spec.fallback)
    {
        if !names.contains(&&**name) {
            problems.push(FenceError::Local(format!(
                "Failed: agent {} names unknown family '{name}'",
                agent.name
            )));
        }
    }
    let any = spec.families.len() == 1 && spec.families[0] == "*";
    let mut families = Families {
        allowed: (!any).then(|| spec.families.iter().map(|n| n.to_string()).collect()),
        fallback: spec.fallback.as_deref().map(str::to_string),
        detect: spec.detect,
        catalog: Arc::clone(&catalog),
    };
    if let Some(name) = settings.get("family").filter(|f| !f.is_empty()) {
        // The administrator knows better than the sysObjectID.
        let Some(name) = names.into_iter().find(|n| *n == name).map(str::to_string) else {
            problems.push(usage(format!(
                "Failed: family '{name}' is not known; use one of: {}",
                families.catalog.names().join(", ")
            )));
            return None;
        };
        families.allowed = Some(vec![name]);
        families.fallback = None;
        families.detect = false;
    }
    Some(families)
}

/// The SNMP version the options ask for; without snmp_version, v3 when a user is given,
/// else v2c when a community is.
fn version(settings: &Settings) -> Result<Version> {
    match settings.get("snmp_version") {
        Some("1") => Ok(Version::V1),
        Some("2c") => Ok(Version::V2c),
        Some("3") => Ok(Version::V3),
        Some(other) => Err(usage(format!(
            "Failed: snmp_version must be 1, 2c or 3, not '{other}'"
        ))),
        None if settings.get("login").is_some() => Ok(Version::V3),
        None if settings.get("community").is_some() => Ok(Version::V2c),
        None => Err(usage(
            "Failed: set snmp_version (1, 2c or 3) and a community (v1, v2c) or username (v3)"
                .into(),
        )),
    }
}

/// The security level: as given, else the strongest the passwords given allow.
fn sec_level(settings: &Settings, auth_password: &str, priv_password: &str) -> SecLevel {
    match settings.get("snmp_sec_level") {
        Some("noAuthNoPriv") => SecLevel::NoAuthNoPriv,
        Some("authNoPriv") => SecLevel::AuthNoPriv,
        Some("authPriv") => SecLevel::AuthPriv,
        _ if !auth_password.is_empty() && !priv_password.is_empty() => SecLevel::AuthPriv,
        _ if !auth_password.is_empty() => SecLevel::AuthNoPriv,
        _ => SecLevel::NoAuthNoPriv,
    }
}

/// The authentication protocol; MD5 (net-snmp's default) when unset.
fn auth_protocol(settings: &Settings) -> v3::AuthProtocol {
    match settings.get("snmp_auth_prot").unwrap_or("MD5") {
        "SHA" => v3::AuthProtocol::Sha1,
        "SHA224" => v3::AuthProtocol::Sha224,
        "SHA256" => v3::AuthProtocol::Sha256,
        "SHA384" => v3::AuthProtocol::Sha384,
        "SHA512" => v3::AuthProtocol::Sha512,
        _ => v3::AuthProtocol::Md5,
    }
}

/// The privacy cipher and key extension; DES (net-snmp's default) when unset.
fn priv_protocol(settings: &Settings) -> (v3::Cipher, Option<v3::KeyExtension>) {
    let name = settings.get("snmp_priv_prot").unwrap_or("DES");
    let key_extension = match name {
        "AES192" | "AES256" => Some(v3::KeyExtension::Blumenthal),
        "AES192C" | "AES256C" => Some(v3::KeyExtension::Reeder),
        _ => None,
    };
    let cipher = match name {
        "AES" | "AES128" => v3::Cipher::Aes128,
        "AES192" | "AES192C" => v3::Cipher::Aes192,
        "AES256" | "AES256C" => v3::Cipher::Aes256,
        _ => v3::Cipher::Des,
    };
    (cipher, key_extension)
}

/// SNMPv3's user-based security from the options; every problem is noted.
fn v3_params(settings: &Settings, problems: &mut Problems) -> Option<V3Params> {
    let user = settings.get("login").map(str::to_string);
    if user.is_none() {
        problems.push(usage(
            "Failed: SNMPv3 needs a user name (username=...)".into(),
        ));
    }
    let auth_password = settings.get("passwd").unwrap_or_default().to_string();
    let priv_password = settings
        .get("snmp_priv_passwd")
        .unwrap_or_default()
        .to_string();
    let level = sec_level(settings, &auth_password, &priv_password);
    let mut ok = true;
    if level != SecLevel::NoAuthNoPriv && auth_password.len() < 8 {
        problems.push(usage(
            "Failed: SNMPv3 authentication needs a password of at least 8 characters (password=...)".into(),
        ));
        ok = false;
    }
    if level == SecLevel::AuthPriv && priv_password.len() < 8 {
        problems.push(usage(
            "Failed: SNMPv3 authPriv needs a privacy password of at least 8 characters (snmp_priv_passwd=...)".into(),
        ));
        ok = false;
    }
    let (priv_protocol, key_extension) = priv_protocol(settings);
    ok.then_some(())?;
    Some(V3Params {
        user: user?,
        level,
        auth_protocol: auth_protocol(settings),
        auth_password,
        priv_protocol,
        priv_password,
        key_extension,
        context: String::new(),
    })
}

/// The SNMP client settings of a call, from the validated options; every problem is
/// noted.
fn config(settings: &Settings, problems: &mut Problems) -> Option<Config> {
    let address = device::address(settings, problems);
    let version = problems.take(version(settings))?;
    let community = settings.get("community").unwrap_or_default().to_string();
    let v3 = match version {
        Version::V3 => Some(v3_params(settings, problems)?),
        _ if community.is_empty() => {
            problems.push(usage(
                "Failed: SNMP v1 and v2c need a community (community=...)".into(),
            ));
            return None;
        }
        _ => None,
    };
    // One second per try, as net-snmp; as many tries as shell_timeout has seconds, so
    // one request never outlives it (5 when Pacemaker owns the timeouts).
    let tries = match settings.shell_timeout {
        Some(t) => u32::try_from(t.as_secs()).unwrap_or(u32::MAX).max(1),
        None if settings.timeouts_disabled => 5,
        None => 3,
    };
    let (host, port) = address?;
    Some(Config {
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
    pub fn new(cfg: SnmpConfig) -> Self {
        SnmpDevice {
            cfg: cfg.client,
            catalog: cfg.families.catalog,
            allowed: cfg.families.allowed,
            fallback: cfg.families.fallback,
            detect: cfg.families.detect,
            switch: cfg.switch,
            site_dir: cfg.site_dir,
            addrs: std::cell::OnceCell::new(),
            found: None,
        }
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
    family.outlet_name(&v.text())
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

impl SnmpDevice {
    /// The family a device's answer to sysObjectID names, among those this call may use
    /// (or the agent's fallback); an answer that is no OID, or an OID no family knows, is
    /// an error that says what to do.
    fn family_of(&self, client: &mut Client, v: &Value) -> Result<Family> {
        let local = |e: String| FenceError::Local(format!("Failed: {e}"));
        let Value::Oid(oid) = v else {
            return Err(FenceError::Device(format!(
                "the device answered sysObjectID with {v:?}; is this an SNMP PDU?"
            )));
        };
        let ranked = self
            .catalog
            .detect_ranked(self.allowed.as_deref(), oid)
            .map_err(local)?;
        let named: Vec<String> = ranked.iter().map(|f| f.name.to_string()).collect();
        let found = crate::snmp::identify::first_confirmed(client, ranked)?;
        let family = match (found, &self.fallback) {
            (Some(f), _) => Some(f),
            (None, Some(name)) => self.catalog.by_name(name).map_err(local)?,
            (None, None) if !named.is_empty() => {
                return Err(FenceError::Device(format!(
                    "sysObjectID {} names the families {}, but the device confirms none (their confirm objects are missing or hold other words; fencebox families, docs/families.md)",
                    format_oid(oid),
                    named.join(", ")
                )))
            }
            (None, None) => {
                return Err(FenceError::Device(format!(
                    "unknown device: sysObjectID {} matches no family this agent knows; describe it in a family file in {} (see docs/families.md), or pick a family with family=NAME (fencebox families lists them)",
                    format_oid(oid),
                    self.site_dir.display()
                )))
            }
        };
        family.ok_or_else(|| FenceError::Local("Failed: agent has no SNMP family".into()))
    }
}

impl Device for SnmpDevice {
    type Session<'d> = SnmpSession<'d>;

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

    /// The family comes from the device's sysObjectID unless the agent fixes it or an
    /// earlier session found it. When the agent lists its families, the first one is
    /// taken as a guess and the sysObjectID is asked together with the first read of
    /// outlet states (one request instead of two); until it confirms the guess, nothing
    /// else is done under it (docs/families.md, How detection works).
    fn connect(&mut self, clock: &SharedClock) -> Result<SnmpSession<'_>> {
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
        let first = self.allowed.as_ref().and_then(|a| a.first()).cloned();
        let known = match (&self.found, self.detect) {
            (Some(name), _) => Some(name.clone()),
            (None, false) => first.clone(),
            (None, true) => None,
        };
        let (family, guessed) = match (known, first) {
            (Some(name), _) => (self.catalog.by_name(&name).map_err(local)?, false),
            (None, Some(guess)) => (self.catalog.by_name(&guess).map_err(local)?, true),
            (None, None) => {
                let v = client.get(&SYS_OBJECT_ID)?;
                (Some(self.family_of(&mut client, &v)?), false)
            }
        };
        let family =
            family.ok_or_else(|| FenceError::Local("Failed: agent has no SNMP family".into()))?;
        if guessed {
            log_debug!(
                1,
                "SNMP family {} ({}) guessed; the device's sysObjectID confirms it with the first read",
                family.name,
                family.description
            );
        } else {
            log_debug!(1, "SNMP family {} ({})", family.name, family.description);
            self.found = Some(family.name.to_string());
        }
        Ok(SnmpSession {
            client,
            family,
            switch: self.switch,
            unconfirmed: if guessed { Some(self) } else { None },
            guess_was_wrong: false,
        })
    }
}

/// A plug as the device addresses it: its row, and the text it was given as (for
/// messages).
#[derive(Debug, Clone)]
pub struct SnmpPlug {
    given: String,
    row: Row,
    /// Resolved under a guessed family (its row is read again if the guess was wrong).
    guessed: bool,
}

/// A device whose family is known, or guessed until its first answer, with its client.
pub struct SnmpSession<'d> {
    client: Client,
    family: Family,
    switch: Option<u64>,
    /// While the family is a guess: the device, to detect the family from its
    /// sysObjectID and keep what was found for its later sessions.
    unconfirmed: Option<&'d mut SnmpDevice>,
    /// The device named another family than the guess.
    guess_was_wrong: bool,
}

impl SnmpSession<'_> {
    /// Settle the family from the device's answer to sysObjectID (when it is a guess).
    /// A failed detection leaves the family a guess: every later step asks again (and
    /// fails again) rather than act under a family the device never named.
    fn settle(&mut self, sys: &Value) -> Result<()> {
        let Some(dev) = self.unconfirmed.as_deref_mut() else {
            return Ok(());
        };
        let family = dev.family_of(&mut self.client, sys)?;
        dev.found = Some(family.name.to_string());
        self.unconfirmed = None;
        if family.name != self.family.name {
            log_debug!(
                1,
                "SNMP family {} ({}), not the guessed {}",
                family.name,
                family.description,
                self.family.name
            );
            self.family = family;
            self.guess_was_wrong = true;
        }
        Ok(())
    }

    /// Ask the sysObjectID alone, when the family is still a guess.
    fn confirm(&mut self) -> Result<()> {
        if self.unconfirmed.is_none() {
            return Ok(());
        }
        let v = self.client.get(&SYS_OBJECT_ID)?;
        self.settle(&v)
    }

    /// A plug's row under the family as it now stands.
    fn row_of(&mut self, p: &SnmpPlug) -> Result<Row> {
        if p.guessed && self.guess_was_wrong {
            return self.row(&p.given);
        }
        Ok(p.row.clone())
    }

    /// Plug states read in one GET together with the sysObjectID, while the family is a
    /// guess. The states count only when the sysObjectID confirms the guess; None when
    /// this does not apply, or the guess was wrong (the family is then settled and the
    /// caller reads again). An agent that refuses the combined request (an SNMPv1 agent
    /// answers noSuchName for the whole request when one object is missing) is asked the
    /// sysObjectID alone.
    fn folded_states(&mut self, plugs: &[&SnmpPlug]) -> Result<Option<Vec<Result<PowerState>>>> {
        if self.unconfirmed.is_none() {
            return Ok(None);
        }
        let oids: Option<Vec<Vec<u64>>> = plugs
            .iter()
            .map(|p| self.family.status.oid_for(&p.row))
            .collect();
        let foldable = !self.family.packed && !plugs.is_empty() && plugs.len() <= MAX_SET_OBJECTS;
        let Some(oids) = oids.filter(|_| foldable) else {
            self.confirm()?;
            return Ok(None);
        };
        let asked: Vec<Vec<u64>> = std::iter::once(SYS_OBJECT_ID.to_vec())
            .chain(oids)
            .collect();
        let values = match self.client.get_many(&asked) {
            Ok(v) => v,
            Err(e @ (SnmpError::Timeout(_) | SnmpError::Unreachable(_) | SnmpError::Denied(_))) => {
                return Err(e.into())
            }
            Err(e) => {
                log_debug!(
                    1,
                    "a GET of the sysObjectID with {} outlet(s) was refused ({e:?}); asking it alone",
                    plugs.len()
                );
                self.confirm()?;
                return Ok(None);
            }
        };
        let mut values = values.into_iter();
        let sys = values.next().unwrap_or(Value::NoSuchObject);
        self.settle(&sys)?;
        if self.guess_was_wrong {
            return Ok(None);
        }
        let states: Vec<Result<PowerState>> = plugs
            .iter()
            .zip(values)
            .map(|(p, v)| Self::state(&self.family, &p.given, &v))
            .collect();
        if states.len() != plugs.len() {
            return Err(FenceError::Device(format!(
                "the device answered a GET of {} objects with {}",
                asked.len(),
                states.len().saturating_add(1)
            )));
        }
        Ok(Some(states))
    }

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
            let named: Vec<Row> = walked
                .iter()
                .filter(|(_, v)| name_text(v, family) == plug)
                .filter_map(|(oid, _)| names.row.parse_suffix(oid.get(names.oid.len()..)?))
                .collect();
            match named.as_slice() {
                [row] => row.clone(),
                [] => {
                    return Err(FenceError::PlugNotFound(format!(
                        "{plug} (no outlet has that name)"
                    )))
                }
                // Switching one of them would leave the other on: name it by number.
                several => {
                    let rows: Vec<String> =
                        several.iter().map(|r| format!("{:?}", r.plug)).collect();
                    return Err(FenceError::Usage(format!(
                        "Failed: {} outlets are named '{plug}' (outlets {}); give the outlet by number",
                        several.len(),
                        rows.join(", ")
                    )));
                }
            }
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

impl device::Session for SnmpSession<'_> {
    type Plug = SnmpPlug;

    /// While the family is a guess, a cycle may be there: `cyclable` settles it.
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            list: true,
            cycle: self.family.cycle.is_some() || self.unconfirmed.is_some(),
            diag: false,
        }
    }

    /// A plain outlet number (`5`, `2:5`) reads the same in every family; anything else
    /// (a name, a path, a plug form) waits for the family to be settled.
    fn plug(&mut self, given: &str) -> Result<SnmpPlug> {
        let number = |s: &str| s.trim().parse::<u64>().is_ok();
        let plain = number(given)
            || given
                .split_once(':')
                .is_some_and(|(s, p)| number(s) && number(p));
        if !plain || self.family.plug_form.is_some() {
            self.confirm()?;
        }
        Ok(SnmpPlug {
            row: self.row(given)?,
            given: given.to_string(),
            guessed: self.unconfirmed.is_some(),
        })
    }

    fn cyclable(&mut self, _plug: &SnmpPlug) -> Result<bool> {
        self.confirm()?;
        Ok(self.family.cycle.is_some())
    }

    fn status(&mut self, p: &SnmpPlug) -> Result<PowerState> {
        if let Some(mut states) = self.folded_states(&[p])? {
            if let Some(state) = states.pop() {
                return state;
            }
        }
        let row = self.row_of(p)?;
        let (plug, row) = (p.given.as_str(), &row);
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
        self.confirm()?;
        let row = self.row_of(p)?;
        let (plug, row) = (p.given.as_str(), &row);
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

    /// One GET of every outlet's state when the family keeps each outlet's state in an
    /// object of its own. A refusal of the combined request (an SNMPv1 agent answers
    /// noSuchName for the whole request when one outlet is missing) falls back to one
    /// request per outlet, so a missing outlet fails alone; no answer fails them all.
    /// While the family is a guess, the first request carries the sysObjectID too.
    fn status_many(&mut self, plugs: &[&SnmpPlug]) -> Vec<Result<PowerState>> {
        // A whole 24-outlet PDU and the sysObjectID in one request (25 objects: a GET of
        // small integers; an agent that refuses it is asked again as below).
        let first = plugs
            .get(..plugs.len().min(MAX_SET_OBJECTS))
            .unwrap_or(plugs);
        match self.folded_states(first) {
            Ok(Some(mut states)) => {
                let rest = plugs.get(states.len()..).unwrap_or_default();
                states.extend(self.status_chunks(rest));
                states
            }
            Ok(None) => self.status_chunks(plugs),
            Err(e) => plugs.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    /// One SET for all the outlets when the family switches each outlet in an object of
    /// its own; a device that refuses the combined request gets one request per outlet
    /// (some agents limit the objects of a SET), so the answer is never worse than
    /// asking one by one.
    fn set_power_many(&mut self, plugs: &[&SnmpPlug], state: PowerState) -> Vec<Result<()>> {
        let one_by_one = |s: &mut Self| -> Vec<Result<()>> {
            plugs.iter().map(|p| s.set_power(p, state)).collect()
        };
        if let Err(e) = self.confirm() {
            return plugs.iter().map(|_| Err(e.clone())).collect();
        }
        if plugs.len() < 2 || self.family.packed || self.guess_was_wrong {
            return one_by_one(self);
        }
        let (column, value) = match state {
            PowerState::On => (&self.family.control_on, self.family.set_on),
            PowerState::Off => (&self.family.control_off, self.family.set_off),
        };
        let Some(objects) = plugs
            .iter()
            .map(|p| column.oid_for(&p.row).map(|o| (o, SetValue::Int(value))))
            .collect::<Option<Vec<_>>>()
        else {
            return one_by_one(self);
        };
        let mut results = Vec::with_capacity(plugs.len());
        for chunk in objects.chunks(MAX_SET_OBJECTS) {
            match self.client.set_many(chunk) {
                Ok(()) => results.extend(chunk.iter().map(|_| Ok(()))),
                // No answer: asking again outlet by outlet would wait as long for each.
                Err(e @ (SnmpError::Timeout(_) | SnmpError::Unreachable(_))) => {
                    let e: FenceError = e.into();
                    results.extend(chunk.iter().map(|_| Err(e.clone())));
                }
                Err(e) => {
                    log_debug!(
                        1,
                        "a SET of {} outlets was refused ({e:?}); one by one",
                        chunk.len()
                    );
                    let done = results.len();
                    let rest: Vec<&SnmpPlug> = plugs[done..done + chunk.len()].to_vec();
                    results.extend(rest.iter().map(|p| self.set_power(p, state)));
                }
            }
        }
        results
    }

    fn list(&mut self, with_state: bool) -> Result<Vec<Outlet>> {
        self.confirm()?;
        let family = self.family.clone();
        match &family.names {
            Some(names) => list_named(&mut self.client, &family, names, with_state),
            None => list_by_status(&mut self.client, &family),
        }
    }

    fn meter(&mut self) -> Result<Option<device::Meter>> {
        let outlets = self.list(true)?; // settles the family first
        let family = self.family.clone();
        device::snmp_meter::read(&mut self.client, &family, outlets).map(Some)
    }

    fn cycle(&mut self, p: &SnmpPlug, _kind: CycleKind) -> Result<bool> {
        self.confirm()?;
        let row = self.row_of(p)?;
        let (plug, row) = (p.given.as_str(), &row);
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

impl SnmpSession<'_> {
    /// Outlet states, up to MAX_SET_OBJECTS per GET (the family settled).
    fn status_chunks(&mut self, plugs: &[&SnmpPlug]) -> Vec<Result<PowerState>> {
        use device::Session;
        let one_by_one = |s: &mut Self| -> Vec<Result<PowerState>> {
            plugs.iter().map(|p| s.status(p)).collect()
        };
        if plugs.is_empty() {
            return Vec::new();
        }
        if plugs.len() < 2 || self.family.packed || self.guess_was_wrong {
            return one_by_one(self);
        }
        let Some(oids) = plugs
            .iter()
            .map(|p| self.family.status.oid_for(&p.row))
            .collect::<Option<Vec<_>>>()
        else {
            return one_by_one(self);
        };
        let mut results = Vec::with_capacity(plugs.len());
        for (chunk, asked) in oids
            .chunks(MAX_SET_OBJECTS)
            .zip(plugs.chunks(MAX_SET_OBJECTS))
        {
            match self.client.get_many(chunk) {
                Ok(values) => results.extend(
                    asked
                        .iter()
                        .zip(&values)
                        .map(|(p, v)| Self::state(&self.family, &p.given, v)),
                ),
                Err(
                    e @ (SnmpError::Timeout(_) | SnmpError::Unreachable(_) | SnmpError::Denied(_)),
                ) => {
                    let e: FenceError = e.into();
                    results.extend(asked.iter().map(|_| Err(e.clone())));
                }
                Err(e) => {
                    log_debug!(
                        1,
                        "a GET of {} outlets was refused ({e:?}); one by one",
                        chunk.len()
                    );
                    results.extend(asked.iter().map(|p| self.status(p)));
                }
            }
        }
        results
    }
}

/// list of a family without a names column: the rows of the status column.
fn list_by_status(client: &mut Client, family: &Family) -> Result<Vec<Outlet>> {
    let mut outlets = Vec::new();
    for (oid, v) in client.walk(&family.status.oid)? {
        let Some(row) = family
            .status
            .row
            .parse_suffix(&oid[family.status.oid.len()..])
        else {
            continue;
        };
        let id = family.plug_id(&row);
        let state = SnmpSession::state(family, &id, &v).ok();
        outlets.push(Outlet {
            id,
            alias: String::new(),
            state,
        });
    }
    Ok(outlets)
}

/// list of a family with a names column: one walk of every column that shares the
/// names' rows, then one outlet per named row.
fn list_named(
    client: &mut Client,
    family: &Family,
    names: &Column,
    with_state: bool,
) -> Result<Vec<Outlet>> {
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
    let aliases = by_row(alias_at, family.alias.as_ref().map_or(0, |a| a.oid.len()));
    let mut known = ListedStates {
        walked: by_row(status_at, family.status.oid.len()),
        packed: HashMap::new(),
    };
    let mut outlets = Vec::new();
    for (oid, v) in &walked[0] {
        let suffix = &oid[names.oid.len()..];
        let Some(row) = names.row.parse_suffix(suffix) else {
            continue;
        };
        let name = name_text(v, family);
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
            let alias = aliases.get(suffix).map(|a| name_text(a, family));
            (name, alias.unwrap_or_default())
        } else {
            (family.plug_id(&row), name)
        };
        let state = match with_state {
            true => known.state(client, family, suffix, &row, form_row.as_ref(), &id)?,
            false => None,
        };
        outlets.push(Outlet { id, alias, state });
    }
    Ok(outlets)
}

/// The states read while listing: the status column walked with the names (by row
/// suffix), and each unit's packed value.
struct ListedStates {
    walked: HashMap<Vec<u64>, Value>,
    packed: HashMap<u64, Vec<String>>,
}

impl ListedStates {
    /// The state of one listed outlet: from its unit's packed value, its own read (the
    /// state of a plug-form port lives in another table), or the walked column.
    fn state(
        &mut self,
        client: &mut Client,
        family: &Family,
        suffix: &[u64],
        row: &Row,
        form_row: Option<&Row>,
        id: &str,
    ) -> Result<Option<PowerState>> {
        if family.packed {
            return packed_state(client, family, &mut self.packed, row, id);
        }
        if let Some(r) = form_row {
            return Ok(match family.status.oid_for(r) {
                Some(oid) => SnmpSession::state(family, id, &client.get(&oid)?).ok(),
                None => None,
            });
        }
        Ok(self
            .walked
            .get(suffix)
            .and_then(|s| SnmpSession::state(family, id, s).ok()))
    }
}

/// An outlet's state from its unit's packed value; one read per unit gives every
/// outlet's state, kept in `packed`.
fn packed_state(
    client: &mut Client,
    family: &Family,
    packed: &mut HashMap<u64, Vec<String>>,
    row: &Row,
    id: &str,
) -> Result<Option<PowerState>> {
    let fields = match packed.entry(row.switch) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(match family.status.oid_for(row) {
                Some(oid) => packed_fields(&client.get(&oid)?),
                None => Vec::new(),
            })
        }
    };
    Ok(packed_index(row, id)
        .ok()
        .and_then(|i| fields.get(i).cloned())
        .and_then(|f| SnmpSession::state(family, id, &Value::Str(f.into_bytes())).ok()))
}
