//! BMCs over IPMI: fence_ipmilan and its aliases. One session per call, opened after the
//! lock is taken and closed before it is released; the power state is always read back
//! with Get Chassis Status, never taken from a command's acknowledgement.

use std::net::SocketAddr;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::contract::error::{FenceError, Result};
use crate::contract::input::flag_is_on;
use crate::contract::settings::Settings;
use crate::device::{self, Capabilities, CycleKind, Device, PowerState, Problems};
use crate::ipmi::chassis::{self, Control};
use crate::ipmi::link::Link;
use crate::ipmi::session::Session;
use crate::ipmi::{lan15, lanplus, AuthType, Config, IpmiError, Privilege};
use crate::runtime::clock::SharedClock;
use crate::runtime::lock::DeviceIdentity;
use crate::runtime::net;

/// Requests sent before a BMC counts as unreachable (each waits ipmitool_timeout).
const TRIES: u32 = 3;

pub struct IpmiDevice {
    host: String,
    port: u16,
    addrs: Option<Vec<SocketAddr>>,
    cfg: Config,
}

fn usage(msg: String) -> FenceError {
    FenceError::Usage(format!("Failed: {msg}"))
}

/// The one place IPMI failures become fence-agents' messages.
fn fence_error(e: IpmiError) -> FenceError {
    match e {
        IpmiError::Timeout(m) => FenceError::TimedOut(m),
        IpmiError::Io(m) => FenceError::Local(format!("Failed: {m}")),
        IpmiError::AuthFailed(m) | IpmiError::UnknownUser(m) | IpmiError::Unsupported(m) => {
            FenceError::LoginDenied(m)
        }
        IpmiError::Privilege(m) => FenceError::Privileges(m),
        IpmiError::Completion { code: 0xd4, .. } => FenceError::Privileges(e.to_string()),
        IpmiError::Completion { .. } | IpmiError::Protocol(_) => FenceError::Device(e.to_string()),
    }
}

/// `hexadecimal_kg`: up to 20 bytes as hex digits (an optional 0x prefix).
fn parse_kg(text: &str) -> Result<Zeroizing<Vec<u8>>> {
    let hex = text
        .trim()
        .trim_start_matches("0x")
        .trim_start_matches("0X");
    let bad = || {
        usage(
            "hexadecimal_kg must be the BMC key as up to 40 hexadecimal digits (an even number)"
                .into(),
        )
    };
    if !hex.len().is_multiple_of(2) || hex.len() > 40 {
        return Err(bad());
    }
    let mut out = Zeroizing::new(Vec::with_capacity(hex.len() / 2));
    for pair in hex.as_bytes().chunks(2) {
        let s = std::str::from_utf8(pair).map_err(|_| bad())?;
        out.push(u8::from_str_radix(s, 16).map_err(|_| bad())?);
    }
    Ok(out)
}

/// An IPMB address: hexadecimal with 0x, else decimal; slave addresses are even.
fn parse_target(t: &str) -> Option<u8> {
    let v = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u8::from_str_radix(hex, 16).ok()?,
        None => t.parse::<u8>().ok()?,
    };
    (v.is_multiple_of(2) && v != 0).then_some(v)
}

/// fence_ipmilan's options, read and checked (no Debug: it holds the password).
pub struct IpmiConfig {
    host: String,
    port: u16,
    session: Config,
}

/// Read fence_ipmilan's options: every problem at once.
pub fn configure(settings: &Settings) -> std::result::Result<IpmiConfig, Vec<FenceError>> {
    let mut problems = Problems::default();
    let address = device::address(settings, &mut problems);
    let session = config(settings, &mut problems);
    problems.finish(|| {
        let (host, port) = address?;
        Some(IpmiConfig {
            host,
            port,
            session: session?,
        })
    })
}

/// The user and password, within IPMI's limits.
fn credentials(settings: &Settings, lanplus: bool) -> Result<(String, Zeroizing<Vec<u8>>)> {
    let user = settings.get("login").unwrap_or_default().to_string();
    let password = Zeroizing::new(
        settings
            .get("passwd")
            .unwrap_or_default()
            .as_bytes()
            .to_vec(),
    );
    if password.len() > if lanplus { 20 } else { 16 } {
        return Err(usage(format!(
            "IPMI passwords are at most {} bytes long {}",
            if lanplus { 20 } else { 16 },
            if lanplus {
                ""
            } else {
                "over IPMI 1.5 (lanplus=1 allows 20)"
            }
        )));
    }
    crate::ipmi::check_user(&user).map_err(|e| usage(e.to_string()))?;
    Ok((user, password))
}

/// An optional option read by `parse`, surrounding blanks trimmed (None when unset or
/// blank).
fn optional<T>(
    settings: &Settings,
    key: &str,
    parse: impl FnOnce(&str) -> Result<T>,
) -> Result<Option<T>> {
    match settings.get(key).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => parse(v).map(Some),
    }
}

fn parse_cipher(c: &str) -> Result<u8> {
    c.parse::<u8>()
        .ok()
        .filter(|id| crate::ipmi::crypto::suite(*id).is_some())
        .ok_or_else(|| {
            usage(format!(
                "cipher must be an IPMI cipher suite fencebox speaks (0-3, 6-8, 11, 12, 15-17), not '{c}'"
            ))
        })
}

fn parse_privilege(p: &str) -> Result<Privilege> {
    Privilege::parse(p).ok_or_else(|| {
        usage(format!(
            "privlvl must be callback, user, operator or administrator, not '{p}'"
        ))
    })
}

fn parse_auth(a: &str) -> Result<AuthType> {
    AuthType::parse(a)
        .ok_or_else(|| usage(format!("auth must be md5, password or none, not '{a}'")))
}

fn parse_timeout(text: &str) -> Result<Duration> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|t| t.is_finite() && *t > 0.0 && *t <= 3600.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            usage(format!(
                "ipmitool_timeout must be a number of seconds, not '{text}'"
            ))
        })
}

/// The session settings of a call, from the validated options (no contact yet); every
/// problem is noted. Defaults (privlvl, ipmitool_timeout) come from the agent file.
fn config(settings: &Settings, problems: &mut Problems) -> Option<Config> {
    let lanplus = settings.get("lanplus").is_some_and(flag_is_on);
    let credentials = problems.take(credentials(settings, lanplus));
    let cipher = problems.take(optional(settings, "cipher", parse_cipher));
    let privilege = device::defaulted(settings, "privlvl", problems)
        .and_then(|p| problems.take(parse_privilege(p)));
    let auth = problems.take(settings.get("auth").map(parse_auth).transpose());
    let kg = problems.take(optional(settings, "hexadecimal_kg", parse_kg));
    let timeout = device::defaulted(settings, "ipmitool_timeout", problems)
        .and_then(|t| problems.take(parse_timeout(t)));
    let target = problems.take(optional(settings, "target", |t| {
        parse_target(t).ok_or_else(|| {
            usage(format!(
                "target must be an IPMB address, as 0x82 or 130 (ipmitool -t), not '{t}'"
            ))
        })
    }));
    let (user, password) = credentials?;
    Some(Config {
        user,
        password,
        kg: kg?,
        privilege: privilege?,
        lanplus,
        cipher: cipher?,
        auth: auth?,
        timeout: timeout?,
        tries: TRIES,
        target: target?,
    })
}

impl IpmiDevice {
    pub fn new(cfg: IpmiConfig) -> Self {
        let addrs = net::resolve_all(&cfg.host, cfg.port).ok();
        IpmiDevice {
            host: cfg.host,
            port: cfg.port,
            addrs,
            cfg: cfg.session,
        }
    }
}

impl Device for IpmiDevice {
    type Session<'d> = IpmiSession;

    fn identity(&self) -> DeviceIdentity {
        match &self.addrs {
            Some(addrs) => DeviceIdentity::for_addrs("ipmi", addrs, self.port),
            None => DeviceIdentity::network("ipmi", &self.host, self.port),
        }
    }

    fn concurrent_reads(&self) -> bool {
        true
    }

    fn connect(&mut self, clock: &SharedClock) -> Result<IpmiSession> {
        let addr = match &self.addrs {
            Some(a) => a[0],
            None => net::resolve(&self.host, self.port)?, // for its error message
        };
        let cfg = &self.cfg;
        log_debug!(
            1,
            "device contact: IPMI {} {addr} as '{}' ({})",
            if cfg.lanplus {
                "2.0 (lanplus)"
            } else {
                "1.5 (lan)"
            },
            cfg.user,
            cfg.privilege.name()
        );
        let link = Link::open(addr, cfg.timeout, cfg.tries, clock.clone()).map_err(fence_error)?;
        let mut session = if cfg.lanplus {
            lanplus::connect(link, cfg)
        } else {
            lan15::connect(link, cfg)
        }
        .map_err(fence_error)?;
        if let Some(t) = cfg.target {
            log_debug!(
                1,
                "IPMI: chassis commands bridged to IPMB address 0x{t:02x}"
            );
            session.bridge_to(t);
        }
        Ok(IpmiSession { session })
    }
}

/// An open IPMI session: the BMC has one chassis and so no plugs.
pub struct IpmiSession {
    session: Session,
}

impl device::Session for IpmiSession {
    type Plug = ();

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            list: false,
            cycle: true,
            diag: true,
        }
    }

    fn plug(&mut self, _given: &str) -> Result<()> {
        Ok(())
    }

    fn status(&mut self, _plug: &()) -> Result<PowerState> {
        let on = chassis::power_is_on(&mut self.session).map_err(fence_error)?;
        Ok(if on { PowerState::On } else { PowerState::Off })
    }

    fn set_power(&mut self, _plug: &(), state: PowerState) -> Result<()> {
        let what = match state {
            PowerState::On => Control::PowerUp,
            PowerState::Off => Control::PowerDown,
        };
        log_debug!(1, "IPMI: chassis {}", what.name());
        chassis::control(&mut self.session, what).map_err(fence_error)
    }

    fn cycle(&mut self, _plug: &(), kind: CycleKind) -> Result<bool> {
        let what = match kind {
            CycleKind::Cycle => Control::PowerCycle,
            CycleKind::Diag => Control::DiagnosticInterrupt,
        };
        log_debug!(1, "IPMI: chassis {}", what.name());
        match chassis::control(&mut self.session, what) {
            Ok(()) => Ok(true),
            // Most BMCs refuse a cycle while the machine is off.
            Err(IpmiError::Completion { code: 0xd5, .. }) => Err(FenceError::Device(format!(
                "the BMC refused the {} in the machine's present state (a cycle needs the machine on; use method=onoff)",
                what.name()
            ))),
            Err(IpmiError::Completion {
                code: code @ (0xc1 | 0xcc | 0xd6),
                ..
            }) => Err(FenceError::Device(format!(
                "the BMC does not support the {} command (completion code 0x{code:02x})",
                what.name()
            ))),
            Err(e) => Err(fence_error(e)),
        }
    }

    /// The power-supply sensors of the SDR repository (sensor type 0x08). A BMC without
    /// an SDR repository (completion code 0xc1: not supported) has none to report.
    fn power_supplies(&mut self) -> Result<Option<Vec<device::PowerSupply>>> {
        match crate::ipmi::sensors::power_supplies(&mut self.session) {
            Ok(psus) => Ok(Some(
                psus.into_iter()
                    .map(|p| device::PowerSupply {
                        name: p.name,
                        faults: p.faults.iter().map(|f| f.to_string()).collect(),
                        read: p.read,
                    })
                    .collect(),
            )),
            Err(IpmiError::Completion { code: 0xc1, .. }) => Ok(None),
            Err(e) => Err(fence_error(e)),
        }
    }

    /// The machine's power as DCMI's Get Power Reading gives it; a BMC without DCMI, or
    /// with power measurement off, meters nothing.
    fn meter(&mut self) -> Result<Option<device::Meter>> {
        let reading = crate::ipmi::dcmi::power_reading(&mut self.session).map_err(fence_error)?;
        Ok(reading.map(|r| device::Meter {
            kind: device::MeterKind::Bmc,
            outlets: Vec::new(),
            input: device::Quantities {
                power: Some(f64::from(r.current_watts)),
                ..Default::default()
            },
            ups: None,
        }))
    }

    fn close(self) {
        self.session.close();
    }
}
