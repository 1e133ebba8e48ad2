//! Outlets of UPSes and PDUs that Network UPS Tools manages, through upsd. A plug is an
//! outlet number (the N of `outlet.N.*`), an outlet description, or either behind
//! `UPS:`. Commands are tracked where upsd can (NUT 2.8.0 and later), and the outlet's
//! state is always read back from `outlet.N.status`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::contract::error::{FenceError, Result};
use crate::contract::input::flag_is_on;
use crate::contract::settings::Settings;
use crate::device::{self, Capabilities, CycleKind, Device, Outlet, PowerState, Problems};
use crate::nut::client::{Client, Deadline, Limits, Tracked};
use crate::nut::proto::NutError;
use crate::nut::tls::{self, Policy};
use crate::runtime::clock::SharedClock;
use crate::runtime::lock::DeviceIdentity;
use crate::runtime::net;

/// Reply wait when Pacemaker has turned the agent's own timeouts off.
const UNLIMITED_WAIT: Duration = Duration::from_secs(30);

pub struct NutDevice {
    host: String,
    port: u16,
    addrs: Option<Vec<SocketAddr>>,
    ups: String,
    user: Option<String>,
    password: Zeroizing<String>,
    tls: Option<Policy>,
    limits: Limits,
    /// How long a tracked command may stay pending (power_timeout).
    track_timeout: Duration,
}

/// A logged-in connection to upsd for one UPS.
pub struct NutSession {
    client: Client,
    ups: String,
    track_timeout: Duration,
    tracking: Option<bool>,
    /// The outlets with a `load.cycle` command, listed once when first needed.
    cyclable: Option<Vec<u32>>,
}

/// An outlet number, and the text it was given as (for messages).
#[derive(Debug, Clone)]
pub struct NutPlug {
    given: String,
    n: u32,
}

fn usage(msg: String) -> FenceError {
    FenceError::Usage(format!("Failed: {msg}"))
}

/// The one place NUT failures become fence-agents' messages.
fn fence_error(e: NutError) -> FenceError {
    match e {
        NutError::Server { ref code, .. } if code == "ACCESS-DENIED" => {
            FenceError::LoginDenied(e.to_string())
        }
        NutError::Server { .. } | NutError::Protocol(_) => FenceError::Device(e.to_string()),
        NutError::Timeout(m) => FenceError::TimedOut(m),
        NutError::Io(m) => FenceError::ConnectionLost(m),
        NutError::Tls(m) => FenceError::LoginDenied(format!("TLS: {m}")),
    }
}

/// TLS settings from the ssl options: None for a plain connection.
fn tls_policy(settings: &Settings) -> Result<Option<Policy>> {
    let on = |k: &str| settings.get(k).is_some_and(flag_is_on);
    let ca = settings.get("ssl_ca_file").filter(|s| !s.trim().is_empty());
    let pin_text = settings
        .get("ssl_fingerprint")
        .filter(|s| !s.trim().is_empty());
    let pin = match pin_text {
        None => None,
        Some(t) => Some(tls::parse_fingerprint(t).ok_or_else(|| {
            usage(format!(
                "ssl_fingerprint must be the SHA-256 fingerprint of upsd's certificate (64 hex digits, colons allowed), not '{t}'"
            ))
        })?),
    };
    let wanted =
        on("ssl") || on("ssl_secure") || on("ssl_insecure") || ca.is_some() || pin.is_some();
    if !wanted {
        return Ok(None);
    }
    let roots = match (ca, pin, on("ssl_insecure")) {
        (Some(ca), _, _) => Some(ca.to_string()),
        (None, Some(_), _) | (None, None, true) => None,
        (None, None, false) => Some(tls::SYSTEM_ROOTS.to_string()),
    };
    Ok(Some(Policy { roots, pin }))
}

/// `outlet.N.switchable` values that forbid switching.
fn not_switchable(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "no" | "0" | "false" | "off" | "n"
    )
}

/// fence_nut's options, read and checked (no Debug: it holds the password).
pub struct NutConfig {
    host: String,
    port: u16,
    ups: String,
    user: Option<String>,
    password: Zeroizing<String>,
    tls: Option<Policy>,
    limits: Limits,
    track_timeout: Duration,
}

/// The UPS of the call: ups_name, or the `NAME:` every plug starts with.
fn ups_name(settings: &Settings) -> Result<String> {
    if let Some(u) = settings
        .get("ups_name")
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        return Ok(u.to_string());
    }
    let mut named = settings
        .plugs
        .iter()
        .map(|p| p.split_once(':').map(|(u, _)| u));
    match named.next() {
        Some(Some(u)) if !u.is_empty() && named.all(|x| x == Some(u)) => Ok(u.to_string()),
        _ => Err(usage(
            "fence_nut needs the UPS name: set ups_name=NAME, or give every plug as NAME:OUTLET (one UPS per call)"
                .into(),
        )),
    }
}

/// Read fence_nut's options: every problem at once.
pub fn configure(settings: &Settings) -> std::result::Result<NutConfig, Vec<FenceError>> {
    let mut problems = Problems::default();
    let address = device::address(settings, &mut problems);
    let ups = problems.take(ups_name(settings));
    let tls = problems.take(tls_policy(settings));
    let limit = |d: Option<Duration>| d.unwrap_or(UNLIMITED_WAIT).max(Duration::from_secs(1));
    problems.finish(|| {
        let (host, port) = address?;
        Some(NutConfig {
            host,
            port,
            ups: ups?,
            user: settings
                .get("login")
                .filter(|u| !u.is_empty())
                .map(str::to_string),
            password: Zeroizing::new(settings.get("passwd").unwrap_or_default().to_string()),
            tls: tls?,
            limits: Limits {
                login: limit(settings.login_timeout),
                command: limit(settings.shell_timeout),
            },
            track_timeout: limit(settings.power_timeout),
        })
    })
}

impl NutDevice {
    pub fn new(cfg: NutConfig) -> Self {
        let addrs = net::resolve_all(&cfg.host, cfg.port).ok();
        NutDevice {
            host: cfg.host,
            port: cfg.port,
            addrs,
            ups: cfg.ups,
            user: cfg.user,
            password: cfg.password,
            tls: cfg.tls,
            limits: cfg.limits,
            track_timeout: cfg.track_timeout,
        }
    }
}

impl NutSession {
    fn client(&mut self) -> Result<&mut Client> {
        Ok(&mut self.client)
    }

    /// The outlet part of a plug (without a `UPS:` prefix naming this UPS).
    fn outlet_ref<'a>(&self, plug: &'a str) -> &'a str {
        match plug.split_once(':') {
            Some((u, rest)) if u == self.ups => rest,
            _ => plug,
        }
    }

    /// Every outlet of the UPS: (N, description, status) from one LIST VAR.
    /// Every variable of the UPS, by name (one LIST VAR).
    fn variables(&mut self) -> Result<BTreeMap<String, String>> {
        let ups = self.ups.clone();
        let rows = self
            .client()?
            .list(
                &format!("VAR {}", crate::nut::proto::quote(&ups)),
                &format!("listing the variables of {ups}"),
            )
            .map_err(fence_error)?;
        Ok(variables_of(rows))
    }

    fn outlets(&mut self) -> Result<Vec<(u32, String, Option<String>)>> {
        Ok(outlets_of(&self.variables()?))
    }

    /// The outlet number a plug means: a number as it is, a description looked up.
    fn outlet(&mut self, plug: &str) -> Result<u32> {
        let r = self.outlet_ref(plug).trim().to_string();
        if let Ok(n) = r.parse::<u32>() {
            return Ok(n);
        }
        let all = self.outlets()?;
        // Exactly as written, else ignoring case if that names one outlet only.
        let exact: Vec<&(u32, String, Option<String>)> = all.iter().filter(|o| o.1 == r).collect();
        if exact.len() > 1 {
            // Switching one of them would leave the other on: name it by number.
            let numbers: Vec<String> = exact.iter().map(|o| o.0.to_string()).collect();
            return Err(FenceError::Usage(format!(
                "Failed: {} outlets of {} are described as '{r}' (outlets {}); give the outlet by number",
                exact.len(),
                self.ups,
                numbers.join(", ")
            )));
        }
        let n = exact
            .first()
            .copied()
            .or_else(|| {
                let mut folded = all.iter().filter(|o| o.1.eq_ignore_ascii_case(&r));
                match (folded.next(), folded.next()) {
                    (Some(o), None) => Some(o),
                    _ => None,
                }
            })
            .map(|o| o.0)
            .ok_or_else(|| FenceError::PlugNotFound(plug.to_string()))?;
        Ok(n)
    }

    fn var(&mut self, name: &str) -> std::result::Result<String, NutError> {
        self.client.get_var(&self.ups, name)
    }

    /// Run an instant command and wait, at most power_timeout, for its tracked result
    /// where upsd tracks.
    fn run(&mut self, cmd: &str) -> Result<Outcome> {
        if self.tracking.is_none() {
            let t = self.client()?.enable_tracking().map_err(fence_error)?;
            self.tracking = Some(t);
        }
        let ups = self.ups.clone();
        log_debug!(1, "NUT: {cmd} on {ups}");
        let Some(id) = self.client()?.instcmd(&ups, cmd).map_err(fence_error)? else {
            return Ok(Outcome::Done);
        };
        let clock = self.client.clock().clone();
        let started = clock.elapsed();
        let until = Deadline::after(&*clock, self.track_timeout, "power_timeout");
        let mut pause = Duration::from_millis(50);
        loop {
            match self.client()?.tracking(&id).map_err(fence_error)? {
                Tracked::Success => {
                    log_debug!(
                        2,
                        "NUT: {cmd} done after {:.2} s",
                        clock.elapsed().saturating_sub(started).as_secs_f64()
                    );
                    return Ok(Outcome::Done);
                }
                Tracked::Failed(code) => {
                    return Err(FenceError::Device(format!(
                        "upsd reports that {cmd} on {ups} did not succeed: {} (ERR {code})",
                        crate::nut::proto::explain(&code)
                    )))
                }
                Tracked::Pending => match until.left(&*clock) {
                    Some(left) => {
                        clock.sleep(pause.min(left));
                        pause = (pause * 2).min(Duration::from_millis(250));
                    }
                    None => {
                        return Ok(Outcome::Pending(format!(
                            "upsd still reports {cmd} on {ups} as pending after {}",
                            until.describe()
                        )))
                    }
                },
            }
        }
    }
}

/// How a command ended.
enum Outcome {
    /// Tracked to success, or sent where upsd does not track.
    Done,
    /// Still pending when power_timeout ran out: the message says so.
    Pending(String),
}

impl Device for NutDevice {
    type Session<'d> = NutSession;

    fn identity(&self) -> DeviceIdentity {
        let mut id = match &self.addrs {
            Some(addrs) => DeviceIdentity::for_addrs("nut", addrs, self.port),
            None => DeviceIdentity::network("nut", &self.host, self.port),
        };
        id.unit = Some(self.ups.clone());
        id
    }

    fn concurrent_reads(&self) -> bool {
        true
    }

    fn connect(&mut self, clock: &SharedClock) -> Result<NutSession> {
        let addrs = match &self.addrs {
            Some(a) => a.clone(),
            None => net::resolve_all(&self.host, self.port)?, // for its error message
        };
        log_debug!(
            1,
            "device contact: upsd {} UPS '{}'{}",
            addrs[0],
            self.ups,
            if self.tls.is_some() {
                " (STARTTLS)"
            } else {
                ""
            }
        );
        let login = |e: NutError| match e {
            NutError::Io(m) => FenceError::LoginDenied(m),
            other => fence_error(other),
        };
        let mut client = Client::connect(&addrs, self.limits, clock.clone()).map_err(login)?;
        if let Some(policy) = &self.tls {
            if policy.insecure() {
                log_warning!("TLS to upsd without certificate verification (ssl_insecure): anyone on the path can impersonate upsd");
            }
            let config = tls::client_config(policy).map_err(fence_error)?;
            let name = self
                .host
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            client = client.start_tls(config, &name).map_err(login)?;
        }
        if let Some(user) = self.user.clone() {
            client.authenticate(&user, &self.password).map_err(login)?;
        }
        client.logged_in();
        Ok(NutSession {
            client,
            ups: self.ups.clone(),
            track_timeout: self.track_timeout,
            tracking: None,
            cyclable: None,
        })
    }
}

impl device::Session for NutSession {
    type Plug = NutPlug;

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            list: true,
            cycle: true,
            diag: false,
        }
    }

    fn plug(&mut self, given: &str) -> Result<NutPlug> {
        Ok(NutPlug {
            n: self.outlet(given)?,
            given: given.to_string(),
        })
    }

    /// Only outlets whose `load.cycle` upsd lists can be cycled in one command.
    fn cyclable(&mut self, plug: &NutPlug) -> Result<bool> {
        if self.cyclable.is_none() {
            let ups = self.ups.clone();
            let listed = self
                .client
                .list(
                    &format!("CMD {}", crate::nut::proto::quote(&ups)),
                    &format!("listing the commands of {ups}"),
                )
                .map_err(fence_error)?;
            let outlets = listed
                .iter()
                .filter_map(|r| r.get(2))
                .filter_map(|c| c.strip_prefix("outlet.")?.strip_suffix(".load.cycle"))
                .filter_map(|n| n.parse().ok())
                .collect();
            self.cyclable = Some(outlets);
        }
        Ok(self.cyclable.as_ref().is_some_and(|c| c.contains(&plug.n)))
    }

    fn status(&mut self, p: &NutPlug) -> Result<PowerState> {
        let (plug, n) = (p.given.as_str(), p.n);
        match self.var(&format!("outlet.{n}.status")) {
            Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
                "on" => Ok(PowerState::On),
                "off" => Ok(PowerState::Off),
                other => Err(FenceError::Status(format!(
                    "outlet {n} of {} reports status '{other}'",
                    self.ups
                ))),
            },
            Err(NutError::Server { code, .. }) if code == "VAR-NOT-SUPPORTED" => {
                Err(FenceError::PlugNotFound(plug.to_string()))
            }
            Err(e) => Err(fence_error(e)),
        }
    }

    fn set_power(&mut self, p: &NutPlug, state: PowerState) -> Result<()> {
        let n = p.n;
        match self.var(&format!("outlet.{n}.switchable")) {
            Ok(v) if not_switchable(&v) => {
                return Err(FenceError::Device(format!(
                    "outlet {n} of {} cannot be switched (outlet.{n}.switchable is '{v}')",
                    self.ups
                )))
            }
            Ok(_) => {}
            Err(NutError::Server { code, .. }) if code == "VAR-NOT-SUPPORTED" => {}
            Err(e) => return Err(fence_error(e)),
        }
        let Outcome::Pending(pending) = self.run(&format!("outlet.{n}.load.{}", state.lower()))?
        else {
            return Ok(());
        };
        // The power_timeout is spent: the outlet either shows the state now (the engine
        // then confirms it at once) or the call fails, rather than poll for as long again.
        let now = self.status(p)?;
        if now != state {
            return Err(FenceError::Device(format!(
                "{pending}, and outlet {n} still reads {}",
                now.lower()
            )));
        }
        log_warning!("NUT: {pending}; the outlet already reads {}", now.lower());
        Ok(())
    }

    fn list(&mut self, with_state: bool) -> Result<Vec<Outlet>> {
        let rows = self.outlets()?;
        Ok(rows
            .into_iter()
            .map(|(n, desc, status)| Outlet {
                id: n.to_string(),
                alias: desc,
                state: if with_state {
                    status_word(status.as_deref())
                } else {
                    None
                },
            })
            .collect())
    }

    fn monitor(&mut self) -> Result<()> {
        let status = self.var("ups.status").map_err(fence_error)?;
        log_debug!(1, "NUT: {} ups.status is '{status}'", self.ups);
        Ok(())
    }

    fn cycle(&mut self, p: &NutPlug, _kind: CycleKind) -> Result<bool> {
        match self.run(&format!("outlet.{}.load.cycle", p.n))? {
            Outcome::Done => Ok(true),
            // A cycle leaves no state to read: only the tracking could have confirmed it.
            Outcome::Pending(pending) => Err(FenceError::Device(format!(
                "{pending}; the power cycle is not confirmed"
            ))),
        }
    }

    /// ups.status: OB on battery, LB low battery (NUT's status words); a device without
    /// it (an ePDU) says nothing.
    fn supply(&mut self) -> Result<Option<device::Supply>> {
        match self.var("ups.status") {
            Ok(status) => {
                let words: Vec<&str> = status.split_whitespace().collect();
                Ok(Some(device::Supply {
                    on_battery: words.contains(&"OB"),
                    low_battery: words.contains(&"LB"),
                    status,
                }))
            }
            Err(e) if e.code() == Some("VAR-NOT-SUPPORTED") => Ok(None),
            Err(e) => Err(fence_error(e)),
        }
    }

    /// NUT's own names: outlet.N.current and .realpower, input.current and .realpower,
    /// and a UPS's ups.load, ups.realpower, battery.charge and ups.status. NUT has no
    /// energy variable.
    fn meter(&mut self) -> Result<Option<device::Meter>> {
        let vars = self.variables()?;
        let number = |k: &str| {
            vars.get(k)
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite())
        };
        // outlet.0 is the whole unit (NUT's names), not an outlet of its own.
        let outlets = outlets_of(&vars)
            .into_iter()
            .filter(|(n, _, _)| *n != 0)
            .map(|(n, name, status)| device::OutletMeter {
                id: n.to_string(),
                name,
                state: status_word(status.as_deref()),
                reading: device::Quantities {
                    current: number(&format!("outlet.{n}.current")),
                    power: number(&format!("outlet.{n}.realpower")),
                    energy: None,
                },
            })
            .collect();
        let status = vars.get("ups.status").cloned();
        let ups = device::UpsMeter {
            load_percent: number("ups.load"),
            output_power: number("ups.realpower"),
            battery_percent: number("battery.charge"),
            status,
        };
        let has_ups = ups != device::UpsMeter::default();
        // An ePDU behind upsd has a ups.status too: its device.type says which it is,
        // else a battery does.
        let kind = match vars.get("device.type").map(String::as_str) {
            Some("pdu") => device::MeterKind::Pdu,
            Some("ups") => device::MeterKind::Ups,
            _ if ups.battery_percent.is_some() => device::MeterKind::Ups,
            _ => device::MeterKind::Pdu,
        };
        Ok(Some(device::Meter {
            kind,
            outlets,
            input: device::Quantities {
                current: number("input.current"),
                power: number("input.realpower"),
                energy: None,
            },
            ups: has_ups.then_some(ups),
        }))
    }

    fn close(mut self) {
        self.client.logout();
    }
}

/// An outlet's state from its outlet.N.status word.
fn status_word(status: Option<&str>) -> Option<PowerState> {
    match status.map(str::to_ascii_lowercase).as_deref() {
        Some("on") => Some(PowerState::On),
        Some("off") => Some(PowerState::Off),
        _ => None,
    }
}

/// A UPS's variables by name, from the rows of `LIST VAR`.
pub fn variables_of(rows: Vec<Vec<String>>) -> BTreeMap<String, String> {
    rows.into_iter()
        .filter_map(|r| match <[String; 4]>::try_from(r) {
            Ok([kind, _, name, value]) if kind == "VAR" => Some((name, value)),
            _ => None,
        })
        .collect()
}

/// The outlets among a UPS's variables: number, outlet.N.desc and outlet.N.status, by
/// number.
pub fn outlets_of(vars: &BTreeMap<String, String>) -> Vec<(u32, String, Option<String>)> {
    let mut out: BTreeMap<u32, (String, Option<String>)> = BTreeMap::new();
    for (name, value) in vars {
        let mut parts = name.splitn(3, '.');
        let (Some("outlet"), Some(n), Some(field)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Ok(n) = n.parse::<u32>() else { continue };
        let entry = out.entry(n).or_default();
        match field {
            "desc" => entry.0 = value.clone(),
            "status" => entry.1 = Some(value.clone()),
            _ => {}
        }
    }
    out.into_iter().map(|(n, (d, s))| (n, d, s)).collect()
}
